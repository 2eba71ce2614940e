package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store/storetest"
)

type person struct {
	id     string
	digest []byte
	ref    string // their referral's record id
	qid    int64  // their quarantine item
}

// fillTwoPeople stores, for each of two people, what the pipeline and the
// referral engine would: a person record, a referral record with the
// hub's view of it, a status event with its record, a sealed envelope,
// the referral's delivery and a status message in the outbox, and a
// quarantine item. The second person's household names the first as a
// member when withHousehold.
func fillTwoPeople(t *testing.T, s *Store, recorded time.Time, withHousehold bool) (a, b person) {
	t.Helper()
	ctx := context.Background()
	mk := func(n string) person {
		p := person{id: identity.NewPersonID(), digest: digest("cf-" + n), ref: "REF-" + n}
		if _, _, err := s.ResolvePerson(ctx, p.digest, identity.KindCF, p.id); err != nil {
			t.Fatal(err)
		}
		err := s.Write(ctx, func(tx *Tx) error {
			for _, r := range []Record{
				{Schema: "person", RecordID: "P-" + n, Body: []byte(`{"person":{"person_id":"` + p.id + `"}}`)},
				{Schema: "referral", RecordID: p.ref, Body: []byte(`{"person":{"person_id":"` + p.id + `"},"status":"requested"}`)},
				{Schema: "referral-status-event", RecordID: "EV-" + n, Body: []byte(`{"referral":"` + p.ref + `"}`)},
			} {
				r.SchemaID, r.Source, r.Territory, r.RecordedAt = "https://x/"+r.Schema, "src", "T", recorded
				if r.Schema != "referral-status-event" {
					r.PersonID = p.id
				}
				if _, err := tx.UpsertRecord(ctx, r); err != nil {
					return err
				}
			}
			if err := tx.PutReferral(ctx, Referral{Source: "src", RecordID: p.ref, Requester: "O1", Owner: "O2", PersonID: p.id,
				Priority: "routine", Category: "housing", Status: "requested", StatusAt: recorded, AuthoredOn: recorded, Delivery: DeliveryPending}); err != nil {
				return err
			}
			if _, err := tx.AddReferralEvent(ctx, ReferralEvent{RefSource: "src", RefRecordID: p.ref, EventSource: "src", EventID: "EV-" + n,
				To: "requested", SetBy: "requester", At: recorded, Outcome: "applied", RecordedAt: recorded}); err != nil {
				return err
			}
			if err := tx.PutEnvelope(ctx, "src", p.ref, []byte("sealed identity of "+p.id)); err != nil {
				return err
			}
			if _, _, err := tx.Enqueue(ctx, "referrals", "referral:src:"+p.ref, []byte(`{"source":"src","record_id":"`+p.ref+`","target":"t"}`)); err != nil {
				return err
			}
			if _, _, err := tx.Enqueue(ctx, "status", "status:src:EV-"+n,
				[]byte(`{"source":"src","record_id":"EV-`+n+`","target":"t","referral":{"source":"src","record_id":"`+p.ref+`"}}`)); err != nil {
				return err
			}
			var err error
			p.qid, err = tx.AddQuarantine(ctx, QuarantineItem{Source: "src", RecordID: "Q-" + n, Raw: []byte("sealed record naming " + p.id)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b = mk("A"), mk("B")
	if withHousehold {
		upsert(t, s, Record{Schema: "household", SchemaID: "https://x/household", Source: "src", RecordID: "H-B", Territory: "T",
			RecordedAt: recorded, PersonID: b.id,
			Body: []byte(`{"members":[{"person":{"person_id":"` + b.id + `"}},{"person":{"person_id":"` + a.id + `"}}]}`)})
	}
	return a, b
}

func TestErasePersonRemovesEverythingOfOneOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path)
	a, b := fillTwoPeople(t, s, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), false)
	beforeB := storetest.RowsHolding(t, s.r, []byte(b.id))
	if len(beforeB) == 0 {
		t.Fatal("the fixture holds nothing about the second person")
	}

	want := Erasure{Records: 2, Identifiers: 1, Persons: 1, Referrals: 1, ReferralEvents: 1, StatusRecords: 1,
		Envelopes: 1, Outbox: 2, Quarantine: 1}
	dry, err := s.ErasePerson(ctx, a.id, []int64{a.qid}, true, "test")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, dry); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	if got := storetest.RowsHolding(t, s.r, []byte(a.id)); len(got) == 0 {
		t.Fatal("the dry run deleted the person")
	}

	got, err := s.ErasePerson(ctx, a.id, []int64{a.qid}, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("erasure (-want +got):\n%s", diff)
	}
	// Only the audit entry of the erasure still names the person.
	if diff := cmp.Diff(map[string]int{"audit": 1}, storetest.RowsHolding(t, s.r, []byte(a.id))); diff != "" {
		t.Errorf("tables still naming the erased person (-want +got):\n%s", diff)
	}
	for _, needle := range [][]byte{a.digest, []byte(a.ref), []byte("EV-A"), []byte("Q-A")} {
		if left := storetest.RowsHolding(t, s.r, needle); len(left) > 0 {
			t.Errorf("%q is still in %v", needle, left)
		}
	}
	// Nor do the files' bytes: a deleted row left in a free page or in
	// the write-ahead log is still there for whoever copies the file.
	for _, file := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		for _, needle := range [][]byte{a.digest, []byte(a.ref), []byte("EV-A"), []byte("Q-A")} {
			if n := bytes.Count(data, needle); n > 0 {
				t.Errorf("%s still holds %q %d times", filepath.Base(file), needle, n)
			}
		}
		if n := bytes.Count(data, []byte(a.id)); n > 1 {
			t.Errorf("%s holds the erased person id %d times; only the audit entry may", filepath.Base(file), n)
		}
	}
	if diff := cmp.Diff(beforeB, storetest.RowsHolding(t, s.r, []byte(b.id))); diff != "" {
		t.Errorf("the other person's rows changed (-before +after):\n%s", diff)
	}
	if _, found, _ := s.PersonByDigest(ctx, b.digest); !found {
		t.Error("the other person's identifier left the keyed index")
	}
	if err := s.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
	again, err := s.ErasePerson(ctx, a.id, nil, false, "")
	if err != nil || again != (Erasure{}) {
		t.Errorf("erasing again = %+v, %v; want nothing to delete", again, err)
	}
}

func TestErasePersonCountsMentionsInOthersRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	a, _ := fillTwoPeople(t, s, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), true)
	own, mentioned, err := s.PersonRecords(ctx, a.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 2 || len(mentioned) != 1 || mentioned[0].RecordID != "H-B" {
		t.Fatalf("PersonRecords: %d own, mentioned in %d; want 2 and the household H-B", len(own), len(mentioned))
	}
	got, err := s.ErasePerson(ctx, a.id, nil, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.MentionedIn != 1 || got.Records != 2 {
		t.Errorf("erasure %+v: want 2 records and 1 mention left", got)
	}
	if _, ok, _ := s.GetRecord(ctx, "src", "H-B"); !ok {
		t.Error("the other person's household was deleted")
	}
}

func TestAuditAboutFindsReadsOfThePersonAndTheirReferrals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	a, b := fillTwoPeople(t, s, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), false)
	for _, e := range []struct {
		action string
		detail map[string]any
	}{
		{"api.timeline.read", map[string]any{"person_id": a.id, "records": 2}},
		{"api.timeline.read", map[string]any{"person_id": b.id, "records": 2}},
		{"api.referral.read", map[string]any{"source": "src", "record_id": a.ref}},
		{"api.referral.read", map[string]any{"source": "src", "record_id": b.ref}},
		{"api.records.read", map[string]any{"schema": "person", "records": 4}},
	} {
		if err := s.Audit(ctx, "token:x", e.action, e.detail); err != nil {
			t.Fatal(err)
		}
	}
	refs, err := s.PersonReferrals(ctx, a.id)
	if err != nil || len(refs) != 1 {
		t.Fatalf("PersonReferrals = %d, %v", len(refs), err)
	}
	got, err := s.AuditAbout(ctx, a.id, refs)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, e := range got {
		seqs = append(seqs, e.Seq)
	}
	if diff := cmp.Diff([]int64{1, 3}, seqs); diff != "" {
		t.Errorf("audit entries about the person (-want +got):\n%s", diff)
	}
}

func TestApplyRetentionDeletesOnlyOldRecordsOfConfiguredSchemas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	// a and b: recorded 18 months ago; c: last month.
	a, b := fillTwoPeople(t, s, now.AddDate(0, -18, 0), false)
	c := person{id: identity.NewPersonID(), digest: digest("cf-C")}
	if _, _, err := s.ResolvePerson(ctx, c.digest, identity.KindCF, c.id); err != nil {
		t.Fatal(err)
	}
	upsert(t, s, Record{Schema: "person", SchemaID: "https://x/person", Source: "src", RecordID: "P-C", Territory: "T",
		RecordedAt: now.AddDate(0, -1, 0), PersonID: c.id, Body: []byte(`{"person":{"person_id":"` + c.id + `"}}`)})
	// b keeps a recent consent: b stays in the keyed index.
	upsert(t, s, Record{Schema: "consent", SchemaID: "https://x/consent", Source: "src", RecordID: "C-B", Territory: "T",
		RecordedAt: now.AddDate(0, -2, 0), PersonID: b.id, Body: []byte(`{"person":{"person_id":"` + b.id + `"}}`)})

	months := map[string]int{"person": 12, "referral": 12, "consent": 12}
	want := RetentionResult{Records: map[string]int64{"person": 2, "referral": 2, "consent": 0},
		Referrals: 2, ReferralEvents: 2, Envelopes: 2, Outbox: 4, Persons: 1, Identifiers: 1}
	dry, err := s.ApplyRetention(ctx, months, now, true, "test")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, dry); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}
	counts, err := s.CountBySchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["person"] != 3 {
		t.Fatalf("the dry run deleted records: %v", counts)
	}

	got, err := s.ApplyRetention(ctx, months, now, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retention (-want +got):\n%s", diff)
	}
	counts, err = s.CountBySchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The status-event records have no retention configured: they stay.
	if diff := cmp.Diff(map[string]int64{"person": 1, "consent": 1, "referral-status-event": 2}, counts); diff != "" {
		t.Errorf("records left (-want +got):\n%s", diff)
	}
	for name, p := range map[string]person{"a (nothing left)": a, "b (a recent consent)": b, "c (recent)": c} {
		_, found, err := s.PersonByDigest(ctx, p.digest)
		if err != nil {
			t.Fatal(err)
		}
		if wantFound := p.id != a.id; found != wantFound {
			t.Errorf("%s: in the keyed index %v, want %v", name, found, wantFound)
		}
	}
	// The quarantine is not a schema's record: retention leaves it.
	if q, err := s.AllQuarantine(ctx, 0, 10); err != nil || len(q) != 2 {
		t.Errorf("quarantine after retention: %d items, %v; want 2", len(q), err)
	}
	// Run again: nothing more is old.
	again, err := s.ApplyRetention(ctx, months, now, false, "")
	if err != nil {
		t.Fatal(err)
	}
	for schema, n := range again.Records {
		if n != 0 {
			t.Errorf("second run deleted %d %s records", n, schema)
		}
	}
	if _, err := s.ApplyRetention(ctx, map[string]int{"person": 0}, now, true, ""); err == nil {
		t.Error("a retention of 0 months was accepted")
	}
}

func TestApplyRetentionKeepsAPersonStillNamedInAHousehold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a, _ := fillTwoPeople(t, s, now.AddDate(0, -18, 0), true)
	// Only the person and referral records go; B's household (with A as
	// a member) stays, so A's pseudonym must keep resolving.
	if _, err := s.ApplyRetention(ctx, map[string]int{"person": 12, "referral": 12}, now, false, ""); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.PersonByDigest(ctx, a.digest); !found {
		t.Error("a person still named in a household was dropped from the keyed index")
	}
}
