package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
)

// statsHub makes a hub with "snodo init" and stores n people with a
// referral each, requested in 2025-Q1, through the store. It returns the
// configuration and the person ids.
func statsHub(t *testing.T, n int) (cfg string, personIDs []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if code, _, stderr := snodo(t, "", "init", dir, "--territory", "SDS-TEST", "--name", "Ambito di prova"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		digest := sha256.Sum256(fmt.Appendf(nil, "RSSMRA80A01H501%c-%d", 'A'+rune(i%26), i))
		pid, _, err := st.ResolvePerson(ctx, digest[:], identity.KindCF, identity.NewPersonID())
		if err != nil {
			t.Fatal(err)
		}
		personIDs = append(personIDs, pid)
		authored := time.Date(2025, 1, 2+i%80, 9, 0, 0, 0, time.UTC)
		r := store.Referral{Source: "cartella", RecordID: fmt.Sprintf("REF-%05d", i), Requester: "ORG-A", Owner: "ORG-B",
			Priority: "routine", Category: "housing-instability", Status: "requested", AuthoredOn: authored, StatusAt: authored,
			Delivery: store.DeliveryLocal, PersonID: pid}
		if i%3 != 0 {
			r.Status, r.RespondedAt = "accepted", authored.Add(30*time.Hour)
		}
		putReferral(t, st, r)
	}
	return filepath.Join(dir, "snodo.yaml"), personIDs
}

func noPersonIDs(t *testing.T, what, out string, ids []string) {
	t.Helper()
	for _, id := range ids {
		if strings.Contains(out, id) {
			t.Fatalf("%s prints a person id", what)
		}
	}
	if strings.Contains(out, "REF-0") {
		t.Fatalf("%s prints a record id", what)
	}
}

func TestStatsPreviewReleaseAndStatus(t *testing.T) {
	t.Parallel()
	cfg, ids := statsHub(t, 40)

	code, out, stderr := snodo(t, "", "stats", "preview", "--period", "2025-Q1", "--config", cfg)
	if code != 0 {
		t.Fatalf("preview: exit %d: %s", code, stderr)
	}
	for _, line := range []string{"Preview of 2025-Q1 revision 0 for SDS-TEST", "due: release it with \"snodo stats release --epoch 2025-Q1\"",
		"ρ: would spend 1/16 (0.0625) over", "Budget 2025: cap 1, spent 0, left 1", "TRUE COUNT", "suppressed", "never leave the hub"} {
		if !strings.Contains(out, line) {
			t.Errorf("preview: no %q in\n%s", line, out)
		}
	}
	noPersonIDs(t, "preview", out, ids)

	code, out, stderr = snodo(t, "", "stats", "preview", "--period", "2025-Q1", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("preview --json: exit %d: %s", code, stderr)
	}
	var pr previewReport
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Released || pr.Rho != "1/16" || pr.Suppressed == 0 || pr.Published == 0 || pr.Budget.Left != "1" {
		t.Fatalf("preview: %+v", pr)
	}
	for _, c := range pr.Cells {
		if c.Suppressed && c.TrueCount != nil {
			t.Fatalf("a suppressed cell's true count is printed: %+v", c)
		}
		if !c.Suppressed && c.TrueCount == nil {
			t.Fatalf("a published cell without its true count: %+v", c)
		}
	}

	code, out, stderr = snodo(t, "", "stats", "release", "--epoch", "2025-Q1", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("release: exit %d: %s", code, stderr)
	}
	var rr releaseReport
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatal(err)
	}
	if !rr.New || !rr.Enqueued || rr.RhoSpent != "1/16" || rr.Budget.Left != "15/16" || rr.Cells != len(pr.Cells) || rr.Suppressed != pr.Suppressed {
		t.Fatalf("release: %+v", rr)
	}

	code, out, stderr = snodo(t, "", "stats", "release", "--epoch", "2025-Q1", "--config", cfg)
	if code != 0 {
		t.Fatalf("release again: exit %d: %s", code, stderr)
	}
	for _, line := range []string{"2025-Q1 revision 0 was already released", "Envelope already in the outbox as message 1",
		"budget 2025: spent 1/16 (0.0625) of 1, left 15/16 (0.9375)"} {
		if !strings.Contains(out, line) {
			t.Errorf("release again: no %q in\n%s", line, out)
		}
	}

	code, out, _ = snodo(t, "", "stats", "preview", "--period", "2025-Q1", "--config", cfg)
	if code != 0 || !strings.Contains(out, "Already released") || !strings.Contains(out, "PUBLISHED") || strings.Contains(out, "TRUE COUNT") {
		t.Errorf("preview after the release: exit %d\n%s", code, out)
	}

	// A revision out of order is refused with exit code 1.
	code, _, stderr = snodo(t, "", "stats", "release", "--epoch", "2025-Q1", "--revision", "2", "--config", cfg)
	if code != exitFindings || !strings.Contains(stderr, "the next revision is 1") {
		t.Errorf("revision 2: exit %d: %s", code, stderr)
	}

	code, out, stderr = snodo(t, "", "federate", "status", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("federate status: exit %d: %s", code, stderr)
	}
	var fr federateReport
	if err := json.Unmarshal([]byte(out), &fr); err != nil {
		t.Fatal(err)
	}
	if len(fr.Envelopes) != 1 || fr.Envelopes[0].Epoch != "2025-Q1" || fr.Envelopes[0].State != "pending" {
		t.Fatalf("federate status: %+v", fr)
	}
	found := false
	for _, b := range fr.Budgets {
		found = found || (b.Year == 2025 && b.Spent == "1/16" && b.Releases == 1)
	}
	if !found {
		t.Errorf("budgets %+v", fr.Budgets)
	}
	code, out, _ = snodo(t, "", "federate", "status", "--config", cfg)
	for _, line := range []string{"Region: not configured", "2025-Q1  0         pending", "2025  1    1/16 (0.0625)  15/16 (0.9375)  1"} {
		if code != 0 || !strings.Contains(out, line) {
			t.Errorf("federate status: exit %d, no %q in\n%s", code, line, out)
		}
	}
}

func TestStatsUsageAndRefusals(t *testing.T) {
	t.Parallel()
	cfg, _ := statsHub(t, 5)
	code, _, stderr := snodo(t, "", "stats", "preview", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "--period 2025-Q1") {
		t.Errorf("preview without a period: exit %d: %s", code, stderr)
	}
	code, _, stderr = snodo(t, "", "stats", "release", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "--epoch 2025-Q1") {
		t.Errorf("release without an epoch: exit %d: %s", code, stderr)
	}
	code, _, stderr = snodo(t, "", "stats", "release", "--epoch", "2025-Q5", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "YYYY-Q1") {
		t.Errorf("bad epoch: exit %d: %s", code, stderr)
	}
	code, _, stderr = snodo(t, "", "stats", "release", "--epoch", "2999-Q1", "--config", cfg)
	if code != exitFindings || !strings.Contains(stderr, "cannot be released before 2999-05-01") {
		t.Errorf("early release: exit %d: %s", code, stderr)
	}
	// The annual release withholds the cost sum and says so.
	code, out, stderr := snodo(t, "", "stats", "release", "--epoch", "2025", "--config", cfg)
	if code != 0 || !strings.Contains(out, "Withheld: cost-per-pathway") || !strings.Contains(out, "budget 2025: spent 3/4 (0.75) of 1") {
		t.Errorf("annual release: exit %d: %s\n%s", code, stderr, out)
	}
	// Over budget: three quarters fit in the 1/4 left (1/16 each), the
	// annual revision does not.
	code, _, stderr = snodo(t, "", "stats", "release", "--epoch", "2025", "--revision", "1", "--config", cfg)
	if code != exitFindings || !strings.Contains(stderr, "refused: it needs ρ = 3/4") {
		t.Errorf("overspend: exit %d: %s", code, stderr)
	}
}

// putReferral stores a referral of the requester system "cartella" with
// its first event (requested, with the referral's status reason).
func putReferral(t *testing.T, st *store.Store, r store.Referral) {
	t.Helper()
	ctx := context.Background()
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutReferral(ctx, r); err != nil {
			return err
		}
		_, err := tx.AddReferralEvent(ctx, store.ReferralEvent{RefSource: "cartella", RefRecordID: r.RecordID, EventSource: "cartella",
			To: "requested", SetBy: r.Requester, At: r.AuthoredOn, Outcome: "applied", RecordedAt: r.AuthoredOn, Reason: r.StatusReason})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
