package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/examples/sources/cpi"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

const (
	testSeed       = 11
	testHouseholds = 25
	testKey        = "chiave-di-prova"
)

var (
	popOnce sync.Once
	pop     *population.Population
	regOnce sync.Once
	reg     *schemas.Registry
	regErr  error
)

func testPopulation() *population.Population {
	popOnce.Do(func() { pop = population.Generate(testSeed, testHouseholds) })
	return pop
}

// registry compiles the shared schemas with the hub's identifier formats.
func registry(t testing.TB) *schemas.Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = schemas.Compile(identity.SchemaFormats()...) })
	if regErr != nil {
		t.Fatal(regErr)
	}
	return reg
}

// startSim starts the simulated cpi in process.
func startSim(t testing.TB) (*cpi.Server, string) {
	t.Helper()
	s := cpi.New(cpi.Options{Population: testPopulation(), APIKey: testKey})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func settingsFor(t testing.TB, baseURL string, extra map[string]any) sdk.Settings {
	t.Helper()
	m := map[string]any{"source": "cpi", "territory": "SDS-FI-NORDOVEST", "base_url": baseURL, "api_key": testKey}
	for k, v := range extra {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return sdk.NewSettings(raw, "")
}

func yamlSettings(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// readAll reads every record after cursor and returns them with the
// cursor of each batch.
func readAll(t testing.TB, s sdk.Settings, cur []byte, maxBatch int) (recs []map[string]any, cursors [][]byte, ends []int) {
	t.Helper()
	err := (&Connector{}).Read(context.Background(), sdk.ReadRequest{Settings: s, Cursor: cur, MaxBatch: maxBatch}, func(b sdk.Batch) error {
		for _, raw := range b.Records {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, m)
		}
		cursors = append(cursors, b.Cursor)
		ends = append(ends, len(recs))
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return recs, cursors, ends
}

func key(r map[string]any) string {
	return r["schema"].(string) + " " + r["record_id"].(string)
}

// cpiPerson returns a person the cpi knows by a well-formed codice fiscale.
func cpiPerson(t testing.TB) *population.Person {
	t.Helper()
	for _, p := range testPopulation().People() {
		if kind, _ := p.IDIn(population.CPI); kind == population.KindCF && !p.TypoIn(population.CPI) {
			return p
		}
	}
	t.Fatal("no person known to the cpi by a codice fiscale")
	return nil
}

func writeGolden(t testing.TB, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// decoded turns a record back into what schemas.Decode gives.
func decoded(t testing.TB, r map[string]any) any {
	t.Helper()
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := schemas.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
