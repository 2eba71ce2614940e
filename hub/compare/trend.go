package compare

import (
	"fmt"
	"sort"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// TrendPoint is the rate over the four quarters From … Epoch.
type TrendPoint struct {
	Epoch string `json:"epoch"` // the last quarter of the window
	From  string `json:"from"`  // the first quarter of the window
	// Numerator and Denominator are the sums of the four quarters'
	// published values; absent when the rate is not shown, as a small
	// count would then be shown plain.
	Numerator   *int64   `json:"numerator,omitempty"`
	Denominator *int64   `json:"denominator,omitempty"`
	Rate        Estimate `json:"rate"`
}

// Gap is a quarter with no usable value, which breaks every window that
// holds it.
type Gap struct {
	Epoch  string `json:"epoch"`
	Reason Reason `json:"reason"` // ReasonMissing or ReasonSuppressed
}

// Trend is a territory's rolling four-quarter rate of a ratio indicator.
type Trend struct {
	Territory string       `json:"territory"`
	Points    []TrendPoint `json:"points"`
	Gaps      []Gap        `json:"gaps"`
}

// quarter is a quarter as a count of quarters since year 0, so that
// consecutive quarters differ by 1 across years.
type quarter int

func (q quarter) String() string { return fmt.Sprintf("%d-Q%d", int(q)/4, int(q)%4+1) }

// RollingFourQuarters computes, for each quarter with the three quarters
// before it, the rate over the four: numerators and denominators summed,
// noise variances and covariances summed (each quarter's noise is drawn
// independently), the strictest minimum denominator of the four. Four
// quarters smooth the seasonality and the small quarterly counts that
// would make a quarter-on-quarter line mostly noise.
//
// The window's rate is Σ numerators / Σ denominators, a
// denominator-weighted mean of the quarterly rates. A household counted in
// several quarters counts in each, so the denominator counts
// household-quarters, and the interval (disclosure.Rate on the sums)
// treats them as independent: it covers the noise fully and the sampling
// error approximately.
//
// Quarters are taken from the first to the last of values. A quarter with
// no value, or suppressed, is a Gap and no window holding it gets a point:
// nothing is imputed. Values must be one territory's, quarterly, one per
// quarter.
func RollingFourQuarters(values []Value) (*Trend, error) {
	if len(values) == 0 {
		return &Trend{Points: []TrendPoint{}, Gaps: []Gap{}}, nil
	}
	byQ := make(map[quarter]Value, len(values))
	for i, v := range values {
		if v.Territory != values[0].Territory {
			return nil, fmt.Errorf("trend: value %d is of territory %q, not %q: one territory at a time", i, v.Territory, values[0].Territory)
		}
		e, err := disclosure.ParseEpoch(v.Epoch)
		if err != nil {
			return nil, fmt.Errorf("trend of %q: value %d: %w", v.Territory, i, err)
		}
		if e.Quarter == 0 {
			return nil, fmt.Errorf("trend of %q: value %d: epoch %q is annual: a rolling trend needs quarters", v.Territory, i, v.Epoch)
		}
		q := quarter(e.Year*4 + e.Quarter - 1)
		if _, dup := byQ[q]; dup {
			return nil, fmt.Errorf("trend of %q: two values for %s", v.Territory, q)
		}
		byQ[q] = v
	}
	qs := make([]quarter, 0, len(byQ))
	for q := range byQ {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return qs[i] < qs[j] })
	out := &Trend{Territory: values[0].Territory, Points: []TrendPoint{}, Gaps: []Gap{}}
	usable := func(q quarter) bool { v, ok := byQ[q]; return ok && !v.Suppressed }
	for q := qs[0]; q <= qs[len(qs)-1]; q++ {
		v, ok := byQ[q]
		switch {
		case !ok:
			out.Gaps = append(out.Gaps, Gap{Epoch: q.String(), Reason: ReasonMissing})
			continue
		case v.Suppressed:
			out.Gaps = append(out.Gaps, Gap{Epoch: q.String(), Reason: ReasonSuppressed})
			continue
		}
		if q-3 < qs[0] || !usable(q-1) || !usable(q-2) || !usable(q-3) {
			continue
		}
		var num, den, minDen int64
		var noise disclosure.RateNoise
		for w := q - 3; w <= q; w++ {
			x := byQ[w]
			num, den, minDen = num+x.Num, den+x.Den, max(minDen, x.MinRateDenominator)
			if x.noiseKnown(false) && noise.Num >= 0 {
				noise = noise.Add(x.Noise)
			} else {
				noise = disclosure.RateNoise{Num: -1, Den: -1}
			}
		}
		p := TrendPoint{Epoch: q.String(), From: (q - 3).String(), Rate: ratio(num, den, noise, minDen)}
		if p.Rate.Published {
			p.Numerator, p.Denominator = &num, &den
		}
		out.Points = append(out.Points, p)
	}
	return out, nil
}
