package stats

import (
	"testing"

	"github.com/snodo-hub/snodo/hub/store"
)

// GenerateStore exposes the benchmark generator to the external test
// package (stats_test), whose benchmarks import hub/federation: an
// internal test cannot, since federation imports stats.
func GenerateStore(b *testing.B, households int) *store.Store {
	return generate(b, households).commit()
}
