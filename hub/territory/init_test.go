package territory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/territory"
)

func TestInitCreatesAWorkingSetup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "sds")
	s, err := territory.Init(ctx, dir, "SDS-FI-NORDOVEST", "SdS Firenze Nord-Ovest")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if c.Territory.Code != "SDS-FI-NORDOVEST" || c.Path(c.Store.Path) != s.Database {
		t.Fatalf("config %+v", c)
	}
	for _, p := range []string{s.PseudoKey, s.SigningKey, s.Database} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %v: secrets and personal data must be private", p, info.Mode().Perm())
		}
	}
	db, err := store.Open(ctx, s.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := territory.Init(ctx, dir, "AB", "A"); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(dir, config.DefaultPseudoKey))
	_, err := territory.Init(ctx, dir, "AB", "A")
	var exists *territory.ExistsError
	if !errors.As(err, &exists) {
		t.Fatalf("got %v", err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, config.DefaultPseudoKey)); string(again) != string(key) {
		t.Fatal("the key was overwritten")
	}
	// A folder holding only a database is an existing set-up too.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "snodo.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := territory.Init(ctx, dir2, "AB", "A"); !errors.As(err, &exists) {
		t.Fatalf("got %v", err)
	}
}

func TestInitChecksItsArguments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ code, name string }{{"sds", "x"}, {"A", "x"}, {"AB", ""}} {
		if _, err := territory.Init(context.Background(), t.TempDir(), tc.code, tc.name); err == nil {
			t.Errorf("%q %q accepted", tc.code, tc.name)
		}
	}
}
