package stats_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/stats"
)

// BenchmarkRelease100k is "stats release" of one annual epoch (2025) over a
// territory store of 100,000 generated households (the generator of
// BenchmarkComputeAll: 1–3 people each, pathways, referrals, assessments,
// placements, employment): federation.Release computes every indicator of
// the catalogue, the ledger protects the cells (discrete Gaussian noise,
// DefaultSettings) and stores them, the envelope is signed and queued. The
// store is built once, outside the timer. A store can release 2025 only
// once (a release is idempotent, and the default year cap refuses a
// revision), so the benchmark runs one release: use -benchtime 1x, and
// -count for more samples (each builds its own store).
//
// Reported: the wall time of the release, the Go heap allocated during it,
// the peak Go heap in use (sampled every 5 ms) and the process's peak RSS
// during the release (VmHWM, reset through /proc/self/clear_refs just
// before; 0 if the kernel refuses the reset). The RSS includes what the
// process held before (the generated store's pages, the generator's
// garbage), so the heap figures are the release's own.
func BenchmarkRelease100k(b *testing.B) {
	const households = 100000
	ctx := context.Background()
	t0 := time.Now()
	st := stats.GenerateStore(b, households)
	b.Logf("store of %d households built in %s", households, time.Since(t0).Round(time.Second))
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	terr := federation.Territory{Code: "ATS-BENCH", SoftwareVersion: "v0.6.0-bench", Settings: disclosure.DefaultSettings(), SigningKey: key,
		Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }}
	runtime.GC()
	var wall time.Duration
	var alloc, peakHeap, peakRSS uint64
	runs := 0
	for b.Loop() { // b.Loop resets the timer first
		// b.N is not the count inside b.Loop: count the runs.
		if runs++; runs > 1 {
			b.Fatal("run with -benchtime 1x: the store releases 2025 once")
		}
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		resetPeak := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
		stop := sampleHeap()
		start := time.Now()
		r, err := federation.Release(ctx, st, terr, "2025", 0)
		wall += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		peakHeap = max(peakHeap, stop())
		if !r.New || len(r.Envelope) == 0 || len(r.Release.Cells) == 0 {
			b.Fatalf("new %v, %d cells, %d envelope bytes: nothing was released", r.New, len(r.Release.Cells), len(r.Envelope))
		}
		b.ReportMetric(float64(len(r.Release.Cells)), "cells")
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		alloc += after.TotalAlloc - before.TotalAlloc
		if resetPeak {
			peakRSS = max(peakRSS, vmHWM(b))
		}
	}
	n := float64(b.N)
	b.ReportMetric(wall.Seconds()/n, "s/release")
	b.ReportMetric(float64(alloc)/n/(1<<20), "MB-alloc/release")
	b.ReportMetric(float64(peakHeap)/(1<<20), "MB-peak-heap")
	b.ReportMetric(float64(peakRSS)/(1<<20), "MB-peak-RSS")
	b.ReportMetric(0, "ns/op")
}

// sampleHeap samples the Go heap in use every 5 ms until stop is called,
// which returns the largest sample.
func sampleHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// vmHWM reads the process's peak resident set size, in bytes.
func vmHWM(b *testing.B) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
