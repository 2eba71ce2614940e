package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/store/storetest"
)

// subjectMapping maps the test exports of the data-protection commands:
// as peopleMapping, with the date each row was recorded.
const subjectMapping = `version: 1
files:
  - pattern: "persone*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    recorded_at: {column: agg, format: "dd/mm/yyyy HH:MI"}
    fields:
      - {column: cf, to: /person/identifiers}
      - {column: anno, to: /birth_year}
      - column: sesso
        to: /sex
        codes: {M: M, F: F}
        unknown: keep
      - {column: comune, to: /residence_comune}
`

// twoPeopleHub ingests, through the file connector and the real pipeline,
// two people with one good record and one quarantined record (a sex code
// the mapping lacks) each. Person 0's good record was recorded on
// recorded0, the others last month. It returns the configuration and the
// two codici fiscali.
func twoPeopleHub(t *testing.T, recorded0 time.Time) (cfg string, cfs [2]string) {
	t.Helper()
	cfs = [2]string{validCF(0), validCF(1)}
	recent := time.Now().AddDate(0, -1, 0).Format("02/01/2006 15:04")
	var b strings.Builder
	b.WriteString("id;cf;anno;sesso;comune;agg\n")
	// Typed as people type them: lower case, spaced.
	typed := func(cf string) string { return strings.ToLower(cf[:6]) + " " + cf[6:11] + " " + cf[11:] }
	fmt.Fprintf(&b, "P-0;%s;1960;M;048017;%s\n", typed(cfs[0]), recorded0.Format("02/01/2006 15:04"))
	fmt.Fprintf(&b, "P-1;%s;1970;F;048017;%s\n", typed(cfs[1]), recent)
	fmt.Fprintf(&b, "Q-0;%s;1960;X;048017;%s\n", typed(cfs[0]), recent)
	fmt.Fprintf(&b, "Q-1;%s;1970;X;048017;%s\n", typed(cfs[1]), recent)
	cfg, _ = filesHub(t, subjectMapping, map[string]string{"persone_2025.csv": b.String()})
	runs := ingestJSON(t, 0, "--config", cfg)
	if len(runs) != 1 || runs[0].Stored != 2 || runs[0].Quarantined != 2 {
		t.Fatalf("ingest: %+v, want 2 stored and 2 quarantined", runs)
	}
	return cfg, cfs
}

// hubKey reads the territory's pseudonymisation key of a test hub.
func hubKey(t *testing.T, cfgPath string) identity.Key {
	t.Helper()
	c, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyring.LoadIdentityKey(c.Path(c.Keys.Pseudonymisation))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func digestOf(t *testing.T, key identity.Key, cf string) []byte {
	t.Helper()
	c, err := identity.Parse(cf)
	if err != nil {
		t.Fatal(err)
	}
	return key.Digest(c)
}

// openHubDB opens a test hub's database as a plain SQLite file.
func openHubDB(t *testing.T, cfgPath string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfgPath), "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func personOf(t *testing.T, db *sql.DB, digest []byte) (string, bool) {
	t.Helper()
	var id string
	err := db.QueryRow(`SELECT person_id FROM person_identifiers WHERE digest = ?`, digest).Scan(&id)
	if err == sql.ErrNoRows {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return id, true
}

// auditActions lists the audit log's actions and details, in order.
func auditEntries(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT action || ' ' || detail FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// noCodeAnywhere fails when a codice fiscale appears in clear, as typed
// or normalised, in the database files or the text given.
func noCodeAnywhere(t *testing.T, cfgPath string, cfs []string, texts ...string) {
	t.Helper()
	dir := filepath.Dir(cfgPath)
	var files []string
	for _, suffix := range []string{"", "-wal", "-shm"} {
		files = append(files, filepath.Join(dir, "snodo.db"+suffix))
	}
	for _, cf := range cfs {
		needles := []string{cf, strings.ToLower(cf[:6]) + " " + cf[6:11] + " " + cf[11:]}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, n := range needles {
				if bytes.Contains(data, []byte(n)) {
					t.Errorf("an identifier is in clear in %s", filepath.Base(f))
				}
			}
		}
		for i, text := range texts {
			for _, n := range needles {
				if strings.Contains(strings.ToUpper(text), strings.ToUpper(n)) {
					t.Errorf("an identifier is in clear in output %d", i)
				}
			}
		}
	}
}

func TestEraseRemovesOnePersonEntirely(t *testing.T) {
	t.Parallel()
	cfg, cfs := twoPeopleHub(t, time.Now().AddDate(0, -1, 0))
	key := hubKey(t, cfg)
	db := openHubDB(t, cfg)
	dA, dB := digestOf(t, key, cfs[0]), digestOf(t, key, cfs[1])
	a, okA := personOf(t, db, dA)
	b, okB := personOf(t, db, dB)
	if !okA || !okB || a == b {
		t.Fatalf("the two people are not in the keyed index as two people")
	}
	beforeB := storetest.RowsHolding(t, db, []byte(b))
	var outputs []string
	typedA := "cf:" + strings.ToLower(cfs[0][:6]) + " " + cfs[0][6:]

	// Neither --dry-run nor --yes: refused, nothing deleted.
	code, out, stderr := snodo(t, "", "erase", "--identifier", typedA, "--config", cfg)
	outputs = append(outputs, out, stderr)
	if code != exitUsage || !strings.Contains(stderr, "--dry-run") || !strings.Contains(stderr, "--yes") {
		t.Fatalf("erase without --yes: exit %d, stderr %q", code, stderr)
	}

	// A dry run says what would go and deletes nothing.
	code, out, stderr = snodo(t, "", "erase", "--identifier", typedA, "--dry-run", "--json", "--config", cfg)
	outputs = append(outputs, out, stderr)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	var dry struct {
		PersonID string        `json:"person_id"`
		DryRun   bool          `json:"dry_run"`
		Deleted  store.Erasure `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(out), &dry); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := store.Erasure{Records: 1, Identifiers: 1, Persons: 1, Quarantine: 1}
	if dry.PersonID != a || !dry.DryRun || dry.Deleted != want {
		t.Errorf("dry run = %+v, want person %s and %+v", dry, a, want)
	}
	if left := storetest.RowsHolding(t, db, []byte(a)); left["records"] != 1 || left["persons"] != 1 {
		t.Fatalf("the dry run deleted something: %v", left)
	}

	// The erasure.
	code, out, stderr = snodo(t, "", "erase", "--identifier", typedA, "--yes", "--config", cfg)
	outputs = append(outputs, out, stderr)
	if code != 0 || !strings.Contains(out, "person "+a+": erased") || !strings.Contains(out, "1 quarantine items") {
		t.Fatalf("erase: exit %d\n%s%s", code, out, stderr)
	}
	// Only the audit entry of the erasure still names the person id; the
	// digest is nowhere.
	if left := storetest.RowsHolding(t, db, []byte(a)); len(left) != 1 || left["audit"] != 1 {
		t.Errorf("tables still naming the erased person: %v, want the erasure's audit entry only", left)
	}
	if left := storetest.RowsHolding(t, db, dA); len(left) != 0 {
		t.Errorf("the identifier's digest is still in %v", left)
	}
	var quarantined []string
	for _, it := range quarantineJSON(t, cfg) {
		quarantined = append(quarantined, it.RecordID)
	}
	if strings.Join(quarantined, ",") != "Q-1" {
		t.Errorf("quarantine after the erasure: %v, want the other person's Q-1 only", quarantined)
	}
	// The other person is untouched.
	if after := storetest.RowsHolding(t, db, []byte(b)); fmt.Sprint(after) != fmt.Sprint(beforeB) {
		t.Errorf("rows naming the other person: before %v, after %v", beforeB, after)
	}
	if id, ok := personOf(t, db, dB); !ok || id != b {
		t.Error("the other person's identifier left the keyed index")
	}
	entries := auditEntries(t, db)
	last := entries[len(entries)-1]
	if !strings.HasPrefix(last, "person.erase ") || !strings.Contains(last, `"person_id":"`+a+`"`) || !strings.Contains(last, `"quarantine":1`) {
		t.Errorf("last audit entry %q, want the erasure with the person id and counts", last)
	}
	code, out, stderr = snodo(t, "", "audit", "verify", "--config", cfg)
	if code != 0 {
		t.Errorf("audit verify after the erasure: exit %d %s%s", code, out, stderr)
	}

	// The person is gone: erasing again says so.
	code, out, stderr = snodo(t, "", "erase", "--identifier", "cf:"+cfs[0], "--yes", "--config", cfg)
	outputs = append(outputs, out, stderr)
	if code != exitFindings || !strings.Contains(stderr, "no person of this hub has that cf") {
		t.Errorf("erase again: exit %d, stderr %q", code, stderr)
	}
	noCodeAnywhere(t, cfg, cfs[:], append(outputs, entries...)...)
}

func TestEraseAndExportRefuseBadFlags(t *testing.T) {
	t.Parallel()
	cfg, cfs := twoPeopleHub(t, time.Now().AddDate(0, -1, 0))
	unknown := identity.NewPersonID()
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"neither flag":           {[]string{"--dry-run"}, exitUsage, "--person PERSON_ID or --identifier KIND:CODE"},
		"both flags":             {[]string{"--person", unknown, "--identifier", "cf:" + cfs[1], "--dry-run"}, exitUsage, "one of them"},
		"not a person id":        {[]string{"--person", "12345", "--dry-run"}, exitUsage, "not a person id"},
		"identifier as a person": {[]string{"--person", cfs[1], "--dry-run"}, exitUsage, "use --identifier KIND:CODE"},
		"unknown person":         {[]string{"--person", unknown, "--dry-run"}, exitFindings, "not in this hub's keyed index"},
		"identifier without kind": {[]string{"--identifier", cfs[1], "--dry-run"}, exitUsage,
			"--identifier takes KIND:CODE"},
		"invalid code":  {[]string{"--identifier", "cf:" + cfs[1][:15] + "0", "--dry-run"}, exitUsage, "--identifier:"},
		"unknown kind":  {[]string{"--identifier", "passport:" + cfs[1], "--dry-run"}, exitUsage, "unknown identifier kind"},
		"unknown code":  {[]string{"--identifier", "cf:" + validCF(7), "--dry-run"}, exitFindings, "no person of this hub has that cf"},
		"dry run & yes": {[]string{"--person", unknown, "--dry-run", "--yes"}, exitUsage, "cannot be undone"},
		// cobra's own error quotes the argument: masked.
		"code without its flag": {[]string{cfs[1], "--dry-run"}, exitUsage, `unknown command "****************"`},
	} {
		t.Run(name, func(t *testing.T) {
			for _, cmd := range []string{"erase", "export"} {
				args := append([]string{cmd, "--config", cfg}, tc.args...)
				if cmd == "export" {
					if name == "dry run & yes" {
						continue
					}
					args = slicesWithout(args, "--dry-run")
				}
				code, out, stderr := snodo(t, "", args...)
				if code != tc.code || !strings.Contains(stderr, tc.want) {
					t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", cmd, code, stderr, tc.code, tc.want)
				}
				noCodeAnywhere(t, cfg, append(cfs[:], validCF(7), cfs[1][:15]+"0"), out, stderr)
			}
		})
	}
}

func slicesWithout(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}
