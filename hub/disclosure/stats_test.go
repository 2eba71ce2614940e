package disclosure

import (
	"math"
	"math/rand/v2"
	"testing"
)

// seeded returns a deterministic Sampler so that statistical tests are
// reproducible rather than flaky. Never use such a source for a release.
func seeded(seed byte) *Sampler {
	var key [32]byte
	key[0] = seed
	return NewSampler(rand.NewChaCha8(key))
}

// chiSquareP is the p-value of a chi-square goodness-of-fit test of observed
// integer draws against the symmetric pmf p (p[x] = P[X = x] = P[X = -x]).
// Cells with an expected count below 10 are pooled into the two tails.
func chiSquareP(t *testing.T, draws []int64, p []float64) (stat float64, df int, pval float64) {
	t.Helper()
	n := float64(len(draws))
	// Largest m with expected count ≥ 10 in cell m; cells -m..m individual,
	// x < -m and x > m pooled.
	m := 0
	for m+1 < len(p) && n*p[m+1] >= 10 {
		m++
	}
	obs := make(map[int64]float64)
	for _, x := range draws {
		switch {
		case x > int64(m):
			x = int64(m) + 1
		case x < -int64(m):
			x = -int64(m) - 1
		}
		obs[x]++
	}
	tail := 0.0
	for x := m + 1; x < len(p); x++ {
		tail += p[x]
	}
	cells := 0
	add := func(x int64, prob float64) {
		e := n * prob
		if e == 0 {
			if obs[x] > 0 {
				stat = math.Inf(1)
			}
			return
		}
		d := obs[x] - e
		stat += d * d / e
		cells++
	}
	for x := -m; x <= m; x++ {
		ax := x
		if ax < 0 {
			ax = -ax
		}
		add(int64(x), p[ax])
	}
	add(int64(m)+1, tail)
	add(-int64(m)-1, tail)
	df = cells - 1
	return stat, df, chiSquareSurvival(stat, float64(df))
}

// chiSquareSurvival is P[χ²_k > x], the regularized upper incomplete gamma
// Q(k/2, x/2) (series below a+1, continued fraction above).
func chiSquareSurvival(x, k float64) float64 {
	if math.IsInf(x, 1) {
		return 0
	}
	a, y := k/2, x/2
	if y <= 0 {
		return 1
	}
	lg, _ := math.Lgamma(a)
	front := math.Exp(-y + a*math.Log(y) - lg)
	if y < a+1 {
		sum, term := 1/a, 1/a
		for n := 1; n < 10000; n++ {
			term *= y / (a + float64(n))
			sum += term
			if math.Abs(term) < math.Abs(sum)*1e-16 {
				break
			}
		}
		return 1 - front*sum
	}
	// Lentz's continued fraction for Q.
	const tiny = 1e-300
	b := y + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 10000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return front * h
}

func TestChiSquareSurvival(t *testing.T) {
	t.Parallel()
	// Reference values: P[χ²_k > x].
	for _, c := range []struct{ x, k, want float64 }{
		{3.841458820694124, 1, 0.05},
		{18.307038053275146, 10, 0.05},
		{2, 2, math.Exp(-1)},
		{124.3421134, 100, 0.05},
		{20, 4, 11 * math.Exp(-10)},
		{1, 4, 1.5 * math.Exp(-0.5)},
	} {
		got := chiSquareSurvival(c.x, c.k)
		if math.Abs(got-c.want) > 1e-5*c.want {
			t.Errorf("P[χ²_%v > %v] = %v, want %v", c.k, c.x, got, c.want)
		}
	}
}
