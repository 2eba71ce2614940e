package supervisor

import "time"

// The default backoff policy.
const (
	DefaultBackoffInitial    = time.Second
	DefaultBackoffMax        = 10 * time.Minute
	DefaultBackoffResetAfter = 5 * time.Minute
)

// Backoff is how long the supervisor waits after a failure before it tries
// again. Zero fields take the defaults.
type Backoff struct {
	// Initial is the wait after a first failure (1 s).
	Initial time.Duration
	// Max caps the wait, which doubles at each consecutive failure (10 min).
	Max time.Duration
	// ResetAfter is how long the instance must run without a failure for
	// the next failure to count as a first one again (5 min).
	ResetAfter time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Max < b.Initial {
		b.Max = b.Initial
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = DefaultBackoffResetAfter
	}
	return b
}

// Next is the policy, as a pure function: given the number of consecutive
// failures before this one and how long the instance had been healthy
// (running without a failure) when this one happened, it returns the wait
// before the next attempt and the new number of consecutive failures.
// Failure n waits Initial·2ⁿ⁻¹, at most Max; a healthy period of ResetAfter
// or more starts the count again.
func (b Backoff) Next(failures int, healthy time.Duration) (wait time.Duration, consecutive int) {
	b = b.withDefaults()
	if healthy >= b.ResetAfter || failures < 0 {
		failures = 0
	}
	consecutive = failures + 1
	wait = b.Initial
	for i := 1; i < consecutive && wait < b.Max; i++ {
		wait *= 2
	}
	return min(wait, b.Max), consecutive
}
