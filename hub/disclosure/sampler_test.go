package disclosure

import (
	"crypto/rand"
	"errors"
	"math"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"testing"
)

// pThreshold is the chi-square p-value below which a sampler is rejected. A
// correct sampler passes with probability 1-1e-4 on any seed (and the seeds
// here are fixed, so the tests are reproducible); the wrong samplers in
// TestWrongDistributionsRejected score p-values below 1e-10.
const pThreshold = 1e-4

const nDraws = 200_000

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad rational " + s)
	}
	return r
}

func gaussianDraws(t *testing.T, s *Sampler, sigma2 *big.Rat, n int) []int64 {
	t.Helper()
	g, err := NewGaussian(sigma2)
	if err != nil {
		t.Fatalf("NewGaussian(%v): %v", sigma2, err)
	}
	out := make([]int64, n)
	for i := range out {
		if out[i], err = g.Sample(s); err != nil {
			t.Fatalf("Sample: %v", err)
		}
	}
	return out
}

// moments returns the exact variance and fourth moment of a symmetric pmf.
func moments(p []float64) (v, m4 float64) {
	for x, px := range p {
		x2 := float64(x) * float64(x)
		v += 2 * x2 * px
		m4 += 2 * x2 * x2 * px
	}
	return v, m4
}

// checkDistribution runs the chi-square goodness-of-fit test, a mean test, a
// variance test and a symmetry test of draws against the symmetric pmf p.
// Every bound is five standard errors for the sample size.
func checkDistribution(t *testing.T, draws []int64, p []float64) {
	t.Helper()
	stat, df, pval := chiSquareP(t, draws, p)
	t.Logf("chi-square %.1f on %d df, p = %.3g", stat, df, pval)
	if pval < pThreshold {
		t.Errorf("chi-square %.1f on %d df, p = %.3g < %g: draws do not follow the distribution", stat, df, pval, pThreshold)
	}
	n := float64(len(draws))
	wantVar, m4 := moments(p)
	var sum, sumSq float64
	var pos, neg int
	for _, x := range draws {
		f := float64(x)
		sum += f
		sumSq += f * f
		switch {
		case x > 0:
			pos++
		case x < 0:
			neg++
		}
	}
	mean := sum / n
	if se := math.Sqrt(wantVar / n); math.Abs(mean) > 5*se {
		t.Errorf("mean %.5f, want 0 ± %.5f", mean, 5*se)
	}
	// Second moment about the known mean 0; its standard error is
	// √((μ4 - σ⁴)/n).
	gotVar := sumSq / n
	if se := math.Sqrt((m4 - wantVar*wantVar) / n); math.Abs(gotVar-wantVar) > 5*se {
		t.Errorf("variance %.5f, want %.5f ± %.5f", gotVar, wantVar, 5*se)
	}
	if d, se := float64(pos-neg), math.Sqrt(float64(pos+neg)); math.Abs(d) > 5*se {
		t.Errorf("asymmetric: %d positive draws, %d negative", pos, neg)
	}
}

func TestDiscreteGaussianDistribution(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		sigma2 string
		seed   byte
	}{
		"σ²=1/2":  {"1/2", 1},
		"σ²=2":    {"2", 2},
		"σ²=25/2": {"25/2", 3},
		// Numerator and denominator beyond 2^64 exercise the big.Int path.
		"σ²≈2 big": {"200000000000000000001/100000000000000000000", 4},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sigma2 := rat(c.sigma2)
			f, _ := sigma2.Float64()
			draws := gaussianDraws(t, seeded(c.seed), sigma2, nDraws)
			checkDistribution(t, draws, pmf(f))
		})
	}
}

func TestDiscreteGaussianReproducible(t *testing.T) {
	t.Parallel()
	a := gaussianDraws(t, seeded(9), rat("2"), 1000)
	b := gaussianDraws(t, seeded(9), rat("2"), 1000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs with the same seed: %d vs %d", i, a[i], b[i])
		}
	}
}

func laplacePMF(scale float64) []float64 {
	limit := int(math.Ceil(70*scale)) + 2
	w := make([]float64, limit+1)
	total := 0.0
	for x := range w {
		w[x] = math.Exp(-float64(x) / scale)
		if x == 0 {
			total += w[x]
		} else {
			total += 2 * w[x]
		}
	}
	for x := range w {
		w[x] /= total
	}
	return w
}

func TestDiscreteLaplaceDistribution(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		scale string
		seed  byte
	}{
		"scale=3/2": {"3/2", 5},
		"scale=4":   {"4", 6},
		"scale=1/3": {"1/3", 7},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := seeded(c.seed)
			scale := rat(c.scale)
			draws := make([]int64, nDraws/2)
			for i := range draws {
				var err error
				if draws[i], err = s.DiscreteLaplace(scale); err != nil {
					t.Fatal(err)
				}
			}
			f, _ := scale.Float64()
			checkDistribution(t, draws, laplacePMF(f))
		})
	}
}

// TestWrongDistributionsRejected shows that the chi-square check used above
// has teeth: plausible but wrong samplers score p-values far below
// pThreshold with the same number of draws.
func TestWrongDistributionsRejected(t *testing.T) {
	t.Parallel()
	// Rounded continuous Gaussian, the naive sampler.
	rounded := func(sigma float64) func(*mrand.Rand) int64 {
		return func(r *mrand.Rand) int64 { return int64(math.Round(r.NormFloat64() * sigma)) }
	}
	// Exact discrete Laplace with the same variance as N_Z(0, σ²):
	// 2q/(1-q)² = v with q = exp(-1/b).
	laplaceSameVariance := func(t *testing.T, v float64) func(*mrand.Rand) int64 {
		q := (v + 1 - math.Sqrt(2*v+1)) / v
		b := -1 / math.Log(q)
		scale := new(big.Rat).SetFloat64(b)
		s := seeded(42)
		return func(*mrand.Rand) int64 {
			x, err := s.DiscreteLaplace(scale)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
	}
	for name, c := range map[string]struct {
		sigma2 float64
		wrong  func(t *testing.T) func(*mrand.Rand) int64
	}{
		"σ²=1/2 rounded continuous, same σ": {0.5, func(*testing.T) func(*mrand.Rand) int64 { return rounded(math.Sqrt(0.5)) }},
		"σ²=2 rounded continuous, σ+5%":     {2, func(*testing.T) func(*mrand.Rand) int64 { return rounded(1.05 * math.Sqrt(2)) }},
		"σ²=12.5 rounded continuous, σ+5%":  {12.5, func(*testing.T) func(*mrand.Rand) int64 { return rounded(1.05 * math.Sqrt(12.5)) }},
		"σ²=2 rounded continuous, same σ":   {2, func(*testing.T) func(*mrand.Rand) int64 { return rounded(math.Sqrt(2)) }},
		"σ²=12.5 rounded continuous, σ+2%":  {12.5, func(*testing.T) func(*mrand.Rand) int64 { return rounded(1.02 * math.Sqrt(12.5)) }},
		"σ²=1/2 discrete laplace":           {0.5, func(t *testing.T) func(*mrand.Rand) int64 { return laplaceSameVariance(t, 0.5) }},
		"σ²=2 discrete laplace":             {2, func(t *testing.T) func(*mrand.Rand) int64 { return laplaceSameVariance(t, 2) }},
		"σ²=12.5 discrete laplace":          {12.5, func(t *testing.T) func(*mrand.Rand) int64 { return laplaceSameVariance(t, 12.5) }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := mrand.New(mrand.NewPCG(1, 2))
			draw := c.wrong(t)
			draws := make([]int64, nDraws)
			for i := range draws {
				draws[i] = draw(r)
			}
			stat, df, pval := chiSquareP(t, draws, pmf(c.sigma2))
			t.Logf("chi-square %.1f on %d df, p = %.3g", stat, df, pval)
			if pval >= 1e-10 {
				t.Errorf("wrong sampler not rejected: chi-square %.1f on %d df, p = %.3g", stat, df, pval)
			}
		})
	}
}

func TestBernoulliExpFrequency(t *testing.T) {
	t.Parallel()
	for i, g := range []string{"0", "1/3", "1", "3/2", "5/2", "7",
		// Beyond 2^64: the big.Int path.
		"300000000000000000001/100000000000000000000",
		"1/300000000000000000000",
	} {
		t.Run(g, func(t *testing.T) {
			t.Parallel()
			gamma := rat(g)
			gf, _ := gamma.Float64()
			want := math.Exp(-gf)
			s := seeded(byte(100 + i))
			const n = 100_000
			hits := 0
			for range n {
				ok, err := s.BernoulliExp(gamma)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					hits++
				}
			}
			got := float64(hits) / n
			if gf == 0 {
				if hits != n {
					t.Fatalf("exp(-0) = 1 but only %d of %d draws were true", hits, n)
				}
				return
			}
			if se := math.Sqrt(want * (1 - want) / n); math.Abs(got-want) > 5*se {
				t.Errorf("P[Bernoulli(exp(-%s))] = %.5f, want %.5f ± %.5f", g, got, want, 5*se)
			}
		})
	}
}

func TestBernoulliFrequency(t *testing.T) {
	t.Parallel()
	s := seeded(77)
	p := rat("2/7")
	const n = 100_000
	hits := 0
	for range n {
		ok, err := s.Bernoulli(p)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			hits++
		}
	}
	want := 2.0 / 7
	if se := math.Sqrt(want * (1 - want) / n); math.Abs(float64(hits)/n-want) > 5*se {
		t.Errorf("P[Bernoulli(2/7)] = %.5f, want %.5f", float64(hits)/n, want)
	}
}

// TestUniformBigPath checks the uniform draw above 2^64 covers its range
// evenly (top bit set about as often as a uniform draw would).
func TestUniformBigPath(t *testing.T) {
	t.Parallel()
	s := seeded(55)
	n := new(big.Int).Lsh(big.NewInt(3), 70) // 3·2^70: top bit (2^71) set with P = 1/3
	top := 0
	const draws = 30_000
	for range draws {
		v, err := s.bigIntn(n)
		if err != nil {
			t.Fatal(err)
		}
		if v.Sign() < 0 || v.Cmp(n) >= 0 {
			t.Fatalf("draw %v outside [0, %v)", v, n)
		}
		if v.Bit(71) == 1 {
			top++
		}
	}
	if got, se := float64(top)/draws, math.Sqrt(2.0/9/draws); math.Abs(got-1.0/3) > 5*se {
		t.Errorf("P[draw ≥ 2^71] = %.4f, want 1/3", got)
	}
}

func TestDefaultSourceIsCryptoRand(t *testing.T) {
	t.Parallel()
	if NewSampler(nil).r != rand.Reader {
		t.Fatal("NewSampler(nil) must read from crypto/rand.Reader")
	}
	// And it samples.
	if _, err := NewSampler(nil).DiscreteGaussian(rat("2")); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestReaderErrorPropagates(t *testing.T) {
	t.Parallel()
	_, err := NewSampler(failingReader{}).Noise([]int64{1, 2}, rat("1/4"))
	if err == nil || !strings.Contains(err.Error(), "read randomness") || !strings.Contains(err.Error(), "entropy exhausted") {
		t.Fatalf("err = %v, want a read randomness error wrapping the reader's", err)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	s := seeded(0)
	cases := map[string]struct {
		call func() error
		want string
	}{
		"gaussian σ²=0":   {func() error { _, err := s.DiscreteGaussian(rat("0")); return err }, "σ² > 0"},
		"gaussian σ²<0":   {func() error { _, err := NewGaussian(rat("-2")); return err }, "σ² > 0"},
		"gaussian σ² nil": {func() error { _, err := NewGaussian(nil); return err }, "σ² > 0"},
		"gaussian σ² huge": {func() error {
			_, err := NewGaussian(rat("1/1").SetFrac(new(big.Int).Lsh(big.NewInt(1), 90), big.NewInt(1)))
			return err
		}, "too large"},
		"sigma for ρ=0":        {func() error { _, err := SigmaSquaredForRho(rat("0")); return err }, "ρ must be positive"},
		"sigma for ρ<0":        {func() error { _, err := SigmaSquaredForRho(rat("-1/4")); return err }, "ρ must be positive"},
		"sigma for ρ nil":      {func() error { _, err := SigmaSquaredForRho(nil); return err }, "ρ must be positive"},
		"rho for σ²=0":         {func() error { _, err := RhoForSigmaSquared(rat("0")); return err }, "σ² must be positive"},
		"rho for σ²<0":         {func() error { _, err := RhoForSigmaSquared(rat("-3")); return err }, "σ² must be positive"},
		"variance σ²=0":        {func() error { _, err := Variance(rat("0")); return err }, "σ² must be positive"},
		"half-width σ²<0":      {func() error { _, err := HalfWidth95(rat("-1")); return err }, "σ² must be positive"},
		"noise ρ=0":            {func() error { _, err := Noise([]int64{1}, rat("0")); return err }, "ρ must be positive"},
		"noise ρ<0":            {func() error { _, err := s.Noise([]int64{1}, rat("-1")); return err }, "ρ must be positive"},
		"laplace scale=0":      {func() error { _, err := s.DiscreteLaplace(rat("0")); return err }, "positive scale"},
		"laplace scale huge":   {func() error { _, err := s.DiscreteLaplace(rat("100000000000000000000")); return err }, "beyond 2^64"},
		"bernoulli exp γ<0":    {func() error { _, err := s.BernoulliExp(rat("-1")); return err }, "γ ≥ 0"},
		"bernoulli p>1":        {func() error { _, err := s.Bernoulli(rat("3/2")); return err }, "outside [0, 1]"},
		"bernoulli p<0":        {func() error { _, err := s.Bernoulli(rat("-1/2")); return err }, "outside [0, 1]"},
		"noise overflow int64": {func() error { _, err := s.Noise(manyMax(200), rat("1/200")); return err }, "overflows int64"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := c.call()
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func manyMax(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = math.MaxInt64
	}
	return out
}
