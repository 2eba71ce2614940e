package region

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
)

// BenchmarkIntake600x8 is a region's intake of 600 territories × 8
// quarters (2024-Q1 … 2025-Q4): 4,800 envelopes, each built and signed
// with its territory's own Ed25519 key, then received by Intake.Receive on
// a real SQLite region store where all 600 keys are enrolled (signature
// check, budget account, cells stored, intake log appended). The eight
// quarterly releases are made once by the production path
// (federation.Release over a territory store, which builds every
// quarterly table of the catalogue); each territory re-signs them as its
// own, so every envelope is distinct and the region sees 4,800 new ones.
// Signing and receiving are timed apart: "sign-envelopes/s" is the
// territories' side (summed, as one core would do it), "envelopes/s" the
// region's.
func BenchmarkIntake600x8(b *testing.B) {
	const territories, quarters = 600, 8
	ctx := context.Background()
	// The releases: one territory store, the production Release.
	tst, err := store.Open(ctx, filepath.Join(b.TempDir(), "territory.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer tst.Close()
	_, tkey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	src := federation.Territory{Code: "ATS-BENCH", SoftwareVersion: "v0.6.0-bench", Settings: disclosure.DefaultSettings(), SigningKey: tkey,
		Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }}
	var releases []*disclosure.Release
	for _, y := range []int{2024, 2025} {
		for q := 1; q <= 4; q++ {
			r, err := federation.Release(ctx, tst, src, fmt.Sprintf("%d-Q%d", y, q), 0)
			if err != nil {
				b.Fatal(err)
			}
			releases = append(releases, r.Release)
		}
	}
	codes := make([]string, territories)
	keys := make([]ed25519.PrivateKey, territories)
	for i := range keys {
		codes[i] = fmt.Sprintf("ATS-%03d", i)
		if _, keys[i], err = ed25519.GenerateKey(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
	var signT, recvT time.Duration
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "region.db"))
		if err != nil {
			b.Fatal(err)
		}
		for i, k := range keys {
			if _, err := EnrolKey(ctx, st, "bench", codes[i], "Ambito "+codes[i], k.Public().(ed25519.PublicKey)); err != nil {
				b.Fatal(err)
			}
		}
		in := NewIntake(st, nil)
		b.StartTimer()
		for qi, rel := range releases {
			envs := make([][]byte, territories)
			t0 := time.Now()
			for i, k := range keys {
				e, err := federation.Build(rel, federation.Source{Territory: codes[i], SoftwareVersion: "v0.6.0-bench"})
				if err != nil {
					b.Fatal(err)
				}
				if envs[i], err = federation.Sign(e, k); err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(envs[i]))
			}
			t1 := time.Now()
			for i, raw := range envs {
				rc, err := in.Receive(ctx, raw)
				if err != nil {
					b.Fatalf("quarter %d, %s: %v", qi, codes[i], err)
				}
				// Anything but Accepted (a duplicate, say) would mean the
				// region did not store it as new: the figure would measure
				// a cheaper path.
				if rc.Outcome != Accepted {
					b.Fatalf("quarter %d, %s: %s, want accepted", qi, codes[i], rc.Outcome)
				}
			}
			signT += t1.Sub(t0)
			recvT += time.Since(t1)
		}
		b.StopTimer()
		n, err := st.VerifyIntakeLog(ctx)
		if err != nil || n != territories*quarters {
			b.Fatalf("intake log: %d entries, %v; want %d", n, err, territories*quarters)
		}
		st.Close()
		b.StartTimer()
	}
	envs := float64(territories * quarters * b.N)
	b.ReportMetric(envs/recvT.Seconds(), "envelopes/s")
	b.ReportMetric(envs/signT.Seconds(), "sign-envelopes/s")
	b.ReportMetric(float64(bytes)/envs, "bytes/envelope")
	b.ReportMetric(0, "ns/op")
}
