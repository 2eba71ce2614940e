package region

import (
	"context"
	"fmt"
	"sort"
	"time"

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
}

// AggregateResult is the sums of one cell (indicator, breakdown) in an
// epoch, one per indicator version and measure.
type AggregateResult struct {
	Indicator string            `json:"indicator"`
	Epoch     string            `json:"epoch"`
	Breakdown map[string]string `json:"breakdown"`
	Sums      []Sum             `json:"sums"`
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
	res := &AggregateResult{Indicator: indicator, Epoch: epoch, Breakdown: breakdown, Sums: []Sum{}}
	type key struct{ version, measure string }
	sums := map[key]*Sum{}
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
	}
	for _, s := range sums {
		s.Coverage.Missing = max(0, s.Coverage.Enrolled-s.Coverage.Contributing-s.Coverage.Suppressed)
		s.CoverageText = s.Coverage.String()
		res.Sums = append(res.Sums, *s)
	}
	sort.Slice(res.Sums, func(i, j int) bool {
		if res.Sums[i].IndicatorVersion != res.Sums[j].IndicatorVersion {
			return res.Sums[i].IndicatorVersion < res.Sums[j].IndicatorVersion
		}
		return res.Sums[i].Measure < res.Sums[j].Measure
	})
	return res, nil
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
