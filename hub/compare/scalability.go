package compare

import (
	"fmt"
	"math"
)

// The quantities on the x axis of a scalability view.
const (
	// AxisCaseload: households with an active pathway (a count).
	AxisCaseload = "caseload"
	// AxisCostPerPathway: spend per household with a costed pathway, in
	// euros.
	AxisCostPerPathway = "cost_per_pathway_eur"
)

// ScalabilityPoint is one territory in a scalability view: its outcome
// rate (Y, a proportion) against the scale or cost of its model (X).
type ScalabilityPoint struct {
	Territory string   `json:"territory"`
	X         Estimate `json:"x"`
	Y         Estimate `json:"y"`
}

// Omission is a territory left out of a view, with the reason for each
// axis it lacks (an empty reason: that axis was available).
type Omission struct {
	Territory string `json:"territory"`
	X         Reason `json:"x,omitempty"`
	Y         Reason `json:"y,omitempty"`
}

// ScalabilityView is the data of a scatter plot answering "which models
// scale": each territory's outcome rate against its caseload or its cost
// per pathway, in one epoch. Data only: drawing is the dashboard's.
type ScalabilityView struct {
	Epoch    string             `json:"epoch"`
	X        string             `json:"x"` // AxisCaseload or AxisCostPerPathway
	Points   []ScalabilityPoint `json:"points"`
	Omitted  []Omission         `json:"omitted"`
	Coverage Coverage           `json:"coverage"`
}

// OutcomeByCaseload pairs each territory's outcome rate (values of a ratio
// indicator) with its caseload (values of the caseload count indicator)
// of the same epoch. X is the published caseload with the interval of
// [PerCapita] before division: Poisson variation and noise. A caseload
// that is suppressed or under display_below is not plotted: its position
// on the axis would show it.
func OutcomeByCaseload(ts []Territory, outcome, caseload []Value) (*ScalabilityView, error) {
	return scalability(ts, outcome, caseload, AxisCaseload, func(v Value) Estimate {
		if v.Num < v.DisplayBelow {
			return withheld(ReasonBelowDisplay)
		}
		if !v.noiseKnown(true) {
			return withheld(ReasonNoiseUnknown)
		}
		point, lo, hi, clipped := countInterval(float64(v.Num), v.Noise.Num)
		return Estimate{Published: true, Value: point, Low: lo, High: hi, Clipped: clipped}
	})
}

// OutcomeByCost pairs each territory's outcome rate with its cost per
// pathway: the cost-per-pathway indicator's published sum (euro cents)
// over its denominator (households with a costed active pathway), in
// euros. Cost is an annual indicator, so the outcome must be annual too.
// A territory whose sum or denominator was withheld (suppressed, or not
// reported: many connectors report no amounts) is listed in Omitted with
// the reason, never given a point.
//
// The interval of X covers the noise on the sum and the denominator only
// (delta method: Var ≈ (v_S − 2r·c + r²·v_D)/D² at r = S/D): the spread of
// spend among households is not published, so the sampling error of an
// average cost cannot be given. The denominator must reach the
// territory's min_rate_denominator, as for any rate.
func OutcomeByCost(ts []Territory, outcome, cost []Value) (*ScalabilityView, error) {
	return scalability(ts, outcome, cost, AxisCostPerPathway, func(v Value) Estimate {
		if v.Den <= 0 {
			return withheld(ReasonNoPathways)
		}
		if v.Den < max(v.MinRateDenominator, 1) {
			return withheld(ReasonDenominatorBelowMinimum)
		}
		if !v.noiseKnown(false) {
			return withheld(ReasonNoiseUnknown)
		}
		d := float64(v.Den)
		r := float64(v.Num) / d
		point := max(r, 0)
		variance := max(v.Noise.Num-2*r*v.Noise.Cov+r*r*v.Noise.Den, 0) / (d * d)
		half := z95 * math.Sqrt(variance)
		return Estimate{Published: true, Value: point / 100, Low: max(r-half, 0) / 100, High: max(r+half, point) / 100, Clipped: r < 0}
	})
}

// scalability builds a view from the outcome values and the x values,
// with x computing a published value's X (suppression and absence are
// handled here).
func scalability(ts []Territory, outcome, xs []Value, axis string, x func(Value) Estimate) (*ScalabilityView, error) {
	ys, err := index(ts, outcome)
	if err != nil {
		return nil, fmt.Errorf("outcome: %w", err)
	}
	xv, err := index(ts, xs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", axis, err)
	}
	epoch := epochOf(outcome)
	if len(outcome) > 0 && len(xs) > 0 && xs[0].Epoch != epoch {
		return nil, fmt.Errorf("%s of epoch %q against an outcome of epoch %q: pair values of one epoch", axis, xs[0].Epoch, epoch)
	}
	if epoch == "" {
		epoch = epochOf(xs)
	}
	view := &ScalabilityView{Epoch: epoch, X: axis, Points: []ScalabilityPoint{}, Omitted: []Omission{}}
	outcomes := make(map[string]Reason, len(ts))
	for _, t := range ts {
		var p ScalabilityPoint
		p.Territory = t.Code
		if v, ok := xv[t.Code]; !ok {
			p.X = withheld(ReasonMissing)
		} else if v.Suppressed {
			p.X = withheld(ReasonSuppressed)
		} else {
			p.X = x(v)
		}
		if v, ok := ys[t.Code]; !ok {
			p.Y = withheld(ReasonMissing)
		} else if v.Suppressed {
			p.Y = withheld(ReasonSuppressed)
		} else {
			p.Y = ratio(v.Num, v.Den, v.Noise, v.MinRateDenominator)
		}
		if p.X.Published && p.Y.Published {
			view.Points = append(view.Points, p)
			outcomes[t.Code] = ""
			continue
		}
		view.Omitted = append(view.Omitted, Omission{Territory: t.Code, X: p.X.Reason, Y: p.Y.Reason})
		// The coverage counts a territory by the first axis it lacks.
		outcomes[t.Code] = p.X.Reason
		if outcomes[t.Code] == "" {
			outcomes[t.Code] = p.Y.Reason
		}
	}
	view.Coverage = CoverageOf(outcomes)
	return view, nil
}
