package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/region"
	"github.com/snodo-hub/snodo/hub/store"
)

// TestSigningKeyRotate: "snodo signing-key rotate" puts a new key in place,
// keeps the old pair aside (mode 0600, still loadable), audits both ids and
// prints how to enrol the new key and revoke the old; the next release is
// signed with the new key only.
func TestSigningKeyRotate(t *testing.T) {
	t.Parallel()
	cfg, _, _ := federationTerritoryHub(t, "ATS-ROT", 0, 30)
	dir := filepath.Dir(cfg)
	keyPath := filepath.Join(dir, "keys", "signing.key")
	keyID := func(path string) string {
		t.Helper()
		k, err := keyring.LoadSigningKey(path)
		if err != nil {
			t.Fatal(err)
		}
		return federation.KeyID(k.Public().(ed25519.PublicKey))
	}
	oldID := keyID(keyPath)

	if code, _, stderr := snodo(t, "", "stats", "release", "--epoch", "2025-Q1", "--config", cfg); code != 0 {
		t.Fatalf("release before the rotation: exit %d: %s", code, stderr)
	}
	code, out, stderr := snodo(t, "", "signing-key", "rotate", "--config", cfg)
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, stderr)
	}
	newID := keyID(keyPath)
	if newID == oldID {
		t.Fatal("the key did not change")
	}
	retired, err := filepath.Glob(keyPath + ".retired-*")
	if err != nil || len(retired) != 2 {
		t.Fatalf("retired files %v (%v), want the old key and its .pub", retired, err)
	}
	old := retired[0]
	if strings.HasSuffix(old, ".pub") {
		old = retired[1]
	}
	if id := keyID(old); id != oldID {
		t.Errorf("the retired key is %s, want the old one %s", id, oldID)
	}
	if info, err := os.Stat(old); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the retired key's mode: %v, %v; want 0600", info.Mode(), err)
	}
	for _, want := range []string{newID, oldID, "snodo region enrol --territory ATS-ROT --key " + keyPath + ".pub", "snodo region keys revoke " + oldID} {
		if !strings.Contains(out, want) {
			t.Errorf("rotate's output does not say %q:\n%s", want, out)
		}
	}
	db := filepath.Join(dir, "snodo.db")
	if n := sqlCount(t, db, `SELECT count(*) FROM audit WHERE action = 'keys.signing-rotate' AND detail LIKE '%`+oldID+`%' AND detail LIKE '%`+newID+`%'`); n != 1 {
		t.Errorf("%d audit entries of the rotation naming both keys, want 1", n)
	}

	if code, _, stderr := snodo(t, "", "stats", "release", "--epoch", "2025", "--config", cfg); code != 0 {
		t.Fatalf("release after the rotation: exit %d: %s", code, stderr)
	}
	env := releaseStateOf(t, db, "2025").envelope
	if !strings.Contains(string(env), newID) || strings.Contains(string(env), oldID) {
		t.Errorf("the release after the rotation is not signed with the new key only")
	}

	// The territory's own view shows the releases of both keys.
	if epochs := ownViewEpochs(t, cfg); !slices.Contains(epochs, "2025-Q1") || !slices.Contains(epochs, "2025") {
		t.Errorf("the own view after the rotation shows epochs %v, want 2025-Q1 (old key) and 2025 (new key)", epochs)
	}

	// Without a key there is nothing to rotate: the error says what to do.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := snodo(t, "", "signing-key", "rotate", "--config", cfg); code != exitUsage || !strings.Contains(stderr, "snodo init") {
		t.Errorf("rotate without a key: exit %d, %q", code, stderr)
	}
}

// ownViewEpochs opens the territory's own view over the hub of cfg, in
// process, and returns the epochs its meta lists.
func ownViewEpochs(t *testing.T, cfg string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(filepath.Dir(cfg), "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := openTerritoryView(ctx, c, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rec := httptest.NewRecorder()
	v.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/compare/meta", nil))
	var meta region.CompareMeta
	if err := json.Unmarshal(rec.Body.Bytes(), &meta); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("meta: %d %v %.200s", rec.Code, err, rec.Body.Bytes())
	}
	return meta.Epochs
}
