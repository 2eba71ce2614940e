package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// TestTokenGuessingLimited: ten wrong tokens from one address are answered
// 401, the eleventh 429 with Retry-After as a problem; while refused, even
// a right token from that address is refused (else the 429 would tell a
// guesser which guess was right); successful requests and wrong roles do
// not count; another address is unaffected; once the wait has passed the
// right token works again.
func TestTokenGuessingLimited(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	good, err := tokens.Create(ctx, st, "test", "dashboard", tokens.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	srv, err := api.New(api.Config{Store: st, AuthLimit: authlimit.New(authlimit.Config{Now: now})})
	if err != nil {
		t.Fatal(err)
	}
	get := func(from, path, token string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = from + ":40000"
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		return w
	}
	const a, b, c = "192.0.2.1", "192.0.2.2", "192.0.2.3"
	const status = "/api/v1/status"

	for i := range 20 {
		if w := get(a, status, good); w.Code != http.StatusOK {
			t.Fatalf("right token #%d: %d %s", i+1, w.Code, w.Body)
		}
	}
	for i := range 10 {
		if w := get(a, status, "snodo_guess"); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token #%d: %d, want 401 (successes must not count)", i+1, w.Code)
		}
	}
	w := get(a, status, "snodo_guess")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("11th wrong token: %d, want 429", w.Code)
	}
	if ra := w.Header().Get("Retry-After"); ra != "6" {
		t.Errorf("Retry-After %q, want 6 (a minute / 10)", ra)
	}
	var p api.Problem
	if ct := w.Header().Get("Content-Type"); ct != api.ProblemContentType {
		t.Errorf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != 429 ||
		p.Type != api.ProblemTypeBase+api.ProblemTooManyFailures || !strings.Contains(p.Detail, "6 s") {
		t.Errorf("problem %s (%v)", w.Body, err)
	}
	if w := get(a, status, good); w.Code != http.StatusTooManyRequests {
		t.Errorf("right token from the refused address: %d, want 429", w.Code)
	}

	if w := get(b, status, good); w.Code != http.StatusOK {
		t.Errorf("another address, right token: %d", w.Code)
	}
	if w := get(b, status, "snodo_guess"); w.Code != http.StatusUnauthorized {
		t.Errorf("another address, wrong token: %d, want 401", w.Code)
	}
	for i := range 15 {
		if w := get(c, "/api/v1/records", good); w.Code != http.StatusForbidden {
			t.Fatalf("viewer on an operator endpoint #%d: %d, want 403 (a wrong role is no guess)", i+1, w.Code)
		}
	}

	mu.Lock()
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	if w := get(a, status, good); w.Code != http.StatusOK {
		t.Errorf("right token after Retry-After: %d %s", w.Code, w.Body)
	}
}
