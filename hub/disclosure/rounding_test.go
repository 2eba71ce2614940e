package disclosure

import (
	"context"
	"math/big"
	"strings"
	"testing"
)

func dimCells(measure string, total int64, dim string, parts ...any) []Cell {
	out := []Cell{{Indicator: "acceptance", Version: "1", Measure: measure, Count: total}}
	for i := 0; i < len(parts); i += 2 {
		out = append(out, Cell{Indicator: "acceptance", Version: "1", Measure: measure,
			Breakdown: map[string]string{dim: parts[i].(string)}, Count: int64(parts[i+1].(int))})
	}
	return out
}

func suppressedSet(r *Release) map[string]bool {
	out := map[string]bool{}
	for _, c := range r.Cells {
		if c.Suppressed {
			out[c.Measure+breakdownJSON(c.Breakdown)] = true
		}
	}
	return out
}

func TestRoundingComplementarySuppression(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLedger(t, openStore(t), DefaultRoundingSettings(), 0)
	l.sampler = NewSampler(noDrawReader{}) // the rounding mode draws nothing

	// By age: one small cell (7 < 10); with the total published it would
	// be 61 - 30 - 24; the smallest other cell (24) is suppressed too.
	// By sex: one category only below the threshold and nothing else to
	// hide but the total... see the second release.
	cells := dimCells("requested", 61, "age", "18-29", 30, "30-44", 24, "45-64", 7)
	r, err := l.Release(ctx, Request{Epoch: "2025", CatalogueVersion: "1.0.0", Cells: cells})
	if err != nil {
		t.Fatal(err)
	}
	if r.Mechanism != "rounding" || r.Noise != nil || r.Rho.Sign() != 0 {
		t.Errorf("rounding release: mechanism %s noise %v ρ %v", r.Mechanism, r.Noise, r.Rho)
	}
	got := suppressedSet(r)
	want := map[string]bool{`requested{"age":"45-64"}`: true, `requested{"age":"30-44"}`: true}
	if len(got) != len(want) || !got[`requested{"age":"45-64"}`] || !got[`requested{"age":"30-44"}`] {
		t.Errorf("suppressed %v, want %v", got, want)
	}
	for _, c := range r.Cells {
		if c.Suppressed {
			continue
		}
		if c.Value%5 != 0 {
			t.Errorf("cell %v not rounded to 5: %d", c.Breakdown, c.Value)
		}
	}
	vals := cellsByKey(r)
	if vals["{}"].Value != 60 || vals[`{"age":"18-29"}`].Value != 30 {
		t.Errorf("rounded values: total %d, 18-29 %d; want 60, 30", vals["{}"].Value, vals[`{"age":"18-29"}`].Value)
	}
	if err := CheckMargins(r.Cells); err != nil {
		t.Error(err)
	}

	// The pattern is carried forward: next year 45-64 has 12 (over the
	// threshold) but stays suppressed, and so does its complement.
	cells = dimCells("requested", 80, "age", "18-29", 40, "30-44", 28, "45-64", 12)
	r2, err := l.Release(ctx, Request{Epoch: "2026", CatalogueVersion: "1.0.0", Cells: cells})
	if err != nil {
		t.Fatal(err)
	}
	if got := suppressedSet(r2); !got[`requested{"age":"45-64"}`] || !got[`requested{"age":"30-44"}`] || len(got) != 2 {
		t.Errorf("carried forward: suppressed %v", got)
	}
}

func TestComplementaryThroughTheTotal(t *testing.T) {
	t.Parallel()
	// A dimension with one category below the threshold: its only partner
	// is the total, which is suppressed; that opens the age breakdown,
	// where the smallest cell is suppressed as well.
	cells := append(dimCells("requested", 60, "age", "18-29", 35, "30-44", 25),
		Cell{Indicator: "acceptance", Version: "1", Measure: "requested", Breakdown: map[string]string{"ethos": "EL1"}, Count: 4})
	p, err := protect(nil, DefaultRoundingSettings(), new(big.Rat), cells, nil)
	if err != nil {
		t.Fatal(err)
	}
	supp := map[string]bool{}
	for _, c := range p.cells {
		if c.Suppressed {
			supp[breakdownJSON(c.Breakdown)] = true
		}
	}
	if len(supp) != 3 || !supp["{}"] || !supp[`{"ethos":"EL1"}`] || !supp[`{"age":"30-44"}`] {
		t.Errorf("suppressed %v; want the total, EL1 and 30-44", supp)
	}
	if err := CheckMargins(p.cells); err != nil {
		t.Error(err)
	}
}

func TestComplementaryManyBreakdowns(t *testing.T) {
	t.Parallel()
	// Several measures and dimensions; every relation ends with zero or at
	// least two suppressed members.
	var cells []Cell
	cells = append(cells, dimCells("requested", 100, "sex", "F", 55, "M", 42, "X", 3)...)
	cells = append(cells, dimCells("requested", 100, "age", "18-29", 20, "30-44", 30, "45-64", 41, "65+", 9)[1:]...)
	cells = append(cells, dimCells("accepted", 9, "sex", "F", 5, "M", 4)...)
	p, err := protect(nil, DefaultRoundingSettings(), new(big.Rat), cells, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckMargins(p.cells); err != nil {
		t.Error(err)
	}
	n := 0
	for _, c := range p.cells {
		if c.Suppressed {
			n++
		}
	}
	// sex X and M, age 65+ and 18-29, and the three accepted cells.
	if n != 7 {
		t.Errorf("%d cells suppressed, want 7: %+v", n, p.cells)
	}
}

func TestCheckMarginsFindsDerivableCell(t *testing.T) {
	t.Parallel()
	cells := []PublishedCell{
		{Indicator: "caseload", Version: "1", Measure: "households", Value: 60},
		{Indicator: "caseload", Version: "1", Measure: "households", Breakdown: map[string]string{"sex": "F"}, Value: 55},
		{Indicator: "caseload", Version: "1", Measure: "households", Breakdown: map[string]string{"sex": "M"}, Suppressed: true},
	}
	err := CheckMargins(cells)
	if err == nil || !strings.Contains(err.Error(), "breakdown by sex") {
		t.Fatalf("CheckMargins = %v", err)
	}
	cells[0].Suppressed, cells[0].Value = true, 0
	if err := CheckMargins(cells); err != nil {
		t.Errorf("two suppressed: %v", err)
	}
}

func TestRoundTo(t *testing.T) {
	t.Parallel()
	for c, want := range map[int64]int64{0: 0, 2: 0, 3: 5, 10: 10, 12: 10, 13: 15, 61: 60, 98: 100} {
		if got := roundTo(c, 5); got != want {
			t.Errorf("roundTo(%d, 5) = %d, want %d", c, got, want)
		}
	}
}
