package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func addToken(ctx context.Context, s *Store, name, role string, hash []byte) (int64, error) {
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.AddToken(ctx, name, role, hash)
		return err
	})
	return id, err
}

func revokeToken(ctx context.Context, s *Store, name string) (int64, error) {
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		id, err = tx.RevokeToken(ctx, name)
		return err
	})
	return id, err
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	start := clock.Now()

	id1, err := addToken(ctx, s, "grafana", "viewer", tokenHash("one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addToken(ctx, s, "grafana", "admin", tokenHash("two")); !errors.Is(err, ErrTokenNameTaken) {
		t.Errorf("a second active token named grafana: got %v, want ErrTokenNameTaken", err)
	}
	clock.Advance(time.Minute)
	if got, err := revokeToken(ctx, s, "grafana"); err != nil || got != id1 {
		t.Fatalf("RevokeToken = %d, %v; want %d", got, err, id1)
	}
	if _, err := revokeToken(ctx, s, "grafana"); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoking again: got %v, want ErrNotFound", err)
	}
	// The name is free again once revoked.
	id2, err := addToken(ctx, s, "grafana", "operator", tokenHash("three"))
	if err != nil {
		t.Fatalf("reusing a revoked token's name: %v", err)
	}
	clock.Advance(time.Minute)
	if err := s.TouchToken(ctx, id2); err != nil {
		t.Fatal(err)
	}

	got, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Token{
		{ID: id1, Name: "grafana", Role: "viewer", Hash: tokenHash("one"), CreatedAt: start, RevokedAt: start.Add(time.Minute)},
		{ID: id2, Name: "grafana", Role: "operator", Hash: tokenHash("three"), CreatedAt: start.Add(time.Minute), LastUsedAt: start.Add(2 * time.Minute)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
	if !got[0].Revoked() || got[1].Revoked() {
		t.Errorf("Revoked() = %v, %v; want true, false", got[0].Revoked(), got[1].Revoked())
	}
	for i, w := range want {
		tk, ok, err := s.TokenByHash(ctx, w.Hash)
		if err != nil || !ok {
			t.Fatalf("TokenByHash(%d): %v, %v", i, ok, err)
		}
		if diff := cmp.Diff(w, tk); diff != "" {
			t.Errorf("TokenByHash(%d) (-want +got):\n%s", i, diff)
		}
	}
	if _, ok, err := s.TokenByHash(ctx, tokenHash("two")); ok || err != nil {
		t.Errorf("TokenByHash of a hash never stored: %v, %v", ok, err)
	}
}

func TestAddTokenRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if _, err := addToken(ctx, s, "taken", "viewer", tokenHash("x")); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		name, role string
		hash       []byte
		want       string
	}{
		"no name":     {name: "", role: "viewer", hash: tokenHash("a"), want: "the name is empty"},
		"bad role":    {name: "a", role: "root", hash: tokenHash("a"), want: `role "root" is not one of viewer, operator, admin`},
		"short hash":  {name: "a", role: "viewer", hash: []byte("abc"), want: "the hash has 3 bytes"},
		"same hash":   {name: "b", role: "viewer", hash: tokenHash("x"), want: "the token's hash is already stored"},
		"active name": {name: "taken", role: "admin", hash: tokenHash("c"), want: "revoke it first"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := addToken(ctx, s, tc.name, tc.role, tc.hash)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
