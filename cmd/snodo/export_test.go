package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

type exportDoc struct {
	PersonID    string                    `json:"person_id"`
	Identifiers []struct{ Kind string }   `json:"identifiers"`
	Records     map[string][]exportRecord `json:"records"`
	Consents    []exportRecord            `json:"consents"`
	MentionedIn []exportRecord            `json:"mentioned_in"`
	Referrals   []json.RawMessage         `json:"referrals"`
	Quarantine  []struct {
		RecordID string          `json:"record_id"`
		Record   json.RawMessage `json:"record"`
	} `json:"quarantine"`
	Audit []struct {
		Action string `json:"action"`
		Detail map[string]any
	} `json:"audit"`
}

func TestExportHoldsExactlyThePersonsData(t *testing.T) {
	t.Parallel()
	cfg, cfs := twoPeopleHub(t, time.Now().AddDate(0, -1, 0))
	db := openHubDB(t, cfg)
	key := hubKey(t, cfg)
	a, _ := personOf(t, db, digestOf(t, key, cfs[0]))
	b, _ := personOf(t, db, digestOf(t, key, cfs[1]))

	out := filepath.Join(t.TempDir(), "request.json")
	code, stdout, stderr := snodo(t, "", "export", "--identifier", "cf:"+cfs[1], "--out", out, "--config", cfg)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "exported person "+b) {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600: it holds personal data", fi.Mode().Perm())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc exportDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if doc.PersonID != b || len(doc.Identifiers) != 1 || doc.Identifiers[0].Kind != "cf" {
		t.Errorf("export of %s: person %s, identifiers %+v", b, doc.PersonID, doc.Identifiers)
	}
	if len(doc.Records) != 1 || len(doc.Records["person"]) != 1 || doc.Records["person"][0].RecordID != "P-1" {
		t.Errorf("records %+v, want the person's P-1 only", doc.Records)
	}
	var body struct {
		Person struct {
			PersonID string `json:"person_id"`
		} `json:"person"`
	}
	if len(doc.Records["person"]) == 1 {
		if err := json.Unmarshal(doc.Records["person"][0].Body, &body); err != nil || body.Person.PersonID != b {
			t.Errorf("the exported record's body names person %q (%v), want %s", body.Person.PersonID, err, b)
		}
	}
	var quarantined struct {
		Sex string `json:"sex"`
	}
	if len(doc.Quarantine) != 1 || doc.Quarantine[0].RecordID != "Q-1" {
		t.Errorf("quarantine holds %d items, want the person's Q-1", len(doc.Quarantine))
	} else if err := json.Unmarshal(doc.Quarantine[0].Record, &quarantined); err != nil || quarantined.Sex != "X" {
		t.Errorf("the quarantined record has sex %q (%v), want the X it was quarantined for", quarantined.Sex, err)
	}
	if strings.Contains(string(data), a) || strings.Contains(string(data), "P-0") || strings.Contains(string(data), "Q-0") {
		t.Error("the export holds the other person's data")
	}
	if len(doc.Consents) != 0 || len(doc.Referrals) != 0 || len(doc.MentionedIn) != 0 || len(doc.Audit) != 0 {
		t.Errorf("export holds consents %d, referrals %d, mentions %d, audit %d; want none", len(doc.Consents), len(doc.Referrals), len(doc.MentionedIn), len(doc.Audit))
	}

	// --out never overwrites.
	if code, _, stderr := snodo(t, "", "export", "--person", b, "--out", out, "--config", cfg); code != exitUsage || !strings.Contains(stderr, "does not exist yet") {
		t.Errorf("export over an existing file: exit %d, %q", code, stderr)
	}
	// The first export is audited, and shows in the next one (to stdout).
	code, stdout, stderr = snodo(t, "", "export", "--person", b, "--config", cfg)
	if code != 0 {
		t.Fatalf("export to stdout: exit %d: %s", code, stderr)
	}
	var again exportDoc
	if err := json.Unmarshal([]byte(stdout), &again); err != nil {
		t.Fatal(err)
	}
	if len(again.Audit) != 1 || again.Audit[0].Action != "person.export" || again.Audit[0].Detail["records"] != float64(1) {
		t.Errorf("audit entries in the second export: %+v, want the first export", again.Audit)
	}
	entries := auditEntries(t, db)
	exports := 0
	for _, e := range entries {
		if strings.HasPrefix(e, "person.export ") {
			exports++
			if !strings.Contains(e, `"person_id":"`+b+`"`) {
				t.Errorf("export audit entry %q does not name the person id", e)
			}
		}
	}
	if exports != 2 {
		t.Errorf("%d export entries in the audit log, want 2", exports)
	}
	// The export is the person's: their identifier is in their quarantined
	// record. Nothing else — the database, the audit log, the messages —
	// holds any identifier in clear.
	noCodeAnywhere(t, cfg, cfs[:], append(entries, stderr)...)
}

// TestExportNamesWhereAReferralWent: a delivered referral's export names
// the system it went to and its id there, the recipients of the person's
// data that the person may ask about.
func TestExportNamesWhereAReferralWent(t *testing.T) {
	r := store.Referral{Source: "cartella", RecordID: "REF-1", Delivery: store.DeliveryDelivered, Target: "cpi", TargetID: "CPI-77"}
	data, err := json.Marshal(toExportReferral(r, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"target":"cpi"`, `"target_id":"CPI-77"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the exported referral %s does not hold %s", data, want)
		}
	}
}
