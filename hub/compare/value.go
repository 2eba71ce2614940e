package compare

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/snodo-hub/snodo/hub/disclosure"
)

// z95 is the two-sided 95% standard normal quantile (as disclosure uses).
const z95 = 1.959963984540054

// Value is what one territory published for one indicator in one epoch
// (one breakdown cell: the total, or one combination of breakdown values),
// as the region received it in the territory's signed envelope.
//
// Num and Den hold the measures of the indicator's kind: the numerator and
// denominator of a ratio; the count of a count (Den unused); the sum and
// its denominator of a sum. A bin of a binned indicator is compared as a
// ratio of the bin over the sum of the m bins, whose noise, with cell
// variance v, is Num v, Den m·v, Cov v.
type Value struct {
	Territory string `json:"territory"`
	// Epoch is "YYYY" or "YYYY-QN" (disclosure.ParseEpoch).
	Epoch string `json:"epoch"`
	// Suppressed says the territory published the cell as suppressed; Num
	// and Den are then meaningless.
	Suppressed bool  `json:"suppressed"`
	Num        int64 `json:"num"`
	Den        int64 `json:"den"`
	// Noise is the variance of the noise on Num and Den and their
	// covariance (disclosure.Variance of the release's σ², or b²/12 for
	// rounding to base b); for a count only Noise.Num is read. A negative
	// variance means the noise is not known (a value the region itself
	// summed), and no interval, hence no rate, can be given.
	Noise disclosure.RateNoise `json:"noise"`
	// DisplayBelow and MinRateDenominator are the territory's disclosure
	// settings for the release: counts under DisplayBelow are shown as
	// "<DisplayBelow", rates need a denominator of at least
	// MinRateDenominator.
	DisplayBelow       int64 `json:"display_below"`
	MinRateDenominator int64 `json:"min_rate_denominator"`
}

// noiseKnown says whether the variances of the value's noise are known.
func (v Value) noiseKnown(count bool) bool {
	if count {
		return v.Noise.Num >= 0
	}
	return v.Noise.Num >= 0 && v.Noise.Den >= 0
}

// Reason says, as a code the dashboard translates, why a value or a rate
// is not shown, or why a territory does not contribute.
type Reason string

// The reasons. They are codes rather than sentences so that results hold
// no free text and the Italian and English views word them each their way.
const (
	// ReasonMissing: the territory sent nothing for the cell and epoch.
	ReasonMissing Reason = "missing"
	// ReasonSuppressed: the territory published the cell as suppressed.
	ReasonSuppressed Reason = "suppressed"
	// ReasonBelowDisplay: a count under the territory's display_below,
	// shown as "<10"; a per-capita rate of it would give it away.
	ReasonBelowDisplay Reason = "below_display_threshold"
	// ReasonDenominatorBelowMinimum: the rate's denominator is under the
	// territory's min_rate_denominator.
	ReasonDenominatorBelowMinimum Reason = "denominator_below_minimum"
	// ReasonNoiseUnknown: the noise of a value is not known, so no
	// interval, and therefore no rate, can be given.
	ReasonNoiseUnknown Reason = "noise_unknown"
	// ReasonInvalidNoise: the noise given is impossible (a covariance
	// larger than the variances allow).
	ReasonInvalidNoise Reason = "invalid_noise"
	// ReasonNoContributor: no member could contribute to a group value.
	ReasonNoContributor Reason = "no_contributor"
	// ReasonNoForeignResidents: the territories file gives no foreign
	// residents, so there is no rate per 1,000 of them.
	ReasonNoForeignResidents Reason = "no_foreign_residents"
	// ReasonNoPopulation: the territory's population is not known (a
	// territory hub whose snodo.yaml does not give it), so there is no
	// rate per 1,000 residents.
	ReasonNoPopulation Reason = "no_population"
	// ReasonNoPathways: a cost was published over no pathway.
	ReasonNoPathways Reason = "no_pathways"
)

// Estimate is a rate with its 95% interval. What the rate is (a
// proportion in [0, 1], or a count per 1,000 residents) and what the
// interval covers are said where it is computed. When Published is false,
// Value, Low and High are 0 and Reason says why.
type Estimate struct {
	Published bool    `json:"published"`
	Value     float64 `json:"value"`
	Low       float64 `json:"low"`
	High      float64 `json:"high"`
	// Clipped says the noisy numerator was outside [0, denominator] (or a
	// noisy count below 0), so Value was clipped to the nearest bound.
	Clipped bool   `json:"clipped,omitempty"`
	Reason  Reason `json:"reason,omitempty"`
}

// withheld is an unpublished estimate.
func withheld(r Reason) Estimate { return Estimate{Reason: r} }

// Coverage says how many territories a result stands on, as the region's
// aggregates do (PRIVACY.md: "27 of 30"). Contributing + Suppressed +
// Missing + Withheld = Enrolled: every enrolled territory is counted once,
// and nothing is imputed for the ones that do not contribute.
type Coverage struct {
	Contributing int `json:"contributing"`
	Enrolled     int `json:"enrolled"`
	Suppressed   int `json:"suppressed"`
	Missing      int `json:"missing"`
	// Withheld published a value that cannot be used here: a count under
	// display_below, a denominator under the minimum, unknown noise.
	Withheld int `json:"withheld"`
	// Territories are the contributing territories' codes, sorted.
	Territories []string `json:"territories"`
	// Text is Contributing of Enrolled as people read it: "27 of 30".
	Text string `json:"text"`
}

// CoverageOf counts the outcome of each enrolled territory: "" for a
// contributor, else the reason it does not contribute.
func CoverageOf(outcome map[string]Reason) Coverage {
	c := Coverage{Enrolled: len(outcome), Territories: []string{}}
	for code, r := range outcome {
		switch r {
		case "":
			c.Contributing++
			c.Territories = append(c.Territories, code)
		case ReasonSuppressed:
			c.Suppressed++
		case ReasonMissing:
			c.Missing++
		default:
			c.Withheld++
		}
	}
	sort.Strings(c.Territories)
	c.Text = fmt.Sprintf("%d of %d", c.Contributing, c.Enrolled)
	return c
}

// displayCount is a count as views show it: "<10" (the territory's
// display_below) when suppressed or under it, else the number. A
// suppressed cell of a territory with no display_below shows as
// "suppressed": there is no threshold to quote.
func displayCount(v Value) string {
	switch {
	case v.Suppressed && v.DisplayBelow <= 0:
		return string(ReasonSuppressed)
	case v.Suppressed || v.Num < v.DisplayBelow:
		return "<" + strconv.FormatInt(v.DisplayBelow, 10)
	}
	return strconv.FormatInt(v.Num, 10)
}

// ratio is the rate num/den of published values with its 95% interval, by
// disclosure.Rate: the interval covers the binomial sampling of the
// numerator among the denominator's households and the noise on both
// counts. minDen is the strictest minimum denominator that applies.
func ratio(num, den int64, noise disclosure.RateNoise, minDen int64) Estimate {
	if noise.Num < 0 || noise.Den < 0 {
		return withheld(ReasonNoiseUnknown)
	}
	r := disclosure.Rate(num, den, noise, minDen)
	if !r.Published {
		if den < max(minDen, 1) {
			return withheld(ReasonDenominatorBelowMinimum)
		}
		return withheld(ReasonInvalidNoise)
	}
	return Estimate{Published: true, Value: r.Rate, Low: r.Low, High: r.High, Clipped: r.Clipped}
}

// countInterval is the 95% interval of the expected count λ behind a noisy
// published count y whose noise has variance v: the true count is taken
// as Poisson(λ) and the noise added to it, so y − λ has variance λ + v.
// Like disclosure.Rate it inverts the score test rather than using
// y ± z·√(y + v), evaluating the variance at the λ tested:
//
//	(y − λ)² ≤ z²·(λ + v)  ⇔  λ ∈ y + z²/2 ± z·√(y + z²/4 + v),
//
// which with v = 0 is the Poisson score interval and does not collapse to
// a point for small counts as the Wald one does. Bounds are clipped at 0;
// when no λ ≥ 0 satisfies it (a count far below 0), the interval shrinks
// to the clipped count 0.
func countInterval(y, v float64) (point, lo, hi float64, clipped bool) {
	point = max(y, 0)
	clipped = y < 0
	z2 := z95 * z95
	disc := y + z2/4 + v
	if disc < 0 {
		return point, point, point, clipped
	}
	half := z95 * math.Sqrt(disc)
	lo, hi = max(y+z2/2-half, 0), max(y+z2/2+half, 0)
	return point, min(lo, point), max(hi, point), clipped
}

// index maps each territory's value by code, refusing values of unknown
// territories, two values for one territory, and values of different
// epochs: each is a wiring mistake that would otherwise produce a wrong
// comparison without a word.
func index(ts []Territory, values []Value) (map[string]Value, error) {
	known := make(map[string]bool, len(ts))
	for _, t := range ts {
		known[t.Code] = true
	}
	out := make(map[string]Value, len(values))
	for i, v := range values {
		if !known[v.Territory] {
			return nil, fmt.Errorf("value %d: territory %q is not in the territories file", i, v.Territory)
		}
		if _, dup := out[v.Territory]; dup {
			return nil, fmt.Errorf("value %d: a second value for territory %q", i, v.Territory)
		}
		if i > 0 && v.Epoch != values[0].Epoch {
			return nil, fmt.Errorf("value %d: epoch %q mixed with %q: compare one epoch at a time", i, v.Epoch, values[0].Epoch)
		}
		out[v.Territory] = v
	}
	return out, nil
}

// epochOf is the epoch of a set of values already checked by index.
func epochOf(values []Value) string {
	if len(values) == 0 {
		return ""
	}
	return values[0].Epoch
}
