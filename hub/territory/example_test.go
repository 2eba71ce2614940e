package territory_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/territory"
	"github.com/snodo-hub/snodo/plugins/host"
)

// fakeConnector writes an executable at dir/name; InitExample only pins it.
func fakeConnector(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho not a real connector\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInitExample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A folder with a space: the plugin path must survive YAML.
	bin := fakeConnector(t, filepath.Join(t.TempDir()), territory.FilesConnectorName)
	binDir := filepath.Join(t.TempDir(), "my tools")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	spaced := filepath.Join(binDir, "files connector")
	if err := os.Rename(bin, spaced); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hub")
	s, ex, err := territory.InitExample(ctx, dir, "SDS-FI-NORDOVEST", "SdS Firenze Nord-Ovest", spaced)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := host.Sum(spaced)
	want := []config.Connector{{Name: "files", Plugin: spaced, SHA256: sum, Settings: "connectors/files/settings.yaml", ReadInterval: "15m"}}
	if diff := cmp.Diff(want, cfg.Connectors); diff != "" {
		t.Errorf("connectors (-want +got):\n%s", diff)
	}
	if ex.SHA256 != sum || ex.Connector != spaced || cfg.Path(cfg.Connectors[0].Settings) != ex.Settings {
		t.Errorf("example %+v", ex)
	}

	// The settings name this territory and the instance as the source.
	settings, err := os.ReadFile(ex.Settings)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"territory: SDS-FI-NORDOVEST ", "source: files ", "folder: exports ", "mapping: mapping.yaml "} {
		if !strings.Contains(string(settings), "\n"+line) {
			t.Errorf("settings lack %q:\n%s", line, settings)
		}
	}

	// The exports and the mapping are the file connector's own example.
	src := filepath.Join("..", "..", "connectors", "files")
	for _, name := range []string{"persone_2025-03.csv", "nuclei.jsonl", "volontari.xlsx"} {
		got, err := os.ReadFile(filepath.Join(ex.Exports, name))
		if err != nil {
			t.Fatal(err)
		}
		orig, err := os.ReadFile(filepath.Join(src, "testdata", "example", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, orig) {
			t.Errorf("%s differs from connectors/files/testdata/example/%s: copy it again into hub/territory/example/exports", name, name)
		}
		info, _ := os.Stat(filepath.Join(ex.Exports, name))
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v: sample exports hold personal data", name, info.Mode().Perm())
		}
	}
	// Among them, what the example is there to show.
	people, _ := os.ReadFile(filepath.Join(ex.Exports, "persone_2025-03.csv"))
	for _, bad := range []string{"BNCLCU58S42D612X", "31/02/1987"} {
		if !bytes.Contains(people, []byte(bad)) {
			t.Errorf("the sample lost its %q", bad)
		}
	}
	mapping, _ := os.ReadFile(ex.Mapping)
	orig, _ := os.ReadFile(filepath.Join(src, "mapping.example.yaml"))
	if body := func(b []byte) string { return string(b[bytes.Index(b, []byte("\nversion: 1\n")):]) }; body(mapping) != body(orig) {
		t.Error("mapping.yaml differs from connectors/files/mapping.example.yaml: copy it again into hub/territory/example")
	}
	if diff := cmp.Diff([]string{ex.Settings, ex.Mapping, filepath.Join(ex.Exports, "nuclei.jsonl"),
		filepath.Join(ex.Exports, "persone_2025-03.csv"), filepath.Join(ex.Exports, "volontari.xlsx")}, ex.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestInitExampleWritesNothingUnlessItCan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := fakeConnector(t, t.TempDir(), territory.FilesConnectorName)
	notExec := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		connector string
		prepare   func(t *testing.T, dir string)
		want      string
	}{
		"missing connector": {connector: filepath.Join(t.TempDir(), "nope"), want: "no such file"},
		"not executable":    {connector: notExec, want: "is not executable: chmod +x"},
		"a folder":          {connector: t.TempDir(), want: "is a folder"},
		"bad territory":     {connector: bin, want: "territory code"},
		"example files exist": {
			connector: bin,
			prepare: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "connectors", "files", "mapping.yaml")
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("mine"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: "already exists",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "hub")
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			code := "SDS-AB"
			if name == "bad territory" {
				code = "sds"
			}
			_, _, err := territory.InitExample(ctx, dir, code, "Ambito", tc.connector)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			for _, p := range []string{config.FileName, config.DefaultStorePath, "keys"} {
				if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s was written", p)
				}
			}
		})
	}
}

func TestFindFilesConnector(t *testing.T) {
	t.Parallel()
	nextToSnodo := t.TempDir()
	self := filepath.Join(nextToSnodo, "snodo")
	inPath := t.TempDir()
	empty := t.TempDir()
	here := fakeConnector(t, nextToSnodo, territory.FilesConnectorName)
	there := fakeConnector(t, inPath, territory.FilesConnectorName)
	explicit := fakeConnector(t, t.TempDir(), "files")
	pathList := strings.Join([]string{empty, inPath}, string(os.PathListSeparator))
	tests := map[string]struct {
		explicit, self, path string
		want                 string
		err                  string
	}{
		"explicit":               {explicit: explicit, self: self, path: pathList, want: explicit},
		"explicit but missing":   {explicit: filepath.Join(empty, "x"), self: self, path: pathList, err: "no such file"},
		"next to snodo":          {self: self, path: pathList, want: here},
		"in PATH":                {self: filepath.Join(empty, "snodo"), path: pathList, want: there},
		"nowhere":                {self: filepath.Join(empty, "snodo"), path: empty, err: "go build -o"},
		"nowhere to look at all": {err: "no folder to look in"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := territory.FindFilesConnector(tc.explicit, tc.self, tc.path)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error saying %q", got, err, tc.err)
				}
				var nc *territory.NoConnectorError
				if tc.explicit == "" && !errors.As(err, &nc) {
					t.Errorf("got %T, want *NoConnectorError", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	// The error says where it looked.
	_, err := territory.FindFilesConnector("", filepath.Join(empty, "snodo"), empty)
	if !strings.Contains(err.Error(), filepath.Join(empty, territory.FilesConnectorName)) {
		t.Errorf("error %q does not say where it looked", err)
	}
}
