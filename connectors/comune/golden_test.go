package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// goldenEntry is what one item of a golden input gives.
type goldenEntry struct {
	Item    string          `json:"item"`
	Record  json.RawMessage `json:"record,omitempty"`
	Skipped string          `json:"skipped,omitempty"`
}

// TestGolden maps each testdata/golden/<case>.input.json ({"feed": name,
// "items": [items as the API returns them]}) and compares the records,
// or why an item gives none, with <case>.golden.json. go test -update
// rewrites the golden files.
func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/golden/*.input.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	m := &mapper{source: testSource, territory: testTerritory, org: DefaultOrganisation}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var input struct {
				Feed  string            `json:"feed"`
				Items []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(data, &input); err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(allFeeds, func(f *feed) bool { return f.name == input.Feed })
			if i < 0 {
				t.Fatalf("unknown feed %q", input.Feed)
			}
			var out []goldenEntry
			for _, raw := range input.Items {
				var h itemHead
				if err := json.Unmarshal(raw, &h); err != nil {
					t.Fatal(err)
				}
				rec, why, err := allFeeds[i].convert(m, raw)
				if err != nil {
					t.Fatalf("item %s: %v", h.ID, err)
				}
				e := goldenEntry{Item: h.ID, Skipped: string(why)}
				if rec != nil {
					b, err := json.Marshal(rec)
					if err != nil {
						t.Fatal(err)
					}
					validate(t, b)
					noPersonalData(t, b, raw)
					e.Record = b
				}
				out = append(out, e)
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata/golden", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what the mapping gives now:\n%s\n(run go test -run TestGolden -update to accept)", path, got)
			}
		})
	}
}

// noPersonalData checks that a record carries none of the item's names
// or full birth date. (The birth place is not checked: a foreigner's is
// the country, which the record rightly carries as citizenship.)
func noPersonalData(t *testing.T, rec, item []byte) {
	t.Helper()
	var p struct {
		Cognome     string `json:"cognome"`
		Nome        string `json:"nome"`
		DataNascita string `json:"data_nascita"`
	}
	if err := json.Unmarshal(item, &p); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{p.Cognome, p.Nome, p.DataNascita} {
		if v != "" && bytes.Contains(rec, []byte(`"`+v+`"`)) {
			t.Errorf("record %s carries the item's %q", rec, v)
		}
	}
}
