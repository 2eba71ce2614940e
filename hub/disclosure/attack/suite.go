package attack

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// Publisher names of the suite.
const (
	SnodoDefault     = "snodo-default"     // disclosure.DefaultSettings, the real ledger
	RoundingFallback = "rounding-fallback" // disclosure.DefaultRoundingSettings
	ThresholdOnly    = "threshold-only"    // the baseline
	// SnodoRaisedCap is Snodo's noise mode with the year cap raised from
	// 1 to 7/4 so that the announced annual revision (another ρ = 3/4) can
	// be released: the worst case a territory can choose, to test
	// differencing against noise. The default cap refuses the revision.
	SnodoRaisedCap = "snodo-raised-cap"
)

// Config is one run of the suite.
type Config struct {
	Seed       uint64   // the territory and the attacker's randomness (not the ledger's noise: crypto/rand)
	Dir        string   // where the publishers' stores go; "" a temporary directory
	Publishers []string // default: snodo-default, rounding-fallback, threshold-only
	Sweeps     int      // reconstruction sweeps (see ReconstructConfig)
	Repeats    int      // requests of the same release for the averaging attack (20 if 0)
}

// Outcome is what the attacks achieved against one publisher.
type Outcome struct {
	Publisher  string
	Households int // distinct households of the territory over all years

	// Linear reconstruction: households re-identified (their unique
	// record reconstructed exactly) in at least one year, and per year.
	Reidentified int
	Rate         float64 // Reidentified / Households
	PerYear      map[int]int

	// Complementary cells and overlapping breakdowns, over every release:
	// suppressed cells, those derived exactly, and derivations that turned
	// out wrong (a bug in the attack: its deductions are certain).
	Suppressed, DerivedExact, DerivedNonZero, DerivedWrong int

	// Differencing revision 1 − revision 0: years with exactly one late
	// household, those isolated exactly (certain and right), certain
	// isolations that were wrong (a bug), the late household's record
	// guessed right from point estimates, revisions the ledger refused.
	SingleLateYears, LateIsolated, LateWrong, LateGuessed, RevisionsRefused int

	// Annual − Σ quarters: late households' outcomes learnt for certain,
	// and how many of those were wrong (a bug).
	QuarterLeaks, QuarterLeaksWrong int

	// Averaging: RMSE against the truth of one answer and of the mean of
	// Repeats answers to the same request (the annual release of the last
	// year), and for the noise modes the same with fresh noise per request.
	AvgRMSE1, AvgRMSEN, FreshRMSE1, FreshRMSEN float64
}

// Result is one run of the suite.
type Result struct {
	Seed     uint64
	Outcomes []Outcome
}

// Outcome returns the outcome of a publisher.
func (r *Result) Outcome(name string) (Outcome, bool) {
	for _, o := range r.Outcomes {
		if o.Publisher == name {
			return o, true
		}
	}
	return Outcome{}, false
}

// Run builds the territory of the seed and runs every attack against every
// publisher. Every attack sees only the releases; the truth is used only
// to score them.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	l, err := DefaultLayout()
	if err != nil {
		return nil, err
	}
	t, err := NewTerritory(l, DefaultTerritoryConfig(cfg.Seed))
	if err != nil {
		return nil, err
	}
	if cfg.Dir == "" {
		dir, err := os.MkdirTemp("", "snodo-attack-")
		if err != nil {
			return nil, fmt.Errorf("attack: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.Dir = dir
	}
	if len(cfg.Publishers) == 0 {
		cfg.Publishers = []string{SnodoDefault, RoundingFallback, ThresholdOnly}
	}
	if cfg.Repeats <= 0 {
		cfg.Repeats = 20
	}
	res := &Result{Seed: cfg.Seed}
	for _, name := range cfg.Publishers {
		p, err := newPublisher(ctx, cfg.Dir, name, cfg.Seed)
		if err != nil {
			return nil, err
		}
		o, err := runOne(ctx, t, p, cfg)
		if cerr := p.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("attack: close %s: %w", name, cerr)
		}
		if err != nil {
			return nil, err
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	return res, nil
}

func newPublisher(ctx context.Context, dir, name string, seed uint64) (Publisher, error) {
	dir = fmt.Sprintf("%s/%d", dir, seed)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	switch name {
	case SnodoDefault:
		return NewLedgerPublisher(ctx, dir, name, disclosure.DefaultSettings())
	case RoundingFallback:
		return NewLedgerPublisher(ctx, dir, name, disclosure.DefaultRoundingSettings())
	case SnodoRaisedCap:
		s := disclosure.DefaultSettings()
		s.YearCap = big.NewRat(7, 4)
		return NewLedgerPublisher(ctx, dir, name, s)
	case ThresholdOnly:
		return NewThresholdPublisher(3), nil
	}
	return nil, fmt.Errorf("attack: unknown publisher %q", name)
}

// truthOf maps the true counts of a request by cell.
func truthOf(cells []disclosure.Cell) map[CellKey]int64 {
	out := make(map[CellKey]int64, len(cells))
	for _, c := range cells {
		out[keyOf(disclosure.PublishedCell{Indicator: c.Indicator, Measure: c.Measure, Breakdown: c.Breakdown})] = c.Count
	}
	return out
}

type published struct {
	rel       *Release
	truth     map[CellKey]int64
	cells     []disclosure.Cell
	catalogue string
}

func runOne(ctx context.Context, t *Territory, p Publisher, cfg Config) (Outcome, error) {
	l := t.Layout
	o := Outcome{Publisher: p.Name(), Households: len(t.Households), PerYear: map[int]int{}}
	reid := map[int]bool{}
	var lastAnnual published
	for _, y := range t.Years {
		var quarters []*Release
		var annual [2]*published
		for _, ep := range Epochs(y) {
			e, _ := disclosure.ParseEpoch(ep)
			stages := []Stage{StageProvisional}
			if e.Kind == "annual" {
				stages = []Stage{StageAnnual, StageRevised}
			}
			for rev, stage := range stages {
				cells, err := t.Cells(ep, stage)
				if err != nil {
					return o, err
				}
				r, err := p.Publish(ctx, ep, rev, l.CatalogueVersion, cells)
				var oe *disclosure.OverspendError
				if errors.As(err, &oe) {
					o.RevisionsRefused++
					continue
				}
				if err != nil {
					return o, fmt.Errorf("attack: %s: %w", p.Name(), err)
				}
				pub := published{rel: r, truth: truthOf(cells), cells: cells, catalogue: l.CatalogueVersion}
				scoreDerived(l, pub, &o)
				if e.Kind == "annual" {
					annual[rev] = &pub
				} else {
					quarters = append(quarters, r)
				}
			}
		}
		if annual[0] == nil {
			return o, fmt.Errorf("attack: %s: the annual release of %d was not made", p.Name(), y)
		}
		lastAnnual = *annual[0]

		// Annual − Σ quarters.
		for _, leak := range QuarterDifference(l, quarters, annual[0].rel) {
			o.QuarterLeaks++
			if !quarterLeakTrue(t, y, leak) {
				o.QuarterLeaksWrong++
			}
		}

		// Revision 1 − revision 0.
		var late []Record
		for _, ys := range t.Households {
			if hy, ok := ys[y]; ok && hy.Late == AfterAnnual {
				late = append(late, hy.Record)
			}
		}
		if len(late) == 1 {
			o.SingleLateYears++
		}
		var pinned []Record
		final := annual[0]
		if annual[1] != nil {
			final = annual[1]
			iso := Difference(l, annual[0].rel, annual[1].rel)
			hit := slices.ContainsFunc(late, func(r Record) bool { return r.Key() == iso.Guess.Key() })
			if iso.Certain {
				if hit && len(late) == 1 {
					o.LateIsolated++
					pinned = append(pinned, iso.Guess)
				} else {
					o.LateWrong++
				}
			}
			if hit {
				o.LateGuessed++
			}
		}

		// Linear reconstruction of the year from its final tables.
		targets := Targets(l, final.rel)
		n := households(l, targets)
		recs := Reconstruct(l, targets, n, pinned, ReconstructConfig{Sweeps: cfg.Sweeps, Seed: cfg.Seed*31 + uint64(y)})
		hs, truth := t.Truth(y)
		got := Reidentified(hs, truth, recs)
		o.PerYear[y] = len(got)
		for _, h := range got {
			reid[h] = true
		}
	}
	o.Reidentified = len(reid)
	o.Rate = float64(o.Reidentified) / float64(o.Households)

	if err := averaging(ctx, p, lastAnnual, cfg, &o); err != nil {
		return o, err
	}
	return o, nil
}

// households is the attacker's number of households in the year: the
// caseload total's target.
func households(l *Layout, targets map[CellKey]Target) int {
	for _, ind := range l.Inds {
		if ind.Kind == "count" && ind.Annual {
			t := targets[CellKey{Indicator: ind.ID, Measure: ind.Measures[0]}]
			v := t.Lo
			if !math.IsInf(t.Hi, 1) {
				v = (t.Lo + t.Hi) / 2
			}
			return max(1, int(math.Round(v)))
		}
	}
	return 1
}

func scoreDerived(l *Layout, pub published, o *Outcome) {
	for _, c := range pub.rel.Cells {
		if c.Suppressed {
			o.Suppressed++
		}
	}
	for k, v := range DerivedCells(l, pub.rel) {
		o.DerivedExact++
		if v != 0 {
			o.DerivedNonZero++
		}
		if pub.truth[k] != v {
			o.DerivedWrong++
		}
	}
}

// quarterLeakTrue checks a leak against the truth: exactly one household
// of the indicator's population came after its quarter's release, in the
// state the attacker says.
func quarterLeakTrue(t *Territory, y int, leak OutcomeLeak) bool {
	i := t.Layout.indIndex[leak.Indicator]
	var states []uint8
	for _, ys := range t.Households {
		if hy, ok := ys[y]; ok && hy.Late == AfterQuarter && hy.States[i] != 0 {
			states = append(states, hy.States[i])
		}
	}
	return len(states) == 1 && states[0] == leak.State
}

// averaging asks for the same release Repeats times and averages the
// answers; for a noise mode it also shows what a publisher that redrew the
// noise each time would have given away.
func averaging(ctx context.Context, p Publisher, pub published, cfg Config, o *Outcome) error {
	rs := make([]*Release, cfg.Repeats)
	for i := range rs {
		r, err := p.Publish(ctx, pub.rel.Epoch, pub.rel.Revision, pub.catalogue, pub.cells)
		if err != nil {
			return fmt.Errorf("attack: %s: re-request %d: %w", p.Name(), i, err)
		}
		rs[i] = r
	}
	o.AvgRMSE1 = rmse(Average(rs[:1]), pub.truth)
	o.AvgRMSEN = rmse(Average(rs), pub.truth)
	if pub.rel.Noise == nil {
		return nil
	}
	// Deterministic randomness for the counterfactual only: it is not a
	// release.
	redraw := &RedrawPublisher{Noise: pub.rel.Noise, Threshold: pub.rel.Threshold,
		Sampler: disclosure.NewSampler(rand.NewChaCha8(seed32(cfg.Seed)))}
	fresh := make([]*Release, cfg.Repeats)
	for i := range fresh {
		r, err := redraw.Publish(ctx, pub.rel.Epoch, pub.rel.Revision, pub.catalogue, pub.cells)
		if err != nil {
			return err
		}
		fresh[i] = r
	}
	o.FreshRMSE1 = rmse(Average(fresh[:1]), pub.truth)
	o.FreshRMSEN = rmse(Average(fresh), pub.truth)
	return nil
}

func seed32(s uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(s >> (8 * i))
	}
	b[31] = 0xa7
	return b
}

// rmse is the root mean squared error of estimates against the truth.
func rmse(est map[CellKey]float64, truth map[CellKey]int64) float64 {
	if len(est) == 0 {
		return 0
	}
	var s float64
	for k, v := range est {
		d := v - float64(truth[k])
		s += d * d
	}
	return math.Sqrt(s / float64(len(est)))
}
