package attack

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

var (
	suiteOnce sync.Once
	suiteRes  *Result
	suiteErr  error
)

// suite runs the whole suite once for the tests of this file (seed 1).
func suite(t *testing.T) *Result {
	t.Helper()
	suiteOnce.Do(func() {
		cfg := Config{Seed: 1, Publishers: []string{SnodoDefault, RoundingFallback, ThresholdOnly}}
		if testing.Short() {
			cfg.Sweeps = 60
		}
		suiteRes, suiteErr = Run(context.Background(), cfg)
	})
	if suiteErr != nil {
		t.Fatal(suiteErr)
	}
	return suiteRes
}

func outcome(t *testing.T, name string) Outcome {
	t.Helper()
	o, ok := suite(t).Outcome(name)
	if !ok {
		t.Fatalf("no outcome for %s", name)
	}
	return o
}

// Goal 2: against Snodo's default, the whole suite reconstructs at most 1%
// of the households exactly, derives no suppressed cell and isolates no late
// household; the ledger refuses the revision that would overspend.
func TestGoal2SnodoDefault(t *testing.T) {
	o := outcome(t, SnodoDefault)
	if o.Rate > 0.01 {
		t.Errorf("snodo-default: %d of %d households reconstructed exactly (%.3f), goal 2 allows 1%%", o.Reidentified, o.Households, o.Rate)
	}
	if o.DerivedExact != 0 {
		t.Errorf("snodo-default: %d suppressed cells derived exactly, want none", o.DerivedExact)
	}
	if o.LateIsolated != 0 || o.LateGuessed != 0 || o.QuarterLeaks != 0 {
		t.Errorf("snodo-default: late households isolated %d, guessed %d, quarter leaks %d; want none", o.LateIsolated, o.LateGuessed, o.QuarterLeaks)
	}
	// ρ = 1/4 (quarters) + 3/4 (annual) uses the year's cap: a revision
	// costs another 3/4 and must be refused every year.
	if o.RevisionsRefused != 3 {
		t.Errorf("snodo-default: %d revisions refused, want 3 (one per year)", o.RevisionsRefused)
	}
}

// The rounding fallback leaves no suppressed cell derivable exactly from
// the margins, whatever the attack combines (all dimensions, numerator ≤
// denominator, rounding intervals).
func TestRoundingFallbackNoDerivedCell(t *testing.T) {
	o := outcome(t, RoundingFallback)
	if o.Suppressed == 0 {
		t.Fatal("rounding-fallback: nothing suppressed, the test shows nothing")
	}
	if o.DerivedExact != 0 {
		t.Errorf("rounding-fallback: %d suppressed cells derived exactly (%d non-zero)", o.DerivedExact, o.DerivedNonZero)
	}
	if o.LateIsolated != 0 || o.Rate > 0.01 {
		t.Errorf("rounding-fallback: %d late households isolated, rate %.3f", o.LateIsolated, o.Rate)
	}
}

// The attacks genuinely work against threshold-only publication: suppressed
// cells are derived (all correctly: the deductions are certain), a late
// household is isolated exactly and re-identified, and a late household's
// outcome falls out of annual − Σ quarters.
func TestThresholdOnlyIsAttacked(t *testing.T) {
	o := outcome(t, ThresholdOnly)
	if o.DerivedNonZero == 0 || o.DerivedWrong != 0 {
		t.Errorf("threshold-only: %d non-zero suppressed cells derived, %d wrong; want some, none wrong", o.DerivedNonZero, o.DerivedWrong)
	}
	if o.SingleLateYears == 0 {
		t.Fatal("the territory has no year with a single late household: differencing is not tested")
	}
	if o.LateIsolated == 0 || o.LateWrong != 0 {
		t.Errorf("threshold-only: %d late households isolated exactly (%d wrong), want at least one", o.LateIsolated, o.LateWrong)
	}
	if o.Reidentified < 1 {
		t.Errorf("threshold-only: the isolated late household was not re-identified by the reconstruction")
	}
	if o.QuarterLeaksWrong != 0 {
		t.Errorf("threshold-only: %d of %d quarter-difference leaks wrong", o.QuarterLeaksWrong, o.QuarterLeaks)
	}
}

// Averaging repeated answers gains nothing against stored releases, while
// fresh noise on every request would be averaged away.
func TestAveragingGainsNothing(t *testing.T) {
	for _, name := range []string{SnodoDefault, RoundingFallback} {
		o := outcome(t, name)
		if o.AvgRMSE1 == 0 {
			t.Errorf("%s: a single answer has no error: the test shows nothing", name)
		}
		t.Logf("%s: RMSE %.2f after one request, %.2f after 20", name, o.AvgRMSE1, o.AvgRMSEN)
		if o.AvgRMSEN != o.AvgRMSE1 {
			t.Errorf("%s: averaging 20 answers changed the error from %.3f to %.3f; stored releases must be identical", name, o.AvgRMSE1, o.AvgRMSEN)
		}
	}
	o := outcome(t, SnodoDefault)
	t.Logf("fresh noise per request (counterfactual): RMSE %.2f after one request, %.2f after 20", o.FreshRMSE1, o.FreshRMSEN)
	// σ/√20 ≈ 0.22 σ: fresh noise would lose more than half its error.
	if !(o.FreshRMSEN < o.FreshRMSE1/2) {
		t.Errorf("fresh noise: averaging 20 answers took the error from %.3f to %.3f only", o.FreshRMSE1, o.FreshRMSEN)
	}
}

// Derive finds the classic complementary cell (the total and all but one
// category published), the zeros implied by a category equal to the total,
// and nothing where suppressed cells share the remainder.
func TestDeriveComplementary(t *testing.T) {
	l, err := DefaultLayout()
	if err != nil {
		t.Fatal(err)
	}
	ind := l.Inds[l.indIndex["caseload"]]
	cell := func(dim, val string, n int64) disclosure.Cell {
		c := disclosure.Cell{Indicator: ind.ID, Version: ind.Version, Measure: "count", Count: n}
		if dim != "" {
			c.Breakdown = map[string]string{dim: val}
		}
		return c
	}
	cells := []disclosure.Cell{
		cell("", "", 16),
		// Age: one household under 18 (suppressed), every other band 3.
		cell("age-band", "0-17", 1), cell("age-band", "18-29", 3), cell("age-band", "30-44", 3),
		cell("age-band", "45-64", 3), cell("age-band", "65+", 3), cell("age-band", "unknown", 3),
		// Sex: F 16 = the total, so the other three are exactly 0.
		cell("sex", "F", 16), cell("sex", "M", 0), cell("sex", "U", 0), cell("sex", "unknown", 0),
		// Citizenship: 14 italian, three suppressed cells share 2.
		cell("citizenship-group", "italian", 14), cell("citizenship-group", "eu", 1), cell("citizenship-group", "non-eu", 1),
		cell("citizenship-group", "stateless", 0), cell("citizenship-group", "unknown", 0),
	}
	r, err := NewThresholdPublisher(3).Publish(context.Background(), "2025", 0, "1.0.0", cells)
	if err != nil {
		t.Fatal(err)
	}
	got := DerivedCells(l, r)
	want := map[CellKey]int64{
		{ind.ID, "count", "age-band", "0-17"}: 1,
		{ind.ID, "count", "sex", "M"}:         0,
		{ind.ID, "count", "sex", "U"}:         0,
		{ind.ID, "count", "sex", "unknown"}:   0,
	}
	for k, v := range want {
		if n, ok := got[k]; !ok || n != v {
			t.Errorf("%s=%s: derived %d (found %v), want %d", k.Dim, k.Value, n, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s=%s derived as %d, but the published cells do not pin it", k.Dim, k.Value, v)
		}
	}
}

// Reconstruct recovers a population the tables determine: a single
// household's record follows from its margins alone.
func TestReconstructDeterminedPopulation(t *testing.T) {
	l, err := DefaultLayout()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 5 {
		rec := Record{Attrs: make([]uint8, len(l.Dims)), States: make([]uint8, len(l.Inds))}
		for d, dim := range l.Dims {
			rec.Attrs[d] = uint8(rng.IntN(len(dim.Values)))
		}
		for i, ind := range l.Inds {
			rec.States[i] = uint8(rng.IntN(ind.States))
			if ind.Kind == "count" {
				rec.States[i] = 1
			}
		}
		tr := &Territory{Layout: l, Years: []int{2025}, Households: []map[int]*HouseholdYear{{2025: {Record: rec, StartQ: 1, EndQ: 4}}}}
		cells, err := tr.Cells("2025", StageRevised)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewThresholdPublisher(1).Publish(context.Background(), "2025", 0, "1.0.0", cells)
		if err != nil {
			t.Fatal(err)
		}
		tg := Targets(l, r)
		recs := Reconstruct(l, tg, households(l, tg), nil, ReconstructConfig{Sweeps: 100, Seed: uint64(trial)})
		if got := Reidentified([]int{0}, []Record{rec}, recs); len(got) != 1 {
			t.Errorf("trial %d: the single household was not reconstructed", trial)
		}
	}
}
