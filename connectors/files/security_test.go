//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

const csvMapping = `version: 1
files:
  - pattern: "*.csv"
    schema: person
    record_id: id
    fields:
      - {column: anno, to: /birth_year}
  - pattern: "sub/*.csv"
    schema: person
    record_id: id
    fields:
      - {column: anno, to: /birth_year}
`

func TestLinksOutOfTheFolderAreRefused(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := writeFile(t, outside, "secret.csv", "id,anno\nS1,1970\n")

	t.Run("a link to a file outside", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, csvMapping)
		writeFile(t, exports, "a.csv", "id,anno\nA1,1980\n")
		if err := os.Symlink(secret, filepath.Join(exports, "b.csv")); err != nil {
			t.Fatal(err)
		}
		c, _ := newConnector()
		res, err := tryRead(c, s, nil, 0)
		var se *sdk.Error
		if err == nil || !errorAs(err, &se) || se.Class != sdk.ClassConfig || se.Pointer != "/folder" ||
			!strings.Contains(err.Error(), "b.csv in the folder exports is a symbolic link that leads outside the folder: refused") {
			t.Fatalf("Read: err = %v, want a config error refusing b.csv", err)
		}
		if len(res.records) != 0 {
			t.Errorf("records were sent before the refusal: %v", recordIDs(res.records))
		}
		if err := c.Check(t.Context(), s); err == nil || !strings.Contains(err.Error(), "leads outside the folder") {
			t.Errorf("Check: err = %v, want the refusal", err)
		}
	})
	t.Run("a link up and out with ..", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, csvMapping)
		writeFile(t, filepath.Dir(exports), "up.csv", "id,anno\nU1,1970\n")
		if err := os.Symlink(filepath.Join("..", "up.csv"), filepath.Join(exports, "up.csv")); err != nil {
			t.Fatal(err)
		}
		c, _ := newConnector()
		if _, err := tryRead(c, s, nil, 0); err == nil || !strings.Contains(err.Error(), "leads outside the folder") {
			t.Errorf("err = %v, want the refusal", err)
		}
	})
	t.Run("a link to a folder outside is not followed", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, csvMapping)
		if err := os.Symlink(outside, filepath.Join(exports, "sub")); err != nil {
			t.Fatal(err)
		}
		c, _ := newConnector()
		res := read(t, c, s, nil, 0)
		if len(res.records) != 0 {
			t.Errorf("read %v through a link to a folder outside", recordIDs(res.records))
		}
	})
	t.Run("a link that leads nowhere", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, csvMapping)
		if err := os.Symlink(filepath.Join(outside, "missing.csv"), filepath.Join(exports, "x.csv")); err != nil {
			t.Fatal(err)
		}
		c, _ := newConnector()
		if _, err := tryRead(c, s, nil, 0); sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), "leads nowhere") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("links inside the folder, and a folder that is a link, are fine", func(t *testing.T) {
		t.Parallel()
		base := t.TempDir()
		real := filepath.Join(base, "real-exports")
		writeFile(t, real, "a.csv", "id,anno\nA1,1980\n")
		writeFile(t, real, "sub/b.csv", "id,anno\nB1,1981\n")
		if err := os.Symlink(filepath.Join(real, "sub", "b.csv"), filepath.Join(real, "c.csv")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, filepath.Join(base, "exports")); err != nil {
			t.Fatal(err)
		}
		writeFile(t, base, "mapping.yaml", csvMapping)
		c, _ := newConnector()
		res := read(t, c, settingsFor(t, base, nil), nil, 0)
		if diff := cmp.Diff([]string{"A1", "B1", "B1"}, recordIDs(res.records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})
}

func TestOnlyRegularFilesAreRead(t *testing.T) {
	t.Parallel()
	exports, s := testFolder(t, csvMapping)
	// A named pipe would block a reader forever.
	if err := syscall.Mkfifo(filepath.Join(exports, "pipe.csv"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Mkdir(filepath.Join(exports, "dir.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, exports, "a.csv", "id,anno\nA1,1980\n")
	c, _ := newConnector()
	res := read(t, c, s, nil, 0)
	if diff := cmp.Diff([]string{"A1"}, recordIDs(res.records)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestUnreadableFolder(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads every folder")
	}
	exports, s := testFolder(t, csvMapping)
	if err := os.Chmod(exports, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(exports, 0o755) })
	c, _ := newConnector()
	if err := c.Check(t.Context(), s); sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("err = %v", err)
	}
}

func errorAs(err error, target **sdk.Error) bool {
	e, ok := err.(*sdk.Error)
	if ok {
		*target = e
	}
	return ok
}
