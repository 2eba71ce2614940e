package pipeline

import (
	"maps"
	"time"
)

// Stats are the pipeline's counters since it started, for metrics (the API
// turns them into Prometheus series) and for progress lines.
type Stats struct {
	// Sources holds the counters of each source (connector instance).
	Sources map[string]SourceStats
	// Latency is the time from a batch's arrival in Sink to its commit.
	Latency Histogram
	// PoisonedBatches counts the batches that kept failing and were put in
	// quarantine whole.
	PoisonedBatches int64
	// Replayed counts quarantined records stored by Replay.
	Replayed int64
}

// SourceStats counts one source's records by outcome.
type SourceStats struct {
	Batches     int64
	Records     int64 // received: the sum of the four outcomes below
	Inserted    int64 // new records stored
	Updated     int64 // stored records whose content changed
	Unchanged   int64 // delivered again with the same content: nothing written
	Quarantined int64
	// Degraded says why the source is flooding the quarantine, "" when it
	// is not.
	Degraded string
}

// Stored is Inserted + Updated.
func (s SourceStats) Stored() int64 { return s.Inserted + s.Updated }

// Histogram is a Prometheus-style histogram of durations in seconds.
type Histogram struct {
	Count   uint64
	Sum     float64   // seconds
	Bounds  []float64 // upper bounds in seconds, ascending
	Buckets []uint64  // Buckets[i]: observations ≤ Bounds[i] (cumulative)
}

// latencyBounds are the upper bounds of the latency histogram, in seconds.
var latencyBounds = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func newHistogram() Histogram {
	return Histogram{Bounds: latencyBounds, Buckets: make([]uint64, len(latencyBounds))}
}

func (h *Histogram) observe(d time.Duration) {
	s := d.Seconds()
	h.Count++
	h.Sum += s
	for i, b := range h.Bounds {
		if s <= b {
			h.Buckets[i]++
		}
	}
}

func (h Histogram) clone() Histogram {
	h.Buckets = append([]uint64(nil), h.Buckets...)
	return h
}

// Stats returns a copy of the counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{
		Sources:         maps.Clone(p.stats.Sources),
		Latency:         p.stats.Latency.clone(),
		PoisonedBatches: p.stats.PoisonedBatches,
		Replayed:        p.stats.Replayed,
	}
	if s.Sources == nil {
		s.Sources = map[string]SourceStats{}
	}
	return s
}
