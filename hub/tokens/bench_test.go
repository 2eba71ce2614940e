package tokens_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/snodo-hub/snodo/hub/tokens"
)

// BenchmarkAuthenticate measures the check of a request's token, which
// reads and compares every stored hash (no early exit), with as many
// tokens as a territory might accumulate. The use is recorded once a
// minute, so the loop measures reads.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s, _ := openStore(b)
			var last string
			for i := range n {
				tok, err := tokens.Create(ctx, s, "bench", fmt.Sprintf("t%d", i), tokens.Viewer)
				if err != nil {
					b.Fatal(err)
				}
				last = tok
			}
			if _, err := tokens.Authenticate(ctx, s, last); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := tokens.Authenticate(ctx, s, last); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auths/s")
		})
	}
}
