package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func newHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := Handler(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// assetURLs are the asset links the page names, e.g. "assets/app.js?v=…".
var assetURLs = regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`)

func TestHandlerServesIndexAndAssets(t *testing.T) {
	h := newHandler(t)
	rec := get(t, h, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("index Content-Type = %q", ct)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `<html lang="it">`) {
		t.Error("index has no lang attribute")
	}
	if !strings.Contains(body, `<meta name="snodo-api" content="/api/v1/compare">`) {
		t.Error("index does not name the default API base")
	}
	if strings.Contains(body, "<script>") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Error("index holds inline script, which the CSP forbids")
	}
	links := assetURLs.FindAllStringSubmatch(body, -1)
	if len(links) != 3 {
		t.Fatalf("index links %d assets, want 3 (css, js, icon): %v", len(links), links)
	}
	want := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
	for _, l := range links {
		u := "/" + strings.ReplaceAll(l[1], "&amp;", "&")
		rec := get(t, h, u, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", u, rec.Code)
			continue
		}
		ext := filepath.Ext(strings.SplitN(u, "?", 2)[0])
		if ct := rec.Header().Get("Content-Type"); ct != want[ext] {
			t.Errorf("GET %s: Content-Type %q, want %q", u, ct, want[ext])
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("GET %s (versioned): Cache-Control %q, want immutable", u, cc)
		}
		etag := rec.Header().Get("ETag")
		if etag == "" {
			t.Errorf("GET %s: no ETag", u)
			continue
		}
		if again := get(t, h, u, map[string]string{"If-None-Match": etag}); again.Code != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", u, again.Code)
		}
	}
	// Without the version the asset is still served, but must be
	// revalidated: the next binary may change it under the same name.
	if cc := get(t, h, "/assets/app.js", nil).Header().Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("unversioned asset cached as immutable: %q", cc)
	}
}

// TestIndexScopeNoteStartsHidden: the territory-scope note is in the page
// but hidden until the page has read meta.scope, so a region's dashboard
// never flashes "this is what the territory published".
func TestIndexScopeNoteStartsHidden(t *testing.T) {
	body := get(t, newHandler(t), "/", nil).Body.String()
	tag := regexp.MustCompile(`<div[^>]*id="scope-note"[^>]*>`).FindString(body)
	if tag == "" {
		t.Fatal("index has no scope-note element")
	}
	if !strings.Contains(tag, " hidden") || !strings.Contains(tag, `data-testid="scope-note"`) {
		t.Errorf("scope-note not hidden or without its test id: %s", tag)
	}
}

// TestDocumentedTestIDsExist: every data-testid the README promises the
// browser test is set somewhere in the page or its script, so the README
// and the code cannot drift apart unnoticed.
func TestDocumentedTestIDsExist(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## For the browser test")
	if !ok {
		t.Fatal("README has no browser-test section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	js, err := webFS.ReadFile("web/assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := webFS.ReadFile("web/index.html")
	if err != nil {
		t.Fatal(err)
	}
	code := string(js) + string(html)
	ids := regexp.MustCompile("`([a-z]+(?:-[a-z]+)+)`").FindAllStringSubmatch(section, -1)
	if len(ids) < 30 {
		t.Fatalf("found only %d test ids in the README", len(ids))
	}
	for _, m := range ids {
		id := m[1]
		if strings.HasPrefix(id, "data-") {
			if !strings.Contains(code, "'"+id+"'") && !strings.Contains(code, id+"=") {
				t.Errorf("README names attribute %s, which the code never sets", id)
			}
			continue
		}
		// export-csv and export-json come from one template, `export-${format}`.
		prefix := id[:strings.LastIndex(id, "-")]
		if !strings.Contains(code, "'"+id+"'") && !strings.Contains(code, `"`+id+`"`) && !strings.Contains(code, "`"+prefix+"-${") {
			t.Errorf("README names test id %s, which the code never sets", id)
		}
	}
}

func TestHandlerSecurityHeaders(t *testing.T) {
	h := newHandler(t)
	for _, target := range []string{"/", "/assets/app.js", "/assets/nope.js", "/elsewhere"} {
		rec := get(t, h, target, nil)
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", target, got)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline or eval: %q", target, csp)
		}
	}
}

func TestHandlerNotFoundAndMethods(t *testing.T) {
	h := newHandler(t)
	for _, target := range []string{"/assets/nope.js", "/assets/", "/assets/../index.html", "/other", "/api/v1/compare/meta"} {
		if rec := get(t, h, target, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", target, rec.Code)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d, want 405", rec.Code)
	}
}

func TestHandlerAPIBaseOption(t *testing.T) {
	h, err := Handler(Options{APIBase: `/x/"><script>`, RegionName: "Toscana"})
	if err != nil {
		t.Fatal(err)
	}
	body := get(t, h, "/", nil).Body.String()
	if strings.Contains(body, `"><script>`) {
		t.Error("APIBase is not escaped in the page")
	}
	if !strings.Contains(body, "Regione Toscana") {
		t.Error("RegionName not shown before the API answers")
	}
}

// Fixture sets: the region hub's API, and a territory hub's own view
// (meta.scope "territory", one territory), as `snodo run` serves it.
const (
	regionFixtures    = "testdata"
	territoryFixtures = "testdata/territory"
)

// fixtureAPI serves dir/*.json at the contract's paths, by query:
// meta.json, overview-E.json, indicator-ID-E.json (with breakdown=DIM:VAL,
// indicator-ID-E-bd-DIM-VAL.json), trend-ID.json, scalability-ID-E-X.json,
// territory-CODE-E.json. A missing fixture is a 404 problem+json, as the
// real API answers an epoch it does not hold. With token set, every call
// needs "Authorization: Bearer token".
func fixtureAPI(dir, token string) http.Handler {
	mux := http.NewServeMux()
	file := func(r *http.Request) string {
		q := r.URL.Query()
		switch strings.TrimPrefix(r.URL.Path, "/api/v1/compare/") {
		case "meta":
			return "meta"
		case "overview":
			return "overview-" + q.Get("epoch")
		case "indicator":
			name := "indicator-" + q.Get("indicator") + "-" + q.Get("epoch")
			if b := q.Get("breakdown"); b != "" {
				dim, val, ok := strings.Cut(b, ":")
				if !ok || dim == "" || val == "" {
					return "" // the real API's 400: give key:value
				}
				name += "-bd-" + dim + "-" + val
			}
			return name
		case "trend":
			return "trend-" + q.Get("indicator")
		case "scalability":
			return "scalability-" + q.Get("indicator") + "-" + q.Get("epoch") + "-" + q.Get("x")
		case "territory":
			return "territory-" + q.Get("territory") + "-" + q.Get("epoch")
		}
		return ""
	}
	mux.HandleFunc("/api/v1/compare/", func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			problem(w, r, http.StatusUnauthorized, "a viewer token is required")
			return
		}
		name := file(r)
		if strings.ContainsAny(name, `/\`) || name == "" {
			problem(w, r, http.StatusBadRequest, "bad parameter")
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			problem(w, r, http.StatusNotFound, fmt.Sprintf("no data for %s", r.URL.RawQuery))
			return
		}
		if r.URL.Query().Get("format") == "csv" {
			// The fixtures hold JSON only; a CSV of the file's keys is enough
			// to check that the export link reaches the API with the query.
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			fmt.Fprintf(w, "fixture\n%s\n", name)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	return mux
}

func problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail, "instance": r.URL.Path})
}

// fixtureServer is the dashboard with the fixture API of dir, as `snodo
// region serve` (or `snodo run`) mounts them.
func fixtureServer(t testing.TB, dir, token string) http.Handler {
	h, err := Handler(Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", fixtureAPI(dir, token))
	mux.Handle("/", h)
	return mux
}

// TestFixturesFollowTheContract reads every fixture as the page does and
// checks the shape the dashboard relies on, so that a fixture drifting
// from the contract fails here rather than as a blank chart.
func TestFixturesFollowTheContract(t *testing.T) {
	srv := httptest.NewServer(fixtureServer(t, regionFixtures, ""))
	defer srv.Close()
	var meta struct {
		Epochs       []string `json:"epochs"`
		LatestAnnual string   `json:"latest_annual"`
		Indicators   []struct {
			ID, Kind string
		} `json:"indicators"`
		Territories []struct {
			Code  string   `json:"code"`
			Group string   `json:"group"`
			Peers []string `json:"peers"`
		} `json:"territories"`
	}
	getJSON(t, srv.URL+"/api/v1/compare/meta", &meta)
	if len(meta.Territories) != 10 || meta.LatestAnnual != "2025" {
		t.Fatalf("meta: %d territories, latest %q", len(meta.Territories), meta.LatestAnnual)
	}
	suppressed := 0
	for _, ind := range meta.Indicators {
		if ind.Kind != "ratio" {
			continue
		}
		var d struct {
			Territories []struct {
				Code       string `json:"code"`
				Suppressed bool   `json:"suppressed"`
				Display    string `json:"display"`
				Rate       struct {
					Published        bool
					Value, Low, High float64
					Reason           string
				} `json:"rate"`
			} `json:"territories"`
			Coverage struct{ Contributing, Enrolled int }
		}
		getJSON(t, srv.URL+"/api/v1/compare/indicator?indicator="+ind.ID+"&epoch=2025", &d)
		if len(d.Territories) != 10 || d.Coverage.Enrolled != 10 {
			t.Errorf("%s: %d territories, %d enrolled", ind.ID, len(d.Territories), d.Coverage.Enrolled)
		}
		for _, tr := range d.Territories {
			switch {
			case tr.Suppressed:
				suppressed++
				if tr.Rate.Published || tr.Display != "suppressed" {
					t.Errorf("%s %s: suppressed but rate %+v display %q", ind.ID, tr.Code, tr.Rate, tr.Display)
				}
			case tr.Rate.Published:
				if tr.Rate.Low > tr.Rate.Value || tr.Rate.Value > tr.Rate.High {
					t.Errorf("%s %s: value outside its interval %+v", ind.ID, tr.Code, tr.Rate)
				}
			}
		}
		var tr struct {
			Region struct{ Points []json.RawMessage }
		}
		getJSON(t, srv.URL+"/api/v1/compare/trend?indicator="+ind.ID, &tr)
		if len(tr.Region.Points) != 5 { // 8 quarters make 5 four-quarter windows
			t.Errorf("%s: region trend has %d points", ind.ID, len(tr.Region.Points))
		}
		for _, x := range []string{"caseload", "cost_per_pathway_eur"} {
			var s struct{ X string }
			getJSON(t, srv.URL+"/api/v1/compare/scalability?indicator="+ind.ID+"&epoch=2025&x="+x, &s)
			if s.X != x {
				t.Errorf("%s scalability x = %q, want %q", ind.ID, s.X, x)
			}
		}
	}
	if suppressed == 0 {
		t.Error("no suppressed cell in the fixtures: the dashboard's suppressed drawing goes untested")
	}
	for _, tr := range meta.Territories {
		var p struct {
			Rows []struct{ Indicator string }
		}
		getJSON(t, srv.URL+"/api/v1/compare/territory?territory="+tr.Code+"&epoch=2025", &p)
		if len(p.Rows) == 0 || len(tr.Peers) != 5 {
			t.Errorf("%s: %d profile rows, %d peers", tr.Code, len(p.Rows), len(tr.Peers))
		}
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, res.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestFixtureAPIAuth(t *testing.T) {
	srv := httptest.NewServer(fixtureServer(t, regionFixtures, "s3cret"))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/v1/compare/meta")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("meta without a token = %d, want 401 (the page's login form depends on it)", res.StatusCode)
	}
}

// TestServeFixtures serves the dashboard with the fixture API until
// killed, for looking at it in a browser or taking screenshots:
//
//	DASHBOARD_SERVE=127.0.0.1:8099 go test -run TestServeFixtures ./hub/dashboard/
//
// DASHBOARD_TOKEN=x makes the API ask for a viewer token;
// DASHBOARD_SCOPE=territory serves a territory hub's own view instead.
func TestServeFixtures(t *testing.T) {
	addr := os.Getenv("DASHBOARD_SERVE")
	if addr == "" {
		t.Skip("set DASHBOARD_SERVE=host:port to serve the dashboard with its fixtures")
	}
	dir := regionFixtures
	if os.Getenv("DASHBOARD_SCOPE") == "territory" {
		dir = territoryFixtures
	}
	t.Logf("serving %s on http://%s/", dir, addr)
	if err := http.ListenAndServe(addr, fixtureServer(t, dir, os.Getenv("DASHBOARD_TOKEN"))); err != nil {
		t.Fatal(err)
	}
}

// estimate is a compare.Estimate as the fixtures carry it.
type estimate struct {
	Published bool    `json:"published"`
	Value     float64 `json:"value"`
	Low       float64 `json:"low"`
	High      float64 `json:"high"`
	Reason    string  `json:"reason"`
}

// TestBreakdownFixtures checks the breakdown fixtures the indicator page's
// breakdown selector reads: each answers the breakdown it was asked for,
// names a breakdown and value meta offers for that indicator, keeps every
// value inside its interval, and is noisier than the total (σ² 384 against
// 80/7), which is what the page's note on breakdowns tells the reader.
func TestBreakdownFixtures(t *testing.T) {
	for _, dir := range []string{regionFixtures, territoryFixtures} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			srv := httptest.NewServer(fixtureServer(t, dir, ""))
			defer srv.Close()
			var meta struct {
				Indicators []struct {
					ID         string `json:"id"`
					Breakdowns []struct {
						ID     string   `json:"id"`
						Values []string `json:"values"`
					} `json:"breakdowns"`
				} `json:"indicators"`
			}
			getJSON(t, srv.URL+"/api/v1/compare/meta", &meta)
			offered := map[string]bool{} // "indicator dim:value"
			for _, ind := range meta.Indicators {
				for _, b := range ind.Breakdowns {
					for _, v := range b.Values {
						offered[ind.ID+" "+b.ID+":"+v] = true
					}
				}
			}
			files, err := filepath.Glob(filepath.Join(dir, "indicator-*-2025-bd-*.json"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no breakdown fixtures in %s (%v)", dir, err)
			}
			wider := 0
			for _, f := range files {
				var id, dim, val string
				for k := range offered {
					ind, bd, _ := strings.Cut(k, " ")
					d, v, _ := strings.Cut(bd, ":")
					if filepath.Base(f) == "indicator-"+ind+"-2025-bd-"+d+"-"+v+".json" {
						id, dim, val = ind, d, v
					}
				}
				if id == "" {
					t.Errorf("%s: not a breakdown meta offers", f)
					continue
				}
				type view struct {
					Breakdown   map[string]string `json:"breakdown"`
					Region      struct{ Rate estimate }
					Territories []struct {
						Code string   `json:"code"`
						Rate estimate `json:"rate"`
					} `json:"territories"`
				}
				var bd, total view
				getJSON(t, srv.URL+"/api/v1/compare/indicator?indicator="+id+"&epoch=2025&breakdown="+dim+":"+val, &bd)
				getJSON(t, srv.URL+"/api/v1/compare/indicator?indicator="+id+"&epoch=2025", &total)
				if len(bd.Breakdown) != 1 || bd.Breakdown[dim] != val {
					t.Errorf("%s %s:%s answers breakdown %v", id, dim, val, bd.Breakdown)
				}
				if len(bd.Territories) != len(total.Territories) {
					t.Errorf("%s %s:%s: %d territories, the total has %d", id, dim, val, len(bd.Territories), len(total.Territories))
				}
				for _, tr := range bd.Territories {
					if r := tr.Rate; r.Published && (r.Low > r.Value || r.Value > r.High) {
						t.Errorf("%s %s:%s %s: value outside its interval %+v", id, dim, val, tr.Code, r)
					}
				}
				b, tot := bd.Region.Rate, total.Region.Rate
				if b.Published && tot.Published && b.High-b.Low > tot.High-tot.Low {
					wider++
				}
			}
			if wider == 0 {
				t.Error("no breakdown is noisier than its total: the fixtures do not show what the page's note says")
			}
			// A malformed breakdown is the API's 400, not a blank chart.
			res, err := http.Get(srv.URL + "/api/v1/compare/indicator?indicator=referral-acceptance&epoch=2025&breakdown=sex")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("breakdown=sex (no value) = %d, want 400", res.StatusCode)
			}
		})
	}
}

// TestTerritoryScopeFixtures checks the territory hub's fixtures against
// what the page assumes in territory scope: meta says so and names one
// territory and no groups; the "region" values are that territory's own,
// so the overview card, the indicator's single bar and the trend agree.
func TestTerritoryScopeFixtures(t *testing.T) {
	type metaT struct {
		Scope       string `json:"scope"`
		Territories []struct {
			Code  string   `json:"code"`
			Name  string   `json:"name"`
			Peers []string `json:"peers"`
		} `json:"territories"`
		Groups     []json.RawMessage           `json:"groups"`
		Indicators []struct{ ID, Kind string } `json:"indicators"`
	}
	region := httptest.NewServer(fixtureServer(t, regionFixtures, ""))
	defer region.Close()
	var rm metaT
	getJSON(t, region.URL+"/api/v1/compare/meta", &rm)
	if rm.Scope == "territory" {
		t.Errorf("region fixtures say scope %q", rm.Scope)
	}

	srv := httptest.NewServer(fixtureServer(t, territoryFixtures, ""))
	defer srv.Close()
	var m metaT
	getJSON(t, srv.URL+"/api/v1/compare/meta", &m)
	if m.Scope != "territory" || len(m.Territories) != 1 || len(m.Groups) != 0 || len(m.Territories[0].Peers) != 0 {
		t.Fatalf("territory meta: scope %q, %d territories, %d groups", m.Scope, len(m.Territories), len(m.Groups))
	}
	code := m.Territories[0].Code
	var ov struct {
		Rows []struct {
			Indicator string   `json:"indicator"`
			Region    estimate `json:"region"`
		} `json:"rows"`
	}
	getJSON(t, srv.URL+"/api/v1/compare/overview?epoch=2025", &ov)
	published := 0
	for _, row := range ov.Rows {
		var d struct {
			Region      struct{ Rate estimate }
			Territories []struct {
				Code string   `json:"code"`
				Rate estimate `json:"rate"`
			} `json:"territories"`
			Groups []json.RawMessage `json:"groups"`
		}
		getJSON(t, srv.URL+"/api/v1/compare/indicator?indicator="+row.Indicator+"&epoch=2025", &d)
		if len(d.Territories) != 1 || d.Territories[0].Code != code || len(d.Groups) != 0 {
			t.Errorf("%s: %d territories, %d groups", row.Indicator, len(d.Territories), len(d.Groups))
			continue
		}
		own := d.Territories[0].Rate
		if own != row.Region || own != d.Region.Rate {
			t.Errorf("%s: overview %+v, region %+v, territory %+v: not the territory's own value", row.Indicator, row.Region, d.Region.Rate, own)
		}
		if own.Published {
			published++
		}
	}
	if published == 0 || published == len(ov.Rows) {
		t.Errorf("%d of %d indicators published: want both published and withheld cards", published, len(ov.Rows))
	}
	var p struct {
		Territory struct{ Code string }
		Rows      []struct{ Indicator string }
	}
	getJSON(t, srv.URL+"/api/v1/compare/territory?territory="+code+"&epoch=2025", &p)
	if p.Territory.Code != code || len(p.Rows) == 0 {
		t.Errorf("territory profile: %q with %d rows", p.Territory.Code, len(p.Rows))
	}
}
