package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

const (
	testKey       = "test-key"
	testSource    = "comune"
	testTerritory = "SDS-FI-NORDOVEST"
)

// registry compiles the shared schemas with the hub's identifier formats.
var registry = sync.OnceValues(func() (*schemas.Registry, error) {
	return schemas.Compile(identity.SchemaFormats()...)
})

// logBuffer collects log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newConnector() (*Connector, *logBuffer) {
	lb := &logBuffer{}
	return &Connector{Log: slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))}, lb
}

// newSim starts the simulated comune with the seed and households.
func newSim(t testing.TB, seed int64, households int) (*comune.Server, *httptest.Server) {
	t.Helper()
	s, err := comune.New(comune.Options{Seed: seed, Households: households, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// settingsFor makes settings pointing at base; extra entries override.
func settingsFor(t testing.TB, base string, extra map[string]any) sdk.Settings {
	t.Helper()
	m := map[string]any{"source": testSource, "territory": testTerritory, "base_url": base, "api_key": testKey,
		"max_retry_wait_seconds": 0}
	for k, v := range extra {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.NewSettings(raw, "")
}

// readResult is what a read returned.
type readResult struct {
	records [][]byte
	batches []sdk.Batch
	last    []byte // the cursor after the read (the given one when no batch came)
}

func readFrom(t testing.TB, c *Connector, set sdk.Settings, cur []byte, maxBatch int) readResult {
	t.Helper()
	res := readResult{last: cur}
	err := c.Read(context.Background(), sdk.ReadRequest{Settings: set, Cursor: cur, MaxBatch: maxBatch}, func(b sdk.Batch) error {
		res.batches = append(res.batches, b)
		res.records = append(res.records, b.Records...)
		res.last = b.Cursor
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return res
}

// head is the envelope and the references tests look at.
type head struct {
	Schema   string `json:"schema"`
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
}

func headOf(t testing.TB, raw []byte) head {
	t.Helper()
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("record %s: %v", raw, err)
	}
	return h
}

func ids(t testing.TB, recs [][]byte) []string {
	t.Helper()
	out := make([]string, len(recs))
	for i, r := range recs {
		h := headOf(t, r)
		parts := strings.Split(h.Schema, "/")
		out[i] = parts[max(len(parts)-2, 0)] + ":" + h.RecordID
	}
	return out
}

// validate checks a record against the shared schemas. A codice fiscale
// the system holds mistyped fails the hub's check-digit format: that is
// the hub's business (it quarantines the record), so violations of the
// identifier formats alone are counted, not failed.
func validate(t testing.TB, raw []byte) (identifierOnly bool) {
	t.Helper()
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		t.Fatalf("record is not JSON: %v", err)
	}
	_, violations := reg.ValidateDocument(doc)
	if len(violations) == 0 {
		return false
	}
	for _, v := range violations {
		if v.Keyword != "format" || !strings.Contains(v.Pointer, "/identifiers/") {
			t.Errorf("record %s does not follow its schema: %v", raw, violations)
			return false
		}
	}
	return true
}
