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

// fixtureAPI serves testdata/*.json at the contract's paths, by query:
// meta.json, overview-E.json, indicator-ID-E.json, trend-ID.json,
// scalability-ID-E-X.json, territory-CODE-E.json. A missing fixture is a
// 404 problem+json, as the real API answers an epoch it does not hold.
// With token set, every call needs "Authorization: Bearer token".
func fixtureAPI(token string) http.Handler {
	mux := http.NewServeMux()
	file := func(r *http.Request) string {
		q := r.URL.Query()
		switch strings.TrimPrefix(r.URL.Path, "/api/v1/compare/") {
		case "meta":
			return "meta"
		case "overview":
			return "overview-" + q.Get("epoch")
		case "indicator":
			return "indicator-" + q.Get("indicator") + "-" + q.Get("epoch")
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
		b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
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

// fixtureServer is the dashboard with the fixture API, as `snodo region
// serve` mounts them.
func fixtureServer(t testing.TB, token string) http.Handler {
	h, err := Handler(Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", fixtureAPI(token))
	mux.Handle("/", h)
	return mux
}

// TestFixturesFollowTheContract reads every fixture as the page does and
// checks the shape the dashboard relies on, so that a fixture drifting
// from the contract fails here rather than as a blank chart.
func TestFixturesFollowTheContract(t *testing.T) {
	srv := httptest.NewServer(fixtureServer(t, ""))
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
	srv := httptest.NewServer(fixtureServer(t, "s3cret"))
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
// DASHBOARD_TOKEN=x makes the API ask for a viewer token.
func TestServeFixtures(t *testing.T) {
	addr := os.Getenv("DASHBOARD_SERVE")
	if addr == "" {
		t.Skip("set DASHBOARD_SERVE=host:port to serve the dashboard with its fixtures")
	}
	t.Logf("serving on http://%s/", addr)
	if err := http.ListenAndServe(addr, fixtureServer(t, os.Getenv("DASHBOARD_TOKEN"))); err != nil {
		t.Fatal(err)
	}
}
