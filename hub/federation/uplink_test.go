package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
)

// fakeClock is the clock of a store and its uplink.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openClockedStore(t *testing.T) (*store.Store, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2025, 7, 31, 10, 0, 0, 0, time.UTC)}
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "snodo.db"), store.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

// enqueueReleases releases the epochs, seals their envelopes with key and
// puts them in the outbox as the territory's release command does; it
// returns the envelopes by dedup key.
func enqueueReleases(t *testing.T, st *store.Store, key ed25519.PrivateKey, epochs ...string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	_, cells := fill(t, st, 40)
	out := map[string][]byte{}
	for _, epoch := range epochs {
		r := release(t, st, disclosure.DefaultSettings(), epoch, cells)
		raw, err := Seal(ctx, st, r, src, key)
		if err != nil {
			t.Fatal(err)
		}
		dedup := DedupKey(territory, epoch, r.Revision)
		err = st.Write(ctx, func(tx *store.Tx) error {
			_, _, err := tx.Enqueue(ctx, EnvelopeTopic, dedup, raw)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out[dedup] = raw
	}
	return out
}

// testRegion is a minimal region intake with the agreed answers: 201 for a
// new envelope, 200 for an identical copy, 409 for other content under the
// same key, 403 for an unknown key, 422 for other verification failures.
type testRegion struct {
	mu      sync.Mutex
	trusted TrustedKeys
	stored  map[string][]byte // by territory/catalogue/epoch/revision
	created int               // 201 answers
	posts   int
	fail    int                   // when not 0, the status of every answer
	after   func(r *http.Request) // called after an envelope is stored
}

func newTestRegion(trusted TrustedKeys) *testRegion {
	return &testRegion{trusted: trusted, stored: map[string][]byte{}}
}

func (g *testRegion) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != IntakePath || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "not the intake", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.posts++
	fail, after := g.fail, g.after
	if fail != 0 {
		g.mu.Unlock()
		http.Error(w, "region under maintenance", fail)
		return
	}
	e, err := Verify(body, g.trusted)
	if err != nil {
		g.mu.Unlock()
		status := http.StatusUnprocessableEntity
		if errors.Is(err, ErrUnknownKey) || errors.Is(err, ErrWrongTerritory) {
			status = http.StatusForbidden
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"title": "envelope refused", "detail": err.Error()})
		return
	}
	k := fmt.Sprintf("%s/%s/%s/%d", e.Territory, e.CatalogueVersion, e.Epoch, e.Revision)
	status := http.StatusCreated
	if old, ok := g.stored[k]; ok {
		status = http.StatusOK
		if string(old) != string(body) {
			status = http.StatusConflict
		}
	} else {
		g.stored[k] = body
		g.created++
	}
	g.mu.Unlock()
	if after != nil && status == http.StatusCreated {
		after(r)
	}
	w.WriteHeader(status)
}

func (g *testRegion) counts() (posts, created, stored int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.posts, g.created, len(g.stored)
}

func (g *testRegion) set(f func(g *testRegion)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(g)
}

func newHTTPUplink(t *testing.T, st *store.Store, clk *fakeClock, url string) *Uplink {
	t.Helper()
	pub, err := NewHTTPPublisher(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	u, err := NewUplink(st, UplinkConfig{Territory: territory, Publisher: pub, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func deliverDue(t *testing.T, u *Uplink) int {
	t.Helper()
	n, err := u.DeliverDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// pendingAll lists what is still undelivered, due or not, by looking from
// far in the future; the clock is put back.
func pendingAll(t *testing.T, st *store.Store, clk *fakeClock) []store.OutboxMessage {
	t.Helper()
	clk.Add(365 * 24 * time.Hour)
	defer clk.Add(-365 * 24 * time.Hour)
	msgs, err := st.Pending(context.Background(), EnvelopeTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestUplinkDeliversOnce(t *testing.T) {
	t.Parallel()
	st, clk := openClockedStore(t)
	key := newKey(t)
	sent := enqueueReleases(t, st, key, "2025-Q1", "2025-Q2")
	region := newTestRegion(trust(key))
	srv := httptest.NewServer(region)
	defer srv.Close()
	u := newHTTPUplink(t, st, clk, srv.URL)

	if n := deliverDue(t, u); n != 2 {
		t.Fatalf("delivered %d, want 2", n)
	}
	clk.Add(time.Hour)
	if n := deliverDue(t, u); n != 0 {
		t.Errorf("second pass delivered %d", n)
	}
	posts, created, stored := region.counts()
	if posts != 2 || created != 2 || stored != 2 {
		t.Errorf("region: %d posts, %d created, %d stored; want 2, 2, 2", posts, created, stored)
	}
	for _, raw := range region.stored {
		found := false
		for _, s := range sent {
			found = found || string(s) == string(raw)
		}
		if !found {
			t.Error("the region received bytes other than the sealed envelope")
		}
	}
	if p := pendingAll(t, st, clk); len(p) != 0 {
		t.Errorf("%d still pending", len(p))
	}
}

// countingPublisher counts the publish attempts.
type countingPublisher struct {
	message.Publisher
	mu    sync.Mutex
	calls int
}

func (c *countingPublisher) Publish(topic string, msgs ...*message.Message) error {
	c.mu.Lock()
	c.calls += len(msgs)
	c.mu.Unlock()
	return c.Publisher.Publish(topic, msgs...)
}

// TestUplinkOfflineForWeeks: the region is unreachable for 45 days, then
// answers 503 for 45 more; every envelope is kept and tried again all that
// time, and once the region is back each arrives exactly once.
func TestUplinkOfflineForWeeks(t *testing.T) {
	t.Parallel()
	st, clk := openClockedStore(t)
	key := newKey(t)
	enqueueReleases(t, st, key, "2024-Q4", "2025-Q1", "2025-Q2")

	// An address nobody listens on: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	pub, err := NewHTTPPublisher("http://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingPublisher{Publisher: pub}
	u, err := NewUplink(st, UplinkConfig{Territory: territory, Publisher: counting, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}

	// Steps longer than the longest backoff (10 min + 20 %): every pass
	// finds every envelope due.
	const step = 5*time.Hour + 13*time.Minute
	passes := 0
	offline := func(days int) {
		for elapsed := time.Duration(0); elapsed < time.Duration(days)*24*time.Hour; elapsed += step {
			clk.Add(step)
			if n := deliverDue(t, u); n != 0 {
				t.Fatalf("delivered %d while the region is down", n)
			}
			passes++
		}
	}
	offline(45)
	msgs := pendingAll(t, st, clk)
	if len(msgs) != 3 {
		t.Fatalf("%d pending after 45 days, want 3", len(msgs))
	}
	for _, m := range msgs {
		if m.Attempts != passes || !strings.Contains(m.LastError, "connection refused") || FailureIsPermanent(m.LastError) {
			t.Errorf("%s: %d attempts (want %d), last error %q", m.DedupKey, m.Attempts, passes, m.LastError)
		}
		if wait := m.NextAttemptAt.Sub(clk.Now()); wait > 12*time.Minute || wait < 8*time.Minute {
			t.Errorf("%s: next attempt in %s, want the 10 min ±20 %% cap", m.DedupKey, wait)
		}
	}

	// The region comes back, answering 503.
	region := newTestRegion(trust(key))
	region.fail = http.StatusServiceUnavailable
	srv := httptest.NewUnstartedServer(region)
	srv.Listener.Close()
	if srv.Listener, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close()
	offline(45)
	if posts, _, stored := region.counts(); stored != 0 || posts == 0 {
		t.Fatalf("region: %d posts, %d stored while answering 503", posts, stored)
	}
	for _, m := range pendingAll(t, st, clk) {
		if m.Attempts != passes || !strings.Contains(m.LastError, "503") {
			t.Errorf("%s: %d attempts (want %d), last error %q", m.DedupKey, m.Attempts, passes, m.LastError)
		}
	}

	// Up: everything arrives, once.
	region.set(func(g *testRegion) { g.fail = 0 })
	clk.Add(step)
	if n := deliverDue(t, u); n != 3 {
		t.Fatalf("delivered %d when the region came back, want 3", n)
	}
	for range 5 {
		clk.Add(step)
		if n := deliverDue(t, u); n != 0 {
			t.Fatalf("delivered %d more", n)
		}
	}
	if _, created, stored := region.counts(); created != 3 || stored != 3 {
		t.Errorf("region: %d created, %d stored; want 3 and 3", created, stored)
	}
	if p := pendingAll(t, st, clk); len(p) != 0 {
		t.Errorf("%d still pending", len(p))
	}
	if want := 3 * (passes + 1); counting.calls != want {
		t.Errorf("%d publish attempts, want %d", counting.calls, want)
	}
}

// TestUplinkPermanentRefusalKept: an envelope the region refuses stays in
// the outbox with the reason, is not offered again for hours, and goes
// through once the cause is fixed.
func TestUplinkPermanentRefusalKept(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		status string
		setup  func(g *testRegion, key ed25519.PrivateKey)
		fix    func(g *testRegion, key ed25519.PrivateKey)
	}{
		{"unenrolled key", "403",
			func(g *testRegion, key ed25519.PrivateKey) {},
			func(g *testRegion, key ed25519.PrivateKey) { g.trusted = trust(key) }},
		{"conflicting copy", "409",
			func(g *testRegion, key ed25519.PrivateKey) {
				g.trusted = trust(key)
				g.stored[territory+"/1.0.0/2025-Q2/0"] = []byte(`{"other":"content"}`)
			},
			func(g *testRegion, key ed25519.PrivateKey) { clear(g.stored) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, clk := openClockedStore(t)
			key := newKey(t)
			enqueueReleases(t, st, key, "2025-Q2")
			region := newTestRegion(TrustedKeys{})
			c.setup(region, key)
			srv := httptest.NewServer(region)
			defer srv.Close()
			u := newHTTPUplink(t, st, clk, srv.URL)

			if n := deliverDue(t, u); n != 0 {
				t.Fatalf("delivered %d", n)
			}
			msgs := pendingAll(t, st, clk)
			if len(msgs) != 1 {
				t.Fatalf("%d pending, want the refused envelope", len(msgs))
			}
			m := msgs[0]
			if !FailureIsPermanent(m.LastError) || !strings.Contains(m.LastError, c.status) || m.Attempts != 1 {
				t.Errorf("attempts %d, last error %q", m.Attempts, m.LastError)
			}
			if wait := m.NextAttemptAt.Sub(clk.Now()); wait != DefaultPermanentRetry {
				t.Errorf("offered again in %s, want %s", wait, DefaultPermanentRetry)
			}
			// No tight loop.
			for range 5 {
				clk.Add(time.Hour)
				deliverDue(t, u)
			}
			if posts, _, _ := region.counts(); posts != 1 {
				t.Errorf("%d posts within 5 h of a permanent refusal, want 1", posts)
			}
			region.set(func(g *testRegion) { c.fix(g, key) })
			clk.Add(time.Hour)
			if n := deliverDue(t, u); n != 1 {
				t.Fatalf("delivered %d after the fix, want 1", n)
			}
			if posts, created, _ := region.counts(); posts != 2 || created != 1 {
				t.Errorf("%d posts, %d created; want 2, 1", posts, created)
			}
		})
	}
}

// TestFaultUplinkCrashAfterPost: the hub dies after the region stored the
// envelope but before the outbox recorded the delivery; after the restart
// it sends the envelope again, the region answers 200 and keeps one copy.
func TestFaultUplinkCrashAfterPost(t *testing.T) {
	t.Parallel()
	st, clk := openClockedStore(t)
	key := newKey(t)
	enqueueReleases(t, st, key, "2025-Q2")
	region := newTestRegion(trust(key))
	ctx, crash := context.WithCancel(context.Background())
	region.after = func(r *http.Request) {
		crash()              // the hub dies now...
		<-r.Context().Done() // ...and never reads the answer
	}
	srv := httptest.NewServer(region)
	defer srv.Close()

	u := newHTTPUplink(t, st, clk, srv.URL)
	n, err := u.DeliverDue(ctx)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("delivered %d, error %v; want 0 and the crash", n, err)
	}
	if p := pendingAll(t, st, clk); len(p) != 1 || p[0].Attempts != 0 {
		t.Fatalf("after the crash: %+v, want the envelope pending with no failure recorded", p)
	}

	region.set(func(g *testRegion) { g.after = nil })
	restarted := newHTTPUplink(t, st, clk, srv.URL)
	if n := deliverDue(t, restarted); n != 1 {
		t.Fatalf("delivered %d after the restart, want 1", n)
	}
	if posts, created, stored := region.counts(); posts != 2 || created != 1 || stored != 1 {
		t.Errorf("region: %d posts, %d created, %d stored; want 2, 1, 1", posts, created, stored)
	}
	if p := pendingAll(t, st, clk); len(p) != 0 {
		t.Errorf("%d still pending", len(p))
	}
}

func TestHTTPPublisherStatuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status    int
		ok, perma bool
	}{
		{200, true, false}, {201, true, false},
		{400, false, true}, {401, false, true}, {403, false, true}, {409, false, true}, {413, false, true}, {422, false, true},
		{404, false, false}, {429, false, false}, {500, false, false}, {502, false, false}, {503, false, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Idempotency-Key") != "envelope:X:2025:0" {
				t.Errorf("Idempotency-Key %q", r.Header.Get("Idempotency-Key"))
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(c.status)
			// The shape hub/region.Problem answers.
			fmt.Fprint(w, `{"type":"https://snodo-hub.github.io/problems/invalid-envelope","title":"refused","status":422,"detail":"reason","pointers":["/cells/0","/cells/3"]}`)
		}))
		pub, err := NewHTTPPublisher(srv.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = pub.Publish("ignored", message.NewMessage("envelope:X:2025:0", []byte(`{}`)))
		srv.Close()
		if (err == nil) != c.ok || IsPermanent(err) != c.perma {
			t.Errorf("%d: error %v (permanent %v)", c.status, err, IsPermanent(err))
		}
		var ie *IntakeError
		if !c.ok && (!errors.As(err, &ie) || ie.Status != c.status || ie.Detail != "refused; reason; at /cells/0, /cells/3") {
			t.Errorf("%d: %#v", c.status, ie)
		}
	}
	if _, err := NewHTTPPublisher("ftp://region", nil); err == nil {
		t.Error("ftp URL accepted")
	}
}

func TestUplinkRunStops(t *testing.T) {
	t.Parallel()
	st, clk := openClockedStore(t)
	key := newKey(t)
	enqueueReleases(t, st, key, "2025-Q2")
	region := newTestRegion(trust(key))
	delivered := make(chan struct{})
	region.after = func(*http.Request) { close(delivered) }
	srv := httptest.NewServer(region)
	defer srv.Close()
	u := newHTTPUplink(t, st, clk, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- u.Run(ctx) }()
	u.Kick()
	<-delivered
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
