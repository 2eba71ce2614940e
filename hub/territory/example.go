package territory

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/plugins/host"
)

// The example set-up of the file connector: its settings (a template that
// receives the territory code), its mapping and sample exports — copies of
// connectors/files' own example, which the hub may not import.
//
//go:embed example/settings.yaml.tmpl example/mapping.yaml example/exports
var exampleFiles embed.FS

// Names of the example's parts.
const (
	// FilesConnectorName is the executable name of the file connector that
	// "snodo init --example" looks for.
	FilesConnectorName = "snodo-connector-files"
	// ExampleConnector is the name of the example's connector instance and
	// the source of its records.
	ExampleConnector = "files"
	// ExampleDir is the example connector's folder, relative to the set-up.
	ExampleDir = "connectors/files"
)

// Example is what InitExample added to a set-up.
type Example struct {
	// Connector is the file connector's executable and SHA256 the sum
	// snodo.yaml pins.
	Connector, SHA256 string
	Dir               string // DIR/connectors/files
	Settings          string // its settings.yaml
	Mapping           string // its mapping.yaml
	Exports           string // the folder of sample exports
	Files             []string
}

// NoConnectorError says that the file connector's executable was not found.
type NoConnectorError struct {
	Looked []string // where InitExample looked, in order
}

func (e *NoConnectorError) Error() string {
	return fmt.Sprintf("the file connector was not found (looked for %s): build it next to snodo with\n"+
		"  go build -o \"$(dirname \"$(command -v snodo)\")/%s\" ./connectors/files\n"+
		"from a checkout of Snodo, or pass its path with --files-connector PATH; nothing was written",
		strings.Join(e.Looked, ", "), FilesConnectorName)
}

// FindFilesConnector returns the file connector's executable: explicit when
// it is given; otherwise FilesConnectorName in the folder of self (the
// running snodo executable, "" to skip), then in the folders of pathList (a
// PATH value). It fails with a *NoConnectorError listing where it looked.
func FindFilesConnector(explicit, self, pathList string) (string, error) {
	if explicit != "" {
		if err := checkExecutable(explicit); err != nil {
			return "", err
		}
		return filepath.Abs(explicit)
	}
	var looked []string
	var dirs []string
	if self != "" {
		dirs = append(dirs, filepath.Dir(self))
	}
	for _, d := range filepath.SplitList(pathList) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, FilesConnectorName)
		looked = append(looked, p)
		if checkExecutable(p) == nil {
			return filepath.Abs(p)
		}
	}
	if len(looked) == 0 {
		looked = []string{FilesConnectorName + " (no folder to look in)"}
	}
	return "", &NoConnectorError{Looked: looked}
}

func checkExecutable(p string) error {
	info, err := os.Stat(p)
	switch {
	case err != nil:
		return fmt.Errorf("file connector %s: %w", p, err)
	case info.IsDir():
		return fmt.Errorf("file connector %s is a folder: give the executable (go build -o %s ./connectors/files)", p, FilesConnectorName)
	case info.Mode()&0o111 == 0:
		return fmt.Errorf("file connector %s is not executable: chmod +x %s", p, p)
	}
	return nil
}

// InitExample sets up a territory hub in dir as Init does, and also the
// file connector with sample data, so that a new admin sees records flow —
// and some land in quarantine — at the first "snodo ingest --once":
// DIR/connectors/files/ gets settings.yaml (for this territory), mapping.yaml
// and exports/ with sample exports (a few malformed rows and an invalid
// codice fiscale among them), and snodo.yaml a connector instance "files"
// pinned to connector's SHA-256. Everything is checked before anything is
// written: the connector must be an executable, and no file of the set-up
// or the example may exist.
func InitExample(ctx context.Context, dir, code, name, connector string) (*Setup, *Example, error) {
	if !codePattern.MatchString(code) {
		return nil, nil, fmt.Errorf("territory code %q: use 2 to 32 upper-case letters, digits and hyphens, e.g. SDS-FI-NORDOVEST", code)
	}
	if name == "" {
		return nil, nil, errors.New("territory name is empty: pass --name, e.g. --name \"SdS Firenze Nord-Ovest\"")
	}
	if err := checkExecutable(connector); err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, err
	}
	ex := &Example{Dir: filepath.Join(abs, filepath.FromSlash(ExampleDir))}
	if ex.Connector, err = filepath.Abs(connector); err != nil {
		return nil, nil, err
	}
	if ex.SHA256, err = host.Sum(ex.Connector); err != nil {
		return nil, nil, fmt.Errorf("file connector %s: %w", ex.Connector, err)
	}
	ex.Settings = filepath.Join(ex.Dir, "settings.yaml")
	ex.Mapping = filepath.Join(ex.Dir, "mapping.yaml")
	ex.Exports = filepath.Join(ex.Dir, "exports")
	files, err := exampleContent(code)
	if err != nil {
		return nil, nil, err
	}
	// Refuse before writing anything, as Init does for its own files.
	for _, rel := range sortedKeys(files) {
		p := filepath.Join(ex.Dir, filepath.FromSlash(rel))
		if _, err := os.Lstat(p); err == nil {
			return nil, nil, &ExistsError{Path: p}
		}
	}

	s, err := Init(ctx, dir, code, name)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*Setup, *Example, error) {
		return s, nil, fmt.Errorf("the hub is set up in %s, but its example is not: %w; remove %s and the connectors: section of %s (if any) and run init again, or set the connector up by hand", s.Dir, err, ex.Dir, s.Config)
	}
	for _, rel := range sortedKeys(files) {
		p := filepath.Join(ex.Dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fail(err)
		}
		// The sample exports hold (invented) personal data: private, like
		// real exports should be.
		mode := os.FileMode(0o640)
		if strings.HasPrefix(rel, "exports/") {
			mode = 0o600
		}
		if err := writeNewFile(p, files[rel], mode); err != nil {
			return fail(err)
		}
		ex.Files = append(ex.Files, p)
	}
	f, err := os.OpenFile(s.Config, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fail(err)
	}
	_, err = f.Write(connectorsSection(ex))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	c, err := config.Load(s.Config)
	if err != nil {
		return fail(fmt.Errorf("the configuration just written does not load (a bug): %w", err))
	}
	if k, ok := c.Connector(ExampleConnector); !ok || c.Path(k.Settings) != ex.Settings || c.Path(k.Plugin) != ex.Connector {
		return fail(errors.New("the configuration just written lacks its connector (a bug)"))
	}
	return s, ex, nil
}

// exampleContent returns the example's files by their path under
// connectors/files, with the territory code in the settings.
func exampleContent(code string) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(exampleFiles, "example", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := exampleFiles.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "example/")
		if rel == "settings.yaml.tmpl" {
			rel = "settings.yaml"
			data = bytes.ReplaceAll(data, []byte("{{TERRITORY}}"), []byte(code))
		}
		out[path.Clean(rel)] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the embedded example (a bug): %w", err)
	}
	return out, nil
}

func sortedKeys(m map[string][]byte) []string {
	// The settings first, then the mapping, then the exports: the order a
	// reader of Example.Files expects.
	rank := func(k string) string {
		switch k {
		case "settings.yaml":
			return "0"
		case "mapping.yaml":
			return "1"
		}
		return "2" + k
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return rank(keys[i]) < rank(keys[j]) })
	return keys
}

func writeNewFile(p string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// connectorsSection is the connectors: block appended to snodo.yaml.
func connectorsSection(ex *Example) []byte {
	return []byte(fmt.Sprintf(`
# The example connector instance written by "snodo init --example": the
# file connector, reading the sample exports in %[1]s/exports/.
# Put your systems' exports there and adapt %[1]s/mapping.yaml.
# When the connector binary is rebuilt or moved, update plugin and sha256
# (sha256sum PLUGIN): the hub refuses a binary that does not match its pin.
connectors:
  - name: %[2]s
    plugin: %[3]s
    sha256: %[4]s
    settings: %[1]s/settings.yaml
    read_interval: 15m
`, ExampleDir, ExampleConnector, yamlString(ex.Connector), ex.SHA256))
}

// yamlString quotes s for YAML when it needs it.
func yamlString(s string) string {
	if strings.ContainsAny(s, ":#'\"{}[],&*!|>%@` \t") {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}
