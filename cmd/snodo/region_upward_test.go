package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/store"
)

// serveRegionFor runs "snodo region serve" in the test's process on
// listen ("" for a free port) and returns its address and its stop.
func serveRegionFor(t *testing.T, cfg, listen string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := &cobra.Command{}
	cmd.SetErr(&lockedBuffer{})
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- serveRegion(ctx, cmd, cfg, listen, "", 5*time.Second, ready) }()
	select {
	case addr = <-ready:
	case err := <-served:
		cancel()
		t.Fatalf("region serve %s: %v", cfg, err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("region serve %s: %v", cfg, err)
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

func appendTo(t *testing.T, file, text string) {
	t.Helper()
	if err := appendFile(file, text); err != nil {
		t.Fatal(err)
	}
}

// sealedCaseload is a territory's sealed release of one caseload total,
// from a store and ledger of its own.
func sealedCaseload(t *testing.T, territory string, key ed25519.PrivateKey, epoch string, count int64) []byte {
	t.Helper()
	ctx := context.Background()
	tst, err := store.Open(ctx, filepath.Join(t.TempDir(), "territory.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tst.Close()
	l, err := disclosure.NewLedger(tst, disclosure.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	rel, err := l.Release(ctx, disclosure.Request{Epoch: epoch, CatalogueVersion: "1.0.0",
		Cells: []disclosure.Cell{{Indicator: "caseload", Version: "1", Measure: "households", Count: count}}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := federation.Seal(ctx, tst, rel, federation.Source{Territory: territory, SoftwareVersion: "test"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestRegionReleaseToTheLevelAbove: a region sums what its territory sent
// into an envelope of its own ("snodo region release"), and its serve
// sends it to the level above, which takes it like a territory's.
func TestRegionReleaseToTheLevelAbove(t *testing.T) {
	t.Parallel()
	lower, upper := regionHub(t), regionHub(t)
	pubKey := filepath.Join(filepath.Dir(lower), "keys", "signing.key.pub")
	if _, err := os.Stat(pubKey); err != nil {
		t.Fatalf("region init made no signing key: %v", err)
	}

	// A territory of the lower region sends 2025-Q2.
	keyFile := filepath.Join(t.TempDir(), "territory.key")
	key, err := keyring.CreateSigningKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := snodo(t, "", "region", "enrol", "--territory", "ATS-01", "--key", keyring.PublicKeyPath(keyFile), "--config", lower); code != 0 {
		t.Fatalf("enrol: %s", stderr)
	}
	env := sealedCaseload(t, "ATS-01", key, "2025-Q2", 120)
	addr, stop := serveRegionFor(t, lower, "")
	res, err := http.Post("http://"+addr+"/api/v1/intake", "application/json", bytes.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("intake: %d", res.StatusCode)
	}
	stop()

	if code, _, stderr := snodo(t, "", "region", "release", "--epoch", "2025-Q2", "--config", lower); code != exitUsage || !strings.Contains(stderr, "set code") {
		t.Errorf("release without a code: exit %d: %s", code, stderr)
	}
	appendTo(t, lower, "code: REG-LOW\n")
	if code, _, stderr := snodo(t, "", "region", "release", "--epoch", "2025-Q3", "--config", lower); code != exitFindings || !strings.Contains(stderr, "no territory has sent") {
		t.Errorf("release of an epoch nobody sent: exit %d: %s", code, stderr)
	}
	code, out, stderr := snodo(t, "", "region", "release", "--epoch", "2025-Q2", "--config", lower)
	if code != 0 || !strings.Contains(out, "1 cells summed over 1 territory envelope(s), queued") || !strings.Contains(out, "no upstream") {
		t.Fatalf("release: exit %d: %s %s", code, out, stderr)
	}
	if code, out, _ := snodo(t, "", "region", "release", "--epoch", "2025-Q2", "--config", lower); code != 0 || !strings.Contains(out, "made before, unchanged") {
		t.Errorf("release again: exit %d: %s", code, out)
	}

	// The level above enrols the region's key; the lower region's serve
	// sends the envelope there.
	if code, _, stderr := snodo(t, "", "region", "enrol", "--territory", "REG-LOW", "--key", pubKey, "--config", upper); code != 0 {
		t.Fatalf("enrol the region above: %s", stderr)
	}
	upAddr, _ := serveRegionFor(t, upper, "")
	appendTo(t, lower, fmt.Sprintf("upstream:\n  url: http://%s\n", upAddr))
	serveRegionFor(t, lower, "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, _ := snodo(t, "", "region", "territories", "--config", upper)
		if code == 0 && strings.Contains(out, "REG-LOW") && strings.Contains(out, "2025-Q2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the level above has not received the region's envelope: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
