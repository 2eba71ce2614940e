// Package authlimit limits token guessing: it counts the failed
// authentications of each client address and refuses that address for a
// while once it has failed too often.
//
// Each address has a bucket of Failures tokens that refills at
// Failures per Window; a failed authentication takes one token, a
// successful one takes none. An address whose bucket is empty is refused
// before its token is even looked at, whatever the token: were a right
// token let through, the refusal would tell a guesser which guess was
// right, and the limit would limit nothing.
//
// Memory is bounded: at most MaxClients addresses are tracked. When the
// table is full and no bucket in it has refilled, the addresses that do
// not fit share one overflow bucket, so that spraying from many addresses
// cannot reset anybody's count; it can only make the overflow addresses
// wait together. IPv6 addresses are counted by their /64, which one
// client usually holds whole.
package authlimit

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultFailures   = 10
	DefaultWindow     = time.Minute
	DefaultMaxClients = 10_000
)

// Config configures a Limiter; the zero Config is the defaults.
type Config struct {
	// Failures is how many failed authentications an address may make in
	// a row before it is refused, and how many per Window it may make
	// after that (DefaultFailures).
	Failures int
	// Window is the time in which an address's allowance refills
	// completely (DefaultWindow).
	Window time.Duration
	// MaxClients caps the addresses tracked (DefaultMaxClients).
	MaxClients int
	// Now is the clock (time.Now); tests give their own.
	Now func() time.Time
}

// Limiter counts failed authentications per client address. It is safe
// for concurrent use.
//
// Each bucket is kept as a theoretical arrival time (the generic cell
// rate algorithm): a failure pushes it one interval (Window/Failures)
// later, and a client is allowed while it is less than Window - interval
// ahead of now. Whole durations, no floating point: the waits are exact.
type Limiter struct {
	interval time.Duration // Window / Failures
	slack    time.Duration // Window - interval
	max      int
	now      func() time.Time
	mu       sync.Mutex
	clients  map[string]*time.Time
	overflow time.Time
	swept    time.Time // the last sweep: at most one per interval
}

// New makes a Limiter.
func New(cfg Config) *Limiter {
	if cfg.Failures <= 0 {
		cfg.Failures = DefaultFailures
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	interval := max(cfg.Window/time.Duration(cfg.Failures), 1)
	return &Limiter{
		interval: interval,
		slack:    interval * time.Duration(cfg.Failures-1),
		max:      cfg.MaxClients,
		now:      cfg.Now,
		clients:  make(map[string]*time.Time),
	}
}

// Allow says whether the client may try a token now; when it may not, it
// also says how long it should wait (whole seconds, at least one, as
// Retry-After counts them).
func (l *Limiter) Allow(client string) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat := l.clients[client]
	if tat == nil {
		if len(l.clients) < l.max {
			return 0, true // never failed, or forgotten once refilled
		}
		tat = &l.overflow
	}
	wait = tat.Sub(now) - l.slack
	if wait <= 0 {
		return 0, true
	}
	// Rounded up to whole seconds: a wait is never shorter than it must be.
	return (wait + time.Second - 1).Truncate(time.Second), false
}

// Fail counts one failed authentication of the client.
func (l *Limiter) Fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat := l.clients[client]
	if tat == nil {
		// A full table is swept at most once per interval: under a spray
		// from many addresses every failure would otherwise scan it all,
		// holding the lock. Until then new addresses share the overflow.
		if len(l.clients) >= l.max && now.Sub(l.swept) >= l.interval {
			l.sweep(now)
			l.swept = now
		}
		if len(l.clients) >= l.max {
			tat = &l.overflow
		} else {
			tat = new(time.Time)
			l.clients[client] = tat
		}
	}
	*tat = later(*tat, now).Add(l.interval)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sweep forgets the clients whose buckets have refilled: a full bucket is
// the same as none.
func (l *Limiter) sweep(now time.Time) {
	for k, tat := range l.clients {
		if !tat.After(now) {
			delete(l.clients, k)
		}
	}
}

// Tracked is how many client addresses the limiter holds (for tests and
// metrics).
func (l *Limiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// Client is the key of a request's client: its remote IP address, or the
// /64 of an IPv6 one. It does not read X-Forwarded-For or similar headers:
// any client can write those. Behind a reverse proxy every client has the
// proxy's address and shares its allowance; limit at the proxy then.
func Client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.WithZone("").Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}
