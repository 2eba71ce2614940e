package identity_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

// realisticCFs generates n valid codici fiscali, one in ten omocodic.
func realisticCFs(tb testing.TB, n int) []string {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	const months = "ABCDEHLMPRST"
	placesList := []string{"H501", "F205", "L219", "A562", "Z330", "Z129", "Z404", "D612", "G273"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 6 {
			b.WriteByte(letters[r.IntN(26)])
		}
		day := 1 + r.IntN(28)
		if r.IntN(2) == 0 {
			day += 40
		}
		fmt.Fprintf(&b, "%02d%c%02d%s", r.IntN(100), months[r.IntN(12)], day, placesList[r.IntN(len(placesList))])
		s := []byte(b.String())
		if i%10 == 0 {
			s[14] = "LMNPQRSTUV"[s[14]-'0']
		}
		out[i] = withCheck(tb, string(s))
	}
	return out
}

func BenchmarkParseCF(b *testing.B) {
	codes := realisticCFs(b, 1024)
	spaced := make([]string, len(codes))
	for i, c := range codes {
		spaced[i] = " " + strings.ToLower(c[:6]) + " " + c[6:11] + "-" + c[11:] + " "
	}
	for name, in := range map[string][]string{"normalised": codes, "spaced-lower": spaced} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := identity.Parse(in[n%len(in)]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "codes/s")
		})
	}
}

func BenchmarkDigest(b *testing.B) {
	k := sequentialKey()
	c := mustParse(b, "RSSMRA85T10A562S")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		_ = k.Digest(c)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "digests/s")
}

// BenchmarkIndexPersonID measures the index's own cost (validation, digest,
// new ULID) over an in-memory directory; the SQLite cost is measured in
// hub/store.
func BenchmarkIndexPersonID(b *testing.B) {
	ctx := context.Background()
	ix := identity.NewIndex(sequentialKey(), newMemDirectory())
	raw := realisticCFs(b, 1024)
	codes := make([]identity.Code, len(raw))
	for i, s := range raw {
		codes[i] = mustParse(b, s)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, _, err := ix.PersonID(ctx, codes[n%len(codes)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}
