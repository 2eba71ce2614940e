package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected records of testdata/golden")

// golden is what a case's feed page maps to.
type golden struct {
	Records []map[string]any `json:"records"`
	// LeftOut says why entries gave no record (nothing personal).
	LeftOut []string `json:"left_out"`
}

// TestGolden maps each testdata/golden/<case>/feed.xml (a page of the
// system's feed) and compares the records with want.json exactly. Run
// "go test -run TestGolden -update" to rewrite want.json.
func TestGolden(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases (%v)", err)
	}
	m := mapper{source: "cpi", territory: "SDS-FI-NORDOVEST", organisation: DefaultOrganisation}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "feed.xml"))
			if err != nil {
				t.Fatal(err)
			}
			var page feedPage
			if err := xml.Unmarshal(data, &page); err != nil {
				t.Fatal(err)
			}
			got := golden{Records: []map[string]any{}, LeftOut: []string{}}
			for _, v := range page.Voci {
				rec, err := m.entry(v)
				switch {
				case err != nil:
					got.LeftOut = append(got.LeftOut, err.Error())
				case rec != nil:
					// Through JSON, as the hub receives it.
					raw, err := json.Marshal(rec)
					if err != nil {
						t.Fatal(err)
					}
					var back map[string]any
					if err := json.Unmarshal(raw, &back); err != nil {
						t.Fatal(err)
					}
					got.Records = append(got.Records, back)
				}
			}
			wantPath := filepath.Join(dir, "want.json")
			gotJSON, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			gotJSON = append(gotJSON, '\n')
			if *update {
				if err := os.WriteFile(wantPath, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if string(want) != string(gotJSON) {
				t.Errorf("%s: the records differ from want.json (run with -update and review the diff):\ngot:\n%s", dir, gotJSON)
			}
			for _, r := range got.Records {
				if _, vs := registry(t).ValidateDocument(decoded(t, r)); len(vs) > 0 {
					t.Errorf("%s does not validate: %v", key(r), vs)
				}
			}
		})
	}
}
