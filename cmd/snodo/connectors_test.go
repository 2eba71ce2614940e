package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/plugins/host"
)

// The connectors the tests start, built once: the plugins' test connector,
// and the conformance suite's broken one under the name of its fault.
var (
	testConnector    string
	invalidConnector string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "snodo-cmd-test")
	if err != nil {
		panic(err)
	}
	testConnector = filepath.Join(dir, "testconnector")
	invalidConnector = filepath.Join(dir, "invalid")
	for out, pkg := range map[string]string{
		testConnector:    "../../plugins/internal/testconnector",
		invalidConnector: "../../plugins/conformance/testdata/broken",
	} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			panic(pkg + ": " + string(b))
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	if demo.dir != "" { // sharedDemo's
		os.RemoveAll(demo.dir)
	}
	os.Exit(code)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestConnectorsTest(t *testing.T) {
	t.Parallel()
	jsonSettings := writeFile(t, "odv.json", `{"source": "odv", "territory": "SDS-AB", "records": 23}`)
	yamlSettings := writeFile(t, "odv.yaml", "# the test registry\nsource: odv\nterritory: SDS-AB\nrecords: 23\n")
	notExecutable := writeFile(t, "connector", "#!/bin/sh\n")
	tests := map[string]struct {
		args     []string
		code     int
		last     string // the last line of stdout
		wantOut  string
		wantErr  string
		jsonFail int // with --json: the failed count
	}{
		"json settings":   {args: []string{testConnector, "--settings", jsonSettings}, code: 0, last: "13 passed, 0 failed"},
		"yaml settings":   {args: []string{testConnector, "--settings", yamlSettings}, code: 0, last: "13 passed, 0 failed"},
		"broken":          {args: []string{invalidConnector, "--settings", jsonSettings}, code: 1, last: "12 passed, 1 failed", wantOut: "FAIL read: 1 of 23 records are wrong: record 2 (VOL-0000001) does not follow its schema"},
		"json report":     {args: []string{invalidConnector, "--settings", yamlSettings, "--json"}, code: 1, jsonFail: 1},
		"no such file":    {args: []string{filepath.Join(t.TempDir(), "nope")}, code: 2, wantErr: "no such file or directory"},
		"folder":          {args: []string{t.TempDir()}, code: 2, wantErr: "is a folder"},
		"not executable":  {args: []string{notExecutable}, code: 2, wantErr: "is not executable: chmod +x"},
		"bad yaml":        {args: []string{testConnector, "--settings", writeFile(t, "bad.yaml", "source: [odv\n")}, code: 2, wantErr: "are not valid YAML"},
		"bad json":        {args: []string{testConnector, "--settings", writeFile(t, "bad.json", `{"source": }`)}, code: 2, wantErr: "are not valid JSON"},
		"not a mapping":   {args: []string{testConnector, "--settings", writeFile(t, "list.yaml", "- odv\n")}, code: 2, wantErr: "want a mapping of settings"},
		"missing setting": {args: []string{testConnector, "--settings", writeFile(t, "none.yaml", "")}, code: 1, wantOut: "FAIL check: Check with the given settings failed: config error"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out, stderr := snodo(t, "", append([]string{"connectors", "test"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, stderr)
			}
			if tc.last != "" && lastLine(out) != tc.last {
				t.Errorf("last line %q, want %q\n%s", lastLine(out), tc.last, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, out)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr)
			}
			if tc.jsonFail > 0 {
				var rep struct {
					Failed  int `json:"failed"`
					Results []struct {
						Name   string `json:"name"`
						Passed bool   `json:"passed"`
					} `json:"results"`
				}
				if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Failed != tc.jsonFail || len(rep.Results) != 13 {
					t.Errorf("JSON report (%v): %s", err, out)
				}
			}
		})
	}
}

// hub writes a snodo.yaml with the given connectors section, next to a copy
// of the test connector (bin/testconnector) and its settings files.
func hub(t *testing.T, connectors string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "testconnector")
	data, err := os.ReadFile(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"settings/odv.yaml":         "source: odv\nterritory: SDS-AB\nrecords: 5\n",
		"settings/unreachable.json": `{"source": "odv", "territory": "SDS-AB", "records": 5, "unreachable": true}`,
		"settings/wrong.yaml":       "source: odv\nterritory: SDS-AB\nrecords: many\n",
		"snodo.yaml":                "version: 1\nterritory:\n  code: SDS-AB\n  name: Test\n" + connectors,
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "snodo.yaml")
}

func TestConnectorsListAndCheck(t *testing.T) {
	t.Parallel()
	sum, err := host.Sum(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.Repeat("0", 64)
	instance := func(name, settings, sha string, enabled bool) string {
		s := fmt.Sprintf("  - name: %s\n    plugin: bin/testconnector\n    sha256: \"%s\"\n    enabled: %v\n", name, sha, enabled)
		if settings != "" {
			s += "    settings: settings/" + settings + "\n"
		}
		return s
	}
	good := hub(t, "connectors:\n"+
		instance("odv", "odv.yaml", sum, true)+
		instance("odv-down", "unreachable.json", sum, true)+
		instance("odv-wrong", "wrong.yaml", sum, true)+
		instance("odv-old", "odv.yaml", wrong, false)+
		instance("bare", "", sum, true))
	tampered := hub(t, "connectors:\n"+instance("odv", "odv.yaml", wrong, true))
	missing := hub(t, "connectors:\n"+strings.Replace(instance("odv", "", sum, true), "bin/testconnector", "bin/nope", 1))
	empty := hub(t, "")

	tests := map[string]struct {
		args    []string
		code    int
		wantOut []string
		wantErr string
	}{
		"list": {args: []string{"list", "--config", good}, code: 0, wantOut: []string{
			"NAME       ENABLED  BINARY           PLUGIN",
			"odv        yes      ok               " + filepath.Join(filepath.Dir(good), "bin", "testconnector"),
			"odv-old    no       sha256-mismatch",
		}, wantErr: `connector "odv-old": ` + filepath.Join(filepath.Dir(good), "bin", "testconnector") + " has SHA-256 " + sum + ", but " + good + " pins " + wrong},
		"list json":         {args: []string{"list", "--config", good, "--json"}, code: 0, wantOut: []string{`"name": "odv-old"`, `"sha256_matches": false`, `"status": "sha256-mismatch"`}},
		"list tampered":     {args: []string{"list", "--config", tampered}, code: 1, wantOut: []string{"odv   yes      sha256-mismatch"}, wantErr: "the hub will not start it"},
		"list missing":      {args: []string{"list", "--config", missing}, code: 1, wantOut: []string{"odv   yes      missing"}, wantErr: "does not exist: build or install the connector there"},
		"list none":         {args: []string{"list", "--config", empty}, code: 0, wantErr: "no connectors configured"},
		"list no config":    {args: []string{"list", "--config", filepath.Join(t.TempDir(), "snodo.yaml")}, code: 2, wantErr: "no configuration at"},
		"check ok":          {args: []string{"check", "odv", "--config", good}, code: 0, wantOut: []string{"ok: odv (testconnector 1.0.0) can reach its system"}},
		"check transient":   {args: []string{"check", "odv-down", "--config", good}, code: 1, wantOut: []string{"odv-down (testconnector 1.0.0): transient problem: the registry does not answer (as the settings ask) (the system is down or busy; the hub retries with backoff)"}},
		"check config":      {args: []string{"check", "odv-wrong", "--config", good}, code: 1, wantOut: []string{"odv-wrong (testconnector 1.0.0): config problem at /records: settings do not follow the connector's settings schema: /records: expected integer, but got string (fix the instance's settings)"}},
		"check tampered":    {args: []string{"check", "odv", "--config", tampered}, code: 1, wantErr: `refusing to start connector "odv"`},
		"check missing":     {args: []string{"check", "odv", "--config", missing}, code: 1, wantErr: "no such file or directory"},
		"check unknown":     {args: []string{"check", "nope", "--config", good}, code: 2, wantErr: `no connector "nope" in ` + good + " (configured: odv, odv-down, odv-wrong, odv-old, bare)"},
		"check none":        {args: []string{"check", "nope", "--config", empty}, code: 2, wantErr: "none is configured"},
		"check no settings": {args: []string{"check", "bare", "--config", good}, code: 1, wantOut: []string{"bare (testconnector 1.0.0): config problem: settings do not follow the connector's settings schema: /: missing properties: 'source', 'territory', 'records'"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out, stderr := snodo(t, "", append([]string{"connectors"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr)
			}
		})
	}
}

// "connectors new" writes a connector that builds inside this module and
// passes "connectors test" as generated.
func TestConnectorsNewThenTest(t *testing.T) {
	t.Parallel()
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	parent, err := os.MkdirTemp("testdata", "new-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(parent)
		os.Remove("testdata") // only if empty
	})
	dir := filepath.Join(parent, "odv-registry")
	code, out, stderr := snodo(t, "", "connectors", "new", "odv-registry", "--dir", dir)
	if code != 0 || !strings.Contains(out, "go build -o bin/odv-registry ./"+filepath.ToSlash(dir)) {
		t.Fatalf("new: exit %d\n%s%s", code, out, stderr)
	}
	bin := filepath.Join(t.TempDir(), "odv-registry")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	code, out, stderr = snodo(t, "", "connectors", "test", bin, "--settings", filepath.Join(dir, "settings.example.json"))
	if code != 0 || lastLine(out) != "12 passed, 0 failed, 1 skipped" {
		t.Fatalf("test: exit %d\n%s%s", code, out, stderr)
	}

	// Again into the same folder: refused, nothing overwritten.
	code, _, stderr = snodo(t, "", "connectors", "new", "odv-registry", "--dir", dir)
	if code != exitUsage || !strings.Contains(stderr, "already exists and is not empty") {
		t.Errorf("second new: exit %d: %s", code, stderr)
	}
	code, _, stderr = snodo(t, "", "connectors", "new", "ODV", "--dir", filepath.Join(t.TempDir(), "x"))
	if code != exitUsage || !strings.Contains(stderr, "lower-case letters") {
		t.Errorf("bad name: exit %d: %s", code, stderr)
	}
}
