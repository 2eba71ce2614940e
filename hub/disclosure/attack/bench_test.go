package attack

import (
	"context"
	"testing"
)

// BenchmarkReconstruction runs the whole suite over several territories
// (seeds 1–5) and reports, per publisher, the share and number of the 150
// households reconstructed exactly (mean and max over the seeds), and the
// per-attack successes summed over the seeds: suppressed cells derived
// exactly, late households isolated exactly by differencing, late
// households' outcomes from annual − Σ quarters, revisions refused. Run it
// once: go test -run '^$' -bench BenchmarkReconstruction -benchtime 1x ./hub/disclosure/attack/
func BenchmarkReconstruction(b *testing.B) {
	seeds := []uint64{1, 2, 3, 4, 5}
	pubs := []string{SnodoDefault, RoundingFallback, ThresholdOnly, SnodoRaisedCap}
	short := map[string]string{SnodoDefault: "default", RoundingFallback: "rounding", ThresholdOnly: "threshold", SnodoRaisedCap: "raisedcap"}
	type agg struct {
		rateSum, rateMax        float64
		hhSum, hhMax            int
		derived, late, singles  int
		quarter, refused, wrong int
		nonzero, guessed        int
	}
	var res map[string]*agg
	for b.Loop() {
		res = map[string]*agg{}
		for _, p := range pubs {
			res[p] = &agg{}
		}
		for _, s := range seeds {
			r, err := Run(context.Background(), Config{Seed: s, Dir: b.TempDir(), Publishers: pubs})
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range r.Outcomes {
				a := res[o.Publisher]
				a.rateSum += o.Rate
				a.rateMax = max(a.rateMax, o.Rate)
				a.hhSum += o.Reidentified
				a.hhMax = max(a.hhMax, o.Reidentified)
				a.derived += o.DerivedExact
				a.nonzero += o.DerivedNonZero
				a.guessed += o.LateGuessed
				a.late += o.LateIsolated
				a.singles += o.SingleLateYears
				a.quarter += o.QuarterLeaks
				a.refused += o.RevisionsRefused
				a.wrong += o.DerivedWrong + o.LateWrong + o.QuarterLeaksWrong
			}
		}
	}
	n := float64(len(seeds))
	for _, p := range pubs {
		a, s := res[p], short[p]
		b.ReportMetric(a.rateSum/n, s+"-rate-mean")
		b.ReportMetric(a.rateMax, s+"-rate-max")
		b.ReportMetric(float64(a.hhSum)/n, s+"-households-mean")
		b.ReportMetric(float64(a.hhMax), s+"-households-max")
		b.ReportMetric(float64(a.derived), s+"-cells-derived")
		b.ReportMetric(float64(a.nonzero), s+"-cells-derived-nonzero")
		b.ReportMetric(float64(a.late), s+"-late-isolated")
		b.ReportMetric(float64(a.guessed), s+"-late-guessed")
		b.ReportMetric(float64(a.singles), s+"-single-late-years")
		b.ReportMetric(float64(a.quarter), s+"-quarter-leaks")
		b.ReportMetric(float64(a.refused), s+"-revisions-refused")
		if a.wrong != 0 {
			b.Errorf("%s: %d certain deductions were wrong: a bug in the attacks", p, a.wrong)
		}
	}
}
