package scaffold_test

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/conformance"
	"github.com/snodo-hub/snodo/plugins/scaffold"
)

// generate writes a connector into a folder inside this module (under
// testdata/, which "./..." patterns skip), removed when the test ends.
func generate(t *testing.T, name string) string {
	t.Helper()
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	parent, err := os.MkdirTemp("testdata", "gen-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(parent)
		os.Remove("testdata") // only if empty: another test may use it
	})
	dir := filepath.Join(parent, name)
	if err := scaffold.Generate(dir, name); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// The generated connector builds, is vet-clean, imports only the SDK, and
// passes the conformance suite as generated — from "snodo connectors test"
// (conformance.Check) and from its own go test.
func TestGeneratedConnectorPassesConformance(t *testing.T) {
	t.Parallel()
	dir := generate(t, "odv-registry")

	var got []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"README.md", "connector_test.go", "main.go", "settings.example.json", "volunteers.example.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}

	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "main.go"), nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if strings.Contains(p, ".") && p != "github.com/snodo-hub/snodo/plugins/sdk" {
			t.Errorf("main.go imports %s: a connector imports only plugins/sdk (and the standard library)", p)
		}
	}

	bin := filepath.Join(t.TempDir(), "odv-registry")
	goCmd(t, dir, "build", "-o", bin, ".")
	goCmd(t, dir, "vet", ".")
	if out, err := exec.Command("gofmt", "-l", dir).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("gofmt -l: %s %v", out, err)
	}

	settings, err := os.ReadFile(filepath.Join(dir, "settings.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	rep := conformance.Check(context.Background(), conformance.Options{Path: bin, Settings: settings, SettingsDir: dir})
	var b strings.Builder
	_, _ = rep.WriteTo(&b)
	if !rep.OK() || rep.Passed() < len(conformance.Checks())-1 {
		t.Errorf("conformance:\n%s", b.String())
	}
	if r, _ := rep.Result("write-idempotent"); !r.Skipped {
		t.Errorf("write-idempotent: %+v (the example accepts no records)", r)
	}

	// The generated test runs the same suite.
	goCmd(t, dir, "test", "-count=1", ".")

	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, dir)
	if err != nil {
		t.Fatal(err)
	}
	pkg := "plugins/scaffold/" + filepath.ToSlash(rel)
	for _, w := range []string{"go build -o bin/odv-registry ./" + pkg, "snodo connectors test bin/odv-registry --settings " + pkg + "/settings.example.json"} {
		if !strings.Contains(string(readme), w) {
			t.Errorf("README lacks %q", w)
		}
	}
}

func TestGenerateRefuses(t *testing.T) {
	t.Parallel()
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		dir, name, want string
	}{
		"non-empty folder": {dir: nonEmpty, name: "odv", want: "already exists and is not empty"},
		"a file":           {dir: file, name: "odv", want: "is a file, not a folder"},
		"upper case":       {dir: filepath.Join(t.TempDir(), "x"), name: "ODV", want: `connector name "ODV": use 2-63 lower-case letters`},
		"one letter":       {dir: filepath.Join(t.TempDir(), "x"), name: "o", want: "use 2-63"},
		"underscore":       {dir: filepath.Join(t.TempDir(), "x"), name: "odv_registry", want: "use 2-63"},
		"leading digit":    {dir: filepath.Join(t.TempDir(), "x"), name: "1odv", want: "starting with a letter"},
		"path in the name": {dir: filepath.Join(t.TempDir(), "x"), name: "../odv", want: "use 2-63"},
		"no folder":        {dir: "", name: "odv", want: "no folder given"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := scaffold.Generate(tc.dir, tc.name)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// Nothing was written into the non-empty folder.
	if entries, _ := os.ReadDir(nonEmpty); len(entries) != 1 {
		t.Errorf("%d files in the refused folder", len(entries))
	}
}

// An empty existing folder is fine.
func TestGenerateIntoEmptyFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := scaffold.Generate(dir, "odv"); err != nil {
		t.Fatal(err)
	}
	for _, f := range scaffold.Files() {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
