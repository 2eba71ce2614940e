package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/hub/logging"
)

// decodeLines parses JSON log lines.
func decodeLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestHCLogJoinsTheHubLog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	base := logging.New(&buf, "debug", logging.FormatJSON).With("connector", "anagrafe")
	l := logging.HCLog(base).Named("files").With("pid", 42)

	l.Trace("below the hub's level")
	l.Debug("starting plugin", "path", "/opt/snodo/files")
	l.Info("read a file", "file", "export.csv", "rows", 10)
	// A connector that logs a code by mistake: masked in message and args.
	l.Warn("row 3: bad code RSSMRA85T10A562S", "value", "RSSMRA85T10A562S")
	l.Log(hclog.Off, "never written")
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("from a log.Logger")

	lines := decodeLines(t, buf.Bytes())
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), buf.String())
	}
	want := []struct{ level, msg string }{
		{"DEBUG", "starting plugin"},
		{"INFO", "read a file"},
		{"WARN", "row 3: bad code ****************"},
		{"ERROR", "from a log.Logger"},
	}
	for i, w := range want {
		got := lines[i]
		if got["level"] != w.level || got["msg"] != w.msg {
			t.Errorf("line %d: level %v msg %q, want %s %q", i, got["level"], got["msg"], w.level, w.msg)
		}
		if got["connector"] != "anagrafe" || got["logger"] != "files" || got["pid"] != float64(42) {
			t.Errorf("line %d lost the logger's attributes: %v", i, got)
		}
	}
	if lines[1]["rows"] != float64(10) {
		t.Errorf("args not kept as attributes: %v", lines[1])
	}
	if strings.Contains(buf.String(), "RSSMRA85T10A562S") {
		t.Errorf("an identifier reached the log:\n%s", buf.String())
	}
}

func TestHCLogLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := logging.HCLog(logging.New(&buf, "warn", logging.FormatJSON))
	if l.IsDebug() || l.IsInfo() || !l.IsWarn() || !l.IsError() {
		t.Errorf("IsDebug %v IsInfo %v IsWarn %v IsError %v at level warn", l.IsDebug(), l.IsInfo(), l.IsWarn(), l.IsError())
	}
	if got := l.GetLevel(); got != hclog.Warn {
		t.Errorf("GetLevel = %v, want warn", got)
	}
	if got := l.Named("a").Named("b").Name(); got != "a.b" {
		t.Errorf("Named twice = %q, want a.b", got)
	}
	if got := l.With("k", 1).With("j", 2).ImpliedArgs(); len(got) != 4 {
		t.Errorf("ImpliedArgs = %v, want k 1 j 2", got)
	}
}
