// Package scaffold writes the skeleton of a new connector: a working Go
// connector that imports only plugins/sdk, its README, example settings with
// sample data, and a test running the conformance suite on it. It is what
// "snodo connectors new" runs.
package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates
var templates embed.FS

// namePattern is the manifest's rule for a connector's name.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// Files lists the files Generate writes, in order.
func Files() []string {
	return []string{"main.go", "connector_test.go", "README.md", "settings.example.json", "volunteers.example.json"}
}

// data is what the templates see.
type data struct {
	// Name is the connector's name.
	Name string
	// Package is the connector's folder relative to its Go module's root,
	// with slashes (the folder as given when no go.mod is above it).
	Package string
}

// Generate writes a new connector named name into dir, which must not exist
// or be empty. The generated package builds where a Go module that requires
// (or is) github.com/snodo-hub/snodo holds dir — in a checkout of Snodo,
// e.g. connectors/NAME.
func Generate(dir, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("connector name %q: use 2-63 lower-case letters, digits and hyphens, starting with a letter (e.g. odv-registry)", name)
	}
	if dir == "" {
		return errors.New("no folder given for the new connector")
	}
	created, err := prepare(dir)
	if err != nil {
		return err
	}
	if err := write(dir, data{Name: name, Package: modulePackage(dir)}); err != nil {
		if created {
			os.RemoveAll(dir)
		}
		return fmt.Errorf("write connector %s into %s: %w", name, dir, err)
	}
	return nil
}

// prepare makes dir, or checks that it is an empty folder. It reports
// whether it created it.
func prepare(dir string) (bool, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", dir, err)
		}
		return true, nil
	case err != nil:
		return false, err
	case !info.IsDir():
		return false, fmt.Errorf("%s is a file, not a folder: choose a new folder for the connector", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	if len(entries) > 0 {
		return false, fmt.Errorf("%s already exists and is not empty: choose a new folder for the connector (nothing was written)", dir)
	}
	return false, nil
}

func write(dir string, d data) error {
	for _, name := range Files() {
		src, err := templates.ReadFile(path.Join("templates", name+".tmpl"))
		if errors.Is(err, fs.ErrNotExist) {
			src, err = templates.ReadFile(path.Join("templates", name))
		}
		if err != nil {
			return err
		}
		t, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, d); err != nil {
			return fmt.Errorf("template %s: %w", name, err)
		}
		out := b.Bytes()
		if strings.HasSuffix(name, ".go") {
			if out, err = format.Source(out); err != nil {
				return fmt.Errorf("template %s does not make valid Go: %w", name, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// modulePackage is dir relative to the root of the Go module holding it.
func modulePackage(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.ToSlash(dir)
	}
	for root := filepath.Dir(abs); ; root = filepath.Dir(root) {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			if rel, err := filepath.Rel(root, abs); err == nil {
				return filepath.ToSlash(rel)
			}
			break
		}
		if filepath.Dir(root) == root {
			break
		}
	}
	return filepath.ToSlash(dir)
}
