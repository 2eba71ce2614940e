package disclosure

import (
	"math"
	"math/big"
	"slices"
	"testing"
)

func TestCalibrationRoundTrip(t *testing.T) {
	t.Parallel()
	for rho, sigma2 := range map[string]string{
		"1":      "1/2",
		"1/4":    "2",
		"3/4":    "2/3",
		"1/16":   "8",
		"1/25":   "25/2",
		"1/400":  "200",
		"1/1000": "500",
		"7/3":    "3/14",
	} {
		r := rat(rho)
		s, err := SigmaSquaredForRho(r)
		if err != nil {
			t.Fatal(err)
		}
		if s.Cmp(rat(sigma2)) != 0 {
			t.Errorf("SigmaSquaredForRho(%s) = %s, want %s", rho, s.RatString(), sigma2)
		}
		back, err := RhoForSigmaSquared(s)
		if err != nil {
			t.Fatal(err)
		}
		if back.Cmp(r) != 0 {
			t.Errorf("RhoForSigmaSquared(SigmaSquaredForRho(%s)) = %s", rho, back.RatString())
		}
		if r.Cmp(rat(rho)) != 0 {
			t.Errorf("SigmaSquaredForRho modified its argument %s to %s", rho, r.RatString())
		}
	}
}

func TestVariance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sigma2 string
		lo, hi float64
	}{
		// For σ² < 1 the discrete variance is visibly below σ².
		{"1/2", 0.49, 0.4999},
		{"1/10", 0.013, 0.0137}, // ≈ 2e^{-5}/(1+2e^{-5})
		// From σ² ≥ 2 on it equals σ² to within 1e-12.
		{"2", 2 - 1e-12, 2 + 1e-12},
		{"25/2", 12.5 - 1e-9, 12.5 + 1e-9},
		{"200", 200 - 1e-9, 200 + 1e-9},
		{"10000000", 1e7 - 1e-3, 1e7 + 1e-3},
	} {
		v, err := Variance(rat(c.sigma2))
		if err != nil {
			t.Fatal(err)
		}
		if v < c.lo || v > c.hi {
			t.Errorf("Variance(%s) = %.15g, want in [%g, %g]", c.sigma2, v, c.lo, c.hi)
		}
	}
}

func TestHalfWidth95(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sigma2 string
		want   int64
	}{
		{"1/2", 1}, // P[X=0] ≈ 0.564 < 0.95; P[|X|≤1] ≈ 0.979
		{"2", 3},
		{"25/2", 7},
		{"200", 28},
	} {
		sigma2 := rat(c.sigma2)
		h, err := HalfWidth95(sigma2)
		if err != nil {
			t.Fatal(err)
		}
		if h != c.want {
			t.Errorf("HalfWidth95(%s) = %d, want %d", c.sigma2, h, c.want)
		}
		// Defining property against the pmf.
		f, _ := sigma2.Float64()
		p := pmf(f)
		cover := func(h int64) float64 {
			c := p[0]
			for x := int64(1); x <= h; x++ {
				c += 2 * p[x]
			}
			return c
		}
		if cover(h) < 0.95 || (h > 0 && cover(h-1) >= 0.95) {
			t.Errorf("HalfWidth95(%s) = %d is not the smallest h with coverage ≥ 0.95 (%.4f, %.4f)", c.sigma2, h, cover(h-1), cover(h))
		}
		// Empirical coverage of sampled noise.
		draws := gaussianDraws(t, seeded(byte(h)), sigma2, 20_000)
		in := 0
		for _, x := range draws {
			if x >= -h && x <= h {
				in++
			}
		}
		got, want := float64(in)/float64(len(draws)), cover(h)
		if se := math.Sqrt(want * (1 - want) / float64(len(draws))); math.Abs(got-want) > 5*se {
			t.Errorf("σ²=%s: %.4f of draws within ±%d, want %.4f", c.sigma2, got, h, want)
		}
	}
}

func TestNoise(t *testing.T) {
	t.Parallel()
	counts := make([]int64, 500) // mostly zeros: zeros must be noised too
	for i := range counts {
		if i%5 == 0 {
			counts[i] = int64(i)
		}
	}
	orig := slices.Clone(counts)
	rho := big.NewRat(1, 4) // σ² = 2
	a, err := seeded(11).Noise(counts, rho)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(counts, orig) {
		t.Fatal("Noise modified its input")
	}
	if len(a) != len(counts) {
		t.Fatalf("len = %d, want %d", len(a), len(counts))
	}
	changedZeros, zeros := 0, 0
	var sumSq float64
	for i := range a {
		d := a[i] - counts[i]
		sumSq += float64(d * d)
		if counts[i] == 0 {
			zeros++
			if a[i] != 0 {
				changedZeros++
			}
		}
	}
	// P[X ≠ 0] ≈ 0.72 for σ² = 2; 400 zero cells.
	if changedZeros < zeros/2 {
		t.Errorf("only %d of %d zero cells received non-zero noise", changedZeros, zeros)
	}
	if v := sumSq / float64(len(a)); v < 1.4 || v > 2.6 { // 2 ± 5·√(μ4-σ⁴)/√500 ≈ 2 ± 0.6
		t.Errorf("noise variance %.3f, want ≈ 2", v)
	}
	b, err := seeded(11).Noise(counts, rho)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("same seed gave different noise")
	}
	c, err := Noise(counts, rho)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(a, c) {
		t.Error("crypto/rand noise equals seeded noise")
	}
	if empty, err := Noise(nil, rho); err != nil || len(empty) != 0 {
		t.Errorf("Noise(nil) = %v, %v; want empty, nil", empty, err)
	}
}
