package disclosure_test

import (
	"fmt"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// headlineRate is the underlying rate of the simulated headline indicator
// (say, referral acceptance). The error the noise adds to a rate grows
// with it, as √(1+p²)/n: at p = 0.8 it is 15% above p = 0.5.
const headlineRate = 0.5

// accuracy accumulates what the noise does to published rates.
type accuracy struct {
	errs      []float64 // |published rate − true rate of the sample|, in percentage points
	covered   int       // intervals that cover the underlying rate
	published int
	draws     int
}

func (a *accuracy) add(trueNum, trueDen int64, est disclosure.RateEstimate, p float64) {
	a.draws++
	if !est.Published {
		return
	}
	a.published++
	a.errs = append(a.errs, 100*math.Abs(est.Rate-float64(trueNum)/float64(trueDen)))
	if est.Low <= p && p <= est.High {
		a.covered++
	}
}

func (a *accuracy) report(b *testing.B) {
	if a.published == 0 {
		b.ReportMetric(0, "published")
		return
	}
	slices.Sort(a.errs)
	sum := 0.0
	for _, e := range a.errs {
		sum += e
	}
	b.ReportMetric(sum/float64(len(a.errs)), "pp_mean")
	b.ReportMetric(a.errs[int(math.Ceil(0.95*float64(len(a.errs))))-1], "pp_p95")
	b.ReportMetric(float64(a.covered)/float64(a.published), "coverage")
	b.ReportMetric(float64(a.published)/float64(a.draws), "published")
}

// noisyRelease draws the noise of one published count.
type noisyRelease struct {
	name     string
	g        *disclosure.Gaussian
	variance float64
}

func newNoisyRelease(b *testing.B, name string, sigma2 *big.Rat) noisyRelease {
	g, err := disclosure.NewGaussian(sigma2)
	if err != nil {
		b.Fatal(err)
	}
	v, err := disclosure.Variance(sigma2)
	if err != nil {
		b.Fatal(err)
	}
	return noisyRelease{name: name, g: g, variance: v}
}

func (nr noisyRelease) noise(b *testing.B, s *disclosure.Sampler, count int64) int64 {
	e, err := nr.g.Sample(s)
	if err != nil {
		b.Fatal(err)
	}
	return count + e
}

// BenchmarkAccuracy measures PRIVACY.md goal 3 with the real sampler and
// the default settings: the σ² of the annual and quarterly releases is
// tables/(2ρ) with the tables of a real release counted by
// federation.Preview. Each iteration is one simulated release; the metrics
// are over all iterations, so run with a fixed -benchtime (for example
// -benchtime=20000x) for reproducible figures:
//
//   - territory/households=H/den=D: a territory whose headline rate has D
//     households in its denominator (H, or H/2 as for a rate over a
//     subgroup). pp_mean and pp_p95 are the mean and 95th percentile of
//     the absolute error, in percentage points, of the published rate
//     against the territory's true rate; published is the share of
//     releases whose noisy denominator reaches 20; coverage is the share
//     of published 95% intervals that cover the underlying rate.
//   - region/territories=30/households=150/den=D: the pooled rate
//     Σ num / Σ den of the published values of 30 such territories,
//     against the true pooled rate, and its interval (noise variances
//     summed).
//   - coverage-pooled: coverage over every territory configuration above,
//     for both releases.
//
// Goal 3 asks at most 4 points of error at 50 households and at most 1 at
// region level; see BENCHMARKS.md for the figures and what settings would
// meet it.
func BenchmarkAccuracy(b *testing.B) {
	rn := defaultReleaseNoise(b)
	releases := []noisyRelease{
		newNoisyRelease(b, "annual", rn["2025"].Sigma2),
		newNoisyRelease(b, "quarterly", rn["2025-Q1"].Sigma2),
	}
	// What-if releases: the σ² that other settings would give, to show
	// what meeting goal 3 takes. σ² = tables/(2ρ).
	for _, w := range []struct {
		name   string
		tables int64
		rho    *big.Rat
	}{
		{"what-if-annual-7-tables", 7, big.NewRat(3, 4)},
		{"what-if-annual-1-table", 1, big.NewRat(3, 4)},
	} {
		sigma2 := new(big.Rat).Quo(big.NewRat(w.tables, 1), new(big.Rat).Mul(w.rho, big.NewRat(2, 1)))
		releases = append(releases, newNoisyRelease(b, w.name, sigma2))
	}
	minDen := disclosure.DefaultSettings().MinRateDenominator
	type territory struct{ households, den int64 }
	var territories []territory
	for _, h := range []int64{50, 100, 150, 500} {
		territories = append(territories, territory{h, h}, territory{h, h / 2})
	}

	for i, rel := range releases {
		for j, ter := range territories {
			b.Run(fmt.Sprintf("%s/territory/households=%d/den=%d", rel.name, ter.households, ter.den), func(b *testing.B) {
				s := seededSampler(byte(16*i + j))
				r := mrand.New(mrand.NewPCG(uint64(16*i+j), 11))
				var acc accuracy
				for b.Loop() {
					x := binomial(r, ter.den, headlineRate)
					y, d := rel.noise(b, s, x), rel.noise(b, s, ter.den)
					acc.add(x, ter.den, disclosure.Rate(y, d, rel.variance, rel.variance, minDen), headlineRate)
				}
				acc.report(b)
			})
		}
		for _, den := range []int64{150, 75} {
			b.Run(fmt.Sprintf("%s/region/territories=30/households=150/den=%d", rel.name, den), func(b *testing.B) {
				s := seededSampler(byte(200 + 2*i + int(den%2)))
				r := mrand.New(mrand.NewPCG(uint64(200+i), uint64(den)))
				var acc accuracy
				const n = 30
				for b.Loop() {
					var xs, ys, ds int64
					for range n {
						x := binomial(r, den, headlineRate)
						xs += x
						ys += rel.noise(b, s, x)
						ds += rel.noise(b, s, den)
					}
					// The region sums the published values: the noise
					// variances add up.
					v := n * rel.variance
					acc.add(xs, n*den, disclosure.Rate(ys, ds, v, v, minDen), headlineRate)
				}
				acc.report(b)
			})
		}
	}

	b.Run("coverage-pooled", func(b *testing.B) {
		s := seededSampler(250)
		r := mrand.New(mrand.NewPCG(250, 11))
		var acc accuracy
		k := 0
		for b.Loop() {
			rel, ter := releases[k%2], territories[(k/2)%len(territories)]
			k++
			x := binomial(r, ter.den, headlineRate)
			y, d := rel.noise(b, s, x), rel.noise(b, s, ter.den)
			acc.add(x, ter.den, disclosure.Rate(y, d, rel.variance, rel.variance, minDen), headlineRate)
		}
		acc.report(b)
	})
}
