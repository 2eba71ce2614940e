package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditVerify(t *testing.T) {
	t.Parallel()
	cfg := tokensHub(t)
	// "snodo init" writes the first entry.
	code, out, stderr := snodo(t, "", "audit", "verify", "--config", cfg)
	if code != 0 || out != "ok: the audit log's chain holds, 1 entries\n" {
		t.Fatalf("new hub: exit %d: %q %q", code, out, stderr)
	}
	// Each token made or revoked is an audit entry.
	for _, args := range [][]string{
		{"tokens", "create", "--role", "admin", "--name", "alice"},
		{"tokens", "create", "--role", "viewer", "--name", "grafana"},
		{"tokens", "revoke", "grafana"},
	} {
		if code, _, stderr := snodo(t, "", append(args, "--config", cfg)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
	}
	code, out, _ = snodo(t, "", "audit", "verify", "--config", cfg)
	if code != 0 || out != "ok: the audit log's chain holds, 4 entries\n" {
		t.Fatalf("exit %d: %q", code, out)
	}

	// Someone edits an entry with the sqlite3 shell.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(filepath.Dir(cfg), "snodo.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET actor = 'someone-else' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = snodo(t, "", "audit", "verify", "--config", cfg)
	if code != exitFindings || !strings.Contains(out, "first broken entry is seq 3 (hash does not match the entry's content)") ||
		!strings.Contains(stderr, "restore a backup") {
		t.Errorf("tampered: exit %d: %q %q", code, out, stderr)
	}

	// Removing an entry before it: the first break is now the gap.
	if _, err := db.Exec(`DELETE FROM audit WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = snodo(t, "", "audit", "verify", "--config", cfg); code != exitFindings || !strings.Contains(out, "seq 3 (expected seq 2 next: entries are missing)") {
		t.Errorf("entry removed: exit %d: %q", code, out)
	}

	if code, _, stderr := snodo(t, "", "audit", "verify", "--config", filepath.Join(t.TempDir(), "snodo.yaml")); code != exitUsage || !strings.Contains(stderr, "no configuration at") {
		t.Errorf("no config: exit %d: %s", code, stderr)
	}
}
