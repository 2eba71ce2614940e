package region

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// The comparison API (issue 7): GET /api/v1/compare/{meta, indicator,
// trend, scalability, territory, overview}. The handlers are thin: this
// file adapts what the region store holds (each territory's latest
// envelope of an epoch, its cells and its noise) into compare.Value, and
// hub/compare computes everything shown. Every endpoint also answers
// ?format=csv with its main table.
//
// The territories of the territories file are the enrolled ones for the
// comparisons' coverage: a territory of the file that never enrolled, or
// sent nothing, counts as missing, so "27 of 30" is of the region's
// territories, not of whoever happened to report.

// comparisons is what the handler derives once from the territories file.
type comparisons struct {
	file  *compare.TerritoriesFile
	cat   *schemas.Catalogue
	bench *compare.Benchmarks
	peers []compare.PeerSet
	// peerGroup and group are each territory's peer group and benchmark
	// group, by code.
	peerGroup map[string]compare.Group
	group     map[string]compare.Group
	// all is the whole region as one group, for pooled region values.
	all compare.Group
	// singles are one group per territory: GroupRates' pooled rate of a
	// group of one is the territory's own rate, computed by hub/compare.
	singles []compare.Group
}

func newComparisons(f *compare.TerritoriesFile) (*comparisons, error) {
	cat, err := schemas.Indicators()
	if err != nil {
		return nil, fmt.Errorf("region: comparisons: %w", err)
	}
	ts := f.Territories
	c := &comparisons{file: f, cat: cat, bench: compare.BenchmarkGroups(ts), peers: compare.NearestPeers(ts, compare.PeerCount),
		peerGroup: map[string]compare.Group{}, group: map[string]compare.Group{}, all: compare.Group{ID: "region"}}
	for _, pg := range compare.PeerGroups(c.peers) {
		c.peerGroup[strings.TrimPrefix(pg.ID, "peers:")] = pg
	}
	for _, g := range c.bench.Groups {
		for _, m := range g.Members {
			c.group[m] = g
		}
	}
	for _, t := range ts {
		c.all.Members = append(c.all.Members, t.Code)
		c.singles = append(c.singles, compare.Group{ID: t.Code, Members: []string{t.Code}})
	}
	sort.Strings(c.all.Members)
	return c, nil
}

// ProblemNoTerritories is the problem kind of a comparison asked of a
// region with no territories file.
const ProblemNoTerritories = "no-territories"

// cmp returns the comparisons, or the 404 problem saying how to set them up.
func (h *Handler) cmp() (*comparisons, error) {
	if h.compare == nil {
		return nil, problem(ProblemNoTerritories, "No territories file", http.StatusNotFound,
			"no territories file configured: set territories_file in region.yaml")
	}
	return h.compare, nil
}

// ---- Reading the store ----

// epochCells is what the region holds for one epoch: the cells of each
// territory's latest envelope, by indicator, and each territory's noise.
type epochCells struct {
	epoch string
	cells map[string][]store.RegionCell // by indicator
	noise map[string]noiseOf            // by territory
}

// loadEpoch reads an epoch's cells (of one indicator, or of all with "").
func loadEpoch(ctx context.Context, st *store.Store, epoch, indicator string) (*epochCells, error) {
	cells, err := st.RegionCells(ctx, epoch, indicator)
	if err != nil {
		return nil, err
	}
	noise, err := territoryNoise(ctx, st, epoch)
	if err != nil {
		return nil, fmt.Errorf("noise of %s: %w", epoch, err)
	}
	ec := &epochCells{epoch: epoch, cells: map[string][]store.RegionCell{}, noise: noise}
	for _, c := range cells {
		ec.cells[c.Indicator] = append(ec.cells[c.Indicator], c)
	}
	return ec, nil
}

// epochs lists the epochs the region holds envelopes for: annual epochs
// first, then quarters, each newest first.
func epochs(ctx context.Context, st *store.Store) ([]string, error) {
	all, err := st.RegionEpochs(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range all {
		if _, err := disclosure.ParseEpoch(e); err == nil { // only epochs this API can ask for
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		qi, qj := strings.Contains(out[i], "-Q"), strings.Contains(out[j], "-Q")
		if qi != qj {
			return !qi
		}
		return out[i] > out[j] // "2025-Q4" > "2025-Q3" > "2024-Q4"
	})
	return out, nil
}

// cellsOf is one territory's cells of an indicator (one breakdown cell).
type cellsOf struct {
	value      map[string]int64 // measure → published value
	suppressed map[string]bool  // measure → suppressed
	noise      noiseOf
}

// territoryCells groups the epoch's cells of one indicator version and
// breakdown (canonical JSON, "{}" for the total) by territory.
func (ec *epochCells) territoryCells(ind *schemas.Indicator, breakdown string) map[string]*cellsOf {
	out := map[string]*cellsOf{}
	for _, c := range ec.cells[ind.ID] {
		if c.IndicatorVersion != ind.Version || c.Breakdown != breakdown {
			continue
		}
		tc := out[c.Territory]
		if tc == nil {
			tc = &cellsOf{value: map[string]int64{}, suppressed: map[string]bool{}, noise: ec.noise[c.Territory]}
			out[c.Territory] = tc
		}
		if c.Suppressed {
			tc.suppressed[c.Measure] = true
		} else {
			tc.value[c.Measure] = c.Value
		}
	}
	return out
}

// has says whether the territory sent the measure, published or not.
func (tc *cellsOf) has(m string) bool {
	_, ok := tc.value[m]
	return ok || tc.suppressed[m]
}

func (n noiseOf) value(code, epoch string) compare.Value {
	return compare.Value{Territory: code, Epoch: epoch, DisplayBelow: n.displayBelow, MinRateDenominator: n.minRateDen}
}

// valueSet is the compare.Values of one indicator cell in one epoch, by
// the territories of the file, in file order.
type valueSet struct {
	// rate: a ratio's numerator and denominator, or a sum's sum and
	// denominator.
	rate []compare.Value
	// rateOf indexes rate by territory code.
	rateOf map[string]*compare.Value
	// count: the count-like measure (a ratio's or a sum's denominator, the
	// sum of a binned indicator's bins, a count).
	count []compare.Value
	cells map[string]*cellsOf
}

// valuesOf adapts the territories' cells into compare.Values. A territory
// missing one of the measures is missing altogether; one with any of them
// suppressed is suppressed.
func valuesOf(ts []compare.Territory, ind *schemas.Indicator, ec *epochCells, breakdown string) (*valueSet, error) {
	total := breakdown == "{}"
	cells := ec.territoryCells(ind, breakdown)
	vs := &valueSet{cells: cells}
	for _, t := range ts {
		tc := cells[t.Code]
		if tc == nil {
			continue
		}
		switch ind.Kind {
		case schemas.KindRatio, schemas.KindSum:
			first := "numerator"
			if ind.Kind == schemas.KindSum {
				first = "sum"
			}
			if !tc.has(first) || !tc.has("denominator") {
				continue
			}
			v := tc.noise.value(t.Code, ec.epoch)
			v.Suppressed = tc.suppressed[first] || tc.suppressed["denominator"]
			v.Num, v.Den = tc.value[first], tc.value["denominator"]
			if ind.Kind == schemas.KindRatio {
				rn, ok, err := tc.noise.rateNoise(total)
				if err != nil {
					return nil, err
				}
				if !ok {
					rn = disclosure.RateNoise{Num: -1, Den: -1}
				}
				v.Noise = rn
			} else {
				// A sum's sum and denominator are two cells noised
				// independently.
				sv, err := tc.noise.cellVariance(total)
				if err != nil {
					return nil, err
				}
				v.Noise = disclosure.RateNoise{Num: sv, Den: sv}
			}
			vs.rate = append(vs.rate, v)
			c := tc.noise.value(t.Code, ec.epoch)
			c.Suppressed, c.Num, c.Noise.Num = tc.suppressed["denominator"], v.Den, v.Noise.Den
			vs.count = append(vs.count, c)
		case schemas.KindBinned, schemas.KindCount:
			ms := ind.Measures()
			c := tc.noise.value(t.Code, ec.epoch)
			for _, m := range ms {
				if !tc.has(m) {
					c.Suppressed = true // a bin not sent: the sum is not known
				}
				c.Suppressed = c.Suppressed || tc.suppressed[m]
				c.Num += tc.value[m]
			}
			v, err := tc.noise.cellVariance(total)
			if err != nil {
				return nil, err
			}
			if v >= 0 {
				v *= float64(len(ms)) // bins are noised independently
			}
			c.Noise.Num = v
			vs.count = append(vs.count, c)
		}
	}
	// Indexed once the slice no longer grows, so the pointers stay valid.
	vs.rateOf = make(map[string]*compare.Value, len(vs.rate))
	for k := range vs.rate {
		vs.rateOf[vs.rate[k].Territory] = &vs.rate[k]
	}
	return vs, nil
}

// ownRates is each territory's own rate, by code: the pooled rate of a
// group of one, so that hub/compare computes it as every other rate.
func (c *comparisons) ownRates(values []compare.Value) (map[string]compare.Estimate, error) {
	byCode := map[string]compare.Value{}
	for _, v := range values {
		byCode[v.Territory] = v
	}
	grs, err := compare.GroupRates(c.file.Territories, c.singles, values)
	if err != nil {
		return nil, err
	}
	out := map[string]compare.Estimate{}
	for i, t := range c.file.Territories {
		v, ok := byCode[t.Code]
		switch {
		case !ok:
			out[t.Code] = compare.Estimate{Reason: compare.ReasonMissing}
		case v.Suppressed:
			out[t.Code] = compare.Estimate{Reason: compare.ReasonSuppressed}
		case v.Noise.Num < 0 || v.Noise.Den < 0:
			out[t.Code] = compare.Estimate{Reason: compare.ReasonNoiseUnknown}
		default:
			out[t.Code] = grs[i].Pooled
		}
	}
	return out, nil
}

// ---- Parameters ----

// compareRequest is the start of every comparison endpoint: the
// comparisons (404 without a territories file) and whether CSV is asked.
func (h *Handler) compareRequest(r *http.Request) (*comparisons, bool, error) {
	c, err := h.cmp()
	if err != nil {
		return nil, false, err
	}
	asCSV, err := wantCSV(r)
	return c, asCSV, err
}

// wantCSV reads ?format=: json (the default) or csv.
func wantCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return false, nil
	case "csv":
		return true, nil
	}
	return false, badParam("format", `give format=json or format=csv`)
}

// indicatorParam reads ?indicator= as a catalogue indicator.
func (c *comparisons) indicatorParam(r *http.Request) (*schemas.Indicator, error) {
	id := r.URL.Query().Get("indicator")
	ind, ok := c.cat.Indicator(id)
	if !ok {
		return nil, badParam("indicator", fmt.Sprintf("no indicator %q in the catalogue: see /api/v1/compare/meta", id))
	}
	return ind, nil
}

// epochParam reads ?epoch= and, when ind is not nil, checks that the
// indicator is published for epochs of its kind.
func epochParam(r *http.Request, ind *schemas.Indicator) (string, disclosure.Epoch, error) {
	s := r.URL.Query().Get("epoch")
	e, err := disclosure.ParseEpoch(s)
	if err != nil {
		return "", e, badParam("epoch", `give an epoch: "2025" or "2025-Q2"`)
	}
	if ind != nil && !ind.HasPeriodKind(periodKind(e)) {
		return "", e, badParam("epoch", fmt.Sprintf("%s is published for %s periods only", ind.ID, strings.Join(ind.PeriodKinds, ", ")))
	}
	return s, e, nil
}

func periodKind(e disclosure.Epoch) string {
	if e.Quarter == 0 {
		return schemas.PeriodYear
	}
	return schemas.PeriodQuarter
}

// territoryParam reads ?territory= as a territory of the file.
func (c *comparisons) territoryParam(r *http.Request, required bool) (*compare.Territory, error) {
	code := r.URL.Query().Get("territory")
	if code == "" && !required {
		return nil, nil
	}
	for i := range c.file.Territories {
		if c.file.Territories[i].Code == code {
			return &c.file.Territories[i], nil
		}
	}
	return nil, badParam("territory", fmt.Sprintf("no territory %q in the territories file", code))
}

// breakdownParam reads ?breakdown=dim:value, checked against the
// indicator's breakdowns, as canonical JSON.
func (c *comparisons) breakdownParam(r *http.Request, ind *schemas.Indicator) (map[string]string, string, error) {
	b, err := ParseBreakdown(r.URL.Query()["breakdown"])
	if err != nil {
		return nil, "", badParam("breakdown", err.Error())
	}
	for dim, val := range b {
		if !slices.Contains(ind.Breakdowns, dim) {
			return nil, "", badParam("breakdown", fmt.Sprintf("%s has no breakdown %q: it has %s", ind.ID, dim, strings.Join(ind.Breakdowns, ", ")))
		}
		if bd, ok := c.cat.Breakdown(dim); ok && !slices.Contains(bd.Values, val) {
			return nil, "", badParam("breakdown", fmt.Sprintf("%q is not a value of %s: give one of %s", val, dim, strings.Join(bd.Values, ", ")))
		}
	}
	canon, err := canonicalBreakdown(b)
	if err != nil {
		return nil, "", badParam("breakdown", err.Error())
	}
	return b, canon, nil
}

// ---- meta ----

// CompareMeta is GET /api/v1/compare/meta: what the dashboard needs to
// draw its menus, legends and attribution.
type CompareMeta struct {
	// Scope is ScopeRegion, or ScopeTerritory for a territory hub's view of
	// its own releases (one territory: no groups, peers or scatter).
	Scope        string           `json:"scope"`
	Region       compare.Region   `json:"region"`
	Epochs       []string         `json:"epochs"`
	LatestAnnual string           `json:"latest_annual"`
	Indicators   []MetaIndicator  `json:"indicators"`
	Territories  []MetaTerritory  `json:"territories"`
	Groups       []MetaGroup      `json:"groups"`
	Sources      []compare.Source `json:"sources"`
}

// MetaIndicator is a catalogue indicator as the dashboard lists it.
type MetaIndicator struct {
	ID          string          `json:"id"`
	Version     string          `json:"version"`
	Kind        string          `json:"kind"`
	Title       schemas.Text    `json:"title"`
	Description schemas.Text    `json:"description"`
	Measures    []string        `json:"measures"`
	Breakdowns  []MetaBreakdown `json:"breakdowns"`
	PeriodKinds []string        `json:"period_kinds"`
}

// MetaBreakdown is a breakdown an indicator may be split by.
type MetaBreakdown struct {
	ID     string       `json:"id"`
	Title  schemas.Text `json:"title"`
	Values []string     `json:"values"`
}

// MetaTerritory is a territory of the file with its group and peers.
type MetaTerritory struct {
	Code             string   `json:"code"`
	Name             string   `json:"name"`
	Population       int64    `json:"population"`
	ForeignResidents int64    `json:"foreign_residents"`
	ForeignShare     float64  `json:"foreign_share"`
	Group            string   `json:"group"`
	Peers            []string `json:"peers"`
	// Enrolled says the territory has enrolled a key with the region.
	Enrolled  bool   `json:"enrolled"`
	LastEpoch string `json:"last_epoch"`
}

// MetaGroup is a benchmark group with a title in both languages.
type MetaGroup struct {
	ID      string       `json:"id"`
	Band    string       `json:"band"`
	Tercile int          `json:"tercile"`
	Members []string     `json:"members"`
	Title   schemas.Text `json:"title"`
}

var (
	bandTitles = map[string]schemas.Text{
		"lt-100k":   {IT: "< 100.000 ab.", EN: "< 100,000 residents"},
		"100k-250k": {IT: "100.000–250.000 ab.", EN: "100,000–250,000 residents"},
		"250k-500k": {IT: "250.000–500.000 ab.", EN: "250,000–500,000 residents"},
		"ge-500k":   {IT: "≥ 500.000 ab.", EN: "≥ 500,000 residents"},
	}
	tercileTitles = map[int]schemas.Text{
		1: {IT: "stranieri terzile basso", EN: "bottom foreign-share tercile"},
		2: {IT: "stranieri terzile medio", EN: "middle foreign-share tercile"},
		3: {IT: "stranieri terzile alto", EN: "top foreign-share tercile"},
	}
)

func groupTitle(g compare.Group) schemas.Text {
	b, ok := bandTitles[g.Band]
	if !ok {
		b = schemas.Text{IT: g.Band, EN: g.Band}
	}
	t := tercileTitles[g.Tercile]
	return schemas.Text{IT: b.IT + ", " + t.IT, EN: b.EN + ", " + t.EN}
}

// metaTerritories are the file's territories with their groups and
// peers, and whether they enrolled and what they last sent.
func (c *comparisons) metaTerritories(ctx context.Context, st *store.Store) ([]MetaTerritory, error) {
	enrolledTs, err := st.RegionTerritories(ctx)
	if err != nil {
		return nil, err
	}
	byCode := map[string]store.RegionTerritory{}
	for _, t := range enrolledTs {
		byCode[t.Code] = t
	}
	out := make([]MetaTerritory, 0, len(c.file.Territories))
	for i, t := range c.file.Territories {
		mt := MetaTerritory{Code: t.Code, Name: t.Name, Population: t.Population, ForeignResidents: t.ForeignResidents,
			ForeignShare: t.ForeignShare(), Group: c.bench.GroupOf[t.Code], Peers: []string{}}
		for _, p := range c.peers[i].Peers {
			mt.Peers = append(mt.Peers, p.Territory)
		}
		if et, ok := byCode[t.Code]; ok {
			mt.Enrolled, mt.LastEpoch = true, et.LastEpoch
		}
		out = append(out, mt)
	}
	return out, nil
}

// Meta builds the comparison API's metadata.
func (c *comparisons) Meta(ctx context.Context, st *store.Store) (*CompareMeta, error) {
	eps, err := epochs(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("compare meta: %w", err)
	}
	ts, err := c.metaTerritories(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("compare meta: %w", err)
	}
	m := &CompareMeta{Region: c.file.Region, Epochs: eps, Indicators: []MetaIndicator{}, Territories: ts,
		Groups: []MetaGroup{}, Sources: c.file.Sources}
	if m.Epochs == nil {
		m.Epochs = []string{}
	}
	if m.Sources == nil {
		m.Sources = []compare.Source{}
	}
	for _, e := range eps {
		if !strings.Contains(e, "-Q") {
			m.LatestAnnual = e
			break
		}
	}
	for _, ind := range c.cat.Indicators {
		mi := MetaIndicator{ID: ind.ID, Version: ind.Version, Kind: ind.Kind, Title: ind.Title, Description: ind.Definition,
			Measures: ind.Measures(), Breakdowns: []MetaBreakdown{}, PeriodKinds: ind.PeriodKinds}
		for _, id := range ind.Breakdowns {
			if b, ok := c.cat.Breakdown(id); ok {
				mi.Breakdowns = append(mi.Breakdowns, MetaBreakdown{ID: b.ID, Title: b.Title, Values: b.Values})
			}
		}
		m.Indicators = append(m.Indicators, mi)
	}
	for _, g := range c.bench.Groups {
		m.Groups = append(m.Groups, MetaGroup{ID: g.ID, Band: g.Band, Tercile: g.Tercile, Members: g.Members, Title: groupTitle(g)})
	}
	return m, nil
}

func (h *Handler) compareMeta(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	m, err := c.Meta(r.Context(), h.st)
	if err != nil {
		return err
	}
	m.Scope = h.scope
	if !asCSV {
		return writeJSON(w, http.StatusOK, m)
	}
	rows := [][]string{{"code", "name", "population", "foreign_residents", "foreign_share", "group", "peers", "enrolled", "last_epoch"}}
	for _, t := range m.Territories {
		rows = append(rows, []string{t.Code, t.Name, itoa(t.Population), itoa(t.ForeignResidents), ftoa(t.ForeignShare), t.Group,
			strings.Join(t.Peers, " "), strconv.FormatBool(t.Enrolled), t.LastEpoch})
	}
	return writeCSV(w, "territories", rows)
}

// ---- indicator ----

// CompareIndicator is GET /api/v1/compare/indicator: the territories side
// by side for one indicator (one breakdown cell) in one epoch.
type CompareIndicator struct {
	Indicator   string              `json:"indicator"`
	Version     string              `json:"version"`
	Kind        string              `json:"kind"`
	Epoch       string              `json:"epoch"`
	Breakdown   map[string]string   `json:"breakdown"`
	Region      RegionValue         `json:"region"`
	Territories []TerritoryValue    `json:"territories"`
	Groups      []compare.GroupRate `json:"groups"`
	Coverage    compare.Coverage    `json:"coverage"`
}

// RegionValue is the region pooled over its territories: the rate of a
// ratio indicator, the count of the others with its per-capita rates
// (over the residents of the contributing territories).
type RegionValue struct {
	Rate                *compare.Estimate `json:"rate,omitempty"`
	Numerator           *int64            `json:"numerator,omitempty"`
	Denominator         *int64            `json:"denominator,omitempty"`
	Count               *int64            `json:"count,omitempty"`
	Display             string            `json:"display,omitempty"`
	PerResidents        *compare.Estimate `json:"per_1000_residents,omitempty"`
	PerForeignResidents *compare.Estimate `json:"per_1000_foreign_residents,omitempty"`
	Coverage            compare.Coverage  `json:"coverage"`
}

// TerritoryValue is one territory's cell in the side-by-side table.
type TerritoryValue struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Group string `json:"group"`
	// Suppressed says the territory published the cell suppressed (a
	// ratio's numerator or denominator, any bin of a binned indicator).
	Suppressed bool `json:"suppressed"`
	// Display is what a table cell shows: "45 / 120" (a ratio), "120" (a
	// count), "<10" or "suppressed"; "" when the territory sent nothing.
	Display     string `json:"display"`
	Numerator   *int64 `json:"numerator,omitempty"`
	Denominator *int64 `json:"denominator,omitempty"`
	// Rate is the territory's own rate (ratio indicators).
	Rate                *compare.Estimate `json:"rate,omitempty"`
	Count               *int64            `json:"count,omitempty"`
	PerResidents        compare.Estimate  `json:"per_1000_residents"`
	PerForeignResidents compare.Estimate  `json:"per_1000_foreign_residents"`
	Bins                []BinValue        `json:"bins,omitempty"`
}

// BinValue is one bin of a binned indicator.
type BinValue struct {
	ID      string `json:"id"`
	Value   *int64 `json:"value,omitempty"`
	Display string `json:"display"`
}

// shown is a count as a table shows it: "<display_below" under the
// territory's threshold (with no number), else the number.
func shown(v, displayBelow int64) (*int64, string) {
	if v < displayBelow {
		return nil, "<" + itoa(displayBelow)
	}
	return &v, itoa(v)
}

// suppressedDisplay is how a suppressed cell shows: "<10" (the
// territory's display_below), or "suppressed" with no threshold to quote.
func suppressedDisplay(displayBelow int64) string {
	if displayBelow <= 0 {
		return string(compare.ReasonSuppressed)
	}
	return "<" + itoa(displayBelow)
}

// Indicator builds the side-by-side view.
func (c *comparisons) Indicator(ctx context.Context, st *store.Store, ind *schemas.Indicator, epoch string, breakdown map[string]string, canon string) (*CompareIndicator, error) {
	ec, err := loadEpoch(ctx, st, epoch, ind.ID)
	if err != nil {
		return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
	}
	ts := c.file.Territories
	vs, err := valuesOf(ts, ind, ec, canon)
	if err != nil {
		return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
	}
	out := &CompareIndicator{Indicator: ind.ID, Version: ind.Version, Kind: ind.Kind, Epoch: epoch, Breakdown: breakdown,
		Territories: make([]TerritoryValue, 0, len(ts)), Groups: []compare.GroupRate{}}
	if out.Breakdown == nil {
		out.Breakdown = map[string]string{}
	}
	pc, err := compare.PerCapita(ts, vs.count)
	if err != nil {
		return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
	}
	var own map[string]compare.Estimate
	if ind.Kind == schemas.KindRatio {
		if own, err = c.ownRates(vs.rate); err != nil {
			return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
		}
	}
	outcome := map[string]compare.Reason{}
	for i, t := range ts {
		row := pc.Rows[i]
		tv := TerritoryValue{Code: t.Code, Name: t.Name, Group: c.bench.GroupOf[t.Code], Display: row.Display, Count: row.Count,
			PerResidents: row.PerResidents, PerForeignResidents: row.PerForeignResidents}
		tc := vs.cells[t.Code]
		outcome[t.Code] = row.PerResidents.Reason
		switch ind.Kind {
		case schemas.KindRatio, schemas.KindSum:
			v := vs.rateOf[t.Code]
			switch {
			case v == nil:
				tv.Display = ""
			case v.Suppressed:
				tv.Suppressed, tv.Display = true, suppressedDisplay(v.DisplayBelow)
			default:
				var nd, dd string
				tv.Numerator, nd = shown(v.Num, v.DisplayBelow)
				tv.Denominator, dd = shown(v.Den, v.DisplayBelow)
				tv.Display = nd + " / " + dd
			}
			if ind.Kind == schemas.KindRatio {
				e := own[t.Code]
				tv.Rate = &e
				outcome[t.Code] = e.Reason
			}
		case schemas.KindBinned:
			tv.Suppressed = tc != nil && len(tc.suppressed) > 0
			if tc != nil {
				for _, m := range ind.Measures() {
					b := BinValue{ID: m}
					switch {
					case tc.suppressed[m]:
						b.Display = suppressedDisplay(tc.noise.displayBelow)
					case tc.has(m):
						b.Value, b.Display = shown(tc.value[m], tc.noise.displayBelow)
					}
					tv.Bins = append(tv.Bins, b)
				}
			}
		case schemas.KindCount:
			tv.Suppressed = tc != nil && len(tc.suppressed) > 0
		}
		out.Territories = append(out.Territories, tv)
	}
	out.Coverage = compare.CoverageOf(outcome)
	if ind.Kind == schemas.KindRatio {
		grs, err := compare.GroupRates(ts, append([]compare.Group{c.all}, c.bench.Groups...), vs.rate)
		if err != nil {
			return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
		}
		reg := grs[0]
		out.Region = RegionValue{Rate: &reg.Pooled, Coverage: reg.PooledCoverage}
		if reg.Pooled.Published {
			out.Region.Numerator, out.Region.Denominator = &reg.PooledNumerator, &reg.PooledDenominator
		}
		out.Groups = grs[1:]
		return out, nil
	}
	out.Region, err = c.regionCount(vs.count)
	if err != nil {
		return nil, fmt.Errorf("compare %s in %s: %w", ind.ID, epoch, err)
	}
	return out, nil
}

// regionCount sums the territories' published counts (suppressed ones
// left out, nothing imputed) and gives the sum per 1,000 residents of the
// territories it stands on, by compare.PerCapita over the region taken as
// one territory: the summed noise variance, the strictest display_below.
// A count of unknown noise is left out of the sum, which would otherwise
// have no interval.
func (c *comparisons) regionCount(values []compare.Value) (RegionValue, error) {
	byCode := map[string]compare.Value{}
	for _, v := range values {
		byCode[v.Territory] = v
	}
	whole := compare.Territory{Code: "REGION", Name: c.file.Region.Name}
	sum := compare.Value{Territory: whole.Code}
	outcome := map[string]compare.Reason{}
	for _, t := range c.file.Territories {
		v, ok := byCode[t.Code]
		switch {
		case !ok:
			outcome[t.Code] = compare.ReasonMissing
		case v.Suppressed:
			outcome[t.Code] = compare.ReasonSuppressed
		case v.Noise.Num < 0:
			outcome[t.Code] = compare.ReasonNoiseUnknown
		default:
			outcome[t.Code] = ""
			sum.Epoch = v.Epoch
			sum.Num += v.Num
			sum.Noise.Num += v.Noise.Num
			sum.DisplayBelow = max(sum.DisplayBelow, v.DisplayBelow)
			whole.Population += t.Population
			whole.ForeignResidents += t.ForeignResidents
		}
	}
	rv := RegionValue{Coverage: compare.CoverageOf(outcome)}
	if rv.Coverage.Contributing == 0 {
		none := compare.Estimate{Reason: compare.ReasonNoContributor}
		rv.PerResidents, rv.PerForeignResidents = &none, &none
		return rv, nil
	}
	pc, err := compare.PerCapita([]compare.Territory{whole}, []compare.Value{sum})
	if err != nil {
		return rv, err
	}
	row := pc.Rows[0]
	rv.Count, rv.Display, rv.PerResidents, rv.PerForeignResidents = row.Count, row.Display, &row.PerResidents, &row.PerForeignResidents
	return rv, nil
}

func (h *Handler) compareIndicator(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	ind, err := c.indicatorParam(r)
	if err != nil {
		return err
	}
	epoch, _, err := epochParam(r, ind)
	if err != nil {
		return err
	}
	b, canon, err := c.breakdownParam(r, ind)
	if err != nil {
		return err
	}
	v, err := c.Indicator(r.Context(), h.st, ind, epoch, b, canon)
	if err != nil {
		return err
	}
	if !asCSV {
		return writeJSON(w, http.StatusOK, v)
	}
	header := []string{"code", "name", "group", "suppressed", "display", "numerator", "denominator"}
	header = append(header, estimateHeader("rate")...)
	header = append(header, "count")
	header = append(header, estimateHeader("per_1000_residents")...)
	header = append(header, estimateHeader("per_1000_foreign_residents")...)
	for _, m := range ind.Measures() {
		if ind.Kind == schemas.KindBinned {
			header = append(header, "bin_"+m, "bin_"+m+"_display")
		}
	}
	rows := [][]string{header}
	for _, t := range v.Territories {
		row := []string{t.Code, t.Name, t.Group, strconv.FormatBool(t.Suppressed), t.Display, optInt(t.Numerator), optInt(t.Denominator)}
		row = append(row, estimateCells(t.Rate)...)
		row = append(row, optInt(t.Count))
		row = append(row, estimateCells(&t.PerResidents)...)
		row = append(row, estimateCells(&t.PerForeignResidents)...)
		if ind.Kind == schemas.KindBinned {
			bins := map[string]BinValue{}
			for _, b := range t.Bins {
				bins[b.ID] = b
			}
			for _, m := range ind.Measures() {
				row = append(row, optInt(bins[m].Value), bins[m].Display)
			}
		}
		rows = append(rows, row)
	}
	return writeCSV(w, ind.ID+"-"+epoch, rows)
}

// ---- trend ----

// CompareTrend is GET /api/v1/compare/trend.
type CompareTrend struct {
	Indicator   string          `json:"indicator"`
	Territories []compare.Trend `json:"territories"`
	Region      compare.Trend   `json:"region"`
}

// regionCode names the region's pooled series in a trend.
const regionCode = "region"

// Trend computes the rolling four-quarter rates of a ratio indicator, for
// one territory of the file or all, and of the region: each quarter's
// pooled numerator and denominator over the territories that published
// it (suppressed and noise-unknown ones left out, as in GroupRates' pooled
// rate), so the region's line is never broken by one territory's gap.
func (c *comparisons) Trend(ctx context.Context, st *store.Store, ind *schemas.Indicator, only *compare.Territory) (*CompareTrend, error) {
	eps, err := epochs(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("trend of %s: %w", ind.ID, err)
	}
	perTerritory := map[string][]compare.Value{}
	var region []compare.Value
	for _, e := range eps {
		if !strings.Contains(e, "-Q") {
			continue
		}
		ec, err := loadEpoch(ctx, st, e, ind.ID)
		if err != nil {
			return nil, fmt.Errorf("trend of %s: %w", ind.ID, err)
		}
		vs, err := valuesOf(c.file.Territories, ind, ec, "{}")
		if err != nil {
			return nil, fmt.Errorf("trend of %s in %s: %w", ind.ID, e, err)
		}
		pooled := compare.Value{Territory: regionCode, Epoch: e}
		n := 0
		for _, v := range vs.rate {
			perTerritory[v.Territory] = append(perTerritory[v.Territory], v)
			if v.Suppressed || v.Noise.Num < 0 || v.Noise.Den < 0 {
				continue
			}
			pooled.Num, pooled.Den, pooled.Noise = pooled.Num+v.Num, pooled.Den+v.Den, pooled.Noise.Add(v.Noise)
			pooled.MinRateDenominator = max(pooled.MinRateDenominator, v.MinRateDenominator)
			n++
		}
		if n > 0 {
			region = append(region, pooled)
		}
	}
	out := &CompareTrend{Indicator: ind.ID, Territories: []compare.Trend{}}
	for _, t := range c.file.Territories {
		if only != nil && t.Code != only.Code {
			continue
		}
		tr, err := compare.RollingFourQuarters(perTerritory[t.Code])
		if err != nil {
			return nil, err
		}
		tr.Territory = t.Code
		out.Territories = append(out.Territories, *tr)
	}
	tr, err := compare.RollingFourQuarters(region)
	if err != nil {
		return nil, err
	}
	tr.Territory = regionCode
	out.Region = *tr
	return out, nil
}

func (h *Handler) compareTrend(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	ind, err := c.indicatorParam(r)
	if err != nil {
		return err
	}
	if ind.Kind != schemas.KindRatio || !ind.HasPeriodKind(schemas.PeriodQuarter) {
		return badParam("indicator", fmt.Sprintf("%s is not a quarterly ratio indicator: a rolling four-quarter trend needs one", ind.ID))
	}
	only, err := c.territoryParam(r, false)
	if err != nil {
		return err
	}
	tr, err := c.Trend(r.Context(), h.st, ind, only)
	if err != nil {
		return err
	}
	if !asCSV {
		return writeJSON(w, http.StatusOK, tr)
	}
	rows := [][]string{append([]string{"territory", "epoch", "from", "numerator", "denominator"}, estimateHeader("rate")...)}
	for _, t := range append(tr.Territories, tr.Region) {
		for _, p := range t.Points {
			rows = append(rows, append([]string{t.Territory, p.Epoch, p.From, optInt(p.Numerator), optInt(p.Denominator)}, estimateCells(&p.Rate)...))
		}
	}
	return writeCSV(w, ind.ID+"-trend", rows)
}

// ---- scalability ----

// Scalability pairs an outcome (a ratio indicator) with the caseload or
// the cost per pathway of the same epoch, totals only.
func (c *comparisons) Scalability(ctx context.Context, st *store.Store, ind *schemas.Indicator, epoch, axis string) (*compare.ScalabilityView, error) {
	ec, err := loadEpoch(ctx, st, epoch, "")
	if err != nil {
		return nil, fmt.Errorf("scalability of %s in %s: %w", ind.ID, epoch, err)
	}
	ts := c.file.Territories
	outcome, err := valuesOf(ts, ind, ec, "{}")
	if err != nil {
		return nil, fmt.Errorf("scalability of %s in %s: %w", ind.ID, epoch, err)
	}
	xID := "caseload"
	if axis == compare.AxisCostPerPathway {
		xID = "cost-per-pathway"
	}
	xInd, ok := c.cat.Indicator(xID)
	if !ok {
		return nil, fmt.Errorf("scalability: the catalogue has no %s indicator", xID)
	}
	xs, err := valuesOf(ts, xInd, ec, "{}")
	if err != nil {
		return nil, fmt.Errorf("scalability of %s in %s: %w", ind.ID, epoch, err)
	}
	if axis == compare.AxisCostPerPathway {
		return compare.OutcomeByCost(ts, outcome.rate, xs.rate)
	}
	return compare.OutcomeByCaseload(ts, outcome.rate, xs.count)
}

func (h *Handler) compareScalability(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	ind, err := c.indicatorParam(r)
	if err != nil {
		return err
	}
	if ind.Kind != schemas.KindRatio {
		return badParam("indicator", fmt.Sprintf("%s is not a ratio indicator: a scalability view plots an outcome rate", ind.ID))
	}
	epoch, e, err := epochParam(r, ind)
	if err != nil {
		return err
	}
	axis := r.URL.Query().Get("x")
	switch axis {
	case compare.AxisCaseload:
	case compare.AxisCostPerPathway:
		if e.Quarter != 0 {
			return badParam("epoch", "the cost per pathway is annual: give a year")
		}
	default:
		return badParam("x", "give x=caseload or x=cost_per_pathway_eur")
	}
	v, err := c.Scalability(r.Context(), h.st, ind, epoch, axis)
	if err != nil {
		return err
	}
	if !asCSV {
		return writeJSON(w, http.StatusOK, v)
	}
	header := append(append([]string{"territory"}, estimateHeader("x")...), estimateHeader("y")...)
	rows := [][]string{header}
	for _, p := range v.Points {
		rows = append(rows, append(append([]string{p.Territory}, estimateCells(&p.X)...), estimateCells(&p.Y)...))
	}
	for _, o := range v.Omitted {
		x, y := compare.Estimate{Reason: o.X}, compare.Estimate{Reason: o.Y}
		rows = append(rows, append(append([]string{o.Territory}, estimateCells(&x)...), estimateCells(&y)...))
	}
	return writeCSV(w, ind.ID+"-"+axis, rows)
}

// ---- territory profile ----

// CompareTerritory is GET /api/v1/compare/territory.
type CompareTerritory struct {
	Territory MetaTerritory `json:"territory"`
	Epoch     string        `json:"epoch"`
	Rows      []ProfileRow  `json:"rows"`
}

// ProfileRow is one ratio indicator of a territory's profile.
type ProfileRow struct {
	Indicator string            `json:"indicator"`
	Title     schemas.Text      `json:"title"`
	Value     compare.Estimate  `json:"value"`
	Display   string            `json:"display"`
	Peers     compare.GroupRate `json:"peers"`
	Group     compare.GroupRate `json:"group"`
	Region    compare.Estimate  `json:"region"`
}

// ratioIndicators are the catalogue's ratio indicators published for
// epochs of e's kind.
func (c *comparisons) ratioIndicators(e disclosure.Epoch) []*schemas.Indicator {
	var out []*schemas.Indicator
	for i := range c.cat.Indicators {
		ind := &c.cat.Indicators[i]
		if ind.Kind == schemas.KindRatio && ind.HasPeriodKind(periodKind(e)) {
			out = append(out, ind)
		}
	}
	return out
}

// Profile is a territory's ratio indicators against its peers, its
// benchmark group and the region.
func (c *comparisons) Profile(ctx context.Context, st *store.Store, t *compare.Territory, epoch string, e disclosure.Epoch) (*CompareTerritory, error) {
	mts, err := c.metaTerritories(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("profile of %s in %s: %w", t.Code, epoch, err)
	}
	ec, err := loadEpoch(ctx, st, epoch, "")
	if err != nil {
		return nil, fmt.Errorf("profile of %s in %s: %w", t.Code, epoch, err)
	}
	out := &CompareTerritory{Epoch: epoch, Rows: []ProfileRow{}}
	for _, mt := range mts {
		if mt.Code == t.Code {
			out.Territory = mt
		}
	}
	ts := c.file.Territories
	groups := []compare.Group{c.peerGroup[t.Code], c.group[t.Code], c.all}
	for _, ind := range c.ratioIndicators(e) {
		vs, err := valuesOf(ts, ind, ec, "{}")
		if err != nil {
			return nil, fmt.Errorf("profile of %s: %s: %w", t.Code, ind.ID, err)
		}
		own, err := c.ownRates(vs.rate)
		if err != nil {
			return nil, fmt.Errorf("profile of %s: %s: %w", t.Code, ind.ID, err)
		}
		grs, err := compare.GroupRates(ts, groups, vs.rate)
		if err != nil {
			return nil, fmt.Errorf("profile of %s: %s: %w", t.Code, ind.ID, err)
		}
		row := ProfileRow{Indicator: ind.ID, Title: ind.Title, Value: own[t.Code], Peers: grs[0], Group: grs[1], Region: grs[2].Pooled}
		for _, v := range vs.rate {
			if v.Territory != t.Code {
				continue
			}
			if v.Suppressed {
				row.Display = suppressedDisplay(v.DisplayBelow)
			} else {
				_, nd := shown(v.Num, v.DisplayBelow)
				_, dd := shown(v.Den, v.DisplayBelow)
				row.Display = nd + " / " + dd
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func (h *Handler) compareTerritory(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	t, err := c.territoryParam(r, true)
	if err != nil {
		return err
	}
	epoch, e, err := epochParam(r, nil)
	if err != nil {
		return err
	}
	p, err := c.Profile(r.Context(), h.st, t, epoch, e)
	if err != nil {
		return err
	}
	if !asCSV {
		return writeJSON(w, http.StatusOK, p)
	}
	header := []string{"indicator", "display"}
	for _, s := range []string{"value", "peers_mean", "peers_pooled", "group_mean", "group_pooled", "region"} {
		header = append(header, estimateHeader(s)...)
	}
	rows := [][]string{header}
	for _, row := range p.Rows {
		line := []string{row.Indicator, row.Display}
		for _, e := range []compare.Estimate{row.Value, row.Peers.Mean, row.Peers.Pooled, row.Group.Mean, row.Group.Pooled, row.Region} {
			line = append(line, estimateCells(&e)...)
		}
		rows = append(rows, line)
	}
	return writeCSV(w, t.Code+"-"+epoch, rows)
}

// ---- overview ----

// CompareOverview is GET /api/v1/compare/overview.
type CompareOverview struct {
	Epoch string        `json:"epoch"`
	Rows  []OverviewRow `json:"rows"`
}

// OverviewRow is one ratio indicator over the region.
type OverviewRow struct {
	Indicator string           `json:"indicator"`
	Title     schemas.Text     `json:"title"`
	Region    compare.Estimate `json:"region"`
	Coverage  compare.Coverage `json:"coverage"`
	// Min and Max are the lowest and highest published territory rates;
	// absent when no territory has one.
	Min                  *Extreme `json:"min,omitempty"`
	Max                  *Extreme `json:"max,omitempty"`
	TerritoriesPublished int      `json:"territories_published"`
}

// Extreme is a territory's rate at one end of the range.
type Extreme struct {
	Territory string  `json:"territory"`
	Value     float64 `json:"value"`
}

// Overview is every ratio indicator of the epoch's kind over the region.
func (c *comparisons) Overview(ctx context.Context, st *store.Store, epoch string, e disclosure.Epoch) (*CompareOverview, error) {
	ec, err := loadEpoch(ctx, st, epoch, "")
	if err != nil {
		return nil, fmt.Errorf("overview of %s: %w", epoch, err)
	}
	ts := c.file.Territories
	out := &CompareOverview{Epoch: epoch, Rows: []OverviewRow{}}
	for _, ind := range c.ratioIndicators(e) {
		vs, err := valuesOf(ts, ind, ec, "{}")
		if err != nil {
			return nil, fmt.Errorf("overview of %s: %s: %w", epoch, ind.ID, err)
		}
		grs, err := compare.GroupRates(ts, []compare.Group{c.all}, vs.rate)
		if err != nil {
			return nil, fmt.Errorf("overview of %s: %s: %w", epoch, ind.ID, err)
		}
		own, err := c.ownRates(vs.rate)
		if err != nil {
			return nil, fmt.Errorf("overview of %s: %s: %w", epoch, ind.ID, err)
		}
		row := OverviewRow{Indicator: ind.ID, Title: ind.Title, Region: grs[0].Pooled, Coverage: grs[0].PooledCoverage}
		for _, t := range ts { // file order: ties go to the first
			est := own[t.Code]
			if !est.Published {
				continue
			}
			row.TerritoriesPublished++
			if row.Min == nil || est.Value < row.Min.Value {
				row.Min = &Extreme{Territory: t.Code, Value: est.Value}
			}
			if row.Max == nil || est.Value > row.Max.Value {
				row.Max = &Extreme{Territory: t.Code, Value: est.Value}
			}
		}
		out.Rows = append(out.Rows, row)
	}
	return out, nil
}

func (h *Handler) compareOverview(w http.ResponseWriter, r *http.Request) error {
	c, asCSV, err := h.compareRequest(r)
	if err != nil {
		return err
	}
	epoch, e, err := epochParam(r, nil)
	if err != nil {
		return err
	}
	o, err := c.Overview(r.Context(), h.st, epoch, e)
	if err != nil {
		return err
	}
	if !asCSV {
		return writeJSON(w, http.StatusOK, o)
	}
	header := append([]string{"indicator"}, estimateHeader("region")...)
	header = append(header, "coverage", "min_territory", "min", "max_territory", "max", "territories_published")
	rows := [][]string{header}
	for _, row := range o.Rows {
		line := append([]string{row.Indicator}, estimateCells(&row.Region)...)
		line = append(line, row.Coverage.Text)
		for _, x := range []*Extreme{row.Min, row.Max} {
			if x == nil {
				line = append(line, "", "")
			} else {
				line = append(line, x.Territory, ftoa(x.Value))
			}
		}
		rows = append(rows, append(line, strconv.Itoa(row.TerritoriesPublished)))
	}
	return writeCSV(w, "overview-"+epoch, rows)
}

// ---- CSV ----

// estimateHeader names an estimate's columns: its value, interval, and
// the reason it is not shown.
func estimateHeader(name string) []string {
	return []string{name, name + "_low", name + "_high", name + "_reason"}
}

// estimateCells are an estimate's columns: empty numbers when it is not
// published (or absent), so that a spreadsheet never reads a withheld
// value as 0.
func estimateCells(e *compare.Estimate) []string {
	if e == nil {
		return []string{"", "", "", ""}
	}
	if !e.Published {
		return []string{"", "", "", string(e.Reason)}
	}
	return []string{ftoa(e.Value), ftoa(e.Low), ftoa(e.High), string(e.Reason)}
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func optInt(p *int64) string {
	if p == nil {
		return ""
	}
	return itoa(*p)
}

// writeCSV answers the table as text/csv, offered as a download named
// after the view.
func writeCSV(w http.ResponseWriter, name string, rows [][]string) error {
	var b strings.Builder
	cw := csv.NewWriter(&b)
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("write the CSV: %w", err)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.csv"`, strings.ReplaceAll(name, `"`, "")))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
	return nil
}
