package store

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testRelease(epoch string, revision int) *Release {
	return &Release{
		Epoch: epoch, Kind: "quarterly", Year: 2025, Revision: revision,
		CatalogueVersion: "1.0.0", Mode: "noise", Sigma2: "16/1", Tables: 2,
		Settings: []byte(`{"mode":"noise"}`),
		Rho:      "1/16", RhoCumulative: "1/16", RhoCap: "1",
		Cells: []ReleaseCell{
			{Indicator: "caseload", IndicatorVersion: "1", Breakdown: "{}", Measure: "count", Value: 41},
			{Indicator: "caseload", IndicatorVersion: "1", Breakdown: `{"sex":"F"}`, Measure: "count", Suppressed: true},
			{Indicator: "caseload", IndicatorVersion: "1", Breakdown: `{"sex":"M"}`, Measure: "count", Value: -2},
		},
	}
}

func insertRelease(ctx context.Context, s *Store, r *Release) (int64, error) {
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.InsertRelease(ctx, r)
		return err
	})
	return id, err
}

func TestReleaseRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))

	in := testRelease("2025-Q2", 0)
	id, err := insertRelease(ctx, s, in)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := s.FindRelease(ctx, "2025-Q2", 0)
	if err != nil || !found {
		t.Fatalf("FindRelease: found %v, %v", found, err)
	}
	want := *in
	want.ID = id
	want.CreatedAt = clock.Now().UTC()
	want.Cells[1].Value = 0
	if diff := cmp.Diff(&want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("release read back (-want +got):\n%s", diff)
	}

	// A duplicate (epoch, revision) is refused, and nothing of it is kept.
	dup := testRelease("2025-Q2", 0)
	dup.Cells[0].Value = 99
	if _, err := insertRelease(ctx, s, dup); !errors.Is(err, ErrReleaseExists) {
		t.Fatalf("duplicate release: got %v, want ErrReleaseExists", err)
	}
	again, _, _ := s.FindRelease(ctx, "2025-Q2", 0)
	if again.Cells[0].Value != 41 {
		t.Errorf("a refused duplicate changed the stored value to %d", again.Cells[0].Value)
	}
	ledger, err := s.YearLedger(ctx, 2025)
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 1 || ledger[0].Rho != "1/16" || ledger[0].Epoch != "2025-Q2" {
		t.Errorf("ledger after a refused duplicate: %+v", ledger)
	}

	// A revision is a new row.
	if _, err := insertRelease(ctx, s, testRelease("2025-Q2", 1)); err != nil {
		t.Fatal(err)
	}
	err = s.Write(ctx, func(tx *Tx) error {
		rev, found, err := tx.LatestRevision(ctx, "2025-Q2")
		if err != nil || !found || rev != 1 {
			t.Errorf("LatestRevision = %d, %v, %v; want 1, true", rev, found, err)
		}
		if _, found, _ := tx.LatestRevision(ctx, "2025-Q3"); found {
			t.Error("LatestRevision found an epoch never released")
		}
		sup, err := tx.SuppressedBefore(ctx, "noise")
		if err != nil {
			return err
		}
		if len(sup) != 1 || !sup[in.Cells[1].Key()] {
			t.Errorf("SuppressedBefore = %v", sup)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.FindRelease(ctx, "2024", 0); found || err != nil {
		t.Errorf("FindRelease of a missing epoch: found %v, %v", found, err)
	}
}

func TestReleaseIsAtomic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	r := testRelease("2025", 0)
	r.Kind = "annual"
	r.Cells = append(r.Cells, r.Cells[0]) // a cell twice: the whole release fails
	if _, err := insertRelease(ctx, s, r); err == nil {
		t.Fatal("a release with a duplicate cell was stored")
	}
	if _, found, _ := s.FindRelease(ctx, "2025", 0); found {
		t.Error("a failed release left a row")
	}
	if l, _ := s.YearLedger(ctx, 2025); len(l) != 0 {
		t.Errorf("a failed release left a ledger entry: %+v", l)
	}
	for _, bad := range []func(*Release){
		func(r *Release) { r.Epoch = "2025-Q5" },
		func(r *Release) { r.Kind = "monthly" },
		func(r *Release) { r.Mode = "magic" },
		func(r *Release) { r.Rho = "" },
	} {
		r := testRelease("2025-Q1", 0)
		bad(r)
		if _, err := insertRelease(ctx, s, r); err == nil {
			t.Errorf("invalid release %+v was stored", r)
		}
	}
}

func TestSetReleaseEnvelope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	id, err := insertRelease(ctx, s, testRelease("2025-Q1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetReleaseEnvelope(ctx, id, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReleaseEnvelope(ctx, id, []byte(`{"a":1}`)); err != nil {
		t.Errorf("the same envelope again: %v", err)
	}
	if err := s.SetReleaseEnvelope(ctx, id, []byte(`{"a":2}`)); err == nil {
		t.Error("an envelope was replaced")
	}
	if err := s.SetReleaseEnvelope(ctx, id+1, []byte(`{"a":1}`)); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing release: %v", err)
	}
	r, _, _ := s.FindRelease(ctx, "2025-Q1", 0)
	if string(r.Envelope) != `{"a":1}` {
		t.Errorf("envelope = %q", r.Envelope)
	}
}
