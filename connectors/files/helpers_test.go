package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// registry compiles the shared schemas once for the package's tests.
// Identifier formats are permissive here: checking identifiers is the
// hub's job (an invalid one is quarantined there), not the connector's.
var registry = sync.OnceValues(func() (*schemas.Registry, error) {
	ok := func(any) error { return nil }
	return schemas.Compile(schemas.WithFormat("codice-fiscale", ok), schemas.WithFormat("cf-provisional", ok))
})

// logBuffer collects log lines for assertions.
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

// lines decodes the JSON log lines.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split([]byte(l.String()), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func newConnector() (*Connector, *logBuffer) {
	lb := &logBuffer{}
	return &Connector{Log: slog.New(slog.NewJSONHandler(lb, nil))}, lb
}

// yamlSettings reads a settings file the way the host does: YAML turned
// into JSON, with the file's folder as the settings folder.
func yamlSettings(t *testing.T, path string) sdk.Settings {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	return sdk.NewSettings(raw, abs)
}

// settingsFor makes settings for a folder and mapping in dir.
func settingsFor(t testing.TB, dir string, extra map[string]any) sdk.Settings {
	t.Helper()
	v := map[string]any{"source": "anagrafe-sociale", "territory": "SDS-FI-NORDOVEST", "folder": "exports", "mapping": "mapping.yaml"}
	for k, x := range extra {
		v[k] = x
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.NewSettings(raw, dir)
}

// readResult is what one Read returned.
type readResult struct {
	batches []sdk.Batch
	records []map[string]any
	cursor  []byte // the last batch's cursor, or the cursor read from when none came
}

func read(t *testing.T, c *Connector, s sdk.Settings, cursor []byte, max int) readResult {
	t.Helper()
	res, err := tryRead(c, s, cursor, max)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return res
}

func tryRead(c *Connector, s sdk.Settings, cursor []byte, max int) (readResult, error) {
	res := readResult{cursor: cursor}
	err := c.Read(context.Background(), sdk.ReadRequest{Settings: s, Cursor: cursor, MaxBatch: max}, func(b sdk.Batch) error {
		res.batches = append(res.batches, b)
		for _, r := range b.Records {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(r))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				return err
			}
			res.records = append(res.records, m)
		}
		res.cursor = b.Cursor
		return nil
	})
	return res, err
}

func recordIDs(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i], _ = r["record_id"].(string)
	}
	return out
}

// writeFile writes a file under dir, making folders.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
