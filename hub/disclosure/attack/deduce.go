package attack

import (
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/schemas"
)

// Inf stands for "no upper bound" in an Interval.
const Inf int64 = 1 << 40

// Interval is what the attacker knows for certain about a true count:
// Lo ≤ count ≤ Hi.
type Interval struct{ Lo, Hi int64 }

// Exact says whether the interval pins the count.
func (iv Interval) Exact() bool { return iv.Lo == iv.Hi }

// Knowledge is the attacker's certain knowledge of the true counts behind
// one release.
type Knowledge map[CellKey]Interval

// keyOf names a published cell (the catalogue's tables have at most one
// breakdown dimension).
func keyOf(c disclosure.PublishedCell) CellKey {
	k := CellKey{Indicator: c.Indicator, Measure: c.Measure}
	for d, v := range c.Breakdown {
		k.Dim, k.Value = d, v
	}
	return k
}

// Bounds is what each cell of a release says on its own, from the public
// rules of its mode:
//   - threshold-only: a published value is the true count, a suppressed cell
//     is under the threshold;
//   - rounding: a published value v is the count rounded to the base
//     (halves up), so the count is in [v−⌊b/2⌋, v+b−1−⌊b/2⌋] and at least
//     the threshold; a suppressed cell may be small or a complementary
//     suppression, so it says nothing;
//   - noise: a published value says only that the count passed the
//     threshold; a suppressed one that it did not.
func Bounds(r *Release) Knowledge {
	k := make(Knowledge, len(r.Cells))
	for _, c := range r.Cells {
		var iv Interval
		switch {
		case r.Mode == ModeThreshold && c.Suppressed:
			iv = Interval{0, r.Threshold - 1}
		case r.Mode == ModeThreshold:
			iv = Interval{c.Value, c.Value}
		case r.Mode == string(disclosure.ModeRounding) && c.Suppressed:
			iv = Interval{0, Inf}
		case r.Mode == string(disclosure.ModeRounding):
			h := r.RoundingBase / 2
			iv = Interval{max(c.Value-h, r.Threshold), c.Value + r.RoundingBase - 1 - h}
		case c.Suppressed: // noise
			iv = Interval{0, r.Threshold - 1}
		default:
			iv = Interval{r.Threshold, Inf}
		}
		k[keyOf(c)] = iv
	}
	return k
}

// relation: the total of an indicator measure equals the sum of its cells
// by one dimension (each household is in exactly one category).
type relation struct {
	total CellKey
	parts []CellKey
}

// relations lists the additive margins of a release, and the pairs
// numerator ≤ denominator of ratio indicators (cell by cell), from the
// public catalogue layout.
func relations(l *Layout, k Knowledge) (rels []relation, le [][2]CellKey) {
	for _, ind := range l.Inds {
		for _, m := range ind.Measures {
			tot := CellKey{Indicator: ind.ID, Measure: m}
			if _, ok := k[tot]; !ok {
				continue
			}
			for _, d := range ind.Dims {
				r := relation{total: tot}
				for _, v := range l.Dims[d].Values {
					p := CellKey{Indicator: ind.ID, Measure: m, Dim: l.Dims[d].ID, Value: v}
					if _, ok := k[p]; ok {
						r.parts = append(r.parts, p)
					}
				}
				if len(r.parts) > 0 {
					rels = append(rels, r)
				}
			}
		}
		if ind.Kind == schemas.KindRatio {
			for key := range k {
				if key.Indicator == ind.ID && key.Measure == "numerator" {
					den := key
					den.Measure = "denominator"
					if _, ok := k[den]; ok {
						le = append(le, [2]CellKey{key, den})
					}
				}
			}
		}
	}
	return rels, le
}

// Derive is the complementary-cells and overlapping-breakdowns attack on
// one release: starting from Bounds, it tightens every interval through
// every margin (total = Σ parts, for each breakdown dimension, so a total
// learnt from one dimension tightens the cells of another) and numerator ≤
// denominator, until nothing changes. A suppressed cell whose interval
// ends up a single value has been derived exactly.
func Derive(l *Layout, r *Release) Knowledge {
	k := Bounds(r)
	propagate(l, k)
	return k
}

// propagate tightens k through the margins and numerator ≤ denominator
// until nothing changes.
func propagate(l *Layout, k Knowledge) {
	rels, le := relations(l, k)
	for range 100 {
		changed := false
		tighten := func(key CellKey, lo, hi int64) {
			iv := k[key]
			if lo > iv.Lo {
				iv.Lo, changed = lo, true
			}
			if hi < iv.Hi {
				iv.Hi, changed = hi, true
			}
			k[key] = iv
		}
		for _, rel := range rels {
			var sumLo, sumHi int64
			for _, p := range rel.parts {
				sumLo += k[p].Lo
				sumHi = min(Inf, sumHi+k[p].Hi)
			}
			tighten(rel.total, sumLo, sumHi)
			t := k[rel.total]
			for _, p := range rel.parts {
				var otherLo, otherHi int64
				for _, q := range rel.parts {
					if q != p {
						otherLo += k[q].Lo
						otherHi = min(Inf, otherHi+k[q].Hi)
					}
				}
				hi := Inf
				if t.Hi < Inf {
					hi = t.Hi - otherLo
				}
				lo := int64(0)
				if otherHi < Inf {
					lo = t.Lo - otherHi
				}
				tighten(p, max(lo, 0), hi)
			}
		}
		for _, pair := range le {
			num, den := k[pair[0]], k[pair[1]]
			tighten(pair[0], num.Lo, den.Hi)
			tighten(pair[1], num.Lo, Inf)
		}
		if !changed {
			break
		}
	}
}

// DerivedCells returns the suppressed cells of r that Derive pins to one
// value, with that value.
func DerivedCells(l *Layout, r *Release) map[CellKey]int64 {
	k := Derive(l, r)
	out := map[CellKey]int64{}
	for _, c := range r.Cells {
		if c.Suppressed {
			if iv := k[keyOf(c)]; iv.Exact() {
				out[keyOf(c)] = iv.Lo
			}
		}
	}
	return out
}

// Estimate is the attacker's best point value of every cell: the published
// value of a noisy cell (the noise is unbiased), otherwise the middle of
// what Derive knows (an unbounded interval: its lower end).
func Estimate(r *Release, k Knowledge) map[CellKey]float64 {
	out := make(map[CellKey]float64, len(r.Cells))
	for _, c := range r.Cells {
		key := keyOf(c)
		iv := k[key]
		switch {
		case r.Mode == string(disclosure.ModeNoise) && !c.Suppressed:
			out[key] = float64(c.Value)
		case iv.Hi >= Inf:
			out[key] = float64(iv.Lo)
		default:
			out[key] = float64(iv.Lo+iv.Hi) / 2
		}
	}
	return out
}

// Average is the averaging attack: the mean of each cell's published value
// over repeated answers to the same request (suppressed cells left out).
func Average(rs []*Release) map[CellKey]float64 {
	sum := map[CellKey]float64{}
	n := map[CellKey]int{}
	for _, r := range rs {
		for _, c := range r.Cells {
			if !c.Suppressed {
				sum[keyOf(c)] += float64(c.Value)
				n[keyOf(c)]++
			}
		}
	}
	for k := range sum {
		sum[k] /= float64(n[k])
	}
	return sum
}
