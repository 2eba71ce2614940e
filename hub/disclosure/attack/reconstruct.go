package attack

import (
	"math"
	"math/rand/v2"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/schemas"
)

// Target is what the reconstruction must reproduce for one cell: a count in
// [Lo, Hi] (Lo = Hi for a point target). The loss of a cell is the squared
// distance of the reconstruction's count to the interval.
type Target struct{ Lo, Hi float64 }

// Targets turns a release into reconstruction targets: a noisy cell's
// published value as a point (least squares: the noise is unbiased and has
// the same σ² everywhere), every other cell what Derive knows for certain
// (a derived suppressed cell is then a point too).
func Targets(l *Layout, r *Release) map[CellKey]Target {
	k := Derive(l, r)
	out := make(map[CellKey]Target, len(r.Cells))
	for _, c := range r.Cells {
		key := keyOf(c)
		if r.Mode == string(disclosure.ModeNoise) && !c.Suppressed {
			out[key] = Target{float64(c.Value), float64(c.Value)}
			continue
		}
		iv := k[key]
		hi := math.Inf(1)
		if iv.Hi < Inf {
			hi = float64(iv.Hi)
		}
		out[key] = Target{float64(iv.Lo), hi}
	}
	return out
}

// ReconstructConfig tunes the reconstruction.
type ReconstructConfig struct {
	Sweeps int    // annealing passes over every field of every record (300 if 0)
	Seed   uint64 // the attacker's own randomness
}

// recon is the state of a reconstruction: records and the counts they give
// in every published cell of the annual tables.
type recon struct {
	l       *Layout
	base    [][]int // [ind][measure] index of the total cell
	dimPos  [][]int // [ind][dim] offset of the dimension's block after the total, or -1
	counts  []float64
	lo, hi  []float64
	recs    []Record
	movable []bool // per record: false for a pinned record
}

func (rc *recon) cost(c int, v float64) float64 {
	switch {
	case v < rc.lo[c]:
		return (rc.lo[c] - v) * (rc.lo[c] - v)
	case v > rc.hi[c]:
		return (v - rc.hi[c]) * (v - rc.hi[c])
	}
	return 0
}

// add adds sign to cell c and returns the change of the loss.
func (rc *recon) add(c int, sign float64) float64 {
	before := rc.cost(c, rc.counts[c])
	rc.counts[c] += sign
	return rc.cost(c, rc.counts[c]) - before
}

// addState adds (sign +1) or removes (−1) a record's contribution to
// indicator i in state s.
func (rc *recon) addState(rec Record, i int, s uint8, sign float64) float64 {
	ind := &rc.l.Inds[i]
	var delta float64
	for _, m := range ind.MeasuresOf(int(s)) {
		b := rc.base[i][m]
		delta += rc.add(b, sign)
		for _, d := range ind.Dims {
			delta += rc.add(b+rc.dimPos[i][d]+int(rec.Attrs[d]), sign)
		}
	}
	return delta
}

// setAttr moves a record to category v of dimension d.
func (rc *recon) setAttr(r, d int, v uint8) float64 {
	rec := rc.recs[r]
	old := rec.Attrs[d]
	var delta float64
	for i := range rc.l.Inds {
		pos := rc.dimPos[i][d]
		if pos < 0 || rec.States[i] == 0 {
			continue
		}
		for _, m := range rc.l.Inds[i].MeasuresOf(int(rec.States[i])) {
			b := rc.base[i][m] + pos
			delta += rc.add(b+int(old), -1)
			delta += rc.add(b+int(v), +1)
		}
	}
	rec.Attrs[d] = v
	return delta
}

func (rc *recon) setState(r, i int, s uint8) float64 {
	rec := rc.recs[r]
	delta := rc.addState(rec, i, rec.States[i], -1)
	rec.States[i] = s
	return delta + rc.addState(rec, i, s, +1)
}

// Reconstruct is the linear reconstruction attack (the US Census 2020
// style): it looks for n household records whose tables reproduce the
// targets of an annual release, minimising the squared distance to every
// target, with integrality kept by searching over records directly
// (simulated annealing over one field at a time) instead of relaxing a
// linear programme. Pinned records (households isolated exactly by
// differencing) are kept as they are. The caseload counts every household,
// so its state is fixed.
func Reconstruct(l *Layout, targets map[CellKey]Target, n int, pinned []Record, cfg ReconstructConfig) []Record {
	if cfg.Sweeps <= 0 {
		cfg.Sweeps = 300
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xa77ac4))
	rc := &recon{l: l, base: make([][]int, len(l.Inds)), dimPos: make([][]int, len(l.Inds))}
	cells := 0
	for i, ind := range l.Inds {
		rc.dimPos[i] = make([]int, len(l.Dims))
		for d := range rc.dimPos[i] {
			rc.dimPos[i][d] = -1
		}
		off := 1
		for _, d := range ind.Dims {
			rc.dimPos[i][d] = off
			off += len(l.Dims[d].Values)
		}
		rc.base[i] = make([]int, len(ind.Measures))
		for m := range ind.Measures {
			rc.base[i][m] = cells
			cells += off
		}
	}
	rc.counts = make([]float64, cells)
	rc.lo = make([]float64, cells)
	rc.hi = make([]float64, cells)
	for c := range rc.hi {
		rc.hi[c] = math.Inf(1) // a cell nobody published constrains nothing
	}
	setTarget := func(c int, key CellKey) {
		if t, ok := targets[key]; ok {
			rc.lo[c], rc.hi[c] = t.Lo, t.Hi
		}
	}
	for i, ind := range l.Inds {
		if !ind.Annual {
			continue
		}
		for m, name := range ind.Measures {
			setTarget(rc.base[i][m], CellKey{Indicator: ind.ID, Measure: name})
			for _, d := range ind.Dims {
				for v, val := range l.Dims[d].Values {
					setTarget(rc.base[i][m]+rc.dimPos[i][d]+v, CellKey{Indicator: ind.ID, Measure: name, Dim: l.Dims[d].ID, Value: val})
				}
			}
		}
	}

	// Start from records drawn from the published margins.
	est := func(key CellKey) float64 {
		t, ok := targets[key]
		if !ok {
			return 0
		}
		if math.IsInf(t.Hi, 1) {
			return max(t.Lo, 0)
		}
		return max((t.Lo+t.Hi)/2, 0)
	}
	caseload := -1
	for i, ind := range l.Inds {
		if ind.Kind == schemas.KindCount && ind.Annual {
			caseload = i
		}
	}
	for _, p := range pinned {
		if len(rc.recs) < n {
			rc.recs = append(rc.recs, p.Clone())
			rc.movable = append(rc.movable, false)
		}
	}
	for len(rc.recs) < n {
		rec := Record{Attrs: make([]uint8, len(l.Dims)), States: make([]uint8, len(l.Inds))}
		for d, dim := range l.Dims {
			w := make([]float64, len(dim.Values))
			for v, val := range dim.Values {
				if caseload >= 0 {
					w[v] = est(CellKey{Indicator: l.Inds[caseload].ID, Measure: l.Inds[caseload].Measures[0], Dim: dim.ID, Value: val}) + 0.1
				} else {
					w[v] = 1
				}
			}
			rec.Attrs[d] = uint8(pick(rng, w))
		}
		for i, ind := range l.Inds {
			if !ind.Annual {
				continue
			}
			if i == caseload {
				rec.States[i] = 1
				continue
			}
			w := make([]float64, ind.States)
			var in float64
			for m, name := range ind.Measures {
				v := est(CellKey{Indicator: ind.ID, Measure: name})
				if ind.Kind == schemas.KindBinned {
					w[1+m] = v + 0.1
					in += v
				}
			}
			switch ind.Kind {
			case schemas.KindRatio:
				num, den := est(CellKey{Indicator: ind.ID, Measure: "numerator"}), est(CellKey{Indicator: ind.ID, Measure: ind.Measures[1]})
				w[2], w[1], w[0] = num+0.1, max(den-num, 0)+0.1, max(float64(n)-den, 0)+0.1
			case schemas.KindBinned:
				w[0] = max(float64(n)-in, 0) + 0.1
			default:
				v := est(CellKey{Indicator: ind.ID, Measure: ind.Measures[0]})
				w[1], w[0] = v+0.1, max(float64(n)-v, 0)+0.1
			}
			rec.States[i] = uint8(pick(rng, w))
		}
		rc.recs = append(rc.recs, rec)
		rc.movable = append(rc.movable, true)
	}
	for _, rec := range rc.recs {
		for i := range l.Inds {
			rc.addState(rec, i, rec.States[i], +1)
		}
	}

	// The fields a move may change: every dimension, every annual
	// indicator but the caseload.
	type field struct{ dim, ind int }
	var fields []field
	for d := range l.Dims {
		fields = append(fields, field{dim: d, ind: -1})
	}
	for i, ind := range l.Inds {
		if ind.Annual && i != caseload {
			fields = append(fields, field{dim: -1, ind: i})
		}
	}
	var movable []int
	for r, ok := range rc.movable {
		if ok {
			movable = append(movable, r)
		}
	}
	if len(movable) == 0 {
		return rc.recs
	}
	moves := cfg.Sweeps * len(movable) * len(fields)
	t0, t1 := annealT0, annealT1
	cool := math.Pow(t1/t0, 1/float64(moves))
	temp := t0
	for range moves {
		temp *= cool
		r := movable[rng.IntN(len(movable))]
		f := fields[rng.IntN(len(fields))]
		if len(movable) > 1 && rng.IntN(2) == 0 {
			// Swap a field between two records: the margins of that field
			// stay, only its joint with the others moves.
			r2 := movable[rng.IntN(len(movable))]
			if f.dim >= 0 {
				a, b := rc.recs[r].Attrs[f.dim], rc.recs[r2].Attrs[f.dim]
				if a == b {
					continue
				}
				delta := rc.setAttr(r, f.dim, b) + rc.setAttr(r2, f.dim, a)
				if delta > 0 && rng.Float64() >= math.Exp(-delta/temp) {
					rc.setAttr(r2, f.dim, b)
					rc.setAttr(r, f.dim, a)
				}
				continue
			}
			a, b := rc.recs[r].States[f.ind], rc.recs[r2].States[f.ind]
			if a == b {
				continue
			}
			delta := rc.setState(r, f.ind, b) + rc.setState(r2, f.ind, a)
			if delta > 0 && rng.Float64() >= math.Exp(-delta/temp) {
				rc.setState(r2, f.ind, b)
				rc.setState(r, f.ind, a)
			}
			continue
		}
		if f.dim >= 0 {
			nv := len(l.Dims[f.dim].Values)
			old := rc.recs[r].Attrs[f.dim]
			v := uint8((int(old) + 1 + rng.IntN(nv-1)) % nv)
			delta := rc.setAttr(r, f.dim, v)
			if delta > 0 && rng.Float64() >= math.Exp(-delta/temp) {
				rc.setAttr(r, f.dim, old)
			}
			continue
		}
		ns := l.Inds[f.ind].States
		old := rc.recs[r].States[f.ind]
		s := uint8((int(old) + 1 + rng.IntN(ns-1)) % ns)
		delta := rc.setState(r, f.ind, s)
		if delta > 0 && rng.Float64() >= math.Exp(-delta/temp) {
			rc.setState(r, f.ind, old)
		}
	}
	return rc.recs
}

// Reidentified scores a reconstruction: the households whose true record is
// unique in the year's population and appears in the reconstruction
// (multiset matching: a unique record matches at most once, so a
// reconstruction that repeats a record gains nothing). It returns their
// indices in households.
func Reidentified(households []int, truth []Record, reconstruction []Record) []int {
	n := map[string]int{}
	for _, r := range truth {
		n[r.Key()]++
	}
	got := map[string]bool{}
	for _, r := range reconstruction {
		got[r.Key()] = true
	}
	var out []int
	for i, r := range truth {
		if k := r.Key(); n[k] == 1 && got[k] {
			out = append(out, households[i])
		}
	}
	return out
}

// The annealing's start and end temperatures, in units of the loss (a
// count off by one costs 1).
var annealT0, annealT1 = 1.0, 0.05
