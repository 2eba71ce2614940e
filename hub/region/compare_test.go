package region

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	exregion "github.com/snodo-hub/snodo/examples/region"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
	"github.com/snodo-hub/snodo/schemas"
)

// The comparison API is tested over a real region store fed real
// envelopes (each released by the real ledger from a territory store of
// its own, sealed and received by the intake), with the demo region's
// territories file (ten Tuscan provinces). Five of them report:
//
//	TOS-FI  large, the noise mode
//	TOS-PI  medium
//	TOS-LU  the rounding mode (no noise: rounding to 5, threshold 10)
//	TOS-GR  skips 2025-Q2
//	TOS-MS  so small that its referral-acceptance cells are suppressed
//
// and ATS-X, enrolled but not in the file, whose values must be ignored.
// The other five territories of the file count as missing. Expected
// values are computed in the tests from the envelopes themselves (their
// published cells and their stated noise), not from what the store or
// the handler hold.

// spec is a territory's true counts in one epoch.
type spec struct {
	accNum, accDen int64 // referral-acceptance (total; the sex:F cell is a third of each in annual epochs)
	caseload       int64
	bins           []int64 // referral-response-time, annual only
	costSum        int64   // cost-per-pathway in euro cents, annual only
	costDen        int64
}

var quarters = []string{"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"}

type fixture struct {
	st    *store.Store
	tf    *compare.TerritoriesFile
	envs  map[string]map[string]*federation.Envelope // territory → epoch → envelope
	token string
}

func (s spec) cells(annual bool) []disclosure.Cell {
	var out []disclosure.Cell
	add := func(ind, kind, measure string, b map[string]string, n int64) {
		part, within := disclosure.PartitionOf(kind, measure)
		out = append(out, disclosure.Cell{Indicator: ind, Version: "1.0.0", Measure: measure, Breakdown: b, Count: n, Partition: part, Within: within})
	}
	add("referral-acceptance", schemas.KindRatio, "numerator", nil, s.accNum)
	add("referral-acceptance", schemas.KindRatio, "denominator", nil, s.accDen)
	add("caseload", schemas.KindCount, "count", nil, s.caseload)
	if !annual {
		return out
	}
	f := map[string]string{"sex": "F"}
	add("referral-acceptance", schemas.KindRatio, "numerator", f, s.accNum/3)
	add("referral-acceptance", schemas.KindRatio, "denominator", f, s.accDen/3)
	for i, id := range []string{"le-2d", "3-7d", "8-30d", "gt-30d", "none"} {
		add("referral-response-time", schemas.KindBinned, id, nil, s.bins[i])
	}
	add("cost-per-pathway", schemas.KindSum, "sum", nil, s.costSum)
	add("cost-per-pathway", schemas.KindSum, "denominator", nil, s.costDen)
	return out
}

// sealed releases cells from a fresh territory store with the settings
// and seals them, as a territory hub does.
func sealed(t *testing.T, territory string, key ed25519.PrivateKey, epoch string, settings disclosure.Settings, cells []disclosure.Cell) []byte {
	t.Helper()
	ctx := context.Background()
	st, _ := openStore(t, "territory.db")
	l, err := disclosure.NewLedger(st, settings)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Release(ctx, disclosure.Request{Epoch: epoch, CatalogueVersion: "1.0.0", Cells: cells})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := federation.Seal(ctx, st, r, federation.Source{Territory: territory, SoftwareVersion: "v0.7.0-test"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, _ := openStore(t, "region.db")
	tf, err := compare.LoadTerritoriesFile(bytes.NewReader(exregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, tf: tf, envs: map[string]map[string]*federation.Envelope{}}
	type territory struct {
		code     string
		rounding bool
		skip     string
		annual   spec
		quarter  spec
	}
	bins := []int64{40, 60, 50, 30, 20}
	ts := []territory{
		{code: "TOS-FI", annual: spec{accNum: 600, accDen: 900, caseload: 1200, bins: bins, costSum: 90_000_00, costDen: 300},
			quarter: spec{accNum: 150, accDen: 225, caseload: 400}},
		{code: "TOS-PI", annual: spec{accNum: 200, accDen: 450, caseload: 500, bins: bins, costSum: 30_000_00, costDen: 150},
			quarter: spec{accNum: 50, accDen: 110, caseload: 160}},
		{code: "TOS-LU", rounding: true, annual: spec{accNum: 120, accDen: 300, caseload: 350, bins: bins, costSum: 20_000_00, costDen: 100},
			quarter: spec{accNum: 30, accDen: 75, caseload: 120}},
		{code: "TOS-GR", skip: "2025-Q2", annual: spec{accNum: 90, accDen: 210, caseload: 260, bins: bins, costSum: 15_000_00, costDen: 80},
			quarter: spec{accNum: 25, accDen: 55, caseload: 90}},
		{code: "TOS-MS", annual: spec{accNum: 1, accDen: 2, caseload: 1, bins: []int64{1, 0, 2, 0, 1}, costSum: 0, costDen: 1},
			quarter: spec{accNum: 0, accDen: 1, caseload: 1}},
		{code: "ATS-X", annual: spec{accNum: 900, accDen: 950, caseload: 2000, bins: bins, costSum: 1, costDen: 500},
			quarter: spec{accNum: 220, accDen: 240, caseload: 600}},
	}
	in := NewIntake(st, nil)
	for _, tr := range ts {
		key := newKey(t)
		if _, err := EnrolKey(ctx, st, "test", tr.code, "", pubOf(key)); err != nil {
			t.Fatal(err)
		}
		settings := disclosure.DefaultSettings()
		if tr.rounding {
			settings = disclosure.DefaultRoundingSettings()
		}
		f.envs[tr.code] = map[string]*federation.Envelope{}
		for _, e := range append(quarters, "2025") {
			if e == tr.skip {
				continue
			}
			s := tr.quarter
			if e == "2025" {
				s = tr.annual
			}
			raw := sealed(t, tr.code, key, e, settings, s.cells(e == "2025"))
			if _, err := in.Receive(ctx, raw); err != nil {
				t.Fatalf("%s %s: %v", tr.code, e, err)
			}
			var env federation.Envelope
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			f.envs[tr.code][e] = &env
		}
	}
	tok, err := tokens.Create(ctx, st, "test", "dashboard", tokens.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	f.token = tok
	return f
}

// cell is a published cell of an envelope: its value, whether it was
// suppressed, whether it is there at all.
func (f *fixture) cell(code, epoch, ind string, breakdown map[string]string, measure string) (v int64, suppressed, ok bool) {
	env := f.envs[code][epoch]
	if env == nil {
		return 0, false, false
	}
	for _, c := range env.Cells {
		if c.Indicator == ind && c.Measure == measure && len(c.Breakdown) == len(breakdown) && (breakdown == nil || c.Breakdown["sex"] == breakdown["sex"]) {
			if c.Suppressed || c.Value == nil {
				return 0, true, true
			}
			return *c.Value, false, true
		}
	}
	return 0, false, false
}

// variance is the variance of the noise on a cell of the envelope, from
// the envelope's own statement of its noise.
func (f *fixture) variance(t *testing.T, code, epoch string, total bool) float64 {
	t.Helper()
	env := f.envs[code][epoch]
	if env.Noise.Mechanism == "rounding" {
		b := float64(env.Disclosure.RoundingBase)
		return b * b / 12
	}
	s := env.Noise.Sigma2
	if total && env.Noise.Headline != nil {
		s = env.Noise.Headline.Sigma2
	}
	r, err := disclosure.ParseRat(s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := disclosure.Variance(r)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) rateNoise(t *testing.T, code, epoch string, total bool) disclosure.RateNoise {
	v := f.variance(t, code, epoch, total)
	if f.envs[code][epoch].Noise.Rates == federation.RatesPartition {
		return disclosure.PartitionRateNoise(v)
	}
	return disclosure.RateNoise{Num: v, Den: v}
}

// ---- the HTTP client, which checks every answer against the OpenAPI document ----

type client struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	spec  *openAPIChecker
}

func (f *fixture) serve(t *testing.T, open bool) *client {
	t.Helper()
	h, err := NewHandler(Config{Store: f.st, Territories: f.tf, Open: open})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &client{t: t, srv: srv, token: f.token, spec: newOpenAPIChecker(t)}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// get asks path with the client's token and checks the answer against the
// OpenAPI document.
func (c *client) get(path string) answer {
	c.t.Helper()
	return c.getWith(path, c.token)
}

func (c *client) getWith(path, token string) answer {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.srv.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := answer{status: res.StatusCode, header: res.Header, body: body}
	c.spec.check(c.t, req, a)
	return a
}

// json decodes a 200 answer into v.
func (c *client) json(path string, v any) {
	c.t.Helper()
	a := c.get(path)
	if a.status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		c.t.Fatalf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
}

// csv asks path&format=csv and parses the table.
func (c *client) csv(path string) [][]string {
	c.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	a := c.get(path + sep + "format=csv")
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		c.t.Fatalf("GET %s as CSV: %d %s %s", path, a.status, a.header.Get("Content-Type"), a.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(a.body)).ReadAll()
	if err != nil {
		c.t.Fatalf("GET %s as CSV: %v", path, err)
	}
	return rows
}

// column finds a column of a CSV table by name.
func column(t *testing.T, rows [][]string, name string) int {
	t.Helper()
	for i, h := range rows[0] {
		if h == name {
			return i
		}
	}
	t.Fatalf("no column %q in %v", name, rows[0])
	return -1
}

// number parses a CSV number ("" → NaN).
func number(t *testing.T, s string) float64 {
	t.Helper()
	if s == "" {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("CSV number %q: %v", s, err)
	}
	return f
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// ---- tests ----

var fileCodes = []string{"TOS-AR", "TOS-FI", "TOS-GR", "TOS-LI", "TOS-LU", "TOS-MS", "TOS-PI", "TOS-PO", "TOS-PT", "TOS-SI"}

func TestRegionCompareMeta(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	var m CompareMeta
	c.json("/api/v1/compare/meta", &m)
	if want := []string{"2025", "2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1"}; strings.Join(m.Epochs, ",") != strings.Join(want, ",") || m.LatestAnnual != "2025" {
		t.Errorf("epochs %v, latest annual %q", m.Epochs, m.LatestAnnual)
	}
	if m.Region.Code != "09" || m.Region.Name != "Toscana" || len(m.Sources) != len(f.tf.Sources) {
		t.Errorf("region %+v, %d sources", m.Region, len(m.Sources))
	}
	if m.Scope != ScopeRegion {
		t.Errorf("scope %q, want %q by default", m.Scope, ScopeRegion)
	}
	if _, err := NewHandler(Config{Store: f.st, Territories: f.tf, Scope: "province"}); err == nil {
		t.Error("a handler of scope \"province\" was made")
	}
	cat, err := schemas.Indicators()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Indicators) != len(cat.Indicators) {
		t.Fatalf("%d indicators, the catalogue has %d", len(m.Indicators), len(cat.Indicators))
	}
	for _, mi := range m.Indicators {
		ind, _ := cat.Indicator(mi.ID)
		if mi.Title != ind.Title || mi.Kind != ind.Kind || len(mi.Breakdowns) != len(ind.Breakdowns) || strings.Join(mi.Measures, ",") != strings.Join(ind.Measures(), ",") {
			t.Errorf("indicator %s: %+v", mi.ID, mi)
		}
	}
	bench := compare.BenchmarkGroups(f.tf.Territories)
	peers := compare.NearestPeers(f.tf.Territories, compare.PeerCount)
	enrolled := map[string]bool{"TOS-FI": true, "TOS-PI": true, "TOS-LU": true, "TOS-GR": true, "TOS-MS": true}
	if len(m.Territories) != len(fileCodes) {
		t.Fatalf("%d territories", len(m.Territories))
	}
	for i, mt := range m.Territories {
		ft := f.tf.Territories[i]
		if mt.Code != ft.Code || mt.Population != ft.Population || mt.Group != bench.GroupOf[ft.Code] || mt.Enrolled != enrolled[ft.Code] ||
			!near(mt.ForeignShare, float64(ft.ForeignResidents)/float64(ft.Population)) || len(mt.Peers) != compare.PeerCount || mt.Peers[0] != peers[i].Peers[0].Territory {
			t.Errorf("territory %d: %+v", i, mt)
		}
		if enrolled[ft.Code] != (mt.LastEpoch != "") {
			t.Errorf("%s: last epoch %q", mt.Code, mt.LastEpoch)
		}
	}
	if len(m.Groups) != len(bench.Groups) || m.Groups[0].Title.IT == "" || m.Groups[0].Title.EN == "" {
		t.Errorf("groups %+v", m.Groups)
	}
	rows := c.csv("/api/v1/compare/meta")
	if len(rows) != 1+len(fileCodes) || rows[2][column(t, rows, "code")] != m.Territories[1].Code ||
		number(t, rows[2][column(t, rows, "foreign_share")]) != m.Territories[1].ForeignShare {
		t.Errorf("meta CSV %v", rows)
	}
}

func TestRegionCompareIndicatorRatio(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	var v CompareIndicator
	c.json("/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025", &v)
	if v.Kind != "ratio" || v.Version != "1.0.0" || len(v.Territories) != len(fileCodes) || len(v.Breakdown) != 0 {
		t.Fatalf("view %+v", v)
	}
	var sumNum, sumDen, minDen int64
	var noise disclosure.RateNoise
	var pooled []string
	for i, tv := range v.Territories {
		code := f.tf.Territories[i].Code
		if tv.Code != code {
			t.Fatalf("row %d is %s, want %s (file order)", i, tv.Code, code)
		}
		num, nSupp, ok := f.cell(code, "2025", "referral-acceptance", nil, "numerator")
		den, dSupp, _ := f.cell(code, "2025", "referral-acceptance", nil, "denominator")
		switch {
		case !ok:
			if tv.Display != "" || tv.Suppressed || tv.Rate.Published || tv.Rate.Reason != compare.ReasonMissing || tv.Numerator != nil ||
				tv.PerResidents.Reason != compare.ReasonMissing {
				t.Errorf("%s sent nothing: %+v", code, tv)
			}
		case nSupp || dSupp:
			// TOS-MS: the suppressed cells show as "<10", with no number anywhere.
			if code != "TOS-MS" || !tv.Suppressed || tv.Display != "<10" || tv.Numerator != nil || tv.Denominator != nil || tv.Count != nil ||
				tv.Rate.Published || tv.Rate.Reason != compare.ReasonSuppressed || tv.PerResidents.Published {
				t.Errorf("%s suppressed: %+v", code, tv)
			}
		default:
			if tv.Suppressed || tv.Numerator == nil || *tv.Numerator != num || tv.Denominator == nil || *tv.Denominator != den ||
				tv.Display != strconv.FormatInt(num, 10)+" / "+strconv.FormatInt(den, 10) {
				t.Errorf("%s: %+v, want %d / %d", code, tv, num, den)
			}
			rn := f.rateNoise(t, code, "2025", true)
			want := disclosure.Rate(num, den, rn, f.envs[code]["2025"].Disclosure.MinRateDenominator)
			if !tv.Rate.Published || !near(tv.Rate.Value, want.Rate) || !near(tv.Rate.Low, want.Low) || !near(tv.Rate.High, want.High) {
				t.Errorf("%s rate %+v, want %+v", code, tv.Rate, want)
			}
			// The count-like measure of a ratio is its denominator, per 1,000.
			pop := float64(f.tf.Territories[i].Population)
			if tv.Count == nil || *tv.Count != den || !near(tv.PerResidents.Value, float64(den)*1000/pop) ||
				tv.PerResidents.Low >= tv.PerResidents.Value || tv.PerResidents.High <= tv.PerResidents.Value {
				t.Errorf("%s per 1,000: %+v", code, tv.PerResidents)
			}
			sumNum, sumDen, minDen = sumNum+num, sumDen+den, max(minDen, f.envs[code]["2025"].Disclosure.MinRateDenominator)
			noise = noise.Add(rn)
			pooled = append(pooled, code)
		}
	}
	// The region pooled over the four territories that published, ATS-X
	// (not in the file) left out.
	want := disclosure.Rate(sumNum, sumDen, noise, minDen)
	if v.Region.Numerator == nil || *v.Region.Numerator != sumNum || *v.Region.Denominator != sumDen || !near(v.Region.Rate.Value, want.Rate) ||
		!near(v.Region.Rate.Low, want.Low) || !near(v.Region.Rate.High, want.High) {
		t.Errorf("region %+v, want %d / %d = %+v", v.Region, sumNum, sumDen, want)
	}
	sort.Strings(pooled)
	if rc := v.Region.Coverage; rc.Text != "4 of 10" || rc.Suppressed != 1 || rc.Missing != 5 || strings.Join(rc.Territories, ",") != strings.Join(pooled, ",") {
		t.Errorf("region coverage %+v", rc)
	}
	if v.Coverage.Text != "4 of 10" || v.Coverage.Enrolled != 10 {
		t.Errorf("coverage %+v", v.Coverage)
	}
	bench := compare.BenchmarkGroups(f.tf.Territories)
	if len(v.Groups) != len(bench.Groups) {
		t.Fatalf("%d groups, want %d", len(v.Groups), len(bench.Groups))
	}
	for i, g := range v.Groups {
		if g.Group != bench.Groups[i].ID || g.PooledCoverage.Enrolled != len(bench.Groups[i].Members) {
			t.Errorf("group %d: %+v", i, g)
		}
	}

	// The CSV is the same table.
	rows := c.csv("/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025")
	if len(rows) != 1+len(v.Territories) {
		t.Fatalf("%d CSV rows", len(rows))
	}
	for i, tv := range v.Territories {
		r := rows[1+i]
		if r[column(t, rows, "code")] != tv.Code || r[column(t, rows, "display")] != tv.Display || r[column(t, rows, "suppressed")] != strconv.FormatBool(tv.Suppressed) {
			t.Errorf("CSV row %v against %+v", r, tv)
		}
		got := number(t, r[column(t, rows, "rate")])
		if tv.Rate.Published != !math.IsNaN(got) || (tv.Rate.Published && got != tv.Rate.Value) || r[column(t, rows, "rate_reason")] != string(tv.Rate.Reason) {
			t.Errorf("CSV rate %v against %+v", r, tv.Rate)
		}
		if tv.Numerator == nil && r[column(t, rows, "numerator")] != "" {
			t.Errorf("CSV shows a withheld numerator: %v", r)
		}
	}

	// A breakdown: the sex:F cells only.
	c.json("/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025&breakdown=sex:F", &v)
	if v.Breakdown["sex"] != "F" {
		t.Errorf("breakdown %v", v.Breakdown)
	}
	for _, tv := range v.Territories {
		num, supp, ok := f.cell(tv.Code, "2025", "referral-acceptance", map[string]string{"sex": "F"}, "numerator")
		if ok && !supp && num >= 10 && (tv.Numerator == nil || *tv.Numerator != num) {
			t.Errorf("%s sex:F: %+v, want numerator %d", tv.Code, tv, num)
		}
	}
}

func TestRegionCompareIndicatorCountsAndBins(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, true)
	var v CompareIndicator
	c.json("/api/v1/compare/indicator?indicator=caseload&epoch=2025-Q3", &v)
	var sum int64
	var pop, variance float64
	for i, tv := range v.Territories {
		n, supp, ok := f.cell(tv.Code, "2025-Q3", "caseload", nil, "count")
		if !ok || supp {
			if tv.Count != nil || tv.PerResidents.Published {
				t.Errorf("%s: %+v", tv.Code, tv)
			}
			if supp && tv.Display != "<10" {
				t.Errorf("%s suppressed shows %q", tv.Code, tv.Display)
			}
			continue
		}
		if n < 10 {
			t.Fatalf("%s: a count under display_below in the fixture", tv.Code)
		}
		if tv.Count == nil || *tv.Count != n || tv.Display != strconv.FormatInt(n, 10) ||
			!near(tv.PerResidents.Value, float64(n)*1000/float64(f.tf.Territories[i].Population)) ||
			!near(tv.PerForeignResidents.Value, float64(n)*1000/float64(f.tf.Territories[i].ForeignResidents)) {
			t.Errorf("%s: %+v, want %d", tv.Code, tv, n)
		}
		sum += n
		pop += float64(f.tf.Territories[i].Population)
		variance += f.variance(t, tv.Code, "2025-Q3", true)
	}
	if v.Region.Count == nil || *v.Region.Count != sum || v.Region.Display != strconv.FormatInt(sum, 10) ||
		!near(v.Region.PerResidents.Value, float64(sum)*1000/pop) || v.Region.Coverage.Text != "4 of 10" {
		t.Errorf("region %+v, want %d over %v residents", v.Region, sum, pop)
	}
	// The interval: the score interval of a Poisson count with the summed
	// noise variance added (compare.PerCapita's), per 1,000.
	z2 := 1.959963984540054 * 1.959963984540054
	half := math.Sqrt(z2 * (float64(sum) + z2/4 + variance))
	if lo := (float64(sum) + z2/2 - half) * 1000 / pop; !near(v.Region.PerResidents.Low, lo) {
		t.Errorf("region per 1,000 low %v, want %v", v.Region.PerResidents.Low, lo)
	}
	if v.Region.Rate != nil || len(v.Groups) != 0 {
		t.Errorf("a count has no rate or groups: %+v", v)
	}

	// Binned: each bin, and the count as their sum.
	c.json("/api/v1/compare/indicator?indicator=referral-response-time&epoch=2025", &v)
	for _, tv := range v.Territories {
		if f.envs[tv.Code]["2025"] == nil {
			if len(tv.Bins) != 0 {
				t.Errorf("%s: bins of a territory that sent nothing", tv.Code)
			}
			continue
		}
		if len(tv.Bins) != 5 {
			t.Fatalf("%s: %d bins", tv.Code, len(tv.Bins))
		}
		var total int64
		anySupp := false
		for _, b := range tv.Bins {
			n, supp, _ := f.cell(tv.Code, "2025", "referral-response-time", nil, b.ID)
			anySupp = anySupp || supp
			total += n
			switch {
			case supp:
				if b.Value != nil || b.Display != "<10" {
					t.Errorf("%s %s suppressed: %+v", tv.Code, b.ID, b)
				}
			case n < 10:
				if b.Value != nil || b.Display != "<10" {
					t.Errorf("%s %s under 10: %+v", tv.Code, b.ID, b)
				}
			default:
				if b.Value == nil || *b.Value != n || b.Display != strconv.FormatInt(n, 10) {
					t.Errorf("%s %s: %+v, want %d", tv.Code, b.ID, b, n)
				}
			}
		}
		if anySupp != tv.Suppressed || (!anySupp && (tv.Count == nil || *tv.Count != total)) {
			t.Errorf("%s: count %v suppressed %v, want %d %v", tv.Code, tv.Count, tv.Suppressed, total, anySupp)
		}
	}
	if v.Territories[5].Code != "TOS-MS" || !v.Territories[5].Suppressed {
		t.Errorf("TOS-MS's tiny bins: %+v", v.Territories[5])
	}
	rows := c.csv("/api/v1/compare/indicator?indicator=referral-response-time&epoch=2025")
	if col := column(t, rows, "bin_le-2d_display"); rows[6][col] != v.Territories[5].Bins[0].Display {
		t.Errorf("CSV bins %v", rows[6])
	}
}

func TestRegionCompareTrend(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	var tr CompareTrend
	c.json("/api/v1/compare/trend?indicator=referral-acceptance", &tr)
	if len(tr.Territories) != len(fileCodes) {
		t.Fatalf("%d trends", len(tr.Territories))
	}
	byCode := map[string]compare.Trend{}
	for _, x := range tr.Territories {
		byCode[x.Territory] = x
	}
	// TOS-FI: one window, 2025-Q1 … 2025-Q4, on the sums of the quarters.
	fi := byCode["TOS-FI"]
	var num, den int64
	var noise disclosure.RateNoise
	for _, q := range quarters {
		n, _, _ := f.cell("TOS-FI", q, "referral-acceptance", nil, "numerator")
		d, _, _ := f.cell("TOS-FI", q, "referral-acceptance", nil, "denominator")
		num, den = num+n, den+d
		noise = noise.Add(f.rateNoise(t, "TOS-FI", q, true))
	}
	want := disclosure.Rate(num, den, noise, 20)
	if len(fi.Points) != 1 || fi.Points[0].Epoch != "2025-Q4" || fi.Points[0].From != "2025-Q1" || *fi.Points[0].Numerator != num ||
		*fi.Points[0].Denominator != den || !near(fi.Points[0].Rate.Value, want.Rate) || !near(fi.Points[0].Rate.Low, want.Low) {
		t.Errorf("TOS-FI trend %+v, want %d / %d %+v", fi, num, den, want)
	}
	// TOS-GR skipped Q2: a gap, and no window.
	if gr := byCode["TOS-GR"]; len(gr.Points) != 0 || len(gr.Gaps) != 1 || gr.Gaps[0].Epoch != "2025-Q2" || gr.Gaps[0].Reason != compare.ReasonMissing {
		t.Errorf("TOS-GR trend %+v", gr)
	}
	if ar := byCode["TOS-AR"]; ar.Territory != "TOS-AR" || len(ar.Points) != 0 {
		t.Errorf("TOS-AR sent nothing: %+v", ar)
	}
	// The region: each quarter pooled over the territories that published it.
	var rNum, rDen int64
	for _, q := range quarters {
		for _, code := range []string{"TOS-FI", "TOS-PI", "TOS-LU", "TOS-GR", "TOS-MS"} {
			n, ns, ok := f.cell(code, q, "referral-acceptance", nil, "numerator")
			d, ds, _ := f.cell(code, q, "referral-acceptance", nil, "denominator")
			if ok && !ns && !ds {
				rNum, rDen = rNum+n, rDen+d
			}
		}
	}
	if tr.Region.Territory != "region" || len(tr.Region.Points) != 1 || *tr.Region.Points[0].Numerator != rNum || *tr.Region.Points[0].Denominator != rDen {
		t.Errorf("region trend %+v, want %d / %d", tr.Region, rNum, rDen)
	}

	var one CompareTrend
	c.json("/api/v1/compare/trend?indicator=referral-acceptance&territory=TOS-FI", &one)
	if len(one.Territories) != 1 || one.Territories[0].Points[0].Rate != fi.Points[0].Rate {
		t.Errorf("one territory: %+v", one)
	}
	rows := c.csv("/api/v1/compare/trend?indicator=referral-acceptance&territory=TOS-FI")
	if len(rows) != 3 || rows[1][0] != "TOS-FI" || number(t, rows[1][column(t, rows, "rate")]) != fi.Points[0].Rate.Value || rows[2][0] != "region" {
		t.Errorf("trend CSV %v", rows)
	}
}

func TestRegionCompareScalability(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	var v compare.ScalabilityView
	c.json("/api/v1/compare/scalability?indicator=referral-acceptance&epoch=2025&x=caseload", &v)
	if v.X != compare.AxisCaseload || len(v.Points)+len(v.Omitted) != len(fileCodes) || v.Coverage.Text != "4 of 10" {
		t.Fatalf("view %+v", v)
	}
	for _, p := range v.Points {
		n, _, _ := f.cell(p.Territory, "2025", "caseload", nil, "count")
		if p.X.Value != float64(n) || !p.Y.Published {
			t.Errorf("%s: %+v, want x = %d", p.Territory, p, n)
		}
	}
	c.json("/api/v1/compare/scalability?indicator=referral-acceptance&epoch=2025&x=cost_per_pathway_eur", &v)
	for _, p := range v.Points {
		s, _, _ := f.cell(p.Territory, "2025", "cost-per-pathway", nil, "sum")
		d, _, _ := f.cell(p.Territory, "2025", "cost-per-pathway", nil, "denominator")
		if !near(p.X.Value, float64(s)/float64(d)/100) {
			t.Errorf("%s cost %v, want %v", p.Territory, p.X.Value, float64(s)/float64(d)/100)
		}
	}
	if len(v.Points) == 0 {
		t.Error("no territory plotted by cost")
	}
	rows := c.csv("/api/v1/compare/scalability?indicator=referral-acceptance&epoch=2025&x=cost_per_pathway_eur")
	if len(rows) != 1+len(fileCodes) || number(t, rows[1][column(t, rows, "x")]) != v.Points[0].X.Value {
		t.Errorf("scalability CSV %v", rows)
	}
}

func TestRegionCompareTerritoryAndOverview(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	var o CompareOverview
	c.json("/api/v1/compare/overview?epoch=2025", &o)
	var acc *OverviewRow
	for i := range o.Rows {
		if o.Rows[i].Indicator == "referral-acceptance" {
			acc = &o.Rows[i]
		}
	}
	if acc == nil || acc.TerritoriesPublished != 4 || acc.Coverage.Text != "4 of 10" {
		t.Fatalf("overview %+v", o)
	}
	var v CompareIndicator
	c.json("/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025", &v)
	lo, hi := math.Inf(1), math.Inf(-1)
	var loCode, hiCode string
	for _, tv := range v.Territories {
		if tv.Rate.Published {
			if tv.Rate.Value < lo {
				lo, loCode = tv.Rate.Value, tv.Code
			}
			if tv.Rate.Value > hi {
				hi, hiCode = tv.Rate.Value, tv.Code
			}
		}
	}
	if acc.Min.Territory != loCode || acc.Min.Value != lo || acc.Max.Territory != hiCode || acc.Max.Value != hi || acc.Region != *v.Region.Rate {
		t.Errorf("overview row %+v, want min %s %v max %s %v", acc, loCode, lo, hiCode, hi)
	}
	// Only annual-or-quarterly ratio indicators of the epoch's kind.
	var q CompareOverview
	c.json("/api/v1/compare/overview?epoch=2025-Q1", &q)
	for _, r := range q.Rows {
		if r.Indicator == "housing-retention-6m" {
			t.Error("an annual indicator in a quarter's overview")
		}
	}
	rows := c.csv("/api/v1/compare/overview?epoch=2025")
	if len(rows) != 1+len(o.Rows) {
		t.Errorf("overview CSV: %d rows", len(rows))
	}

	var p CompareTerritory
	c.json("/api/v1/compare/territory?territory=TOS-PI&epoch=2025", &p)
	peers := compare.NearestPeers(f.tf.Territories, compare.PeerCount)
	var pg compare.Group
	for _, g := range compare.PeerGroups(peers) {
		if g.ID == "peers:TOS-PI" {
			pg = g
		}
	}
	if p.Territory.Code != "TOS-PI" || p.Epoch != "2025" || len(p.Rows) != len(o.Rows) {
		t.Fatalf("profile %+v", p)
	}
	for _, r := range p.Rows {
		if r.Indicator != "referral-acceptance" {
			if r.Value.Reason != compare.ReasonMissing {
				t.Errorf("%s: %+v", r.Indicator, r.Value)
			}
			continue
		}
		var own *compare.Estimate
		for _, tv := range v.Territories {
			if tv.Code == "TOS-PI" {
				own = tv.Rate
			}
		}
		if r.Value != *own || r.Region != *v.Region.Rate || r.Peers.Group != pg.ID || r.Peers.PooledCoverage.Enrolled != len(pg.Members) ||
			r.Group.Group != compare.BenchmarkGroups(f.tf.Territories).GroupOf["TOS-PI"] {
			t.Errorf("profile row %+v", r)
		}
		// The peers' pooled rate is the sum over the peers that published.
		var num, den int64
		for _, m := range pg.Members {
			n, ns, ok := f.cell(m, "2025", "referral-acceptance", nil, "numerator")
			d, ds, _ := f.cell(m, "2025", "referral-acceptance", nil, "denominator")
			if ok && !ns && !ds {
				num, den = num+n, den+d
			}
		}
		if den > 0 && (r.Peers.PooledNumerator != num || r.Peers.PooledDenominator != den) {
			t.Errorf("peers pooled %d / %d, want %d / %d", r.Peers.PooledNumerator, r.Peers.PooledDenominator, num, den)
		}
	}
	rows = c.csv("/api/v1/compare/territory?territory=TOS-PI&epoch=2025")
	if len(rows) != 1+len(p.Rows) {
		t.Errorf("profile CSV: %d rows", len(rows))
	}
}

// TestRegionCompareBadParameters: each bad parameter is a 400 naming it.
func TestRegionCompareBadParameters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	for path, param := range map[string]string{
		"/api/v1/compare/meta?format=xml":                                                                "format",
		"/api/v1/compare/indicator?epoch=2025":                                                           "indicator",
		"/api/v1/compare/indicator?indicator=nope&epoch=2025":                                            "indicator",
		"/api/v1/compare/indicator?indicator=caseload&epoch=2025-Q5":                                     "epoch",
		"/api/v1/compare/indicator?indicator=housing-retention-6m&epoch=2025-Q1":                         "epoch",
		"/api/v1/compare/indicator?indicator=caseload&epoch=2025&breakdown=colour:red":                   "breakdown",
		"/api/v1/compare/indicator?indicator=caseload&epoch=2025&breakdown=sex:Q":                        "breakdown",
		"/api/v1/compare/indicator?indicator=caseload&epoch=2025&breakdown=sex":                          "breakdown",
		"/api/v1/compare/trend?indicator=caseload":                                                       "indicator",
		"/api/v1/compare/trend?indicator=referral-acceptance&territory=TOS-XX":                           "territory",
		"/api/v1/compare/scalability?indicator=referral-acceptance&epoch=2025&x=height":                  "x",
		"/api/v1/compare/scalability?indicator=caseload&epoch=2025&x=caseload":                           "indicator",
		"/api/v1/compare/scalability?indicator=referral-acceptance&epoch=2025-Q1&x=cost_per_pathway_eur": "epoch",
		"/api/v1/compare/territory?epoch=2025":                                                           "territory",
		"/api/v1/compare/territory?territory=TOS-FI&epoch=last":                                          "epoch",
		"/api/v1/compare/overview":                                                                       "epoch",
		"/api/v1/compare/overview?epoch=2025&format=pdf":                                                 "format",
	} {
		a := c.get(path)
		var p Problem
		if err := json.Unmarshal(a.body, &p); err != nil || a.status != http.StatusBadRequest || p.Parameter != param ||
			a.header.Get("Content-Type") != "application/problem+json" || !strings.HasSuffix(p.Type, ProblemInvalidParameter) || p.Detail == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", path, a.status, a.body, param)
		}
	}
}

// TestRegionCompareAuthAndNoTerritories: the comparisons need a viewer
// token unless the region serves open; the OpenAPI document never does;
// without a territories file they answer 404 saying what to set.
func TestRegionCompareAuthAndNoTerritories(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	for _, path := range []string{"/api/v1/compare/meta", "/api/v1/compare/overview?epoch=2025"} {
		if a := c.getWith(path, ""); a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: %d", path, a.status)
		}
		if a := c.getWith(path, "snodo_not-a-token"); a.status != http.StatusUnauthorized {
			t.Errorf("%s with a bad token: %d", path, a.status)
		}
	}
	if a := c.getWith("/api/openapi.json", ""); a.status != http.StatusOK || !json.Valid(a.body) {
		t.Errorf("openapi.json: %d", a.status)
	}
	open := f.serve(t, true)
	if a := open.getWith("/api/v1/compare/meta", ""); a.status != http.StatusOK {
		t.Errorf("open region: %d %s", a.status, a.body)
	}

	h, err := NewHandler(Config{Store: f.st, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	none := &client{t: t, srv: srv, spec: newOpenAPIChecker(t)}
	a := none.get("/api/v1/compare/indicator?indicator=caseload&epoch=2025")
	var p Problem
	if err := json.Unmarshal(a.body, &p); err != nil || a.status != http.StatusNotFound ||
		p.Detail != "no territories file configured: set territories_file in region.yaml" {
		t.Errorf("no territories file: %d %s", a.status, a.body)
	}
}

// TestRegionCompareNothingPersonal: the answers hold territories' codes,
// public covariates and published statistics, nothing else. Every answer
// is also checked against the OpenAPI document, whose schemas allow no
// other field; here the suppressed territory's true tiny counts must not
// surface anywhere in its row, in any view.
func TestRegionCompareNothingPersonal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.serve(t, false)
	for _, path := range []string{
		"/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025",
		"/api/v1/compare/indicator?indicator=caseload&epoch=2025",
	} {
		var raw map[string]any
		c.json(path, &raw)
		for _, row := range raw["territories"].([]any) {
			m := row.(map[string]any)
			if m["code"] != "TOS-MS" {
				continue
			}
			for _, k := range []string{"numerator", "denominator", "count"} {
				if _, ok := m[k]; ok {
					t.Errorf("%s: the suppressed territory shows %s", path, k)
				}
			}
		}
		a := c.get(path)
		for _, bad := range []string{"ATS-X", "key_id", "sha256", "signature"} {
			if bytes.Contains(a.body, []byte(bad)) {
				t.Errorf("%s mentions %q", path, bad)
			}
		}
	}
	// The demo's region name and sources are the only free text besides
	// the catalogue's titles.
	a := c.get("/api/v1/compare/meta")
	if !bytes.Contains(a.body, []byte("Toscana")) || bytes.Contains(a.body, []byte("ATS-X")) {
		t.Errorf("meta: %s", a.body)
	}
}

// TestMountedKeepsTheRequestID: served behind another API (a territory
// hub's own view) the handler keeps the id that API gave the request, in
// the header and in a problem's instance, so that the client's id is the
// one in the outer log line.
func TestMountedKeepsTheRequestID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	h, err := NewHandler(Config{Store: f.st, Open: true, Territories: f.tf})
	if err != nil {
		t.Fatal(err)
	}
	const outer = "01JOUTERREQUESTID000000000"
	for path, status := range map[string]int{"/api/v1/compare/meta": 200, "/api/v1/compare/indicator?indicator=nope": 400} {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", outer)
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != status || rec.Header().Get("X-Request-Id") != outer {
			t.Errorf("%s: %d with request id %q, want %d with the outer %q", path, rec.Code, rec.Header().Get("X-Request-Id"), status, outer)
		}
		if status != 200 && !strings.Contains(rec.Body.String(), outer) {
			t.Errorf("%s: the problem's instance does not carry the outer id: %s", path, rec.Body.String())
		}
	}
}
