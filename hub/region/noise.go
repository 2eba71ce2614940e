package region

import (
	"fmt"
	"math/big"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
)

// envelopeNoise is what the region knows of the noise on the cells of one
// stored envelope: the σ² of its totals and of its breakdowns (the same
// without a headline tier; nil without noise), whether its rates were
// noised as one partition table, and the rounding base of the rounding
// mode.
type envelopeNoise struct {
	territory        string
	total, breakdown *big.Rat
	partition        bool
	roundingBase     int64
	mechanism        string
}

func noiseOfEnvelope(e store.RegionEnvelope) (envelopeNoise, error) {
	n := envelopeNoise{territory: e.Territory, partition: e.RatePartition, roundingBase: int64(e.RoundingBase), mechanism: e.Mechanism}
	if e.Sigma2 == "" {
		return n, nil
	}
	var err error
	if n.breakdown, err = disclosure.ParseRat(e.Sigma2); err != nil {
		return n, fmt.Errorf("the σ² stored for %s: %w", e.Territory, err)
	}
	n.total = n.breakdown
	if e.HeadlineSigma2 != "" {
		if n.total, err = disclosure.ParseRat(e.HeadlineSigma2); err != nil {
			return n, fmt.Errorf("the headline σ² stored for %s: %w", e.Territory, err)
		}
	}
	return n, nil
}

// cellSigma2 is the σ² of the noise on one published cell (nil without
// noise): its tier's, and twice it for the denominator of a rate noised
// as a partition, which is the sum of two noisy cells. rate says the cell
// is a rate's denominator (its indicator has a numerator).
func (n envelopeNoise) cellSigma2(total, rateDenominator bool) *big.Rat {
	s := n.breakdown
	if total {
		s = n.total
	}
	if s == nil || !(rateDenominator && n.partition) {
		return s
	}
	return new(big.Rat).Mul(s, big.NewRat(2, 1))
}

// cellVariance is the variance of the noise on one published cell (not a
// partitioned rate's denominator: rateNoise accounts for that), -1
// when the region does not know it (a region's sums, whose noise per cell
// it does not keep): disclosure.Variance of its σ² (cellSigma2), or b²/12
// for rounding to base b, counted as a uniform error.
func (n envelopeNoise) cellVariance(total bool) (float64, error) {
	if s := n.cellSigma2(total, false); s != nil {
		v, err := disclosure.Variance(s)
		if err != nil {
			return 0, fmt.Errorf("the σ² of %s: %w", n.territory, err)
		}
		return v, nil
	}
	if n.mechanism == "rounding" {
		return float64(n.roundingBase*n.roundingBase) / 12, nil
	}
	return -1, nil
}

// rateNoise is the noise on a territory's numerator and denominator of a
// rate (total or broken down), false when it is not known. A rate noised
// as a partition has Var(den) = 2v and Cov = v for the variance v of one
// cell; otherwise the two counts' noise is independent.
func (n envelopeNoise) rateNoise(total bool) (disclosure.RateNoise, bool, error) {
	v, err := n.cellVariance(total)
	if err != nil || v < 0 {
		return disclosure.RateNoise{}, false, err
	}
	if n.partition {
		return disclosure.PartitionRateNoise(v), true, nil
	}
	return disclosure.RateNoise{Num: v, Den: v}, true, nil
}
