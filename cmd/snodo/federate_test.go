package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// TestFederateToRegion: a territory's releases reach a region hub (both
// this binary's commands, the region served for real over HTTP): queued
// while the region is down and nothing lost, delivered once when it is
// up, pushed again without a duplicate, and summed at the region with
// its coverage.
func TestFederateToRegion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, ids := statsHub(t, 60)
	region := regionHub(t)
	pub := filepath.Join(filepath.Dir(cfg), "keys", "signing.key.pub")
	if code, _, stderr := snodo(t, "", "region", "enrol", "--territory", "SDS-TEST", "--key", pub, "--config", region); code != 0 {
		t.Fatalf("enrol: %s", stderr)
	}
	code, viewer, _ := snodo(t, "", "region", "tokens", "create", "--name", "dashboard", "--config", region)
	if code != 0 {
		t.Fatal("region tokens create")
	}

	// The region is down (nothing listens on its address yet).
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan string, 1)
	served := make(chan error, 1)
	cmd := &cobra.Command{}
	cmd.SetErr(&lockedBuffer{})
	go func() { served <- serveRegion(runCtx, cmd, region, "", "", 5*time.Second, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("region serve: %v", err)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	appendTo(t, cfg, fmt.Sprintf("\nfederation:\n  region_url: http://%s\n", addr))

	for _, epoch := range []string{"2025-Q1", "2025"} {
		if code, _, stderr := snodo(t, "", "stats", "release", "--epoch", epoch, "--config", cfg); code != 0 {
			t.Fatalf("release %s: exit %d: %s", epoch, code, stderr)
		}
	}
	code, out, _ := snodo(t, "", "federate", "push", "--config", cfg)
	if code != exitFindings || !strings.Contains(out, "0 envelope(s) delivered now, 2 still waiting") {
		t.Fatalf("push with the region down: exit %d: %s", code, out)
	}

	// The region comes back on the same address.
	runCtx, stop = context.WithCancel(ctx)
	defer stop()
	ready = make(chan string, 1)
	go func() { served <- serveRegion(runCtx, cmd, region, addr, "", 5*time.Second, ready) }()
	select {
	case <-ready:
	case err := <-served:
		t.Fatalf("region serve: %v", err)
	}
	// Envelopes that failed wait for their backoff: the next push after it.
	var last string
	deadline := time.Now().Add(time.Minute)
	for {
		code, out, _ = snodo(t, "", "federate", "push", "--config", cfg)
		last = out
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 0 || !strings.Contains(last, "0 still waiting") {
		t.Fatalf("push with the region up: exit %d: %s", code, last)
	}
	if code, out, _ := snodo(t, "", "federate", "push", "--config", cfg); code != 0 || !strings.HasPrefix(out, "0 envelope(s) delivered now, 0 still waiting") {
		t.Errorf("a second push: exit %d: %s", code, out)
	}

	// The region holds each envelope once, and sums with coverage.
	code, out, _ = snodo(t, "", "region", "territories", "--config", region)
	if code != 0 || !strings.Contains(out, "SDS-TEST") {
		t.Errorf("region territories: %d %s", code, out)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/region/aggregate?indicator=referral-acceptance&epoch=2025", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(viewer))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var agg struct {
		Sums []struct {
			Measure      string `json:"measure"`
			CoverageText string `json:"coverage_text"`
		} `json:"sums"`
	}
	err = json.NewDecoder(res.Body).Decode(&agg)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || len(agg.Sums) != 2 {
		t.Fatalf("aggregate: %d %+v %v", res.StatusCode, agg, err)
	}
	for _, s := range agg.Sums {
		if s.CoverageText != "1 of 1 territories" {
			t.Errorf("aggregate of %s: coverage %q, want 1 of 1", s.Measure, s.CoverageText)
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	code, out, _ = snodo(t, "", "region", "log", "verify", "--config", region)
	if code != 0 || out != "ok: 2 entries\n" {
		t.Errorf("region log verify: exit %d %q (want the two envelopes, once each)", code, out)
	}
	// Nothing personal crossed: the region's database holds no person id.
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(region), "region.db"))
	wal, _ := os.ReadFile(filepath.Join(filepath.Dir(region), "region.db-wal"))
	noPersonIDs(t, "the region's database", string(data)+string(wal), ids)
}
