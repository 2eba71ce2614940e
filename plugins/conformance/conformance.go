// Package conformance is the acceptance suite of Snodo connectors: a
// library of named behaviours that any connector executable — a Go binary,
// or a script with a shebang in another language — must show, checked
// against a real process through the same host code the hub uses.
//
// Check runs every check and returns a Report; "snodo connectors test"
// prints it. Go connectors run the same checks from their tests:
//
//	func TestConformance(t *testing.T) {
//		bin := conformance.Build(t, ".")
//		conformance.Run(t, conformance.Options{Path: bin, Settings: settings, SettingsDir: "."})
//	}
//
// The settings must point at sample data: the suite reads every record,
// reads again from every cursor, cancels a read and, when the connector
// accepts records, writes one of the records it read twice. Run it against
// a test instance of the connector's system, never a production one.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/schemas"
)

// Defaults of Options.
const (
	DefaultMaxRecords = 10000
	DefaultMaxBatch   = 10
	DefaultTimeout    = 30 * time.Second
)

// CancelBound is how long a connector has to stop a read it was asked to
// stop, and to start the next one. It is a behavioural bound — a connector
// that watches its context takes milliseconds — not a performance target.
const CancelBound = 5 * time.Second

// Options say which connector to check and with which settings.
type Options struct {
	// Path is the connector's executable: a binary, or a script with a
	// shebang. Its SHA-256 is computed from the file itself.
	Path string
	// Settings are the instance's settings, a JSON object. They must
	// follow the connector's settings schema and point at sample data.
	Settings []byte
	// SettingsDir is the folder relative paths in Settings are relative to
	// (the settings file's folder); it is made absolute.
	SettingsDir string
	// Registry validates the records read. Nil compiles the shared schemas
	// with shape-only checks of identifier formats: whether a codice
	// fiscale is valid is the hub's business (it quarantines invalid ones),
	// not the connector's.
	Registry *schemas.Registry
	// MaxRecords caps the records read from the start, and the records
	// read again from cursors (DefaultMaxRecords if 0).
	MaxRecords int
	// MaxBatch is the max_batch the suite asks for (DefaultMaxBatch if 0).
	MaxBatch int
	// Timeout bounds each check's calls, a whole read included
	// (DefaultTimeout if 0).
	Timeout time.Duration
	// StartTimeout bounds the start and the handshake
	// (host.DefaultStartTimeout if 0).
	StartTimeout time.Duration
	// Env is the connector's whole environment. Nil passes PATH only, so
	// that a script's "#!/usr/bin/env node" finds its interpreter; the
	// hub's own environment is never passed on.
	Env []string
	// SkipWrite skips the Write check, for connectors whose test system
	// must not receive records.
	SkipWrite bool
	// Log receives the connector's stderr and the plugin client's
	// messages; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultMaxRecords
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = host.DefaultStartTimeout
	}
	if o.Env == nil {
		o.Env = host.DefaultEnv()
	}
	if len(strings.TrimSpace(string(o.Settings))) == 0 {
		o.Settings = []byte("{}")
	}
	if o.SettingsDir != "" {
		if abs, err := filepath.Abs(o.SettingsDir); err == nil {
			o.SettingsDir = abs
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Result is the outcome of one check.
type Result struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Skipped bool   `json:"skipped,omitempty"`
	// Detail says why the check failed or was skipped.
	Detail string `json:"detail,omitempty"`
}

func (r Result) String() string {
	switch {
	case r.Skipped:
		return "SKIP " + r.Name + ": " + r.Detail
	case r.Passed:
		return "PASS " + r.Name
	}
	return "FAIL " + r.Name + ": " + r.Detail
}

// Report is the outcome of every check, in the order they ran.
type Report struct {
	Results []Result `json:"results"`
}

// Passed counts the checks that passed.
func (r *Report) Passed() int { return r.count(func(x Result) bool { return x.Passed && !x.Skipped }) }

// Failed counts the checks that failed.
func (r *Report) Failed() int { return r.count(func(x Result) bool { return !x.Passed && !x.Skipped }) }

// Skipped counts the checks that could not run.
func (r *Report) Skipped() int { return r.count(func(x Result) bool { return x.Skipped }) }

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Failed() == 0 }

// Result finds a check's result by name.
func (r *Report) Result(name string) (Result, bool) {
	for _, x := range r.Results {
		if x.Name == name {
			return x, true
		}
	}
	return Result{}, false
}

func (r *Report) count(f func(Result) bool) int {
	n := 0
	for _, x := range r.Results {
		if f(x) {
			n++
		}
	}
	return n
}

// Summary is the report's last line: "N passed, M failed", with
// ", K skipped" when K > 0.
func (r *Report) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed", r.Passed(), r.Failed())
	if k := r.Skipped(); k > 0 {
		s += fmt.Sprintf(", %d skipped", k)
	}
	return s
}

// WriteTo prints one line per check — "PASS name", "FAIL name: detail",
// "SKIP name: why" — and the summary as the last line.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, x := range r.Results {
		b.WriteString(oneLine(x.String()))
		b.WriteByte('\n')
	}
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// MarshalJSON adds the counts to the results.
func (r *Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Results []Result `json:"results"`
		Passed  int      `json:"passed"`
		Failed  int      `json:"failed"`
		Skipped int      `json:"skipped"`
	}{r.Results, r.Passed(), r.Failed(), r.Skipped()})
}

// oneLine keeps a result on its line: details quoting a connector's output
// may hold newlines.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " | ", "\n", " | ", "\r", " | ").Replace(strings.TrimSpace(s))
}

// CheckInfo names and describes one check.
type CheckInfo struct {
	Name        string
	Description string
}

// Checks lists the checks in the order they run.
func Checks() []CheckInfo {
	all := checks()
	out := make([]CheckInfo, len(all))
	for i, c := range all {
		out[i] = CheckInfo{Name: c.name, Description: c.description}
	}
	return out
}

// Check runs every check against the connector and returns the report.
// It never returns nil; problems of the connector are failed checks, not
// errors.
func Check(ctx context.Context, opts Options) *Report {
	s := newSuite(opts)
	defer s.close()
	rep := &Report{}
	for _, c := range checks() {
		rep.Results = append(rep.Results, s.run(ctx, c))
	}
	return rep
}

// Run runs every check as a subtest of t: a failed check fails its
// subtest, a check that cannot run is skipped.
func Run(t *testing.T, opts Options) {
	t.Helper()
	s := newSuite(opts)
	t.Cleanup(s.close)
	for _, c := range checks() {
		t.Run(c.name, func(t *testing.T) {
			r := s.run(t.Context(), c)
			switch {
			case r.Skipped:
				t.Skip(r.Detail)
			case !r.Passed:
				t.Error(r.Detail)
			}
		})
	}
}

// Build compiles the Go connector in pkgDir (a folder, relative to the
// test's working directory or absolute) into t.TempDir() and returns the
// binary's path.
func Build(t testing.TB, pkgDir string) string {
	t.Helper()
	if !filepath.IsAbs(pkgDir) && pkgDir != "." && !strings.HasPrefix(pkgDir, "./") && !strings.HasPrefix(pkgDir, "../") {
		pkgDir = "./" + pkgDir
	}
	bin := filepath.Join(t.TempDir(), "connector")
	cmd := exec.Command("go", "build", "-o", bin, pkgDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkgDir, err, out)
	}
	return bin
}
