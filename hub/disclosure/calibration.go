package disclosure

import (
	"fmt"
	"math"
	"math/big"
)

// SigmaSquaredForRho returns the discrete Gaussian variance parameter σ² that
// makes a table release ρ-zCDP when each household adds 1 to exactly one cell
// (L2 sensitivity 1): σ² = 1/(2ρ).
func SigmaSquaredForRho(rho *big.Rat) (*big.Rat, error) {
	if rho == nil || rho.Sign() <= 0 {
		return nil, fmt.Errorf("disclosure: privacy budget ρ must be positive, got %v; set a positive ρ for the release", rho)
	}
	s := new(big.Rat).Mul(rho, big.NewRat(2, 1))
	return s.Inv(s), nil
}

// RhoForSigmaSquared returns the zCDP budget ρ = 1/(2σ²) spent by adding
// N_Z(0, σ²) noise to every cell of a table with L2 sensitivity 1.
func RhoForSigmaSquared(sigma2 *big.Rat) (*big.Rat, error) {
	if sigma2 == nil || sigma2.Sign() <= 0 {
		return nil, fmt.Errorf("disclosure: σ² must be positive, got %v", sigma2)
	}
	r := new(big.Rat).Mul(sigma2, big.NewRat(2, 1))
	return r.Inv(r), nil
}

// pmf returns P[X = x] for x = 0, 1, …, len-1 of N_Z(0, σ²) in float64, over
// a support wide enough that the neglected tail is below 1e-30.
func pmf(sigma2 float64) []float64 {
	limit := int(math.Ceil(12*math.Sqrt(sigma2))) + 2
	w := make([]float64, limit+1)
	total := 0.0
	for x := 0; x <= limit; x++ {
		w[x] = math.Exp(-float64(x) * float64(x) / (2 * sigma2))
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

func sigma2Float(sigma2 *big.Rat) (float64, error) {
	if sigma2 == nil || sigma2.Sign() <= 0 {
		return 0, fmt.Errorf("disclosure: σ² must be positive, got %v", sigma2)
	}
	f, _ := sigma2.Float64()
	if math.IsInf(f, 0) || f > float64(maxSigma)*float64(maxSigma) {
		return 0, fmt.Errorf("disclosure: σ² = %v is too large", sigma2)
	}
	return f, nil
}

// Variance returns the variance of N_Z(0, σ²). It is never above σ² and is
// within 1e-6 of it once σ² ≥ 1 (within 1e-14 from σ² ≥ 2), but it falls
// visibly short for small σ² (0.499 for σ² = 1/2, 0.0134 for σ² = 1/10). Use
// it, not σ², when combining noise with sampling error in an interval.
// Floating point is fine here: nothing is sampled.
func Variance(sigma2 *big.Rat) (float64, error) {
	f, err := sigma2Float(sigma2)
	if err != nil {
		return 0, err
	}
	if f > 1e6 {
		return f, nil // the discrete and continuous variances agree to within 1e-300
	}
	v := 0.0
	for x, p := range pmf(f) {
		v += 2 * float64(x) * float64(x) * p
	}
	return v, nil
}

// HalfWidth95 returns the smallest integer h ≥ 0 with P[|X| ≤ h] ≥ 0.95 for
// X ~ N_Z(0, σ²): a noisy count lies within h of the true count at least 95%
// of the time.
func HalfWidth95(sigma2 *big.Rat) (int64, error) {
	f, err := sigma2Float(sigma2)
	if err != nil {
		return 0, err
	}
	if f > 1e6 {
		// Continuous approximation; the discrete correction is negligible.
		return int64(math.Ceil(1.959963984540054*math.Sqrt(f) - 1e-9)), nil
	}
	p := pmf(f)
	cum := p[0]
	for h := 0; h < len(p); h++ {
		if h > 0 {
			cum += 2 * p[h]
		}
		if cum >= 0.95 {
			return int64(h), nil
		}
	}
	return int64(len(p) - 1), nil
}
