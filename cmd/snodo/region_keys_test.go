package main

import (
	"bytes"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/region"
)

// TestRegionKeysRevoke: a running region accepts a territory's envelope;
// "snodo region keys revoke" revokes the key while it runs; the next
// envelope signed with it is refused (401, an envelope-unauthorised
// problem, a "refused" line in the intake log) without a restart; "keys
// list" shows the key revoked; the audit log holds the revocation once,
// with who, the territory, the key and the reason; revoking again or an
// unknown id exits 1 saying why.
func TestRegionKeysRevoke(t *testing.T) {
	t.Parallel()
	cfg := regionHub(t)
	key, err := keyring.CreateSigningKey(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	id := federation.KeyID(key.Public().(ed25519.PublicKey))
	b64 := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	if code, out, stderr := snodo(t, "", "region", "enrol", "--territory", "ATS-01", "--key", b64, "--config", cfg); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("enrol: exit %d: %s %s", code, out, stderr)
	}
	code, out, stderr := snodo(t, "", "region", "keys", "list", "--config", cfg)
	if code != 0 || !regexpLine(out, id, "ATS-01", `\d{4}-\d\d-\d\d \d\d:\d\dZ`, "-") {
		t.Fatalf("keys list before: exit %d\n%s%s", code, out, stderr)
	}

	addr, stop := serveRegionFor(t, cfg, "")
	post := func(env []byte) (int, region.Problem) {
		t.Helper()
		res, err := http.Post("http://"+addr+"/api/v1/intake", "application/json", bytes.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var p region.Problem
		if res.StatusCode >= 400 {
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("refusal's content type %q", ct)
			}
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
		}
		return res.StatusCode, p
	}
	if status, p := post(sealedCaseload(t, "ATS-01", key, "2025-Q1", 120)); status != http.StatusCreated {
		t.Fatalf("before the revocation: %d %+v", status, p)
	}

	code, out, stderr = snodo(t, "", "region", "keys", "revoke", id, "--reason", "signing key stolen", "--config", cfg)
	if code != 0 || !strings.Contains(out, "revoked key "+id+" of ATS-01") {
		t.Fatalf("revoke: exit %d: %s %s", code, out, stderr)
	}

	status, p := post(sealedCaseload(t, "ATS-01", key, "2025-Q2", 130))
	if status != http.StatusUnauthorized || p.Type != region.ProblemTypeBase+region.ProblemUnenrolledKey || p.Status != http.StatusUnauthorized {
		t.Errorf("a new envelope signed with the revoked key: %d %+v, want 401 %s", status, p, region.ProblemUnenrolledKey)
	}
	stop()

	code, out, _ = snodo(t, "", "region", "keys", "list", "--config", cfg)
	if code != 0 || !regexpLine(out, id, "ATS-01", `\d{4}-\d\d-\d\d \d\d:\d\dZ`, `\d{4}-\d\d-\d\d \d\d:\d\dZ`) {
		t.Errorf("keys list after: exit %d\n%s", code, out)
	}
	code, out, _ = snodo(t, "", "region", "keys", "list", "--json", "--territory", "ATS-01", "--config", cfg)
	var listed struct {
		Keys []regionKeyJSON `json:"keys"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed.Keys) != 1 || listed.Keys[0].KeyID != id || listed.Keys[0].RevokedAt == nil {
		t.Errorf("keys list --json: exit %d, %v\n%s", code, err, out)
	}
	if code, out, stderr := snodo(t, "", "region", "keys", "list", "--territory", "ATS-02", "--config", cfg); code != 0 || out != "" || !strings.Contains(stderr, "No keys") {
		t.Errorf("keys list of another territory: exit %d, %q %q", code, out, stderr)
	}

	code, _, stderr = snodo(t, "", "region", "keys", "revoke", id, "--config", cfg)
	if code != exitFindings || !strings.Contains(stderr, "revoked already, at "+listed.Keys[0].RevokedAt.UTC().Format(time.RFC3339)) {
		t.Errorf("revoke again: exit %d, %q", code, stderr)
	}
	unknown := strings.Repeat("ab", len(id)/2)
	code, _, stderr = snodo(t, "", "region", "keys", "revoke", unknown, "--config", cfg)
	if code != exitFindings || !strings.Contains(stderr, unknown) || !strings.Contains(stderr, `"snodo region keys list" shows them`) {
		t.Errorf("revoke an unknown key: exit %d, %q", code, stderr)
	}
	if code, _, stderr := snodo(t, "", "region", "keys", "revoke", id, "--reason", "two\nlines", "--config", cfg); code != exitUsage {
		t.Errorf("a reason of two lines: exit %d, %q", code, stderr)
	}

	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "region.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, detail FROM audit WHERE action = 'region.key-revoke'`)
	if err != nil {
		t.Fatal(err)
	}
	var audited []map[string]string
	for rows.Next() {
		var actor, detail string
		if err := rows.Scan(&actor, &detail); err != nil {
			t.Fatal(err)
		}
		var d map[string]string
		if err := json.Unmarshal([]byte(detail), &d); err != nil {
			t.Fatal(err)
		}
		d["actor"] = actor
		audited = append(audited, d)
	}
	rows.Close()
	if len(audited) != 1 || audited[0]["actor"] != cliActor() || audited[0]["territory"] != "ATS-01" || audited[0]["key_id"] != id || audited[0]["reason"] != "signing key stolen" {
		t.Errorf("audit entries of the revocation: %+v, want one by %s", audited, cliActor())
	}
	var outcome, logged string
	if err := db.QueryRow(`SELECT outcome, key_id FROM region_intake_log ORDER BY seq DESC LIMIT 1`).Scan(&outcome, &logged); err != nil || outcome != "refused" || logged != id {
		t.Errorf("the intake log's last line: %s %s %v, want refused for %s", outcome, logged, err, id)
	}
}

// regexpLine reports whether out has a line of the cells, in order,
// separated by blanks; each cell is a regular expression.
func regexpLine(out string, cells ...string) bool {
	return regexp.MustCompile(`(?m)^` + strings.Join(cells, `\s+`) + `\s*$`).MatchString(out)
}

// TestRegionNATSAccessChecked: the region's NATS credentials and CA file
// (region.yaml nats.credentials, nats.ca_file) are checked before "snodo
// region serve" starts, so a credentials file others can read, or a CA
// file without a certificate, stops it at once, saying which and why.
func TestRegionNATSAccessChecked(t *testing.T) {
	t.Parallel()
	cfg := regionHub(t)
	dir := filepath.Dir(cfg)
	for name, tc := range map[string]struct{ file, mode, setting, want string }{
		"credentials readable by others":  {"open.creds", "0644", "credentials", "is readable by others"},
		"a CA file without a certificate": {"ca.pem", "0600", "ca_file", "holds no PEM certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "region.yaml")
			text, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(filepath.Dir(conf), tc.file)
			if err := os.WriteFile(file, []byte("-----BEGIN NATS USER JWT-----\n------END NKEY SEED------\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.mode == "0644" {
				if err := os.Chmod(file, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// The store stays the region's: its path is made absolute.
			body := strings.Replace(string(text), "path: region.db", "path: "+filepath.Join(dir, "region.db"), 1)
			body += "nats:\n  url: nats://127.0.0.1:1\n  " + tc.setting + ": " + tc.file + "\n"
			if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, stderr := snodo(t, "", "region", "serve", "--config", conf, "--listen", "127.0.0.1:0")
			if code != exitUsage || !strings.Contains(stderr, "nats:") || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, file) {
				t.Fatalf("serve: exit %d, %q; want exit %d naming %s and saying %q", code, stderr, exitUsage, file, tc.want)
			}
		})
	}
}
