package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// logSink receives the plugin client's log (hclog, as JSON lines): it
// remembers the connector's last stderr lines, for the detail of a failed
// start, notices when the client had to kill the process, and passes
// everything on to Options.Log as text.
type logSink struct {
	out io.Writer

	mu      sync.Mutex
	partial []byte
	tail    []string
	killed  bool
}

const tailLines = 5

func newLogSink(out io.Writer) *logSink { return &logSink{out: out} }

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// line handles one hclog JSON entry.
func (l *logSink) line(raw []byte) {
	var e map[string]any
	if err := json.Unmarshal(raw, &e); err != nil {
		fmt.Fprintf(l.out, "%s\n", raw)
		return
	}
	msg, _ := e["@message"].(string)
	module, _ := e["@module"].(string)
	level, _ := e["@level"].(string)
	if msg == "plugin failed to exit gracefully" {
		l.killed = true
	}
	// The client logs the connector's stderr under a sub-logger named after
	// the executable; its own messages come from "conformance".
	if module != "conformance" {
		l.tail = append(l.tail, msg)
		if len(l.tail) > tailLines {
			l.tail = l.tail[1:]
		}
	}
	var kv []string
	for k, v := range e {
		if !strings.HasPrefix(k, "@") {
			kv = append(kv, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(kv)
	fmt.Fprintf(l.out, "[%s] %s: %s %s\n", strings.ToUpper(level), module, msg, strings.Join(kv, " "))
}

// stderrTail is the connector's last stderr lines, for a failure's detail.
func (l *logSink) stderrTail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.tail) == 0 {
		return ""
	}
	return "; the connector's last words on stderr: " + strings.Join(l.tail, " | ")
}

func (l *logSink) wasKilled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.killed
}
