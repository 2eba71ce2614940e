package conformance_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/conformance"
	"github.com/snodo-hub/snodo/schemas"
)

// The connectors under test, built once, and the shared schemas, compiled
// once (Check compiles them itself when Options.Registry is nil).
var (
	testConnector string
	brokenDir     string
	registry      *schemas.Registry
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance-test")
	if err != nil {
		panic(err)
	}
	testConnector = filepath.Join(dir, "testconnector")
	build := func(out, pkg string) {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			panic(pkg + ": " + string(b))
		}
	}
	build(testConnector, "../internal/testconnector")
	// The broken connector's fault is its executable's name: one build,
	// a hard link per fault.
	brokenDir = filepath.Join(dir, "broken")
	if err := os.Mkdir(brokenDir, 0o755); err != nil {
		panic(err)
	}
	broken := filepath.Join(brokenDir, "wellbehaved")
	build(broken, "./testdata/broken")
	for _, fault := range []string{"stdout", "repeat", "invalid", "nocancel", "nonidempotent"} {
		if err := os.Link(broken, filepath.Join(brokenDir, fault)); err != nil {
			panic(err)
		}
	}
	if registry, err = schemas.Compile(conformance.ShapeFormats()...); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const settings = `{"source": "odv", "territory": "SDS-AB", "records": 25}`

func failed(rep *conformance.Report) []string {
	var out []string
	for _, r := range rep.Results {
		if !r.Passed && !r.Skipped {
			out = append(out, r.Name)
		}
	}
	return out
}

func TestTestConnectorPassesEverything(t *testing.T) {
	t.Parallel()
	rep := conformance.Check(context.Background(), conformance.Options{Path: testConnector, Settings: []byte(settings)})
	var out strings.Builder
	if _, err := rep.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if rep.Failed() != 0 || rep.Skipped() != 0 || rep.Passed() != len(conformance.Checks()) {
		t.Fatalf("want every check to pass:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "13 passed, 0 failed" {
		t.Errorf("last line %q", last)
	}
}

// Run, as a Go connector's test calls it: every check is a passing subtest.
func TestRun(t *testing.T) {
	t.Parallel()
	conformance.Run(t, conformance.Options{Path: testConnector, Settings: []byte(settings), MaxBatch: 4, Registry: registry})
}

func TestBrokenConnectorsFailTheirCheck(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fails  []string
		detail string // in the first failed check's detail
	}{
		"wellbehaved": {},
		// A banner on stdout breaks the handshake too: that is the harm.
		"stdout":        {fails: []string{"quiet-stdout", "handshake"}, detail: `got "broken connector starting"`},
		"repeat":        {fails: []string{"resume"}, detail: "the cursor repeats records"},
		"invalid":       {fails: []string{"read"}, detail: "record 2 (VOL-0000001) does not follow its schema: /: missing required properties: 'organisation'"},
		"nocancel":      {fails: []string{"cancel"}, detail: "the cancelled Read is still busy"},
		"nonidempotent": {fails: []string{"write-idempotent"}, detail: "Write must be idempotent"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := conformance.Check(context.Background(), conformance.Options{
				Path: filepath.Join(brokenDir, name), Settings: []byte(settings), Registry: registry,
			})
			var out strings.Builder
			_, _ = rep.WriteTo(&out)
			if diff := cmp.Diff(tc.fails, failed(rep)); diff != "" {
				t.Fatalf("failed checks (-want +got):\n%s\nreport:\n%s", diff, out.String())
			}
			if len(tc.fails) == 0 {
				return
			}
			if r, _ := rep.Result(tc.fails[0]); !strings.Contains(r.Detail, tc.detail) {
				t.Errorf("%s detail lacks %q: %s", r.Name, tc.detail, r.Detail)
			}
		})
	}
}

// A connector that did not start fails the handshake; what needs it is
// skipped, not failed.
func TestNotAConnector(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "not-a-connector")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep := conformance.Check(context.Background(), conformance.Options{Path: script, StartTimeout: 2e9, Registry: registry})
	if diff := cmp.Diff([]string{"quiet-stdout", "handshake"}, failed(rep)); diff != "" {
		t.Fatalf("failed checks (-want +got):\n%s", diff)
	}
	if r, _ := rep.Result("manifest"); !r.Skipped || !strings.Contains(r.Detail, "did not start") {
		t.Errorf("manifest: %+v", r)
	}
	if rep.Skipped() != len(conformance.Checks())-3 {
		t.Errorf("%d skipped", rep.Skipped())
	}
}

func TestWrongSettingsFailCheck(t *testing.T) {
	t.Parallel()
	rep := conformance.Check(context.Background(), conformance.Options{
		Path: testConnector, Settings: []byte(`{"source": "odv", "territory": "SDS-AB", "records": "many"}`), Registry: registry,
	})
	r, _ := rep.Result("check")
	if r.Passed || !strings.Contains(r.Detail, "/records") || !strings.Contains(r.Detail, "are the settings given to the suite right") {
		t.Errorf("check: %+v", r)
	}
	if r, _ := rep.Result("check-invalid-settings"); !r.Passed {
		t.Errorf("check-invalid-settings: %+v", r)
	}
}

func TestReportWriteTo(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		results []conformance.Result
		want    string
	}{
		"all passed": {
			results: []conformance.Result{{Name: "a", Passed: true}, {Name: "b", Passed: true}},
			want:    "PASS a\nPASS b\n2 passed, 0 failed\n",
		},
		"failed and skipped": {
			results: []conformance.Result{
				{Name: "a", Passed: true},
				{Name: "b", Detail: "went wrong\non two lines"},
				{Name: "c", Skipped: true, Detail: "no records"},
			},
			want: "PASS a\nFAIL b: went wrong | on two lines\nSKIP c: no records\n1 passed, 1 failed, 1 skipped\n",
		},
		"nothing": {want: "0 passed, 0 failed\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			rep := &conformance.Report{Results: tc.results}
			n, err := rep.WriteTo(&b)
			if err != nil || int(n) != b.Len() {
				t.Fatalf("wrote %d, %v", n, err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// With more records than MaxRecords, the read from the start stops there
// and cursors are sampled — and a repeating cursor is still caught.
func TestMaxRecordsCapsTheWork(t *testing.T) {
	t.Parallel()
	big := `{"source": "odv", "territory": "SDS-AB", "records": 500}`
	tests := map[string]struct {
		path  string
		fails []string
	}{
		"test connector": {path: testConnector},
		"repeat":         {path: filepath.Join(brokenDir, "repeat"), fails: []string{"resume"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rep := conformance.Check(context.Background(), conformance.Options{
				Path: tc.path, Settings: []byte(big), MaxRecords: 60, MaxBatch: 7, Registry: registry,
			})
			var out strings.Builder
			_, _ = rep.WriteTo(&out)
			if diff := cmp.Diff(tc.fails, failed(rep)); diff != "" {
				t.Fatalf("failed checks (-want +got):\n%s\nreport:\n%s", diff, out.String())
			}
		})
	}
}
