package region

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// TestRegionTokenGuessingLimited: the region's bearer tokens and its
// one-time enrolment tokens share one allowance per address: ten wrong
// guesses are answered 401, the eleventh 429 with Retry-After as a
// problem, even with a right token; another address is unaffected; a
// right token still works from there and, once the wait has passed, from
// the first address too.
func TestRegionTokenGuessingLimited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := openStore(t, "region.db")
	good, err := tokens.Create(ctx, st, "test", "dashboard", tokens.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	h, err := NewHandler(Config{Store: st, AuthLimit: authlimit.New(authlimit.Config{Now: now})})
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, method, path, token string, body []byte) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		r.RemoteAddr = from + ":40000"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	const a, b = "198.51.100.1", "198.51.100.2"
	const territories = "/api/v1/region/territories"
	key := newKey(t)
	guessEnrol, _ := json.Marshal(map[string]string{"territory": "ATS-A", "token": "guess", "public_key": b64(pubOf(key))})

	for i := range 5 {
		if w := send(a, "GET", territories, good, nil); w.Code != http.StatusOK {
			t.Fatalf("right token #%d: %d %s", i+1, w.Code, w.Body)
		}
	}
	for i := range 5 {
		if w := send(a, "GET", territories, "snodo_guess", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong bearer token #%d: %d, want 401", i+1, w.Code)
		}
		if w := send(a, "POST", "/api/v1/enrol", "", guessEnrol); w.Code != http.StatusUnauthorized {
			t.Fatalf("wrong enrolment token #%d: %d %s, want 401", i+1, w.Code, w.Body)
		}
	}
	for _, w := range []*httptest.ResponseRecorder{
		send(a, "GET", territories, "snodo_guess", nil),
		send(a, "POST", "/api/v1/enrol", "", guessEnrol),
		send(a, "GET", territories, good, nil),
	} {
		var p Problem
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "6" ||
			w.Header().Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(w.Body.Bytes(), &p) != nil || !strings.HasSuffix(p.Type, ProblemTooManyFailures) {
			t.Errorf("after 10 wrong tokens: %d Retry-After %q %s, want 429 with Retry-After 6",
				w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	if w := send(b, "GET", territories, good, nil); w.Code != http.StatusOK {
		t.Errorf("another address, right token: %d", w.Code)
	}
	if w := send(b, "POST", "/api/v1/enrol", "", guessEnrol); w.Code != http.StatusUnauthorized {
		t.Errorf("another address, wrong enrolment token: %d, want 401", w.Code)
	}
	mu.Lock()
	clock = clock.Add(6 * time.Second)
	mu.Unlock()
	if w := send(a, "GET", territories, good, nil); w.Code != http.StatusOK {
		t.Errorf("right token after Retry-After: %d %s", w.Code, w.Body)
	}
}
