package pipeline

import (
	"fmt"
	"time"
)

// Flood says when a connector sends so many bad records that it must be
// looked at: over the last Window records of a source (those of the last
// MaxAge only), more than Threshold of them quarantined. Zero fields take
// the defaults.
type Flood struct {
	// Window is how many of the source's last records count (500).
	Window int
	// MaxAge leaves out the records older than this (10 minutes).
	MaxAge time.Duration
	// Threshold is the share of quarantined records, 0 to 1, above which
	// the connector is degraded (0.2). A negative Threshold never degrades.
	Threshold float64
	// MinRecords is how many records the window must hold before it can
	// degrade the connector (50): three bad records of the first five are
	// not a flood yet.
	MinRecords int
}

// Defaults of Flood.
const (
	DefaultFloodWindow     = 500
	DefaultFloodMaxAge     = 10 * time.Minute
	DefaultFloodThreshold  = 0.2
	DefaultFloodMinRecords = 50
)

func (f Flood) withDefaults() Flood {
	if f.Window <= 0 {
		f.Window = DefaultFloodWindow
	}
	if f.MaxAge <= 0 {
		f.MaxAge = DefaultFloodMaxAge
	}
	if f.Threshold == 0 {
		f.Threshold = DefaultFloodThreshold
	}
	if f.MinRecords <= 0 {
		f.MinRecords = DefaultFloodMinRecords
	}
	f.MinRecords = min(f.MinRecords, f.Window)
	return f
}

// window holds the outcomes of a source's last records, oldest first, in a
// ring.
type window struct {
	at   []int64 // when each record was stored, Unix nanoseconds
	bad  []bool  // whether it went to quarantine
	head int     // index of the oldest
	n    int     // how many are held
	nBad int
}

func newWindow(size int) *window {
	return &window{at: make([]int64, size), bad: make([]bool, size)}
}

func (w *window) add(at time.Time, bad bool) {
	if w.n == len(w.at) {
		w.drop()
	}
	i := (w.head + w.n) % len(w.at)
	w.at[i], w.bad[i] = at.UnixNano(), bad
	w.n++
	if bad {
		w.nBad++
	}
}

func (w *window) drop() {
	if w.bad[w.head] {
		w.nBad--
	}
	w.head = (w.head + 1) % len(w.at)
	w.n--
}

// expire leaves out the records stored before cutoff.
func (w *window) expire(cutoff time.Time) {
	c := cutoff.UnixNano()
	for w.n > 0 && w.at[w.head] < c {
		w.drop()
	}
}

// verdict says why the source is flooding, or "" when it is not.
func (f Flood) verdict(w *window, now time.Time) string {
	w.expire(now.Add(-f.MaxAge))
	if f.Threshold < 0 || w.n < f.MinRecords || float64(w.nBad) <= f.Threshold*float64(w.n) {
		return ""
	}
	return fmt.Sprintf("%d of the last %d records went to quarantine (more than %.0f%%): check the connector's mapping and the source's data (snodo quarantine list)",
		w.nBad, w.n, f.Threshold*100)
}
