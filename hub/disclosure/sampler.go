package disclosure

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/bits"
)

// maxSigma bounds σ so that every draw fits comfortably in an int64. A σ this
// large (ρ below 2⁻⁸¹) protects nothing useful and is certainly a
// configuration mistake.
const maxSigma = 1 << 40

// Sampler draws exact discrete random variables from a stream of random bytes.
//
// A Sampler buffers bytes from its reader and is not safe for concurrent use;
// give each goroutine its own.
type Sampler struct {
	r   io.Reader
	buf [256]byte
	pos int // next unread byte of buf; len(buf) means empty
}

// NewSampler returns a Sampler reading randomness from r, or from
// crypto/rand.Reader when r is nil. Only crypto/rand is acceptable for a
// release; other readers exist so that tests can be reproducible.
func NewSampler(r io.Reader) *Sampler {
	if r == nil {
		r = rand.Reader
	}
	s := &Sampler{r: r}
	s.pos = len(s.buf)
	return s
}

// read fills p with random bytes.
func (s *Sampler) read(p []byte) error {
	for len(p) > 0 {
		if s.pos == len(s.buf) {
			if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
				return fmt.Errorf("disclosure: read randomness: %w", err)
			}
			s.pos = 0
		}
		n := copy(p, s.buf[s.pos:])
		s.pos += n
		p = p[n:]
	}
	return nil
}

// uint64n returns a uniform integer in [0, n). n must be positive.
func (s *Sampler) uint64n(n uint64) (uint64, error) {
	if n <= 1 {
		return 0, nil
	}
	k := bits.Len64(n - 1)
	mask := uint64(1)<<k - 1
	if k == 64 {
		mask = ^uint64(0)
	}
	nb := (k + 7) / 8
	var b [8]byte
	for {
		if err := s.read(b[:nb]); err != nil {
			return 0, err
		}
		v := binary.LittleEndian.Uint64(b[:]) & mask
		if v < n {
			return v, nil
		}
	}
}

// bigIntn returns a uniform integer in [0, n). n must be positive.
func (s *Sampler) bigIntn(n *big.Int) (*big.Int, error) {
	if n.IsUint64() {
		v, err := s.uint64n(n.Uint64())
		return new(big.Int).SetUint64(v), err
	}
	max := new(big.Int).Sub(n, big.NewInt(1))
	k := max.BitLen()
	b := make([]byte, (k+7)/8)
	topMask := byte(0xff >> (8*len(b) - k))
	v := new(big.Int)
	for {
		if err := s.read(b); err != nil {
			return nil, err
		}
		b[0] &= topMask // big-endian: b[0] holds the top bits
		v.SetBytes(b)
		if v.Cmp(n) < 0 {
			return v, nil
		}
	}
}

// bernoulli64 returns true with probability num/den, 0 ≤ num ≤ den, den > 0.
func (s *Sampler) bernoulli64(num, den uint64) (bool, error) {
	u, err := s.uint64n(den)
	return u < num, err
}

// Bernoulli returns true with probability p, a rational in [0, 1].
func (s *Sampler) Bernoulli(p *big.Rat) (bool, error) {
	if p == nil || p.Sign() < 0 || p.Cmp(big.NewRat(1, 1)) > 0 {
		return false, fmt.Errorf("disclosure: bernoulli probability %v outside [0, 1]", p)
	}
	u, err := s.bigIntn(p.Denom())
	if err != nil {
		return false, err
	}
	return u.Cmp(p.Num()) < 0, nil
}

// BernoulliExp returns true with probability exp(-γ) for a rational γ ≥ 0
// (Canonne, Kamath, Steinke 2020, Algorithm 1), using only integer
// arithmetic and uniform draws.
func (s *Sampler) BernoulliExp(gamma *big.Rat) (bool, error) {
	if gamma == nil || gamma.Sign() < 0 {
		return false, fmt.Errorf("disclosure: bernoulli exp(-γ) needs γ ≥ 0, got %v", gamma)
	}
	return s.bernoulliExpBig(gamma.Num(), gamma.Denom())
}

// bernoulliExpBig is Algorithm 1 for γ = num/den with big integers.
func (s *Sampler) bernoulliExpBig(num, den *big.Int) (bool, error) {
	if num.IsUint64() && den.IsUint64() {
		return s.bernoulliExp64(num.Uint64(), den.Uint64())
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if q.IsUint64() {
		for i := q.Uint64(); i > 0; i-- {
			ok, err := s.bernoulliExpFrac64(1, 1)
			if !ok || err != nil {
				return false, err
			}
		}
	} else {
		one := big.NewInt(1)
		for i := new(big.Int).Set(q); i.Sign() > 0; i.Sub(i, one) {
			ok, err := s.bernoulliExpFrac64(1, 1)
			if !ok || err != nil {
				return false, err
			}
		}
	}
	return s.bernoulliExpFracBig(r, den, 1)
}

// bernoulliExp64 is Algorithm 1 for γ = num/den with den > 0.
func (s *Sampler) bernoulliExp64(num, den uint64) (bool, error) {
	// exp(-γ) = exp(-1)^⌊γ⌋ · exp(-(γ-⌊γ⌋)).
	for i := num / den; i > 0; i-- {
		ok, err := s.bernoulliExpFrac64(1, 1)
		if !ok || err != nil {
			return false, err
		}
	}
	return s.bernoulliExpFrac64(num%den, den)
}

// bernoulliExpFrac64 returns true with probability exp(-num/den) for
// 0 ≤ num ≤ den: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until one is 0;
// the result is whether that k is odd.
func (s *Sampler) bernoulliExpFrac64(num, den uint64) (bool, error) {
	for k := uint64(1); ; k++ {
		hi, bound := bits.Mul64(den, k)
		if hi != 0 {
			return s.bernoulliExpFracBig(new(big.Int).SetUint64(num), new(big.Int).SetUint64(den), k)
		}
		a, err := s.bernoulli64(num, bound)
		if err != nil {
			return false, err
		}
		if !a {
			return k%2 == 1, nil
		}
	}
}

// bernoulliExpFracBig is bernoulliExpFrac64 for big integers, starting at k.
func (s *Sampler) bernoulliExpFracBig(num, den *big.Int, k uint64) (bool, error) {
	bound := new(big.Int)
	bk := new(big.Int)
	for ; ; k++ {
		bound.Mul(den, bk.SetUint64(k))
		u, err := s.bigIntn(bound)
		if err != nil {
			return false, err
		}
		if u.Cmp(num) >= 0 {
			return k%2 == 1, nil
		}
	}
}

// DiscreteLaplace returns a draw from the discrete Laplace distribution on
// the integers, P[X = x] ∝ exp(-|x|/scale) (Canonne, Kamath, Steinke 2020,
// Algorithm 2). The numerator and denominator of scale must fit in a uint64.
func (s *Sampler) DiscreteLaplace(scale *big.Rat) (int64, error) {
	if scale == nil || scale.Sign() <= 0 {
		return 0, fmt.Errorf("disclosure: discrete laplace needs a positive scale, got %v", scale)
	}
	if !scale.Num().IsUint64() || !scale.Denom().IsUint64() {
		return 0, fmt.Errorf("disclosure: discrete laplace scale %v has a numerator or denominator beyond 2^64", scale)
	}
	return s.laplace64(scale.Num().Uint64(), scale.Denom().Uint64())
}

var errOverflow = errors.New("disclosure: draw overflows int64")

// laplace64 is Algorithm 2 for scale t/sd with t, sd > 0.
func (s *Sampler) laplace64(t, sd uint64) (int64, error) {
	for {
		u, err := s.uint64n(t)
		if err != nil {
			return 0, err
		}
		d, err := s.bernoulliExp64(u, t)
		if err != nil {
			return 0, err
		}
		if !d {
			continue
		}
		var v uint64
		for {
			a, err := s.bernoulliExpFrac64(1, 1)
			if err != nil {
				return 0, err
			}
			if !a {
				break
			}
			v++
		}
		// X = U + t·V is geometric with parameter 1-exp(-1/t); Y = ⌊X/sd⌋.
		hi, lo := bits.Mul64(t, v)
		lo, carry := bits.Add64(lo, u, 0)
		hi += carry
		if hi >= sd {
			return 0, errOverflow
		}
		y, _ := bits.Div64(hi, lo, sd)
		if y > 1<<62 {
			return 0, errOverflow
		}
		neg, err := s.bernoulli64(1, 2)
		if err != nil {
			return 0, err
		}
		if neg && y == 0 {
			continue // reject -0 so that 0 is not counted twice
		}
		if neg {
			return -int64(y), nil
		}
		return int64(y), nil
	}
}

// Gaussian is a discrete Gaussian N_Z(0, σ²) with its sampling constants
// precomputed. It holds no randomness and is safe for concurrent use.
type Gaussian struct {
	sigma2 *big.Rat
	n, d   *big.Int // σ² = n/d in lowest terms
	t      uint64   // ⌊σ⌋ + 1, the discrete Laplace scale
	dt     *big.Int // d·t
	den    *big.Int // 2·n·d·t², the denominator of γ

	// uint64 copies, valid when fast is set.
	fast      bool
	n64, dt64 uint64
	den64     uint64
}

// NewGaussian prepares sampling from N_Z(0, σ²) for a positive rational σ².
func NewGaussian(sigma2 *big.Rat) (*Gaussian, error) {
	if sigma2 == nil || sigma2.Sign() <= 0 {
		return nil, fmt.Errorf("disclosure: discrete gaussian needs σ² > 0, got %v", sigma2)
	}
	g := &Gaussian{
		sigma2: new(big.Rat).Set(sigma2),
		n:      new(big.Int).Set(sigma2.Num()),
		d:      new(big.Int).Set(sigma2.Denom()),
	}
	// ⌊√(n/d)⌋ = ⌊√⌊n/d⌋⌋.
	sigmaFloor := new(big.Int).Sqrt(new(big.Int).Quo(g.n, g.d))
	if sigmaFloor.Cmp(big.NewInt(maxSigma)) >= 0 {
		return nil, fmt.Errorf("disclosure: σ² = %v is too large (σ must stay below 2^40); check ρ", sigma2.FloatString(3))
	}
	g.t = sigmaFloor.Uint64() + 1
	bt := new(big.Int).SetUint64(g.t)
	g.dt = new(big.Int).Mul(g.d, bt)
	g.den = new(big.Int).Mul(g.n, g.dt)
	g.den.Mul(g.den, bt).Lsh(g.den, 1)
	if g.n.IsUint64() && g.dt.IsUint64() && g.den.IsUint64() {
		g.fast = true
		g.n64, g.dt64, g.den64 = g.n.Uint64(), g.dt.Uint64(), g.den.Uint64()
	}
	return g, nil
}

// SigmaSquared returns σ².
func (g *Gaussian) SigmaSquared() *big.Rat { return new(big.Rat).Set(g.sigma2) }

// Sample returns one exact draw from N_Z(0, σ²) (Canonne, Kamath, Steinke
// 2020, Algorithm 3): draw Y from the discrete Laplace with scale t = ⌊σ⌋+1
// and accept it with probability exp(-(|Y| - σ²/t)² / (2σ²)).
func (g *Gaussian) Sample(s *Sampler) (int64, error) {
	for {
		y, err := s.laplace64(g.t, 1)
		if err != nil {
			return 0, err
		}
		ay := uint64(y)
		if y < 0 {
			ay = uint64(-y)
		}
		// γ = (|Y| - n/(d·t))² / (2n/d) = (|Y|·d·t - n)² / (2·n·d·t²).
		c, err := g.accept(s, ay)
		if err != nil {
			return 0, err
		}
		if c {
			return y, nil
		}
	}
}

func (g *Gaussian) accept(s *Sampler, ay uint64) (bool, error) {
	if g.fast {
		if hi, a := bits.Mul64(ay, g.dt64); hi == 0 {
			diff := a - g.n64
			if a < g.n64 {
				diff = g.n64 - a
			}
			if hi, num := bits.Mul64(diff, diff); hi == 0 {
				return s.bernoulliExp64(num, g.den64)
			}
		}
	}
	num := new(big.Int).Mul(new(big.Int).SetUint64(ay), g.dt)
	num.Sub(num, g.n)
	num.Mul(num, num)
	return s.bernoulliExpBig(num, g.den)
}

// DiscreteGaussian returns one exact draw from N_Z(0, σ²). To draw many
// values with the same σ², build a [Gaussian] once and call its Sample method.
func (s *Sampler) DiscreteGaussian(sigma2 *big.Rat) (int64, error) {
	g, err := NewGaussian(sigma2)
	if err != nil {
		return 0, err
	}
	return g.Sample(s)
}
