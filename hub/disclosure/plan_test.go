package disclosure

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// rateCells is a rate (numerator within denominator) as hub/federation
// releases it, total and by sex.
func rateCells(num, den, numF, denF int64) []Cell {
	f := map[string]string{"sex": "F"}
	return []Cell{
		{Indicator: "acceptance", Version: "1", Measure: "numerator", Count: num, Partition: "rate", Within: "denominator"},
		{Indicator: "acceptance", Version: "1", Measure: "denominator", Count: den, Partition: "rate"},
		{Indicator: "acceptance", Version: "1", Measure: "numerator", Breakdown: f, Count: numF, Partition: "rate", Within: "denominator"},
		{Indicator: "acceptance", Version: "1", Measure: "denominator", Breakdown: f, Count: denF, Partition: "rate"},
	}
}

// TestPlanTiers: the totals get HeadlineShare of the ρ, the breakdowns the
// rest, and a rate is one table; without breakdowns, or with share 0, one
// σ² serves all.
func TestPlanTiers(t *testing.T) {
	set := DefaultSettings()
	plan, err := planNoise(set, big.NewRat(3, 4), rateCells(40, 100, 20, 50))
	if err != nil {
		t.Fatal(err)
	}
	// Totals: 1 table, ρ = 3/4 · 7/8 = 21/32, σ² = 1/(21/16) = 16/21.
	// Breakdowns: 1 table, ρ = 3/32, σ² = 16/3.
	if plan.Tables != 2 || plan.Headline == nil || plan.Headline.Tables != 1 || plan.Headline.Sigma2.RatString() != "16/21" ||
		plan.Sigma2.RatString() != "16/3" || !plan.RatePartition || plan.Rho().RatString() != "3/4" {
		t.Errorf("plan %+v headline %+v", plan, plan.Headline)
	}
	if plan.CellSigma2(nil) != plan.Headline.Sigma2 || plan.CellSigma2(map[string]string{"sex": "F"}) != plan.Sigma2 {
		t.Error("CellSigma2 does not pick the tier by breakdown")
	}

	set.HeadlineShare = new(big.Rat)
	even, err := planNoise(set, big.NewRat(3, 4), rateCells(40, 100, 20, 50))
	if err != nil {
		t.Fatal(err)
	}
	if even.Headline != nil || even.Sigma2.RatString() != "4/3" || even.Rho().RatString() != "3/4" {
		t.Errorf("share 0: %+v", even)
	}
	totals, err := planNoise(DefaultSettings(), big.NewRat(1, 16), rateCells(40, 100, 20, 50)[:2])
	if err != nil {
		t.Fatal(err)
	}
	if totals.Headline != nil || totals.Sigma2.RatString() != "8" {
		t.Errorf("totals only: %+v", totals)
	}
}

// TestRatePartitionNoise: the numerator gets noise e₁, the denominator
// e₁ + e₂: over many draws Var(num) ≈ v, Var(den) ≈ 2v, Cov ≈ v, as
// PartitionRateNoise says; and the denominator keeps its two draws when
// the numerator is suppressed.
func TestRatePartitionNoise(t *testing.T) {
	set := DefaultSettings()
	set.HeadlineShare = new(big.Rat)
	cells := rateCells(40, 100, 2, 50) // the breakdown's numerator is under the threshold
	plan, err := planNoise(set, big.NewRat(1, 2), cells)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Variance(plan.Sigma2) // σ² = 2
	if err != nil {
		t.Fatal(err)
	}
	suppressed := []bool{false, false, true, false}
	s := seeded(9)
	const n = 20000
	var sn, sd, snn, sdd, snd, sdF, sdFF float64
	for range n {
		vals, err := drawNoise(s, plan, cells, suppressed)
		if err != nil {
			t.Fatal(err)
		}
		en, ed, edF := float64(vals[0]-40), float64(vals[1]-100), float64(vals[3]-50)
		sn, sd, snn, sdd, snd = sn+en, sd+ed, snn+en*en, sdd+ed*ed, snd+en*ed
		sdF, sdFF = sdF+edF, sdFF+edF*edF
	}
	varOf := func(s, ss float64) float64 { return ss/n - (s/n)*(s/n) }
	got := RateNoise{Num: varOf(sn, snn), Den: varOf(sd, sdd), Cov: snd/n - (sn/n)*(sd/n)}
	want := PartitionRateNoise(v)
	// The sample variance of 20 000 draws is within 5% of the true one
	// with overwhelming probability (its sd is about 1%).
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"Var(num)", got.Num, want.Num}, {"Var(den)", got.Den, want.Den}, {"Cov", got.Cov, want.Cov},
		{"Var(den) with the numerator suppressed", varOf(sdF, sdFF), want.Den}} {
		if math.Abs(c.got-c.want) > 0.05*c.want {
			t.Errorf("%s = %.3f, want %.3f", c.name, c.got, c.want)
		}
	}
}

// TestNestedPairsRefused: a pair that would break the sensitivity the
// ledger accounts is refused with a message that says why.
func TestNestedPairsRefused(t *testing.T) {
	base := func() []Cell { return rateCells(40, 100, 20, 50)[:2] }
	for name, c := range map[string]struct {
		edit func([]Cell) []Cell
		want string
	}{
		"no parent":          {func(c []Cell) []Cell { c[0].Within = "requests"; return c }, "no cell of measure requests"},
		"partition mismatch": {func(c []Cell) []Cell { c[1].Partition = "other"; return c }, "same partition"},
		"no partition":       {func(c []Cell) []Cell { c[0].Partition, c[1].Partition = "", ""; return c }, "same partition"},
		"child above parent": {func(c []Cell) []Cell { c[0].Count = 101; return c }, "exceeds"},
		"nested twice":       {func(c []Cell) []Cell { c[1].Within = "numerator"; return c }, "itself within"},
		"third member": {func(c []Cell) []Cell {
			return append(c, Cell{Indicator: "acceptance", Version: "1", Measure: "other", Count: 1, Partition: "rate"})
		}, "other measures"},
		"two children": {func(c []Cell) []Cell {
			return append(c, Cell{Indicator: "acceptance", Version: "1", Measure: "n2", Count: 1, Partition: "rate", Within: "denominator"})
		}, "other measures"},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkRequest(Request{Epoch: "2025", CatalogueVersion: "1.0.0", Cells: c.edit(base())})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	if err := checkRequest(Request{Epoch: "2025", CatalogueVersion: "1.0.0", Cells: base()}); err != nil {
		t.Errorf("a valid pair refused: %v", err)
	}
}

// TestSettingsWithoutHeadlineShare: settings stored before the headline
// share existed read as share 0, the even split they were made with.
func TestSettingsWithoutHeadlineShare(t *testing.T) {
	var s Settings
	old := `{"display_below":10,"min_rate_denominator":20,"mode":"noise","rho_annual":"3/4","rho_quarterly":"1/16","rho_year_cap":"1","rounding_base":5,"threshold":3}`
	if err := s.UnmarshalJSON([]byte(old)); err != nil {
		t.Fatal(err)
	}
	if s.HeadlineShare == nil || s.HeadlineShare.Sign() != 0 {
		t.Errorf("headline share %v, want 0", s.HeadlineShare)
	}
	for _, bad := range []string{"1", "3/2"} {
		s := DefaultSettings()
		s.HeadlineShare, _ = new(big.Rat).SetString(bad)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "headline share") {
			t.Errorf("share %s: %v", bad, err)
		}
	}
}
