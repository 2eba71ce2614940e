package disclosure

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// protected is a release computed from true counts, before it is stored.
type protected struct {
	cells  []PublishedCell
	plan   *NoisePlan // nil in the rounding mode
	tables int
}

// protect computes the published cells of a release from true counts.
//
// Both modes first suppress every cell whose true count is under the
// threshold. The noise mode then adds discrete Gaussian noise to every other
// cell, zeros included: ρ is split over the tables of the release (zCDP
// composes by addition) as planNoise says, each table of L2 sensitivity 1
// getting its tier's ρ/tables and every cell of the tier the same
// σ² = tables/(2ρ). The rounding mode
// instead suppresses the cells suppressed in earlier rounding releases
// (carried, the pattern carried forward), adds complementary suppressions
// until no suppressed cell can be derived from its margins, and rounds
// every published count to the rounding base.
//
// The cells come out sorted by indicator, version, measure and breakdown,
// so their order says nothing about how they were computed.
func protect(s *Sampler, set Settings, rho *big.Rat, in []Cell, carried map[string]bool) (*protected, error) {
	p, cells, suppressed := pattern(set, in, carried, set.Mode == ModeRounding)
	switch set.Mode {
	case ModeNoise:
		plan, err := planNoise(set, rho, cells)
		if err != nil {
			return nil, err
		}
		p.plan = plan
		values, err := drawNoise(s, plan, cells, suppressed)
		if err != nil {
			return nil, err
		}
		for i := range cells {
			if !suppressed[i] {
				p.cells[i].Value = values[i]
			}
		}

	case ModeRounding:
		for i, c := range cells {
			if !suppressed[i] {
				p.cells[i].Value = roundTo(c.Count, set.RoundingBase)
			}
		}
		if err := CheckMargins(p.cells); err != nil {
			return nil, fmt.Errorf("rounding mode: %w", err)
		}

	default:
		return nil, fmt.Errorf("unknown disclosure mode %q", set.Mode)
	}
	return p, nil
}

// drawNoise returns the published value of every cell that is not
// suppressed: its true count plus discrete Gaussian noise of its tier's
// σ². A cell within another (Cell.Within) is one part of a partition and
// the other part is the rest, parent − child: each part gets its own
// noise, and the parent is published as the sum of the two noisy parts.
// The child's noise is drawn even when only the parent is published.
func drawNoise(s *Sampler, plan *NoisePlan, cells []Cell, suppressed []bool) ([]int64, error) {
	pairs, err := nestedPairs(cells)
	if err != nil {
		return nil, err
	}
	child := make(map[int]int, len(pairs))
	for c, parent := range pairs {
		child[parent] = c
	}
	// own is the count a cell's own draw is added to; need says it is drawn.
	own := make([]int64, len(cells))
	need := make([]bool, len(cells))
	for i, c := range cells {
		own[i], need[i] = c.Count, !suppressed[i]
		if k, ok := child[i]; ok {
			own[i] = c.Count - cells[k].Count
		}
	}
	for c, parent := range pairs {
		need[c] = need[c] || !suppressed[parent]
	}
	if s == nil {
		s = NewSampler(nil)
	}
	noisy := make([]int64, len(cells))
	for _, total := range []bool{true, false} {
		var idx []int
		var counts []int64
		for i, c := range cells {
			if need[i] && (len(c.Breakdown) == 0) == total {
				idx = append(idx, i)
				counts = append(counts, own[i])
			}
		}
		if len(idx) == 0 {
			continue
		}
		// σ² = 1/(2ρ) per table: the sampler takes the ρ of one table.
		perTable, err := RhoForSigmaSquared(plan.tierSigma2(total))
		if err != nil {
			return nil, err
		}
		out, err := s.Noise(counts, perTable)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			noisy[i] = out[j]
		}
	}
	for parent, c := range child {
		noisy[parent] += noisy[c]
	}
	return noisy, nil
}

// protectPattern is the suppression pattern of protect, without values.
func protectPattern(set Settings, in []Cell, carried map[string]bool, complementary bool) *protected {
	p, _, _ := pattern(set, in, carried, complementary)
	return p
}

// pattern sorts the cells and decides which are suppressed: under the
// threshold, carried forward, and (when complementary) the complementary
// suppressions. It returns the published cells without values (Suppressed
// set), the sorted input and the flags.
func pattern(set Settings, in []Cell, carried map[string]bool, complementary bool) (*protected, []Cell, []bool) {
	cells := slices.Clone(in)
	slices.SortFunc(cells, func(a, b Cell) int {
		return cmp.Or(strings.Compare(a.Indicator, b.Indicator), strings.Compare(a.Version, b.Version),
			strings.Compare(a.Measure, b.Measure), strings.Compare(breakdownJSON(a.Breakdown), breakdownJSON(b.Breakdown)))
	})
	tables := map[string]bool{}
	for _, c := range cells {
		tables[tableKey(c)] = true
	}
	p := &protected{tables: len(tables), cells: make([]PublishedCell, len(cells))}
	suppressed := make([]bool, len(cells))
	counts := make([]int64, len(cells))
	for i, c := range cells {
		counts[i] = c.Count
		suppressed[i] = c.Count < set.Threshold || carried[cellKey(c.Indicator, c.Version, c.Breakdown, c.Measure)]
		b := c.Breakdown
		if len(b) == 0 {
			b = nil
		}
		p.cells[i] = PublishedCell{Indicator: c.Indicator, Version: c.Version, Breakdown: b, Measure: c.Measure}
	}
	if complementary {
		complementarySuppress(marginRelations(p.cells), counts, suppressed)
	}
	for i := range cells {
		p.cells[i].Suppressed = suppressed[i]
	}
	return p, cells, suppressed
}

// roundTo rounds a non-negative count to the nearest multiple of base,
// halves up.
func roundTo(c, base int64) int64 {
	if base <= 1 {
		return c
	}
	return (c + base/2) / base * base
}

// relation is one additive margin of a release: the total of an indicator
// version and measure equals the sum of its cells broken down by one
// dimension (each household is in exactly one category of a dimension).
type relation struct {
	indicator, version, measure, dimension string
	total                                  int   // index of the total cell
	parts                                  []int // indices of the one-dimensional cells
}

// marginRelations finds the relations among cells: for every indicator,
// version and measure that has a total cell, one relation per breakdown
// dimension. Cells broken down by two or more dimensions are not covered.
func marginRelations(cells []PublishedCell) []relation {
	type group struct{ indicator, version, measure string }
	totals := map[group]int{}
	for i, c := range cells {
		if len(c.Breakdown) == 0 {
			totals[group{c.Indicator, c.Version, c.Measure}] = i
		}
	}
	type rkey struct {
		group
		dim string
	}
	byKey := map[rkey]*relation{}
	var order []rkey
	for i, c := range cells {
		if len(c.Breakdown) != 1 {
			continue
		}
		g := group{c.Indicator, c.Version, c.Measure}
		t, ok := totals[g]
		if !ok {
			continue
		}
		k := rkey{g, dimensions(c.Breakdown)[0]}
		r := byKey[k]
		if r == nil {
			r = &relation{indicator: g.indicator, version: g.version, measure: g.measure, dimension: k.dim, total: t}
			byKey[k] = r
			order = append(order, k)
		}
		r.parts = append(r.parts, i)
	}
	out := make([]relation, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out
}

// complementarySuppress suppresses more cells until no relation has
// exactly one suppressed member (which the others would give away): in such
// a relation it suppresses the published part with the smallest true count
// (the earliest on ties), or the total when every part is suppressed.
// Suppressing the total may open another relation, so it repeats until
// nothing changes.
func complementarySuppress(rels []relation, counts []int64, suppressed []bool) {
	for changed := true; changed; {
		changed = false
		for _, r := range rels {
			if countSuppressed(r, suppressed) != 1 {
				continue
			}
			pick := -1
			for _, i := range r.parts {
				if !suppressed[i] && (pick < 0 || counts[i] < counts[pick]) {
					pick = i
				}
			}
			if pick < 0 {
				pick = r.total
			}
			suppressed[pick] = true
			changed = true
		}
	}
}

func countSuppressed(r relation, suppressed []bool) int {
	n := 0
	if suppressed[r.total] {
		n++
	}
	for _, i := range r.parts {
		if suppressed[i] {
			n++
		}
	}
	return n
}

// CheckMargins reports a suppressed cell that could be derived exactly from
// the published cells of the same release: the total of an indicator
// version and measure, and its cells broken down by one dimension, add up;
// if exactly one of them is suppressed, the others give it away. Cells
// broken down by two or more dimensions are not checked.
func CheckMargins(cells []PublishedCell) error {
	supp := make([]bool, len(cells))
	for i, c := range cells {
		supp[i] = c.Suppressed
	}
	for _, r := range marginRelations(cells) {
		if countSuppressed(r, supp) == 1 {
			return fmt.Errorf("indicator %s version %s, measure %s: exactly one cell of the breakdown by %s (with its total) is suppressed, so it can be derived from the published margins", r.indicator, r.version, r.measure, r.dimension)
		}
	}
	return nil
}
