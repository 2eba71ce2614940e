package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/doctor"
	"github.com/snodo-hub/snodo/hub/territory"
)

// buildFilesConnector builds connectors/files as snodo-connector-files in a
// folder of the test's own.
func buildFilesConnector(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), territory.FilesConnectorName)
	if out, err := exec.Command("go", "build", "-o", bin, "../../connectors/files").CombinedOutput(); err != nil {
		t.Fatalf("build the file connector: %v\n%s", err, out)
	}
	return bin
}

func TestInitExampleThenDoctor(t *testing.T) {
	t.Parallel()
	bin := buildFilesConnector(t)
	dir := filepath.Join(t.TempDir(), "hub")
	code, out, stderr := snodo(t, "", "init", dir, "--territory", "SDS-FI-NORDOVEST", "--name", "SdS Firenze Nord-Ovest",
		"--example", "--files-connector", bin)
	if code != 0 {
		t.Fatalf("init --example: exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{"connector files   " + bin, "sample exports", "snodo doctor --config " + filepath.Join(dir, "snodo.yaml")} {
		if !strings.Contains(out, want) {
			t.Errorf("init output lacks %q:\n%s", want, out)
		}
	}
	cfgPath := filepath.Join(dir, config.FileName)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := cfg.Connector("files"); !ok || cfg.Path(k.Plugin) != bin {
		t.Fatalf("connectors %+v", cfg.Connectors)
	}

	// The doctor passes every check, connector included.
	code, out, stderr = snodo(t, "", "doctor", "--config", cfgPath)
	if code != 0 || lastLine(out) != "10 passed, 0 failed" || strings.Contains(out, "✗") {
		t.Fatalf("doctor: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "✓ connector files") {
		t.Errorf("doctor did not check the connector:\n%s", out)
	}
	code, out, stderr = snodo(t, "", "doctor", "--config", cfgPath, "--json")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Results) != 10 || !rep.OK() {
		t.Fatalf("doctor --json: exit %d, %v\n%s%s", code, err, out, stderr)
	}

	// The connector starts and its Check passes on the sample exports.
	code, out, stderr = snodo(t, "", "connectors", "check", "files", "--config", cfgPath)
	if code != 0 || !strings.HasPrefix(out, "ok: files") {
		t.Fatalf("connectors check: exit %d\n%s%s", code, out, stderr)
	}

	// A failing check: exit 1, with the line and what to do.
	if err := os.Chmod(cfg.Path(cfg.Keys.Signing), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out, _ = snodo(t, "", "doctor", "--config", cfgPath)
	if code != exitFindings || lastLine(out) != "9 passed, 1 failed" || !strings.Contains(out, "✗ key signing") || !strings.Contains(out, "chmod 600") {
		t.Fatalf("doctor with an exposed key: exit %d\n%s", code, out)
	}
}

func TestInitExampleNeedsTheConnector(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"connector missing":         {args: []string{"--example", "--files-connector", filepath.Join(t.TempDir(), "nope")}, code: exitUsage, want: "no such file"},
		"connector without example": {args: []string{"--files-connector", "x"}, code: exitUsage, want: "--files-connector goes with --example"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "hub")
			code, _, stderr := snodo(t, "", append([]string{"init", dir, "--territory", "SDS-AB", "--name", "A"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want %d; stderr %q, want %q", code, tc.code, stderr, tc.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}
}

func TestDoctorWithoutConfiguration(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "doctor", "--config", filepath.Join(t.TempDir(), "snodo.yaml"))
	if code != exitFindings || lastLine(out) != "0 passed, 1 failed, 5 skipped" || !strings.Contains(out, "✗ config") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}
