package region

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
	"github.com/snodo-hub/snodo/schemas"
)

func openStore(t *testing.T, name string) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	key, err := keyring.CreateSigningKey(filepath.Join(t.TempDir(), "keys", "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// counts are a territory's true counts of caseload by sex.
type counts struct{ f, m, x int64 }

func (c counts) cells() []disclosure.Cell {
	cell := func(b map[string]string, n int64) disclosure.Cell {
		return disclosure.Cell{Indicator: "caseload", Version: "1", Measure: "households", Breakdown: b, Count: n}
	}
	return []disclosure.Cell{
		cell(nil, c.f+c.m+c.x),
		cell(map[string]string{"sex": "F"}, c.f),
		cell(map[string]string{"sex": "M"}, c.m),
		cell(map[string]string{"sex": "X"}, c.x),
	}
}

// envelope releases the counts from a fresh territory store and seals them:
// a real envelope, as a territory hub sends it.
func envelope(t *testing.T, territory string, key ed25519.PrivateKey, epoch string, c counts) []byte {
	t.Helper()
	return envelopeOf(t, territory, key, epoch, c.cells())
}

// envelopeOf releases the cells' true counts from a fresh territory store
// (a ledger of its own) and seals them.
func envelopeOf(t *testing.T, territory string, key ed25519.PrivateKey, epoch string, cells []disclosure.Cell) []byte {
	t.Helper()
	ctx := context.Background()
	st, _ := openStore(t, "territory.db")
	l, err := disclosure.NewLedger(st, disclosure.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Release(ctx, disclosure.Request{Epoch: epoch, CatalogueVersion: "1.0.0", Cells: cells})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := federation.Seal(ctx, st, r, federation.Source{Territory: territory, SoftwareVersion: "v0.6.0-test"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// published returns the value of the envelope's cell, and whether it was
// published.
func published(t *testing.T, raw []byte, sex string) (int64, bool) {
	t.Helper()
	var e federation.Envelope
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.Cells {
		if c.Breakdown["sex"] == sex {
			if c.Value == nil {
				return 0, false
			}
			return *c.Value, true
		}
	}
	t.Fatalf("no cell for sex %q", sex)
	return 0, false
}

// edit decodes the envelope, lets fn change it and re-encodes it
// canonically, keeping the signature.
func edit(t *testing.T, raw []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	doc, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	fn(doc.(map[string]any))
	out, err := schemas.AppendCanonical(nil, doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type region struct {
	st   *store.Store
	path string
	in   *Intake
	keys map[string]ed25519.PrivateKey
}

// newRegion enrols territories A, B and C, each with its own key.
func newRegion(t *testing.T) *region {
	t.Helper()
	st, path := openStore(t, "region.db")
	r := &region{st: st, path: path, in: NewIntake(st, nil), keys: map[string]ed25519.PrivateKey{}}
	for _, code := range []string{"ATS-A", "ATS-B", "ATS-C"} {
		k := newKey(t)
		if _, err := EnrolKey(context.Background(), st, "test", code, "Ambito "+code, pubOf(k)); err != nil {
			t.Fatal(err)
		}
		r.keys[code] = k
	}
	return r
}

var (
	countsA = counts{f: 40, m: 35, x: 2}
	countsB = counts{f: 60, m: 50, x: 30}
)

func TestReceive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegion(t)
	envA := envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q2", countsA)

	rc, err := reg.in.Receive(ctx, envA)
	if err != nil || rc.Outcome != Accepted || rc.Territory != "ATS-A" || rc.Epoch != "2025-Q2" || rc.Cells != 4 || StatusOf(rc, err) != http.StatusCreated {
		t.Fatalf("first receipt %+v, %v", rc, err)
	}
	rc, err = reg.in.Receive(ctx, envA)
	if err != nil || rc.Outcome != Duplicate || StatusOf(rc, err) != http.StatusOK {
		t.Fatalf("again: %+v, %v", rc, err)
	}
	// The same key, epoch and revision with other content.
	other := envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q2", counts{f: 41, m: 35, x: 2})
	rc, err = reg.in.Receive(ctx, other)
	if !errors.Is(err, ErrConflict) || rc.Outcome != Conflict || StatusOf(rc, err) != http.StatusConflict || !Permanent(err) {
		t.Fatalf("conflict: %+v, %v", rc, err)
	}

	refusals := map[string]struct {
		env     []byte
		kind    error
		status  int
		pointer string
	}{
		"unknown key":     {envelope(t, "ATS-A", newKey(t), "2025-Q2", countsA), ErrUnauthenticated, 401, ""},
		"other's key":     {envelope(t, "ATS-B", reg.keys["ATS-A"], "2025-Q2", countsB), ErrForbidden, 403, ""},
		"tampered":        {edit(t, envA, func(m map[string]any) { m["created_at"] = "2025-08-01T00:00:00Z" }), ErrUnauthenticated, 401, ""},
		"schema":          {edit(t, envA, func(m map[string]any) { m["revision"] = json.Number("-1") }), ErrInvalid, 422, "/revision"},
		"not json":        {[]byte("{not json"), ErrInvalid, 422, ""},
		"free text added": {edit(t, envA, func(m map[string]any) { m["note"] = "visited by Mario Rossi" }), ErrInvalid, 422, "/note"},
	}
	for name, tc := range refusals {
		rc, err := reg.in.Receive(ctx, tc.env)
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, tc.kind) || rc.Outcome != Refused || StatusOf(rc, err) != tc.status || !Permanent(err) {
			t.Errorf("%s: %+v, %v", name, rc, err)
			continue
		}
		if tc.pointer != "" {
			if ps := Pointers(err); len(ps) == 0 || ps[0] != tc.pointer {
				t.Errorf("%s: pointers %v, want %s", name, ps, tc.pointer)
			}
		}
	}

	log, err := reg.st.IntakeLog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3+len(refusals) {
		t.Fatalf("%d log entries, want %d", len(log), 3+len(refusals))
	}
	outcomes := map[string]int{}
	for _, e := range log {
		outcomes[e.Outcome]++
		if strings.Contains(e.Reason, "Mario") || strings.Contains(e.Reason, "not json") {
			t.Errorf("log entry %d repeats the envelope's content: %q", e.Seq, e.Reason)
		}
	}
	if outcomes["accepted"] != 1 || outcomes["duplicate"] != 1 || outcomes["conflict"] != 1 || outcomes["refused"] != len(refusals) {
		t.Errorf("outcomes %v", outcomes)
	}
	// Only the accepted envelope's bytes are kept.
	var n int
	if err := rawDB(t, reg.path).QueryRow(`SELECT count(*) FROM region_envelopes`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d envelopes stored, %v", n, err)
	}
	if last, err := reg.st.VerifyIntakeLog(ctx); err != nil || last != int64(len(log)) {
		t.Fatalf("verify: %d, %v", last, err)
	}

	// An intruder rewrites a refusal as accepted.
	db := rawDB(t, reg.path)
	for _, q := range []string{`DROP TRIGGER region_intake_log_no_update`, `UPDATE region_intake_log SET outcome = 'accepted' WHERE seq = 4`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	_, err = reg.st.VerifyIntakeLog(ctx)
	var broken *store.IntakeLogBrokenError
	if !errors.As(err, &broken) || broken.Seq != 4 {
		t.Fatalf("tampered log: %v", err)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRegionKeepsItsOwnBudgetAccount: each envelope claims a cumulative ρ
// within the cap (each comes from a fresh ledger, as after a lost
// database), but the region adds up what it holds for the territory's year
// and refuses the one that would overspend, stores none of its cells, and
// says why in the log.
func TestRegionKeepsItsOwnBudgetAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRegion(t)
	key := r.keys["ATS-A"]
	for _, q := range []string{"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"} { // 4 × 1/16
		if _, err := r.in.Receive(ctx, envelope(t, "ATS-A", key, q, countsA)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := r.in.Receive(ctx, envelope(t, "ATS-A", key, "2025", countsA)); err != nil { // 3/4: exactly the cap of 1
		t.Fatalf("2025: %v", err)
	}
	// Another year and another territory have budgets of their own.
	for _, raw := range [][]byte{envelope(t, "ATS-A", key, "2024", countsA), envelope(t, "ATS-B", r.keys["ATS-B"], "2025", countsB)} {
		if _, err := r.in.Receive(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}

	// Revision 1 from a ledger that does not know revision 0 (the
	// territory's database was lost, or the envelope was signed outside
	// Snodo with the territory's key): it claims 3/4 of 1.
	var claims federation.Envelope
	if err := json.Unmarshal(envelope(t, "ATS-A", key, "2025", counts{f: 41, m: 35, x: 2}), &claims); err != nil {
		t.Fatal(err)
	}
	claims.Revision = 1
	revised, err := federation.Sign(&claims, key)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Budget.RhoCumulative != "3/4" || claims.Budget.RhoCap != "1" {
		t.Fatalf("the revision claims %s of %s; the test needs a claim within the cap", claims.Budget.RhoCumulative, claims.Budget.RhoCap)
	}
	rc, err := r.in.Receive(ctx, revised)
	var ob *OverBudgetError
	if !errors.Is(err, ErrOverBudget) || !errors.As(err, &ob) || !Permanent(err) {
		t.Fatalf("an overspending revision: %v", err)
	}
	for _, want := range []string{"over budget", "ATS-A", "2025", "(5)", "ρ = 1", "3/4 more", "7/4 in all", "cap of 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the reason %q does not say %q", err, want)
		}
	}
	if rc.Outcome != Refused || StatusOf(rc, err) != http.StatusUnprocessableEntity || rc.Cells != 0 {
		t.Errorf("receipt %+v, status %d", rc, StatusOf(rc, err))
	}
	cells, err := r.st.RegionCells(ctx, "2025", "caseload")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.Territory == "ATS-A" && c.Revision != 0 {
			t.Errorf("a cell of the refused revision was stored: %+v", c)
		}
	}
	log, err := r.st.IntakeLog(ctx, 1)
	if err != nil || len(log) != 1 || log[0].Outcome != store.IntakeRefused || !strings.Contains(log[0].Reason, "over budget") || log[0].Revision != 1 {
		t.Errorf("intake log: %+v %v", log, err)
	}
	if n, err := r.st.VerifyIntakeLog(ctx); err != nil || n != 8 { // seven accepted, one refused
		t.Errorf("log verify: %d %v", n, err)
	}
	// The same bytes again are refused again, not taken as a duplicate.
	if _, err := r.in.Receive(ctx, revised); !errors.Is(err, ErrOverBudget) {
		t.Errorf("the refused revision sent again: %v", err)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegion(t)
	if err := reg.st.Write(ctx, func(tx *store.Tx) error {
		return tx.RevokeRegionKey(ctx, federation.KeyID(pubOf(reg.keys["ATS-A"])))
	}); err != nil {
		t.Fatal(err)
	}
	_, err := reg.in.Receive(ctx, envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q2", countsA))
	if !errors.Is(err, ErrUnauthenticated) || !errors.Is(err, federation.ErrUnknownKey) {
		t.Fatalf("revoked key: %v", err)
	}
}

func TestAggregateAndCoverage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegion(t)
	envA := envelope(t, "ATS-A", reg.keys["ATS-A"], "2025-Q2", countsA)
	envB := envelope(t, "ATS-B", reg.keys["ATS-B"], "2025-Q2", countsB)
	for _, e := range [][]byte{envA, envB} {
		if _, err := reg.in.Receive(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	// Another epoch does not count.
	if _, err := reg.in.Receive(ctx, envelope(t, "ATS-C", reg.keys["ATS-C"], "2025-Q1", countsB)); err != nil {
		t.Fatal(err)
	}
	fA, okA := published(t, envA, "F")
	fB, okB := published(t, envB, "F")
	if !okA || !okB {
		t.Fatal("F cells suppressed")
	}
	res, err := Aggregate(ctx, reg.st, "caseload", "2025-Q2", map[string]string{"sex": "F"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sums) != 1 {
		t.Fatalf("sums %+v", res.Sums)
	}
	s := res.Sums[0]
	if s.Value != fA+fB || s.Coverage.Contributing != 2 || s.Coverage.Enrolled != 3 || s.Coverage.Missing != 1 || s.CoverageText != "2 of 3 territories" {
		t.Errorf("F: %+v, want value %d covering 2 of 3", s, fA+fB)
	}
	// X: suppressed in A (2 < threshold), published in B: B alone, not
	// imputed for A.
	if _, ok := published(t, envA, "X"); ok {
		t.Fatal("A's X cell was published")
	}
	xB, _ := published(t, envB, "X")
	res, err = Aggregate(ctx, reg.st, "caseload", "2025-Q2", map[string]string{"sex": "X"})
	if err != nil {
		t.Fatal(err)
	}
	s = res.Sums[0]
	if s.Value != xB || s.Coverage.Contributing != 1 || s.Coverage.Suppressed != 1 || s.Coverage.Missing != 1 || s.Coverage.Territories[0] != "ATS-B" {
		t.Errorf("X: %+v", s)
	}
	rep, err := CoverageOf(ctx, reg.st, "caseload", "2025-Q2")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Enrolled != 3 || rep.Reported != 2 || rep.WithValues != 2 || rep.Text != "2 of 3 territories" ||
		rep.Territories[0].Suppressed != 1 || rep.Territories[0].Published != 3 || rep.Territories[2].Reported {
		t.Errorf("coverage %+v", rep)
	}
}

func TestEnrolmentToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openStore(t, "region.db")
	tok, _, err := NewEnrolmentToken(ctx, st, "test", "ATS-A", "Ambito A", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t)
	if _, err := EnrolWithToken(ctx, st, "ATS-B", tok, pubOf(k)); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("other territory: %v", err)
	}
	id, err := EnrolWithToken(ctx, st, "ATS-A", tok, pubOf(k))
	if err != nil || id != federation.KeyID(pubOf(k)) {
		t.Fatalf("enrol: %s, %v", id, err)
	}
	if _, err := EnrolWithToken(ctx, st, "ATS-A", tok, pubOf(newKey(t))); !errors.Is(err, ErrEnrolmentRefused) {
		t.Errorf("token used twice: %v", err)
	}
	ts, err := st.RegionTerritories(ctx)
	if err != nil || len(ts) != 1 || ts[0].Name != "Ambito A" {
		t.Errorf("territories %+v, %v", ts, err)
	}
}

func TestParsePublicKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := keyring.CreateSigningKey(filepath.Join(dir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := readFile(t, keyring.PublicKeyPath(filepath.Join(dir, "signing.key")))
	for name, in := range map[string][]byte{
		"pem":    pemBytes,
		"base64": []byte(" " + b64(pubOf(key)) + "\n"),
	} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pubOf(key)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := ParsePublicKey([]byte("hello")); err == nil {
		t.Error("garbage accepted")
	}
}

// TestHTTP runs the handler end to end: enrolment with a token, intake,
// and the region's queries behind bearer tokens.
func TestHTTP(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openStore(t, "region.db")
	h, err := NewHandler(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	do := func(method, path, bearer string, body []byte) (int, map[string]any, http.Header) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %d %q", method, path, res.StatusCode, raw)
		}
		return res.StatusCode, m, res.Header
	}

	key := newKey(t)
	tok, _, err := NewEnrolmentToken(ctx, st, "test", "ATS-A", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	enrol, _ := json.Marshal(map[string]string{"territory": "ATS-A", "token": tok, "public_key": b64(pubOf(key))})
	if code, m, _ := do("POST", "/api/v1/enrol", "", enrol); code != 201 || m["key_id"] != federation.KeyID(pubOf(key)) {
		t.Fatalf("enrol: %d %v", code, m)
	}
	if code, m, _ := do("POST", "/api/v1/enrol", "", enrol); code != 401 || !strings.HasSuffix(m["type"].(string), ProblemEnrolmentRefused) {
		t.Fatalf("enrol again: %d %v", code, m)
	}

	env := envelope(t, "ATS-A", key, "2025-Q2", countsA)
	if code, m, _ := do("POST", "/api/v1/intake", "", env); code != 201 || m["outcome"] != "accepted" {
		t.Fatalf("intake: %d %v", code, m)
	}
	if code, m, _ := do("POST", "/api/v1/intake", "", env); code != 200 || m["outcome"] != "duplicate" {
		t.Fatalf("intake again: %d %v", code, m)
	}
	other := envelope(t, "ATS-A", key, "2025-Q2", counts{f: 10, m: 10, x: 10})
	if code, m, _ := do("POST", "/api/v1/intake", "", other); code != 409 || !strings.HasSuffix(m["type"].(string), ProblemEnvelopeConflict) {
		t.Fatalf("conflict: %d %v", code, m)
	}
	if code, m, _ := do("POST", "/api/v1/intake", "", envelope(t, "ATS-A", newKey(t), "2025-Q2", countsA)); code != 401 {
		t.Fatalf("unknown key: %d %v", code, m)
	}
	bad := edit(t, env, func(m map[string]any) { m["revision"] = json.Number("-1") })
	code, m, hdr := do("POST", "/api/v1/intake", "", bad)
	if code != 422 || hdr.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("schema error: %d %v", code, m)
	}
	if ps, _ := m["pointers"].([]any); len(ps) == 0 || ps[0] != "/revision" {
		t.Errorf("pointers %v", m["pointers"])
	}
	if code, _, _ := do("POST", "/api/v1/intake", "", bytes.Repeat([]byte(" "), MaxEnvelopeBytes+1)); code != 413 {
		t.Errorf("too large: %d", code)
	}

	// The queries need a viewer token.
	q := "/api/v1/region/aggregate?indicator=caseload&epoch=2025-Q2&breakdown=sex:F"
	if code, _, hdr := do("GET", q, "", nil); code != 401 || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", code)
	}
	viewer, err := tokens.Create(ctx, st, "test", "dashboard", tokens.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	code, m, _ = do("GET", q, viewer, nil)
	fA, _ := published(t, env, "F")
	sums, _ := m["sums"].([]any)
	if code != 200 || len(sums) != 1 || sums[0].(map[string]any)["value"] != float64(fA) || sums[0].(map[string]any)["coverage_text"] != "1 of 1 territories" {
		t.Fatalf("aggregate: %d %v", code, m)
	}
	if code, m, _ := do("GET", "/api/v1/region/coverage?indicator=caseload&epoch=2025-Q2", viewer, nil); code != 200 || m["reported"] != float64(1) {
		t.Fatalf("coverage: %d %v", code, m)
	}
	if code, m, _ := do("GET", "/api/v1/region/coverage?indicator=caseload&epoch=2025-Q9", viewer, nil); code != 400 || m["parameter"] != "epoch" {
		t.Fatalf("bad epoch: %d %v", code, m)
	}
	if code, m, _ := do("GET", "/api/v1/region/territories", viewer, nil); code != 200 || len(m["territories"].([]any)) != 1 {
		t.Fatalf("territories: %d %v", code, m)
	}
	if code, m, _ := do("GET", "/api/v1/region/intake-log?limit=2", viewer, nil); code != 200 || len(m["entries"].([]any)) != 2 {
		t.Fatalf("intake log: %d %v", code, m)
	}
	if code, m, _ := do("GET", "/healthz", "", nil); code != 200 || m["status"] != "ok" {
		t.Fatalf("healthz: %d %v", code, m)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestConcurrentCopies: copies of one envelope arriving at once (HTTP and
// JetStream, say) are stored once.
func TestConcurrentCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := newRegion(t)
	env := envelope(t, "ATS-A", reg.keys["ATS-A"], "2025", countsA)
	outcomes := make(chan Outcome, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rc, err := reg.in.Receive(ctx, env)
			if err != nil {
				t.Error(err)
			}
			outcomes <- rc.Outcome
		})
	}
	wg.Wait()
	close(outcomes)
	n := map[Outcome]int{}
	for o := range outcomes {
		n[o]++
	}
	if n[Accepted] != 1 || n[Duplicate] != 7 {
		t.Errorf("outcomes %v", n)
	}
}
