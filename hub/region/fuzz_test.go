package region

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
)

// FuzzAPIBodies posts fuzzed bodies, with a fuzzed Content-Type, to the
// region's POST /api/v1/intake (enrol false) and POST /api/v1/enrol (enrol
// true), served in process on a temporary store. Properties: never a 5xx,
// whatever the body; every 4xx is an application/problem+json problem
// whose status is the response's; every 2xx is a JSON object.
func FuzzAPIBodies(f *testing.F) {
	ctx := context.Background()
	open := func(name string) *store.Store {
		st, err := store.Open(ctx, filepath.Join(f.TempDir(), name))
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { st.Close() })
		return st
	}
	st := open("region.db")
	seed := sha256.Sum256([]byte("snodo FuzzAPIBodies"))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := key.Public().(ed25519.PublicKey)
	if _, err := EnrolKey(ctx, st, "test", "ATS-A", "Ambito A", pub); err != nil {
		f.Fatal(err)
	}
	// Every fuzzed request comes from httptest's one address: with the
	// default allowance the enrolment would be answered 429 after ten
	// refusals and never reached again. The limit has tests of its own.
	h, err := NewHandler(Config{Store: st, AuthLimit: authlimit.New(authlimit.Config{Failures: 1 << 30})})
	if err != nil {
		f.Fatal(err)
	}

	// A real envelope of ATS-A, from a territory store of its own.
	tst := open("territory.db")
	l, err := disclosure.NewLedger(tst, disclosure.DefaultSettings())
	if err != nil {
		f.Fatal(err)
	}
	r, err := l.Release(ctx, disclosure.Request{Epoch: "2025-Q2", CatalogueVersion: "1.0.0", Cells: counts{f: 40, m: 35, x: 2}.cells()})
	if err != nil {
		f.Fatal(err)
	}
	env, err := federation.Seal(ctx, tst, r, federation.Source{Territory: "ATS-A", SoftwareVersion: "v0.6.0-test"}, key)
	if err != nil {
		f.Fatal(err)
	}
	const ctype = "application/json"
	f.Add(false, env, ctype)
	f.Add(false, env, "application/json; charset=utf-8")
	f.Add(false, env, "text/plain")
	f.Add(false, env, "")
	f.Add(false, bytes.Replace(env, []byte(`"revision":0`), []byte(`"revision":-1`), 1), ctype)
	f.Add(false, bytes.Replace(env, []byte(`"territory":"ATS-A"`), []byte(`"territory":"ATS-B"`), 1), ctype)
	f.Add(false, bytes.Replace(env, []byte(`"epoch":"2025-Q2"`), []byte(`"epoch":"2025-Q2","epoch":"2025-Q3"`), 1), ctype)
	f.Add(false, []byte(`{not json`), ctype)
	f.Add(false, []byte(`null`), ctype)
	f.Add(false, []byte(`[]`), ctype)
	f.Add(false, []byte(`{"signature":{"key_id":"x","value":"","algorithm":"Ed25519"}}`), ctype)

	tok, _, err := NewEnrolmentToken(ctx, st, "test", "ATS-B", "", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	for _, req := range []map[string]any{
		{"territory": "ATS-B", "token": tok, "public_key": base64.StdEncoding.EncodeToString(other)},
		{"territory": "ATS-B", "token": "snde_" + string(bytes.Repeat([]byte("A"), 43)), "public_key": base64.StdEncoding.EncodeToString(other)},
		{"territory": "ATS-A", "token": tok, "public_key": base64.StdEncoding.EncodeToString(pub)},
		{"territory": "ats b", "token": tok, "public_key": "x"},
		{"territory": "ATS-B", "token": tok, "public_key": "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"},
		{"territory": 1, "token": nil, "public_key": []int{1}},
		{"territory": "ATS-B", "token": tok, "public_key": base64.StdEncoding.EncodeToString(other), "extra": true},
	} {
		b, err := json.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(true, b, ctype)
	}
	f.Add(true, []byte(`{}`), ctype)
	f.Add(true, []byte(`{"territory":"ATS-B"}{"x":1}`), ctype)

	f.Fuzz(func(t *testing.T, enrol bool, body []byte, contentType string) {
		path := "/api/v1/intake"
		if enrol {
			path = "/api/v1/enrol"
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, rec.Body.Bytes())
		}
		if res.StatusCode >= 400 {
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("POST %s: %d with Content-Type %q", path, res.StatusCode, ct)
			}
			var p Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != res.StatusCode || p.Type == "" || p.Title == "" {
				t.Fatalf("POST %s: %d with problem %s (%v)", path, res.StatusCode, rec.Body.Bytes(), err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("POST %s: %d with a body that is not a JSON object: %v", path, res.StatusCode, err)
		}
	})
}
