package api_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
)

// value finds the sample of family name whose labels are labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if cmp.Equal(labels, got, cmp.Comparer(func(a, b map[string]string) bool { return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b) })) {
			return m
		}
	}
	t.Fatalf("%s has no sample with labels %v", name, labels)
	return nil
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, twoConnectors())
	f.addRecords(t, rec{"referral", "r1", anna, since})
	f.addQuarantine(t, store.QuarantineItem{Source: "odv", Raw: []byte("x")}, store.QuarantineItem{Source: "odv", Raw: []byte("y")}, store.QuarantineItem{Source: "odv", Raw: []byte("z")})

	// The pipeline's counters: 2 batches, one of 30 ms and one of 2 s.
	bounds := []float64{0.001, 0.01, 0.05, 1, 5}
	f.pipe.set(pipeline.Stats{
		Sources: map[string]pipeline.SourceStats{
			"odv":     {Batches: 2, Records: 12, Inserted: 7, Updated: 1, Unchanged: 1, Quarantined: 3},
			"sil-cpi": {Batches: 1, Records: 50, Quarantined: 50, Degraded: "50 of the last 50 records quarantined"},
		},
		Latency:         pipeline.Histogram{Count: 2, Sum: 2.03, Bounds: bounds, Buckets: []uint64{0, 0, 1, 1, 2}},
		PoisonedBatches: 1,
		Replayed:        4,
	})
	// Requests counted by route pattern.
	f.get(t, "/api/v1/status", viewer)
	f.get(t, "/api/v1/status", noToken)

	resp, body := f.get(t, "/metrics", noToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}

	records := map[[2]string]float64{}
	for _, m := range fams["snodo_pipeline_records_total"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		records[[2]string{l["connector"], l["outcome"]}] = m.GetCounter().GetValue()
	}
	wantRecords := map[[2]string]float64{
		{"odv", "inserted"}: 7, {"odv", "updated"}: 1, {"odv", "unchanged"}: 1, {"odv", "quarantined"}: 3,
		{"sil-cpi", "inserted"}: 0, {"sil-cpi", "updated"}: 0, {"sil-cpi", "unchanged"}: 0, {"sil-cpi", "quarantined"}: 50,
	}
	if diff := cmp.Diff(wantRecords, records); diff != "" {
		t.Errorf("records by connector and outcome (-want +got):\n%s", diff)
	}
	for conn, want := range map[string]float64{"odv": 2, "sil-cpi": 1} {
		if got := value(t, fams, "snodo_pipeline_batches_total", map[string]string{"connector": conn}).GetCounter().GetValue(); got != want {
			t.Errorf("batches of %s = %v, want %v", conn, got, want)
		}
	}
	for conn, want := range map[string]float64{"odv": 0, "sil-cpi": 1} {
		if got := value(t, fams, "snodo_connector_degraded", map[string]string{"connector": conn}).GetGauge().GetValue(); got != want {
			t.Errorf("degraded %s = %v, want %v", conn, got, want)
		}
	}
	h := value(t, fams, "snodo_pipeline_batch_duration_seconds", nil).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 2.03 {
		t.Errorf("batch histogram: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	buckets := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if diff := cmp.Diff(map[float64]uint64{0.001: 0, 0.01: 0, 0.05: 1, 1: 1, 5: 2, math.Inf(1): 2}, buckets); diff != "" {
		t.Errorf("latency buckets (-want +got):\n%s", diff)
	}
	if got := value(t, fams, "snodo_pipeline_poisoned_batches_total", nil).GetCounter().GetValue(); got != 1 {
		t.Errorf("poisoned batches = %v", got)
	}
	if got := value(t, fams, "snodo_quarantine_replayed_total", nil).GetCounter().GetValue(); got != 4 {
		t.Errorf("replayed = %v", got)
	}
	if got := value(t, fams, "snodo_quarantine_records", nil).GetGauge().GetValue(); got != 3 {
		t.Errorf("quarantine = %v, want 3", got)
	}
	if got := value(t, fams, "snodo_store_size_bytes", nil).GetGauge().GetValue(); got < 4096 {
		t.Errorf("store size = %v", got)
	}
	for conn, want := range map[string]float64{"odv": 2, "sil-cpi": 5} {
		if got := value(t, fams, "snodo_connector_restarts_total", map[string]string{"connector": conn}).GetCounter().GetValue(); got != want {
			t.Errorf("restarts of %s = %v, want %v", conn, got, want)
		}
	}
	for _, c := range []struct {
		conn, state string
		want        float64
	}{{"odv", "running", 1}, {"odv", "recovering", 0}, {"sil-cpi", "recovering", 1}, {"sil-cpi", "running", 0}} {
		if got := value(t, fams, "snodo_connector_state", map[string]string{"connector": c.conn, "state": c.state}).GetGauge().GetValue(); got != c.want {
			t.Errorf("state %s of %s = %v, want %v", c.state, c.conn, got, c.want)
		}
	}
	for code, want := range map[string]float64{"200": 1, "401": 1} {
		if got := value(t, fams, "snodo_http_requests_total", map[string]string{"route": "/api/v1/status", "code": code}).GetCounter().GetValue(); got != want {
			t.Errorf("requests %s = %v, want %v", code, got, want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// TestMetricsWithoutPipelineOrConnectors: a hub serving only its store
// (e.g. while the pipeline is not built) still has valid metrics.
func TestMetricsWithoutPipelineOrConnectors(t *testing.T) {
	t.Parallel()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv, err := api.New(api.Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"snodo_quarantine_records", "snodo_store_size_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for _, name := range []string{"snodo_pipeline_records_total", "snodo_connector_state"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s without a pipeline or connectors", name)
		}
	}
	if _, err := api.New(api.Config{}); err == nil {
		t.Error("New without a store: no error")
	}
}
