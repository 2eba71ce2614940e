package disclosure

import (
	"testing"
)

// BenchmarkDiscreteGaussian measures exact sampling from crypto/rand, the
// production source. σ² = 2 is ρ = 1/4 (a quarterly headline release); σ² =
// 200 is ρ = 1/400.
func BenchmarkDiscreteGaussian(b *testing.B) {
	for _, sigma2 := range []string{"2", "200"} {
		b.Run("sigma2="+sigma2, func(b *testing.B) {
			g, err := NewGaussian(rat(sigma2))
			if err != nil {
				b.Fatal(err)
			}
			s := NewSampler(nil)
			for b.Loop() {
				if _, err := g.Sample(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
