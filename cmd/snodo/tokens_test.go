package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// tokensHub sets up a hub and returns its configuration file.
func tokensHub(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hub")
	if code, _, stderr := snodo(t, "", "init", dir, "--territory", "ATS-01", "--name", "Ambito 1"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	return filepath.Join(dir, "snodo.yaml")
}

var tokenLine = regexp.MustCompile(`^snd_[A-Za-z0-9_-]{43}\n$`)

func TestTokensCommands(t *testing.T) {
	t.Parallel()
	cfg := tokensHub(t)
	create := func(role, name string) (int, string, string) {
		return snodo(t, "", "tokens", "create", "--role", role, "--name", name, "--config", cfg)
	}
	code, adminTok, stderr := create("admin", "alice")
	if code != 0 || !tokenLine.MatchString(adminTok) || !strings.Contains(stderr, "it is not shown again") {
		t.Fatalf("create: exit %d, stdout %q, stderr %q", code, adminTok, stderr)
	}
	code, viewTok, _ := create("viewer", "grafana")
	if code != 0 {
		t.Fatalf("create viewer: exit %d", code)
	}

	refused := map[string]struct {
		args []string
		code int
		err  string
	}{
		"name taken":    {[]string{"create", "--role", "viewer", "--name", "alice"}, exitFindings, "revoke it first, or choose another name"},
		"bad role":      {[]string{"create", "--role", "root", "--name", "x"}, exitUsage, "--role: role \"root\": give viewer, operator or admin"},
		"bad name":      {[]string{"create", "--role", "viewer", "--name", "a b"}, exitUsage, "--name: token name \"a b\""},
		"no name":       {[]string{"create", "--role", "viewer"}, exitUsage, `"name" not set`},
		"no config":     {[]string{"list", "--config", filepath.Join(t.TempDir(), "snodo.yaml")}, exitUsage, "no configuration at"},
		"revoke nobody": {[]string{"revoke", "nobody"}, exitUsage, `revoke token "nobody": not found`},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"tokens"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--config") {
				args = append(args, "--config", cfg)
			}
			code, _, stderr := snodo(t, "", args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, want %d; stderr %q, want %q", code, tc.code, stderr, tc.err)
			}
		})
	}

	if code, out, stderr := snodo(t, "", "tokens", "revoke", "grafana", "--config", cfg); code != 0 || out != "Token \"grafana\" revoked.\n" {
		t.Fatalf("revoke: exit %d: %q %q", code, out, stderr)
	}

	code, out, _ := snodo(t, "", "tokens", "list", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`(?m)^alice\s+admin\s+\S+ \S+\s+-\s+-$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^grafana\s+viewer\s+\S+ \S+\s+-\s+\S+ \S+$`).MatchString(out) {
		t.Errorf("list: exit %d:\n%s", code, out)
	}
	code, js, _ := snodo(t, "", "tokens", "list", "--json", "--config", cfg)
	var listed struct {
		Tokens []tokenJSON `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(js), &listed); code != 0 || err != nil || len(listed.Tokens) != 2 ||
		listed.Tokens[0].RevokedAt != nil || listed.Tokens[1].RevokedAt == nil {
		t.Errorf("list --json: exit %d, %v:\n%s", code, err, js)
	}
	for _, tok := range []string{adminTok, viewTok} {
		tok = strings.TrimSpace(tok)
		if strings.Contains(out, tok[4:]) || strings.Contains(js, tok[4:]) {
			t.Errorf("a token is listed")
		}
	}

	// The printed tokens are the ones the API accepts (or refuses, revoked).
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(filepath.Dir(cfg), "snodo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, err := tokens.Authenticate(ctx, s, strings.TrimSpace(adminTok)); err != nil || p.Role != tokens.Admin || p.Name != "alice" {
		t.Errorf("admin token: %+v, %v", p, err)
	}
	if _, err := tokens.Authenticate(ctx, s, strings.TrimSpace(viewTok)); !errors.Is(err, tokens.ErrRevoked) {
		t.Errorf("revoked token: %v", err)
	}
}
