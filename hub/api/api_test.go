package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// Person ids of the fixture: pseudonymous ULIDs, as the pipeline makes them.
const (
	anna  = "01JABCDEFGHJKMNPQRSTVWXYZ0"
	bruno = "01JBBCDEFGHJKMNPQRSTVWXYZ1"
)

// The callers every endpoint is tried with.
const (
	noToken  = "no token"
	badToken = "bad token"
	revoked  = "revoked token"
	viewer   = "viewer"
	operator = "operator"
	admin    = "admin"
)

var callers = []string{noToken, badToken, revoked, viewer, operator, admin}

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fixture struct {
	store  *store.Store
	path   string
	api    *api.Server
	srv    *httptest.Server
	tokens map[string]string // caller → bearer token
	logs   *lockedBuffer
	pipe   *fakePipeline
}

// fakePipeline is a fixed data source for /metrics.
type fakePipeline struct {
	mu    sync.Mutex
	stats pipeline.Stats
}

func (f *fakePipeline) Stats() pipeline.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

func (f *fakePipeline) set(s pipeline.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = s
}

// fakeConnectors is a fixed data source for the connector endpoints: the
// supervisors are not what is under test.
type fakeConnectors struct {
	mu  sync.Mutex
	sts []supervisor.Status
}

func (f *fakeConnectors) Statuses() []supervisor.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]supervisor.Status(nil), f.sts...)
}

func (f *fakeConnectors) set(sts ...supervisor.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sts = sts
}

var since = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// now is the referral engine's clock in the fixture.
var now = since.Add(10 * 24 * time.Hour)

func twoConnectors() *fakeConnectors {
	return &fakeConnectors{sts: []supervisor.Status{
		{Name: "sil-cpi", State: supervisor.Recovering, Reason: "restarting after a crash", Since: since, Restarts: 5, Errors: 5},
		{Name: "odv", State: supervisor.Running, Reason: "running, pid 42", Since: since, Records: 120, Batches: 3, Restarts: 2, LastSuccess: since.Add(time.Hour)},
	}}
}

func newFixture(t *testing.T, conns api.Connectors) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "snodo.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{store: s, path: path, tokens: map[string]string{}, logs: &lockedBuffer{}, pipe: &fakePipeline{}}
	for _, r := range []tokens.Role{tokens.Viewer, tokens.Operator, tokens.Admin} {
		tok, err := tokens.Create(ctx, s, "test", r.String(), r)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r.String()] = tok
	}
	tok, err := tokens.Create(ctx, s, "test", "gone", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Revoke(ctx, s, "test", "gone"); err != nil {
		t.Fatal(err)
	}
	f.tokens[revoked] = tok
	f.tokens[badToken] = tokens.Generate()

	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	// The referral engine, for its response targets: routine 7 days,
	// urgent 3, on a clock at now.
	engine, err := referral.New(referral.Config{Key: key,
		Targets: map[string]time.Duration{"routine": 7 * 24 * time.Hour, "urgent": 72 * time.Hour},
		Clock:   func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f.api, err = api.New(api.Config{
		Store:      s,
		Connectors: conns,
		Pipeline:   f.pipe,
		Referrals:  engine,
		Logger:     slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Every test here calls from 127.0.0.1 and many try wrong tokens on
		// purpose: the token-guessing limit has its own test (limit_test.go).
		AuthLimit: authlimit.New(authlimit.Config{Failures: 1 << 20}),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.api)
	t.Cleanup(f.srv.Close)
	return f
}

type rec struct {
	schema, id, person string
	at                 time.Time
}

func (f *fixture) addRecords(t *testing.T, recs ...rec) {
	t.Helper()
	ctx := context.Background()
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		for _, r := range recs {
			body := fmt.Sprintf(`{"schema":%q,"record_id":%q,"note":"content of %s"}`, r.schema, r.id, r.id)
			if r.person != "" {
				body = fmt.Sprintf(`{"schema":%q,"record_id":%q,"person":{"person_id":%q},"note":"content of %s"}`, r.schema, r.id, r.person, r.id)
			}
			_, err := tx.UpsertRecord(ctx, store.Record{
				Schema: r.schema, SchemaID: "https://snodo-hub.github.io/schemas/" + r.schema + "/1.0.0",
				Source: "odv", RecordID: r.id, Territory: "ATS-01", RecordedAt: r.at, Body: []byte(body), PersonID: r.person,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) addQuarantine(t *testing.T, items ...store.QuarantineItem) []int64 {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		for _, q := range items {
			id, err := tx.AddQuarantine(ctx, q)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// get sends GET path as caller and returns the response with its body read.
func (f *fixture) get(t *testing.T, path, caller string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if caller != noToken {
		req.Header.Set("Authorization", "Bearer "+f.tokens[caller])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// getJSON sends GET path as caller, wants 200 and decodes the answer.
func getJSON[T any](t *testing.T, f *fixture, path, caller string) T {
	t.Helper()
	resp, body := f.get(t, path, caller)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("GET %s: decode %s: %v", path, body, err)
	}
	return v
}

// problem is the shape every error must have: RFC 9457 members and the
// API's two extensions, nothing else.
type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail"`
	Instance  string            `json:"instance"`
	Parameter string            `json:"parameter"`
	Checks    map[string]string `json:"checks"`
}

// checkProblem checks that resp is a well-formed problem of the given
// status and kind, and returns it.
func checkProblem(t *testing.T, resp *http.Response, body []byte, status int, kind string) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Errorf("Content-Type %q, want %s", ct, api.ProblemContentType)
	}
	var p problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem %s: %v", body, err)
	}
	if p.Type != api.ProblemTypeBase+kind {
		t.Errorf("type %q, want %s%s", p.Type, api.ProblemTypeBase, kind)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("problem without title or detail: %s", body)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status %d, response status %d", p.Status, resp.StatusCode)
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || p.Instance != "urn:snodo:request:"+id {
		t.Errorf("instance %q, X-Request-Id %q", p.Instance, id)
	}
	return p
}

// TestEveryEndpointEveryRole tries every registered endpoint with every
// kind of caller. The rows are checked against the router: an endpoint
// added without a row here fails.
func TestEveryEndpointEveryRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, twoConnectors())
	f.addRecords(t, rec{"referral", "r1", anna, since})
	qids := f.addQuarantine(t, store.QuarantineItem{Source: "odv", RecordID: "q1", Errors: []store.QuarantineError{{Pointer: "/person", Message: "invalid"}}, Raw: []byte("x")})
	f.addReferral(t, store.Referral{Source: "comune", RecordID: "REF-1", Requester: "comune-x", Owner: "cpi-x", PersonID: anna,
		Priority: "urgent", Category: "employment-status", Status: "requested", StatusAt: since, AuthoredOn: since, Delivery: store.DeliveryPending})

	const (
		ok   = http.StatusOK
		unau = http.StatusUnauthorized
		forb = http.StatusForbidden
	)
	//                                  no token  bad   revoked  viewer  operator  admin
	public := [6]int{ok, ok, ok, ok, ok, ok}
	viewerUp := [6]int{unau, unau, unau, ok, ok, ok}
	operatorUp := [6]int{unau, unau, unau, forb, ok, ok}
	adminOnly := [6]int{unau, unau, unau, forb, forb, ok}
	rows := map[string]struct {
		path string
		want [6]int // by callers' order
	}{
		"GET /healthz":                        {"/healthz", public},
		"GET /readyz":                         {"/readyz", public},
		"GET /metrics":                        {"/metrics", public},
		"GET /api/v1/status":                  {"/api/v1/status", viewerUp},
		"GET /api/v1/connectors":              {"/api/v1/connectors", viewerUp},
		"GET /api/v1/records":                 {"/api/v1/records?schema=referral", operatorUp},
		"GET /api/v1/persons/{id}/timeline":   {"/api/v1/persons/" + anna + "/timeline", operatorUp},
		"GET /api/v1/quarantine":              {"/api/v1/quarantine", operatorUp},
		"GET /api/v1/referrals":               {"/api/v1/referrals?overdue=true", operatorUp},
		"GET /api/v1/referrals/{source}/{id}": {"/api/v1/referrals/comune/REF-1", operatorUp},
		"GET /api/v1/quarantine/{id}":         {fmt.Sprintf("/api/v1/quarantine/%d", qids[0]), operatorUp},
		"GET /api/v1/audit/verify":            {"/api/v1/audit/verify", adminOnly},
	}
	routes := f.api.Routes()
	registered := map[string]bool{}
	for _, r := range routes {
		registered[r.Pattern()] = true
		if _, ok := rows[r.Pattern()]; !ok {
			t.Errorf("endpoint %s has no row in this test: add one", r.Pattern())
		}
	}
	for pattern := range rows {
		if !registered[pattern] {
			t.Errorf("row %s is not a registered endpoint", pattern)
		}
	}

	for _, r := range routes {
		row, ok := rows[r.Pattern()]
		if !ok {
			continue
		}
		for i, caller := range callers {
			t.Run(r.Pattern()+"/"+caller, func(t *testing.T) {
				t.Parallel()
				resp, body := f.get(t, row.path, caller)
				want := row.want[i]
				if resp.StatusCode != want {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, want, body)
				}
				auth := resp.Header.Get("WWW-Authenticate")
				switch {
				case want == unau && caller == noToken:
					checkProblem(t, resp, body, want, api.ProblemUnauthenticated)
					if auth != `Bearer realm="snodo"` {
						t.Errorf("WWW-Authenticate %q", auth)
					}
				case want == unau:
					p := checkProblem(t, resp, body, want, api.ProblemInvalidToken)
					if auth != `Bearer realm="snodo", error="invalid_token"` {
						t.Errorf("WWW-Authenticate %q", auth)
					}
					if caller == revoked && !strings.Contains(p.Detail, "revoked") {
						t.Errorf("detail %q does not say the token was revoked", p.Detail)
					}
				case want == forb:
					p := checkProblem(t, resp, body, want, api.ProblemForbidden)
					if !strings.Contains(p.Detail, "needs the "+r.Role.String()+" role") {
						t.Errorf("detail %q does not name the role needed (%s)", p.Detail, r.Role)
					}
				case r.Path == "/metrics":
					if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
						t.Errorf("Content-Type %q", ct)
					}
				default:
					if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !json.Valid(body) {
						t.Errorf("Content-Type %q, body %s", ct, body)
					}
				}
				if strings.HasPrefix(r.Path, "/api/") && resp.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
				}
			})
		}
	}
}

func TestRoutesDeclareTheirRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	got := map[string]string{}
	for _, r := range f.api.Routes() {
		role := "none"
		if r.Role != api.NoToken {
			role = r.Role.String()
		}
		got[r.Pattern()] = role
	}
	want := map[string]string{
		"GET /healthz": "none", "GET /readyz": "none", "GET /metrics": "none",
		"GET /api/v1/status": "viewer", "GET /api/v1/connectors": "viewer",
		"GET /api/v1/records": "operator", "GET /api/v1/persons/{id}/timeline": "operator",
		"GET /api/v1/quarantine": "operator", "GET /api/v1/quarantine/{id}": "operator",
		"GET /api/v1/referrals": "operator", "GET /api/v1/referrals/{source}/{id}": "operator",
		"GET /api/v1/audit/verify": "admin",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes and roles (-want +got):\n%s", diff)
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const cf = "RSSMRA85T10A562S" // a codice fiscale sent by mistake
	tests := map[string]struct {
		method, path string
		status       int
		kind, param  string
		allow        string
	}{
		"limit not a number":     {path: "/api/v1/records?schema=referral&limit=ten", status: 400, kind: api.ProblemInvalidParameter, param: "limit"},
		"limit zero":             {path: "/api/v1/records?schema=referral&limit=0", status: 400, kind: api.ProblemInvalidParameter, param: "limit"},
		"limit too high":         {path: "/api/v1/records?schema=referral&limit=1001", status: 400, kind: api.ProblemInvalidParameter, param: "limit"},
		"limit twice":            {path: "/api/v1/records?schema=referral&limit=1&limit=2", status: 400, kind: api.ProblemInvalidParameter, param: "limit"},
		"no schema":              {path: "/api/v1/records", status: 400, kind: api.ProblemInvalidParameter, param: "schema"},
		"bad schema":             {path: "/api/v1/records?schema=Ref%20x", status: 400, kind: api.ProblemInvalidParameter, param: "schema"},
		"unknown parameter":      {path: "/api/v1/records?schema=referral&limt=5", status: 400, kind: api.ProblemInvalidParameter, param: "limt"},
		"forged cursor":          {path: "/api/v1/records?schema=referral&after=abc", status: 400, kind: api.ProblemInvalidParameter, param: "after"},
		"cursor of another list": {path: "/api/v1/records?schema=referral&after=eyJsIjoicXVhcmFudGluZSIsImkiOjF9", status: 400, kind: api.ProblemInvalidParameter, param: "after"},
		"timeline by a code":     {path: "/api/v1/persons/" + cf + "/timeline", status: 400, kind: api.ProblemInvalidParameter, param: "id"},
		"timeline bad limit":     {path: "/api/v1/persons/" + anna + "/timeline?limit=-1", status: 400, kind: api.ProblemInvalidParameter, param: "limit"},
		"quarantine bad id":      {path: "/api/v1/quarantine/x1", status: 400, kind: api.ProblemInvalidParameter, param: "id"},
		"quarantine bad pending": {path: "/api/v1/quarantine?pending=maybe", status: 400, kind: api.ProblemInvalidParameter, param: "pending"},
		"quarantine unknown id":  {path: "/api/v1/quarantine/999", status: 404, kind: api.ProblemNotFound},
		"unknown endpoint":       {path: "/api/v1/nothing", status: 404, kind: api.ProblemNotFound},
		"other version":          {path: "/api/v2/records", status: 404, kind: api.ProblemNotFound},
		"wrong method":           {method: http.MethodPost, path: "/api/v1/records", status: 405, kind: api.ProblemMethodNotAllowed, allow: "GET, HEAD"},
		"wrong method on probe":  {method: http.MethodDelete, path: "/healthz", status: 405, kind: api.ProblemMethodNotAllowed, allow: "GET, HEAD"},
		"status with a query":    {path: "/api/v1/status?x=1", status: 400, kind: api.ProblemInvalidParameter, param: "x"},
		"a code as a parameter":  {path: "/api/v1/status?" + cf + "=1", status: 400, kind: api.ProblemInvalidParameter},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, f.srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+f.tokens[admin])
			resp, body := do(t, req)
			p := checkProblem(t, resp, body, tc.status, tc.kind)
			if p.Parameter != tc.param {
				t.Errorf("parameter %q, want %q", p.Parameter, tc.param)
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if strings.Contains(string(body), cf) {
				t.Errorf("the problem echoes a personal code: %s", body)
			}
		})
	}
}

func TestRecordsPaging(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var want []string
	var recs []rec
	for i := range 20 {
		r := rec{schema: "referral", id: fmt.Sprintf("ref-%02d", i), at: since.Add(time.Duration(20-i) * time.Hour)}
		if i%4 == 0 {
			r.schema = "household" // interleaved with another schema
		} else {
			want = append(want, r.id)
		}
		recs = append(recs, r)
	}
	f.addRecords(t, recs...)
	walk := func(limit int, during func(page int)) (ids []string, pages int) {
		after := ""
		for {
			path := fmt.Sprintf("/api/v1/records?schema=referral&limit=%d", limit)
			if after != "" {
				path += "&after=" + url.QueryEscape(after)
			}
			ans := getJSON[api.RecordsAnswer](t, f, path, operator)
			pages++
			if len(ans.Records) > limit {
				t.Fatalf("page of %d records, limit %d", len(ans.Records), limit)
			}
			for _, r := range ans.Records {
				if r.Schema != "referral" {
					t.Errorf("record %s of schema %s", r.RecordID, r.Schema)
				}
				ids = append(ids, r.RecordID)
			}
			if during != nil {
				during(pages)
			}
			if ans.Next == "" {
				return ids, pages
			}
			after = ans.Next
		}
	}
	// 15 records, 5 a page: exactly 3 pages, the last without "next".
	got, pages := walk(5, nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records over pages (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	// The same walk gives the same order; another page size too.
	for _, limit := range []int{1, 4, 15, 1000} {
		if again, _ := walk(limit, nil); !cmp.Equal(want, again) {
			t.Errorf("limit %d: order differs: %v", limit, again)
		}
	}
	// Records stored while paging come at the end, once; none is repeated.
	got, _ = walk(4, func(page int) {
		if page == 2 {
			f.addRecords(t, rec{schema: "referral", id: "late-1", at: since}, rec{schema: "referral", id: "late-2"})
		}
	})
	if diff := cmp.Diff(append(want, "late-1", "late-2"), got); diff != "" {
		t.Errorf("records stored while paging (-want +got):\n%s", diff)
	}
	// A schema without records: an empty page.
	if ans := getJSON[api.RecordsAnswer](t, f, "/api/v1/records?schema=capacity", operator); len(ans.Records) != 0 || ans.Next != "" || ans.Records == nil {
		t.Errorf("empty schema: %+v", ans)
	}
}

func TestRecordContent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.addRecords(t, rec{schema: "referral", id: "r1", person: anna, at: since}, rec{schema: "referral", id: "r2"})
	ans := getJSON[api.RecordsAnswer](t, f, "/api/v1/records?schema=referral", operator)
	if len(ans.Records) != 2 {
		t.Fatalf("%d records", len(ans.Records))
	}
	r1, r2 := ans.Records[0], ans.Records[1]
	if r1.PersonID != anna || r1.RecordedAt == nil || !r1.RecordedAt.Equal(since) || r1.Version != 1 || r1.Source != "odv" || r1.Territory != "ATS-01" {
		t.Errorf("r1 = %+v", r1)
	}
	var body map[string]any
	if err := json.Unmarshal(r1.Body, &body); err != nil || body["note"] != "content of r1" {
		t.Errorf("r1 body %s: %v", r1.Body, err)
	}
	if r2.PersonID != "" || r2.RecordedAt != nil {
		t.Errorf("r2 = %+v", r2)
	}
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	day := func(d int) time.Time { return since.AddDate(0, 0, d) }
	f.addRecords(t,
		rec{"referral", "a-late", anna, day(30)},
		rec{"referral", "b-1", bruno, day(1)},
		rec{"household", "a-undated", anna, time.Time{}},
		rec{"referral", "a-first", anna, day(2)},
		rec{"referral-status-event", "a-mid", anna, day(10)},
		rec{"referral", "nobody", "", day(5)},
		rec{"household", "a-mid-same-time", anna, day(10)},
	)
	want := []string{"a-first", "a-mid", "a-mid-same-time", "a-late", "a-undated"}
	for _, limit := range []int{1, 2, 100} {
		var got []string
		after := ""
		for {
			path := fmt.Sprintf("/api/v1/persons/%s/timeline?limit=%d", anna, limit)
			if after != "" {
				path += "&after=" + url.QueryEscape(after)
			}
			ans := getJSON[api.TimelineAnswer](t, f, path, operator)
			if ans.PersonID != anna {
				t.Errorf("person_id %q", ans.PersonID)
			}
			for _, r := range ans.Records {
				if r.PersonID != anna {
					t.Errorf("record %s of person %q in anna's timeline", r.RecordID, r.PersonID)
				}
				got = append(got, r.RecordID)
			}
			if ans.Next == "" {
				break
			}
			after = ans.Next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: timeline (-want +got):\n%s", limit, diff)
		}
	}
	// A timeline cursor is not a records cursor.
	first := getJSON[api.TimelineAnswer](t, f, "/api/v1/persons/"+anna+"/timeline?limit=1", operator)
	resp, body := f.get(t, "/api/v1/records?schema=referral&after="+url.QueryEscape(first.Next), operator)
	checkProblem(t, resp, body, 400, api.ProblemInvalidParameter)
	// Someone the hub has no record of: an empty timeline.
	if ans := getJSON[api.TimelineAnswer](t, f, "/api/v1/persons/01JZZZZZZZZZZZZZZZZZZZZZZZ/timeline", operator); len(ans.Records) != 0 {
		t.Errorf("unknown person: %+v", ans)
	}
}

// auditEntry is a row of the audit table, read directly from the file.
type auditEntry struct {
	Seq    int64
	Actor  string
	Action string
	Detail map[string]any
}

func readAudit(t *testing.T, path string) []auditEntry {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, actor, action, detail FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditEntry
	for rows.Next() {
		var e auditEntry
		var detail string
		if err := rows.Scan(&e.Seq, &e.Actor, &e.Action, &detail); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// execRaw changes the database behind the store's back, as an intruder with
// the sqlite3 shell would.
func execRaw(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

func TestPersonalReadsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.addRecords(t, rec{"referral", "r1", anna, since}, rec{"referral", "r2", bruno, since}, rec{"referral", "r3", anna, since})
	before := len(readAudit(t, f.path)) // the tokens made by the fixture

	resp, _ := f.get(t, "/api/v1/records?schema=referral&limit=2", operator)
	readID := resp.Header.Get("X-Request-Id")
	resp, _ = f.get(t, "/api/v1/persons/"+anna+"/timeline", admin)
	timelineID := resp.Header.Get("X-Request-Id")
	// Reads of no personal records are not audited.
	f.get(t, "/api/v1/status", operator)
	f.get(t, "/api/v1/quarantine", operator)
	// Refused requests read nothing and are not audited.
	f.get(t, "/api/v1/records?schema=referral", viewer)
	f.get(t, "/api/v1/records?schema=referral&limit=0", operator)

	got := readAudit(t, f.path)[before:]
	want := []auditEntry{
		{Seq: int64(before + 1), Actor: "token:operator", Action: "api.records.read",
			Detail: map[string]any{"schema": "referral", "records": 2.0, "request_id": readID}},
		{Seq: int64(before + 2), Actor: "token:admin", Action: "api.timeline.read",
			Detail: map[string]any{"person_id": anna, "records": 2.0, "request_id": timelineID}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit entries (-want +got):\n%s", diff)
	}

	// The chain verifies.
	ans := getJSON[api.AuditAnswer](t, f, "/api/v1/audit/verify", admin)
	if diff := cmp.Diff(api.AuditAnswer{OK: true, Entries: int64(before + 2)}, ans); diff != "" {
		t.Errorf("verify (-want +got):\n%s", diff)
	}
	// Hiding a read is detected.
	execRaw(t, f.path, fmt.Sprintf(`UPDATE audit SET detail = '{"schema":"referral","records":0}' WHERE seq = %d`, before+1))
	ans = getJSON[api.AuditAnswer](t, f, "/api/v1/audit/verify", admin)
	if !cmp.Equal(api.AuditAnswer{Entries: int64(before + 2), BrokenSeq: int64(before + 1), Reason: "hash does not match the entry's content"}, ans) {
		t.Errorf("verify after tampering: %+v", ans)
	}
}

// TestNoRecordsWithoutAudit: when the audit log cannot be written, the
// records are not sent.
func TestNoRecordsWithoutAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.addRecords(t, rec{"referral", "r1", anna, since})
	execRaw(t, f.path, `CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	for _, path := range []string{"/api/v1/records?schema=referral", "/api/v1/persons/" + anna + "/timeline"} {
		resp, body := f.get(t, path, operator)
		checkProblem(t, resp, body, http.StatusInternalServerError, api.ProblemInternal)
		if bytes.Contains(body, []byte("content of r1")) || bytes.Contains(body, []byte("r1")) {
			t.Errorf("%s: records sent without an audit entry: %s", path, body)
		}
	}
	if !strings.Contains(f.logs.String(), "write the read to the audit log (nothing was sent)") {
		t.Errorf("the cause is not logged:\n%s", f.logs.String())
	}
}

func TestQuarantine(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	secret := []byte("RAW-RECORD-RSSMRA85T10A562S")
	ids := f.addQuarantine(t,
		store.QuarantineItem{Source: "odv", RecordID: "q1", Schema: "referral", Errors: []store.QuarantineError{{Pointer: "/person/identifiers/cf", Message: "check character is wrong"}}, Raw: secret},
		store.QuarantineItem{Source: "odv", RecordID: "q2", Schema: "household", Raw: secret},
		store.QuarantineItem{Source: "sil-cpi", Errors: []store.QuarantineError{{Pointer: "", Message: "not JSON"}}, Raw: secret},
		store.QuarantineItem{Source: "odv", RecordID: "q4", Raw: secret},
	)
	ctx := context.Background()
	if err := f.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.MarkReplayed(ctx, ids[1]); err != nil {
			return err
		}
		return tx.MarkDropped(ctx, ids[3])
	}); err != nil {
		t.Fatal(err)
	}

	list := func(query string) []string {
		var out []string
		after := ""
		for {
			path := "/api/v1/quarantine?limit=1" + query
			if after != "" {
				path += "&after=" + url.QueryEscape(after)
			}
			resp, body := f.get(t, path, operator)
			if bytes.Contains(body, secret) {
				t.Errorf("the raw record is in the answer: %s", body)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
			var ans api.QuarantineAnswer
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			for _, it := range ans.Items {
				out = append(out, it.Source+"/"+it.RecordID)
			}
			if ans.Next == "" {
				return out
			}
			after = ans.Next
		}
	}
	tests := map[string]struct {
		query string
		want  []string
	}{
		"all not dropped": {"", []string{"odv/q1", "odv/q2", "sil-cpi/"}},
		"pending":         {"&pending=true", []string{"odv/q1", "sil-cpi/"}},
		"by source":       {"&source=odv", []string{"odv/q1", "odv/q2"}},
		"by schema":       {"&schema=household", []string{"odv/q2"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, list(tc.query)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	one := getJSON[api.QuarantineJSON](t, f, fmt.Sprintf("/api/v1/quarantine/%d", ids[0]), operator)
	want := api.QuarantineJSON{ID: ids[0], Source: "odv", RecordID: "q1", Schema: "referral",
		Errors: []store.QuarantineError{{Pointer: "/person/identifiers/cf", Message: "check character is wrong"}}, CreatedAt: one.CreatedAt}
	if diff := cmp.Diff(want, one); diff != "" || one.CreatedAt.IsZero() {
		t.Errorf("quarantine item (-want +got):\n%s", diff)
	}
	// A dropped item can still be looked at.
	if dropped := getJSON[api.QuarantineJSON](t, f, fmt.Sprintf("/api/v1/quarantine/%d", ids[3]), operator); dropped.DroppedAt == nil || len(dropped.Errors) != 0 || dropped.Errors == nil {
		t.Errorf("dropped item: %+v", dropped)
	}
}

func TestStatusAndConnectors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, twoConnectors())
	f.addRecords(t, rec{"referral", "r1", anna, since}, rec{"referral", "r2", bruno, since}, rec{"household", "h1", "", since})
	f.addQuarantine(t, store.QuarantineItem{Source: "odv", Raw: []byte("x")}, store.QuarantineItem{Source: "odv", Raw: []byte("y")})

	st := getJSON[api.StatusAnswer](t, f, "/api/v1/status", viewer)
	if diff := cmp.Diff(api.StatusAnswer{Records: map[string]int64{"referral": 2, "household": 1}, Quarantine: 2}, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	got := getJSON[struct{ Connectors []api.ConnectorJSON }](t, f, "/api/v1/connectors", viewer)
	last := since.Add(time.Hour)
	want := []api.ConnectorJSON{
		{Name: "odv", State: "running", Reason: "running, pid 42", Since: since, Records: 120, Batches: 3, Restarts: 2, LastSuccess: &last},
		{Name: "sil-cpi", State: "recovering", Reason: "restarting after a crash", Since: since, Errors: 5, Restarts: 5},
	}
	if diff := cmp.Diff(want, got.Connectors); diff != "" {
		t.Errorf("connectors (-want +got):\n%s", diff)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	conns := twoConnectors()
	f := newFixture(t, conns)
	health := getJSON[map[string]string](t, f, "/healthz", noToken)
	if health["status"] != "ok" {
		t.Errorf("healthz: %v", health)
	}
	ready := getJSON[struct {
		Status string
		Checks map[string]string
	}](t, f, "/readyz", noToken)
	if diff := cmp.Diff(map[string]string{"store": "ok", "connectors": "1 of 2 running"}, ready.Checks); diff != "" || ready.Status != "ready" {
		t.Errorf("readyz %s (-want +got):\n%s", ready.Status, diff)
	}

	// Every connector failing: not ready.
	conns.set(
		supervisor.Status{Name: "odv", State: supervisor.Degraded},
		supervisor.Status{Name: "sil-cpi", State: supervisor.Stopped, Reason: "the binary does not match its pin"},
	)
	resp, body := f.get(t, "/readyz", noToken)
	p := checkProblem(t, resp, body, http.StatusServiceUnavailable, api.ProblemNotReady)
	if !strings.Contains(p.Checks["connectors"], "all 2 connector instances are failing") || p.Checks["store"] != "ok" {
		t.Errorf("checks: %v", p.Checks)
	}

	// No connectors configured: ready.
	g := newFixture(t, nil)
	if resp, body := g.get(t, "/readyz", noToken); resp.StatusCode != 200 {
		t.Errorf("no connectors: %d %s", resp.StatusCode, body)
	}
	// The store closed: alive but not ready.
	g.store.Close()
	resp, body = g.get(t, "/readyz", noToken)
	p = checkProblem(t, resp, body, http.StatusServiceUnavailable, api.ProblemNotReady)
	if !strings.Contains(p.Checks["store"], "the store does not answer") {
		t.Errorf("checks: %v", p.Checks)
	}
	if resp, _ := g.get(t, "/healthz", noToken); resp.StatusCode != 200 {
		t.Errorf("healthz with the store closed: %d", resp.StatusCode)
	}
}

// TestLogsHoldNoPersonalData makes requests that carry person ids, a
// personal code, record content and tokens, and looks for each in the log.
func TestLogsHoldNoPersonalData(t *testing.T) {
	t.Parallel()
	f := newFixture(t, twoConnectors())
	f.addRecords(t, rec{"referral", "case-RSSMRA85T10A562S", anna, since})
	f.addQuarantine(t, store.QuarantineItem{Source: "odv", RecordID: "q-BNCGLI90A41H501X", Raw: []byte("raw")})
	paths := []string{
		"/api/v1/records?schema=referral",
		"/api/v1/persons/" + anna + "/timeline",
		"/api/v1/persons/RSSMRA85T10A562S/timeline",
		"/api/v1/quarantine",
		"/api/v1/quarantine/1",
		"/api/v1/records?schema=referral&RSSMRA85T10A562S=1",
	}
	for _, p := range paths {
		for _, c := range callers {
			f.get(t, p, c)
		}
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"route":"/api/v1/persons/{id}/timeline"`) {
		t.Fatalf("no request lines logged:\n%s", logs)
	}
	secrets := []string{anna, "RSSMRA85T10A562S", "BNCGLI90A41H501X", "content of", "case-"}
	for _, tok := range f.tokens {
		secrets = append(secrets, tok, tok[4:])
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}

func (f *fixture) addReferral(t *testing.T, r store.Referral) {
	t.Helper()
	ctx := context.Background()
	if err := f.store.Write(ctx, func(tx *store.Tx) error { return tx.PutReferral(ctx, r) }); err != nil {
		t.Fatal(err)
	}
}

// TestMounts: a mounted handler is served behind the API's tokens and
// roles (a viewer mount: 401 without a token, 200 for a viewer, its
// subtree included) with the API's request id; a mount outside /api/ or
// without a handler is refused at start.
func TestMounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// The mounted handler sees the API's request id already set (and
	// keeps it: hub/region TestMountedKeepsTheRequestID).
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "mounted "+r.URL.Path+" "+w.Header().Get("X-Request-Id"))
	})
	srv, err := api.New(api.Config{Store: f.store, Mounts: []api.Mount{
		{Route: api.Route{Method: "GET", Path: "/api/v1/compare/", Role: tokens.Viewer}, Handler: extra},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	get := func(token string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/compare/meta", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return do(t, req)
	}
	resp, body := get("")
	checkProblem(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = get(f.tokens[revoked])
	checkProblem(t, resp, body, http.StatusUnauthorized, "invalid-token")
	resp, body = get(f.tokens["viewer"])
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != http.StatusOK || id == "" || string(body) != "mounted /api/v1/compare/meta "+id {
		t.Errorf("viewer: %d %q (request id %q), want the mounted handler's answer", resp.StatusCode, body, resp.Header.Get("X-Request-Id"))
	}
	for _, bad := range []api.Mount{
		{Route: api.Route{Method: "GET", Path: "/compare/", Role: tokens.Viewer}, Handler: extra},
		{Route: api.Route{Method: "GET", Path: "/api/v1/compare/", Role: tokens.Viewer}},
		{Route: api.Route{Path: "/api/v1/compare/", Role: tokens.Viewer}, Handler: extra},
	} {
		if _, err := api.New(api.Config{Store: f.store, Mounts: []api.Mount{bad}}); err == nil {
			t.Errorf("mount %s %q (handler %v) accepted", bad.Method, bad.Path, bad.Handler != nil)
		}
	}
}
