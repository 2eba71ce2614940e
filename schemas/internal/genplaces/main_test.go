package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestEmbeddedPlacesAreUpToDate regenerates the place files from
// ../shared/data and compares them with the ones the binary embeds.
func TestEmbeddedPlacesAreUpToDate(t *testing.T) {
	data := filepath.Join("..", "..", "..", "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(data, "comuni.json")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI runs with ../shared beside the clone: %v", err)
		}
		t.Skipf("reference data not found beside the repository: %v", err)
	}
	out := t.TempDir()
	if err := run(data, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"comuni.json", "countries.json"} {
		want, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "places", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/places/%s is stale: run go run ./schemas/internal/genplaces -data ../shared/data -out schemas/places", f)
		}
	}
}
