package attack

import (
	"math"
	"slices"

	"github.com/snodo-hub/snodo/schemas"
)

// Isolation is the result of differencing two releases of the same year's
// data, the later one seeing more (revision 1 minus revision 0): the
// attacker assumes late data only adds households, which is what a
// revision with late data is.
type Isolation struct {
	// Late is what the attacker knows of the number of households the
	// later release added (the difference of the caseload totals).
	Late Interval
	// Certain: exactly one household was added and every field of its
	// record (a category per dimension, a state per indicator) follows
	// from the differences with certainty.
	Certain bool
	// Guess is the attacker's best record of the added household from the
	// point estimates of the differences (the certain record when Certain).
	Guess Record
}

// diffInterval is what the attacker knows of b − a when b ⊇ a.
func diffInterval(a, b Interval) Interval {
	lo := int64(0)
	if a.Hi < Inf {
		lo = max(0, b.Lo-a.Hi)
	}
	hi := Inf
	if b.Hi < Inf {
		hi = max(0, b.Hi-a.Lo)
	}
	return Interval{lo, hi}
}

// Difference is the differencing attack across two releases of the same
// year (before and after late data): the cell-by-cell difference of what
// Derive knows isolates the late household when there is exactly one. Its
// category in each dimension is the one whose caseload cell grew by one, its
// state for each indicator follows from which totals grew.
func Difference(l *Layout, before, after *Release) Isolation {
	ka, kb := Derive(l, before), Derive(l, after)
	ea, eb := Estimate(before, ka), Estimate(after, kb)
	out := Isolation{Guess: Record{Attrs: make([]uint8, len(l.Dims)), States: make([]uint8, len(l.Inds))}}
	caseload := -1
	for i, ind := range l.Inds {
		if ind.Kind == schemas.KindCount && ind.Annual {
			caseload = i
			break
		}
	}
	if caseload < 0 {
		return out
	}
	// What is known of the difference: cell by cell, then through the
	// margins (differences add up like counts), no cell growing by more
	// than the caseload did.
	dk := make(Knowledge, len(kb))
	for key, ivb := range kb {
		if iva, ok := ka[key]; ok {
			dk[key] = diffInterval(iva, ivb)
		}
	}
	cl := l.Inds[caseload]
	out.Late = dk[CellKey{Indicator: cl.ID, Measure: cl.Measures[0]}]
	if out.Late.Hi < Inf {
		for key, iv := range dk {
			iv.Hi = min(iv.Hi, out.Late.Hi)
			dk[key] = iv
		}
	}
	propagate(l, dk)
	single := out.Late == Interval{1, 1}
	est := func(key CellKey) float64 { return eb[key] - ea[key] }

	// The late household's category in each dimension. With one late
	// household, a measure whose total grew by exactly one grew by one in
	// the household's category of every dimension it is broken down by,
	// so the category must be possible in all of them (overlapping
	// breakdowns); with noise, the category whose caseload cell grew most.
	certain := single
	for d, dim := range l.Dims {
		var cands []int
		best, bestV := math.Inf(-1), 0
		for v, val := range dim.Values {
			possible := true
			for _, ind := range l.Inds {
				if !ind.Annual || !slices.Contains(ind.Dims, d) {
					continue
				}
				for _, m := range ind.Measures {
					if dk[CellKey{Indicator: ind.ID, Measure: m}] != (Interval{1, 1}) {
						continue
					}
					if dk[CellKey{Indicator: ind.ID, Measure: m, Dim: dim.ID, Value: val}].Hi < 1 {
						possible = false
					}
				}
			}
			if possible {
				cands = append(cands, v)
			}
			if e := est(CellKey{Indicator: cl.ID, Measure: cl.Measures[0], Dim: dim.ID, Value: val}); e > best {
				best, bestV = e, v
			}
		}
		if single && len(cands) == 1 {
			bestV = cands[0]
		} else {
			certain = false
		}
		out.Guess.Attrs[d] = uint8(bestV)
	}
	// Its state for each indicator: whether each measure grew, from the
	// total or from the cell of the household's category.
	for i, ind := range l.Inds {
		if !ind.Annual {
			continue
		}
		ivs := make([]Interval, len(ind.Measures))
		ests := make([]float64, len(ind.Measures))
		for m, name := range ind.Measures {
			key := CellKey{Indicator: ind.ID, Measure: name}
			ivs[m], ests[m] = dk[key], est(key)
			if single && !ivs[m].Exact() {
				for _, d := range ind.Dims {
					iv := dk[CellKey{Indicator: ind.ID, Measure: name, Dim: l.Dims[d].ID, Value: l.Dims[d].Values[out.Guess.Attrs[d]]}]
					switch {
					case iv.Hi == 0:
						ivs[m] = Interval{0, 0}
					case iv.Lo >= 1:
						ivs[m] = Interval{1, 1}
					}
				}
			}
			if !ivs[m].Exact() || ivs[m].Lo > 1 {
				certain = false
			}
		}
		out.Guess.States[i] = guessState(ind, ivs, ests)
	}
	out.Certain = certain
	return out
}

// guessState turns the differences of an indicator's measure totals into a
// state: the exact one when they are all exact, else from the estimates.
func guessState(ind Ind, ivs []Interval, ests []float64) uint8 {
	val := make([]float64, len(ivs))
	for m := range ivs {
		if ivs[m].Exact() {
			val[m] = float64(ivs[m].Lo)
		} else {
			val[m] = ests[m]
		}
	}
	switch ind.Kind {
	case schemas.KindRatio: // numerator, denominator
		switch {
		case val[1] < 0.5:
			return 0
		case val[0] >= 0.5:
			return 2
		default:
			return 1
		}
	case schemas.KindBinned:
		var sum float64
		best, bestK := math.Inf(-1), 0
		for k, v := range val {
			sum += v
			if v > best {
				best, bestK = v, k
			}
		}
		if sum < 0.5 {
			return 0
		}
		return uint8(1 + bestK)
	default:
		if val[0] >= 0.5 {
			return 1
		}
		return 0
	}
}

// OutcomeLeak is what "annual minus the sum of the quarters" gives away
// for one indicator published quarterly: exactly one household came in
// late (after its quarter's release), and its state is known for certain.
type OutcomeLeak struct {
	Indicator string
	State     uint8
}

// QuarterDifference is the differencing attack of an annual release
// against the year's four quarterly releases (totals only): for a flow
// indicator, a household is in one quarter's table (the quarter of its
// first activity), so annual − Σ quarters counts the households whose data
// came after their quarter's release. When that count is exactly one, the
// differences of the measures give its outcome.
func QuarterDifference(l *Layout, quarters []*Release, annual *Release) []OutcomeLeak {
	ka := Derive(l, annual)
	kq := make([]Knowledge, len(quarters))
	for i, q := range quarters {
		kq[i] = Derive(l, q)
	}
	var out []OutcomeLeak
	for _, ind := range l.Inds {
		if !ind.Quarterly || !ind.Annual || ind.Kind == schemas.KindCount {
			continue // the caseload counts a household in every quarter it is active
		}
		ivs := make([]Interval, len(ind.Measures))
		exact := true
		for m, name := range ind.Measures {
			key := CellKey{Indicator: ind.ID, Measure: name}
			sum := Interval{}
			for _, k := range kq {
				iv, ok := k[key]
				if !ok {
					exact = false
					break
				}
				sum.Lo += iv.Lo
				sum.Hi = min(Inf, sum.Hi+iv.Hi)
			}
			ivs[m] = diffInterval(sum, ka[key])
			if !ivs[m].Exact() {
				exact = false
			}
		}
		if !exact {
			continue
		}
		var pop int64
		switch ind.Kind {
		case schemas.KindRatio:
			pop = ivs[1].Lo
		case schemas.KindBinned:
			for _, iv := range ivs {
				pop += iv.Lo
			}
		default:
			pop = ivs[0].Lo
		}
		if pop == 1 {
			out = append(out, OutcomeLeak{Indicator: ind.ID, State: guessState(ind, ivs, make([]float64, len(ivs)))})
		}
	}
	return out
}
