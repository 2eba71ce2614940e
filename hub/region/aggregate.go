package region

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
)

// Coverage says how many enrolled territories an aggregate stands on
// (PRIVACY.md): "27 of 30" is Contributing of Enrolled. Suppressed
// territories published the cell as suppressed; Missing ones sent nothing
// for the epoch or not this cell. Nothing is imputed for either.
type Coverage struct {
	Contributing int      `json:"contributing"`
	Enrolled     int      `json:"enrolled"`
	Suppressed   int      `json:"suppressed"`
	Missing      int      `json:"missing"`
	Territories  []string `json:"territories"` // the contributing ones
}

// String is "27 of 30 territories".
func (c Coverage) String() string {
	return fmt.Sprintf("%d of %d territories", c.Contributing, c.Enrolled)
}

// Sum is the sum of one measure of an indicator version across the
// territories that published it.
type Sum struct {
	IndicatorVersion string   `json:"indicator_version"`
	Measure          string   `json:"measure"`
	Value            int64    `json:"value"`
	Coverage         Coverage `json:"coverage"`
	// CoverageText is Coverage as people read it: "27 of 30 territories".
	CoverageText string `json:"coverage_text"`
	// Display is the value as views show it: "<10" under the strictest
	// display_below of the contributors (PRIVACY.md), else the value.
	Display string `json:"display"`
}

// RateResult is the rate numerator/denominator of a ratio indicator over
// the territories that published both, with its 95% interval combining
// the territories' noise and sampling error (disclosure.Rate).
type RateResult struct {
	IndicatorVersion string  `json:"indicator_version"`
	Numerator        int64   `json:"numerator"`
	Denominator      int64   `json:"denominator"`
	Published        bool    `json:"published"`
	Rate             float64 `json:"rate"`
	Low              float64 `json:"low"`
	High             float64 `json:"high"`
	Clipped          bool    `json:"clipped,omitempty"`
	// Reason says why no rate is shown, or why it was clipped.
	Reason       string   `json:"reason,omitempty"`
	Coverage     Coverage `json:"coverage"`
	CoverageText string   `json:"coverage_text"`
}

// AggregateResult is the sums of one cell (indicator, breakdown) in an
// epoch, one per indicator version and measure.
type AggregateResult struct {
	Indicator string            `json:"indicator"`
	Epoch     string            `json:"epoch"`
	Breakdown map[string]string `json:"breakdown"`
	Sums      []Sum             `json:"sums"`
	Rates     []RateResult      `json:"rates"` // ratio indicators: one per version
}

// enrolled returns the enrolled territories' codes.
func enrolled(ctx context.Context, st *store.Store) ([]string, error) {
	ts, err := st.RegionTerritories(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Code
	}
	return out, nil
}

// Aggregate sums the published values of the cell (indicator, breakdown;
// an empty breakdown is the total) across the latest envelope of the epoch
// of every territory, excluding suppressed cells, and says the coverage of
// each sum. Values are the territories' published (noisy or rounded)
// values; their sum is as private as they are.
func Aggregate(ctx context.Context, st *store.Store, indicator, epoch string, breakdown map[string]string) (*AggregateResult, error) {
	b, err := canonicalBreakdown(breakdown)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s in %s: %w", indicator, epoch, err)
	}
	terr, err := enrolled(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s in %s: %w", indicator, epoch, err)
	}
	cells, err := st.RegionCells(ctx, epoch, indicator)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	if breakdown == nil {
		breakdown = map[string]string{}
	}
	noise, err := territoryNoise(ctx, st, epoch)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s in %s: %w", indicator, epoch, err)
	}
	res := &AggregateResult{Indicator: indicator, Epoch: epoch, Breakdown: breakdown, Sums: []Sum{}, Rates: []RateResult{}}
	type key struct{ version, measure string }
	sums := map[key]*Sum{}
	displayBelow := map[key]int64{}
	// For the rates, which need both measures of the same territories.
	parts := map[rateKey]*ratePart{}
	for _, c := range cells {
		if c.Breakdown != b {
			continue
		}
		k := key{c.IndicatorVersion, c.Measure}
		s := sums[k]
		if s == nil {
			s = &Sum{IndicatorVersion: c.IndicatorVersion, Measure: c.Measure, Coverage: Coverage{Enrolled: len(terr), Territories: []string{}}}
			sums[k] = s
		}
		if c.Suppressed {
			s.Coverage.Suppressed++
			continue
		}
		s.Value += c.Value
		s.Coverage.Contributing++
		s.Coverage.Territories = append(s.Coverage.Territories, c.Territory)
		displayBelow[k] = max(displayBelow[k], noise[c.Territory].displayBelow)
		if c.Measure == "numerator" || c.Measure == "denominator" {
			rk := rateKey{c.IndicatorVersion, c.Territory}
			if parts[rk] == nil {
				parts[rk] = &ratePart{}
			}
			parts[rk].set(c.Measure, c.Value)
		}
	}
	for k, s := range sums {
		s.Coverage.Missing = max(0, s.Coverage.Enrolled-s.Coverage.Contributing-s.Coverage.Suppressed)
		s.CoverageText = s.Coverage.String()
		s.Display = fmt.Sprint(s.Value)
		if s.Coverage.Contributing > 0 && s.Value < displayBelow[k] {
			s.Display = fmt.Sprintf("<%d", displayBelow[k])
		}
		res.Sums = append(res.Sums, *s)
	}
	sort.Slice(res.Sums, func(i, j int) bool {
		if res.Sums[i].IndicatorVersion != res.Sums[j].IndicatorVersion {
			return res.Sums[i].IndicatorVersion < res.Sums[j].IndicatorVersion
		}
		return res.Sums[i].Measure < res.Sums[j].Measure
	})
	for k := range sums {
		if k.measure == "denominator" {
			rr, err := rateOf(k.version, b == "{}", parts, noise, len(terr))
			if err != nil {
				return nil, fmt.Errorf("aggregate %s in %s: %w", indicator, epoch, err)
			}
			res.Rates = append(res.Rates, rr)
		}
	}
	sort.Slice(res.Rates, func(i, j int) bool { return res.Rates[i].IndicatorVersion < res.Rates[j].IndicatorVersion })
	return res, nil
}

// noiseOf is what the region knows of a territory's noise in an epoch.
type noiseOf struct {
	envelopeNoise
	minRateDen   int64
	displayBelow int64
}

// territoryNoise reads the noise of each territory's latest envelope of
// the epoch.
func territoryNoise(ctx context.Context, st *store.Store, epoch string) (map[string]noiseOf, error) {
	envs, err := st.RegionLatestEnvelopes(ctx, epoch)
	if err != nil {
		return nil, err
	}
	out := make(map[string]noiseOf, len(envs))
	for _, e := range envs {
		en, err := noiseOfEnvelope(e)
		if err != nil {
			return nil, err
		}
		out[e.Territory] = noiseOf{envelopeNoise: en, minRateDen: int64(e.MinRateDenominator), displayBelow: int64(e.DisplayBelow)}
	}
	return out, nil
}

// rateKey names one territory's cells of an indicator version.
type rateKey struct{ version, territory string }

// ratePart is a territory's published numerator and denominator.
type ratePart struct {
	num, den       int64
	hasNum, hasDen bool
}

func (p *ratePart) set(measure string, v int64) {
	if measure == "numerator" {
		p.num, p.hasNum = v, true
	} else {
		p.den, p.hasDen = v, true
	}
}

// rateOf sums numerator and denominator over the territories that
// published both, and estimates the rate with the sum of their noise
// (variances and covariances) and the strictest minimum denominator
// among them. total says the cells are totals, not a breakdown.
func rateOf(version string, total bool, parts map[rateKey]*ratePart, noise map[string]noiseOf, enrolled int) (RateResult, error) {
	r := RateResult{IndicatorVersion: version, Coverage: Coverage{Enrolled: enrolled, Territories: []string{}}}
	var rn disclosure.RateNoise
	var minDen int64
	known := true
	var codes []string
	for k, p := range parts {
		if k.version == version && p.hasNum && p.hasDen {
			codes = append(codes, k.territory)
		}
	}
	sort.Strings(codes)
	for _, code := range codes {
		p := parts[rateKey{version, code}]
		r.Numerator += p.num
		r.Denominator += p.den
		r.Coverage.Contributing++
		r.Coverage.Territories = append(r.Coverage.Territories, code)
		n := noise[code]
		tn, ok, err := n.rateNoise(total)
		if err != nil {
			return r, err
		}
		known = known && ok
		rn = rn.Add(tn)
		minDen = max(minDen, n.minRateDen)
	}
	r.Coverage.Missing = max(0, enrolled-r.Coverage.Contributing)
	r.CoverageText = r.Coverage.String()
	switch {
	case r.Coverage.Contributing == 0:
		r.Reason = "no territory published both the numerator and the denominator"
		return r, nil
	case !known:
		r.Reason = "the noise of a contributor is not known here (a region's sums): no interval"
		return r, nil
	}
	est := disclosure.Rate(r.Numerator, r.Denominator, rn, minDen)
	r.Published, r.Rate, r.Low, r.High, r.Clipped, r.Reason = est.Published, est.Rate, est.Low, est.High, est.Clipped, est.Reason
	return r, nil
}

// TerritoryCoverage is what one enrolled territory sent for an indicator
// in an epoch.
type TerritoryCoverage struct {
	Territory  string     `json:"territory"`
	Reported   bool       `json:"reported"` // an envelope of the epoch was received
	Revision   *int       `json:"revision,omitempty"`
	ReceivedAt *time.Time `json:"received_at,omitempty"`
	Published  int        `json:"published"`  // cells of the indicator with a value
	Suppressed int        `json:"suppressed"` // cells of the indicator suppressed
}

// CoverageReport is the coverage of an indicator in an epoch, territory by
// territory.
type CoverageReport struct {
	Indicator   string              `json:"indicator"`
	Epoch       string              `json:"epoch"`
	Enrolled    int                 `json:"enrolled"`
	Reported    int                 `json:"reported"`    // territories that sent the epoch
	WithValues  int                 `json:"with_values"` // territories with at least one published cell of the indicator
	Text        string              `json:"text"`        // "2 of 3 territories"
	Territories []TerritoryCoverage `json:"territories"`
}

// CoverageOf reports which enrolled territories sent the epoch and what
// they published of the indicator.
func CoverageOf(ctx context.Context, st *store.Store, indicator, epoch string) (*CoverageReport, error) {
	terr, err := enrolled(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("coverage of %s in %s: %w", indicator, epoch, err)
	}
	envs, err := st.RegionLatestEnvelopes(ctx, epoch)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	cells, err := st.RegionCells(ctx, epoch, indicator)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	rep := &CoverageReport{Indicator: indicator, Epoch: epoch, Enrolled: len(terr), Territories: make([]TerritoryCoverage, 0, len(terr))}
	byCode := map[string]*TerritoryCoverage{}
	for _, code := range terr {
		rep.Territories = append(rep.Territories, TerritoryCoverage{Territory: code})
	}
	for i := range rep.Territories {
		byCode[rep.Territories[i].Territory] = &rep.Territories[i]
	}
	for _, e := range envs {
		tc := byCode[e.Territory]
		if tc == nil {
			continue
		}
		rev, at := e.Revision, e.ReceivedAt
		tc.Reported, tc.Revision, tc.ReceivedAt = true, &rev, &at
		rep.Reported++
	}
	for _, c := range cells {
		tc := byCode[c.Territory]
		if tc == nil {
			continue
		}
		if c.Suppressed {
			tc.Suppressed++
		} else {
			tc.Published++
		}
	}
	for _, tc := range rep.Territories {
		if tc.Published > 0 {
			rep.WithValues++
		}
	}
	rep.Text = fmt.Sprintf("%d of %d territories", rep.WithValues, rep.Enrolled)
	return rep, nil
}
