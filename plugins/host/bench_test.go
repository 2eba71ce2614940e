package host_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// BenchmarkPluginStream streams 1 KB records from a real connector process
// through the host, in batches: b.N records in one Read. The connector
// builds its records with a few appends, so the figure is the cost of the
// boundary — protobuf, gRPC, TLS, two processes — not of making JSON.
func BenchmarkPluginStream(b *testing.B) {
	const size = 1024
	c := launch(b, testConnector)
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			settings := fmt.Appendf(nil, `{"source": "odv", "territory": "AB", "records": %d, "size": %d}`, b.N, size)
			var records, bytes int
			b.ReportAllocs()
			b.ResetTimer()
			err := c.Read(context.Background(), host.ReadRequest{Settings: settings, MaxBatch: batch}, func(bt sdk.Batch) error {
				records += len(bt.Records)
				for _, r := range bt.Records {
					bytes += len(r)
				}
				return nil
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if records != b.N {
				b.Fatalf("read %d records, want %d", records, b.N)
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(records)/sec, "records/s")
			b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
		})
	}
}
