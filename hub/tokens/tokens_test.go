package tokens_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

func openStore(t testing.TB) (*store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snodo.db")
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok := tokens.Generate()
		if !strings.HasPrefix(tok, tokens.Prefix) || len(tok) != 47 {
			t.Fatalf("token %q: want snd_ and 43 characters", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok[4:])
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %d random bytes, %v", tok, len(raw), err)
		}
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		have, need tokens.Role
		allows     bool
	}{
		"viewer for viewer":     {tokens.Viewer, tokens.Viewer, true},
		"viewer for operator":   {tokens.Viewer, tokens.Operator, false},
		"viewer for admin":      {tokens.Viewer, tokens.Admin, false},
		"operator for viewer":   {tokens.Operator, tokens.Viewer, true},
		"operator for operator": {tokens.Operator, tokens.Operator, true},
		"operator for admin":    {tokens.Operator, tokens.Admin, false},
		"admin for all":         {tokens.Admin, tokens.Viewer, true},
		"admin for admin":       {tokens.Admin, tokens.Admin, true},
		"no role":               {0, tokens.Viewer, false},
		"unknown role":          {99, tokens.Admin, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.have.Allows(tc.need); got != tc.allows {
				t.Errorf("%v.Allows(%v) = %v", tc.have, tc.need, got)
			}
		})
	}
	for _, r := range tokens.Roles() {
		if got, err := tokens.ParseRole(r.String()); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r, got, err)
		}
	}
	if _, err := tokens.ParseRole("root"); err == nil || !strings.Contains(err.Error(), "give viewer, operator or admin") {
		t.Errorf("ParseRole(root): %v", err)
	}
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"grafana", "ops.team", "m.rossi@comune", "a", strings.Repeat("x", 64)} {
		if err := tokens.CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "with space", "a/b", strings.Repeat("x", 65), "è"} {
		if err := tokens.CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted it", bad)
		}
	}
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openStore(t)
	op, err := tokens.Create(ctx, s, "cli:test", "ops", tokens.Operator)
	if err != nil {
		t.Fatal(err)
	}
	view, err := tokens.Create(ctx, s, "cli:test", "grafana", tokens.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Create(ctx, s, "cli:test", "ops", tokens.Admin); !errors.Is(err, store.ErrTokenNameTaken) {
		t.Errorf("second active token named ops: %v", err)
	}

	p, err := tokens.Authenticate(ctx, s, op)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ops" || p.Role != tokens.Operator || p.Actor() != "token:ops" {
		t.Errorf("Authenticate(ops) = %+v", p)
	}
	if p, err := tokens.Authenticate(ctx, s, view); err != nil || p.Role != tokens.Viewer {
		t.Errorf("Authenticate(grafana) = %+v, %v", p, err)
	}
	all, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if all[0].LastUsedAt.IsZero() {
		t.Errorf("last_used_at not recorded")
	}

	for name, bad := range map[string]string{
		"empty":           "",
		"malformed":       "hello",
		"other prefix":    "xyz_" + view[4:],
		"one char off":    view[:46] + string(view[46]^1),
		"well formed new": tokens.Generate(),
	} {
		if _, err := tokens.Authenticate(ctx, s, bad); !errors.Is(err, tokens.ErrUnknown) {
			t.Errorf("%s: got %v, want ErrUnknown", name, err)
		}
	}

	if err := tokens.Revoke(ctx, s, "cli:test", "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(ctx, s, op); !errors.Is(err, tokens.ErrRevoked) {
		t.Errorf("revoked token: got %v, want ErrRevoked", err)
	}
	if err := tokens.Revoke(ctx, s, "cli:test", "ops"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking twice: %v", err)
	}
	// A new token under the revoked one's name works; the old one does not.
	op2, err := tokens.Create(ctx, s, "cli:test", "ops", tokens.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := tokens.Authenticate(ctx, s, op2); err != nil || p.Role != tokens.Admin {
		t.Errorf("new ops token: %+v, %v", p, err)
	}
	if _, err := tokens.Authenticate(ctx, s, op); !errors.Is(err, tokens.ErrRevoked) {
		t.Errorf("old ops token after a new one: %v", err)
	}
	// Creating and revoking are audited, and the chain holds.
	if err := s.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
	if n, err := s.AuditHead(ctx); err != nil || n != 4 {
		t.Errorf("audit entries = %d, %v; want 4 (3 creates, 1 revoke)", n, err)
	}
}

// TestTokensHashedAtRest looks for the tokens in every byte of the database
// and its write-ahead log, and for their hashes in the tokens table.
func TestTokensHashedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := openStore(t)
	made := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		tok, err := tokens.Create(ctx, s, "cli:test", name, tokens.Admin)
		if err != nil {
			t.Fatal(err)
		}
		made[name] = tok
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, hash FROM api_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	for rows.Next() {
		var name string
		var hash []byte
		if err := rows.Scan(&name, &hash); err != nil {
			t.Fatal(err)
		}
		stored[name] = hash
	}
	rows.Close()
	want := map[string][]byte{}
	for name, tok := range made {
		want[name] = tokens.Hash(tok)
	}
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Errorf("stored hashes (-want +got):\n%s", diff)
	}
	var files [][]byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	for name, tok := range made {
		secret, _ := base64.RawURLEncoding.DecodeString(tok[4:])
		for _, b := range files {
			if bytes.Contains(b, []byte(tok)) || bytes.Contains(b, []byte(tok[4:])) || bytes.Contains(b, secret) {
				t.Errorf("token %s is in the database files", name)
			}
		}
	}
}
