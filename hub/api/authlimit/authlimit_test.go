package authlimit_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/api/authlimit"
)

// clock is a settable clock: the tests move time instead of sleeping.
type clock struct{ t time.Time }

func (c *clock) now() time.Time                   { return c.t }
func (c *clock) add(d time.Duration)              { c.t = c.t.Add(d) }
func newClock() *clock                            { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }
func allowed(l *authlimit.Limiter, k string) bool { _, ok := l.Allow(k); return ok }

// TestLimiterRefusesAfterFailures: ten failures in a row are allowed, the
// eleventh attempt is refused with a wait of 60s/10, and one more attempt
// is allowed once that wait has passed; another client is unaffected.
func TestLimiterRefusesAfterFailures(t *testing.T) {
	c := newClock()
	l := authlimit.New(authlimit.Config{Failures: 10, Window: time.Minute, Now: c.now})
	for i := range 10 {
		if !allowed(l, "a") {
			t.Fatalf("attempt %d refused, want allowed", i+1)
		}
		l.Fail("a")
	}
	wait, ok := l.Allow("a")
	if ok || wait != 6*time.Second {
		t.Fatalf("11th attempt: ok=%v wait=%v, want refused for 6s", ok, wait)
	}
	if !allowed(l, "b") {
		t.Error("another client refused")
	}
	c.add(5 * time.Second)
	if wait, ok := l.Allow("a"); ok || wait != time.Second {
		t.Errorf("after 5s: ok=%v wait=%v, want refused for 1s more", ok, wait)
	}
	c.add(500 * time.Millisecond)
	if wait, ok := l.Allow("a"); ok || wait != time.Second {
		t.Errorf("after 5.5s: ok=%v wait=%v, want refused for 1s (0.5s rounded up)", ok, wait)
	}
	c.add(500 * time.Millisecond)
	if !allowed(l, "a") {
		t.Fatal("after 6s: refused, want one more attempt")
	}
	l.Fail("a")
	if allowed(l, "a") {
		t.Error("a failure after the refill was not counted")
	}
	c.add(time.Minute)
	for i := range 10 {
		if !allowed(l, "a") {
			t.Fatalf("after a quiet minute, attempt %d refused", i+1)
		}
		l.Fail("a")
	}
}

// TestLimiterBounded: the table never holds more than MaxClients
// addresses; addresses that do not fit share the overflow bucket (so
// spraying cannot reset a tracked client); refilled entries are swept to
// make room.
func TestLimiterBounded(t *testing.T) {
	c := newClock()
	l := authlimit.New(authlimit.Config{Failures: 2, Window: time.Minute, MaxClients: 3, Now: c.now})
	for i := range 3 {
		l.Fail(fmt.Sprint("tracked-", i))
		l.Fail(fmt.Sprint("tracked-", i))
	}
	for i := range 100 {
		l.Fail(fmt.Sprint("spray-", i))
	}
	if n := l.Tracked(); n != 3 {
		t.Fatalf("tracked %d clients, want the cap 3", n)
	}
	for i := range 3 {
		if allowed(l, fmt.Sprint("tracked-", i)) {
			t.Errorf("tracked-%d allowed after spraying: the spray reset its count", i)
		}
	}
	if allowed(l, "newcomer") {
		t.Error("an untracked client allowed while the overflow bucket is empty")
	}
	c.add(time.Minute)
	l.Fail("after")
	if n := l.Tracked(); n != 1 {
		t.Errorf("tracked %d clients after a refill and one failure, want 1 (the refilled ones swept)", n)
	}
	if !allowed(l, "after") || !allowed(l, "newcomer") {
		t.Error("clients refused after the window passed")
	}
}

// TestClient: the key is the remote address, IPv4-mapped addresses are
// unmapped, IPv6 is counted per /64, and X-Forwarded-For is ignored.
func TestClient(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.7:5555":             "192.0.2.7",
		"[::ffff:192.0.2.7]:5555":    "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not-an-address":             "not-an-address",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		if got := authlimit.Client(r); got != want {
			t.Errorf("Client(%q) = %q, want %q", remote, got, want)
		}
	}
}
