package disclosure

import (
	"fmt"
	"math"
	"math/big"
)

// Noise returns counts with independent discrete Gaussian noise N_Z(0, 1/(2ρ))
// added to every cell, zeros included, drawing randomness from crypto/rand.
// The release is ρ-zCDP when each household adds 1 to exactly one cell. The
// input slice is not modified.
//
// Every call draws fresh noise. The caller (release epochs, budget ledger)
// must store the returned values and re-send them on every retry or
// re-request, never call Noise again for the same cells and epoch: a second
// draw would let the noise be averaged away and spend ρ again.
func Noise(counts []int64, rho *big.Rat) ([]int64, error) {
	return NewSampler(nil).Noise(counts, rho)
}

// Noise is [Noise] drawing from s.
func (s *Sampler) Noise(counts []int64, rho *big.Rat) ([]int64, error) {
	sigma2, err := SigmaSquaredForRho(rho)
	if err != nil {
		return nil, fmt.Errorf("disclosure: noise table: %w", err)
	}
	g, err := NewGaussian(sigma2)
	if err != nil {
		return nil, fmt.Errorf("disclosure: noise table: %w", err)
	}
	out := make([]int64, len(counts))
	for i, c := range counts {
		z, err := g.Sample(s)
		if err != nil {
			return nil, fmt.Errorf("disclosure: noise cell %d: %w", i, err)
		}
		if (z > 0 && c > math.MaxInt64-z) || (z < 0 && c < math.MinInt64-z) {
			return nil, fmt.Errorf("disclosure: noise cell %d: count plus noise overflows int64", i)
		}
		out[i] = c + z
	}
	return out, nil
}
