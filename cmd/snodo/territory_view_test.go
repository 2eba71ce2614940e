package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	exregion "github.com/snodo-hub/snodo/examples/region"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/region"
)

// TestTerritoryOwnView runs "snodo run" on a territory of the demo and
// reads the dashboard's API there: the territory's own view of what it
// has published.
//
//   - it needs a viewer token (401 without);
//   - its meta says scope "territory", with the territory alone and every
//     epoch it released;
//   - for every indicator, the territory's value — rate, interval,
//     counts, per-capita rates, display — is exactly what the region
//     computes for it from the same envelopes;
//   - the dashboard page is served at /.
func TestTerritoryOwnView(t *testing.T) {
	t.Parallel()
	dir := sharedDemo(t).dir
	const code = "TOS-SI"
	base, token := ownViewHub(t, dir, code)

	var ignored any
	if status := apiGet(t, base, "", "/api/v1/compare/meta", &ignored); status != http.StatusUnauthorized {
		t.Errorf("the view without a token: %d, want 401", status)
	}
	var meta region.CompareMeta
	if status := apiGet(t, base, token, "/api/v1/compare/meta", &meta); status != http.StatusOK {
		t.Fatalf("meta: %d", status)
	}
	if meta.Scope != region.ScopeTerritory || len(meta.Territories) != 1 || meta.Territories[0].Code != code {
		t.Fatalf("meta: scope %q with territories %v, want %q with %s alone", meta.Scope, meta.Territories, region.ScopeTerritory, code)
	}
	if len(meta.Epochs) != len(demoEpochs) {
		t.Errorf("meta: epochs %v, want the %d released", meta.Epochs, len(demoEpochs))
	}

	// The region's view of the same territory, from the demo region.
	_, h := demoRegionAPI(t, dir)
	regionSrv := httptest.NewServer(h)
	defer regionSrv.Close()

	published := 0
	for _, ind := range meta.Indicators {
		for _, epoch := range []string{"2025", "2025-Q4"} {
			path := "/api/v1/compare/indicator?indicator=" + ind.ID + "&epoch=" + epoch
			var own, reg region.CompareIndicator
			switch status := apiGet(t, base, token, path, &own); status {
			case http.StatusOK:
			case http.StatusBadRequest:
				continue // not an epoch the indicator is released for
			default:
				t.Errorf("%s: %d from the own view", path, status)
				continue
			}
			if apiGet(t, regionSrv.URL, "", path, &reg) != http.StatusOK {
				t.Errorf("%s: the territory answers, the region does not", path)
				continue
			}
			var want *region.TerritoryValue
			for i := range reg.Territories {
				if reg.Territories[i].Code == code {
					want = &reg.Territories[i]
				}
			}
			if len(own.Territories) != 1 || want == nil {
				t.Fatalf("%s: %d territories in the own view, region has %s: %v", path, len(own.Territories), code, want != nil)
			}
			got := own.Territories[0]
			got.Group, want.Group = "", "" // the region's benchmark group is its own
			if diff := cmp.Diff(*want, got); diff != "" {
				t.Errorf("%s: the own view differs from the region's (-region +own):\n%s", path, diff)
			}
			if got.Rate != nil && got.Rate.Published {
				published++
			}
		}
	}
	if published == 0 {
		t.Error("no rate of the territory is published in its own view: the comparison above proves little")
	}

	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("the dashboard at /: %d %.80q", resp.StatusCode, page)
	}
}

// ownViewHub starts "snodo run" on a territory of the demo that runs no
// connector (not one of the live ones) and makes it a viewer token.
func ownViewHub(t *testing.T, dir, code string) (base, token string) {
	t.Helper()
	if _, live := liveModelOf(code); live {
		t.Fatalf("%s is a live territory: its hub would start connectors to stopped simulators", code)
	}
	cfg := filepath.Join(dir, "territories", code, "snodo.yaml")
	exit, out, stderr := snodo(t, "", "tokens", "create", "--role", "viewer", "--name", "own-view-"+t.Name(), "--config", cfg)
	if exit != 0 {
		t.Fatalf("tokens create: exit %d: %s", exit, stderr)
	}
	return startHub(t, cfg).waitAPI(t), strings.TrimSpace(out)
}

// demoRegionAPI is the demo region's API over its store (closed at the
// test's end), with the demo's territories file.
func demoRegionAPI(t *testing.T, dir string) (*compare.TerritoriesFile, *region.Handler) {
	t.Helper()
	_, st, err := openRegionStore(context.Background(), filepath.Join(dir, "region", regionConfigName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	file, err := compare.LoadTerritoriesFile(bytes.NewReader(exregion.Territories))
	if err != nil {
		t.Fatal(err)
	}
	h, err := region.NewHandler(region.Config{Store: st, Open: true, Territories: file})
	if err != nil {
		t.Fatal(err)
	}
	return file, h
}
