package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/region"
)

// regionHub runs "snodo region init" and returns the configuration file.
func regionHub(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "region")
	code, out, stderr := snodo(t, "", "region", "init", dir, "--name", "Regione di prova", "--listen", "127.0.0.1:0")
	if code != 0 || !strings.Contains(out, "region.yaml") {
		t.Fatalf("region init: exit %d: %s %s", code, out, stderr)
	}
	return filepath.Join(dir, "region.yaml")
}

func TestRegionInitAndEnrol(t *testing.T) {
	t.Parallel()
	cfg := regionHub(t)
	if code, _, stderr := snodo(t, "", "region", "init", filepath.Dir(cfg), "--name", "again"); code != exitUsage || !strings.Contains(stderr, "exists already") {
		t.Errorf("init twice: exit %d, %s", code, stderr)
	}
	if code, _, stderr := snodo(t, "", "region", "init", filepath.Join(t.TempDir(), "r")); code != exitUsage || !strings.Contains(stderr, "--name") {
		t.Errorf("init without a name: exit %d, %s", code, stderr)
	}

	keyDir := t.TempDir()
	key, err := keyring.CreateSigningKey(filepath.Join(keyDir, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	pubFile := keyring.PublicKeyPath(filepath.Join(keyDir, "signing.key"))
	code, out, stderr := snodo(t, "", "region", "enrol", "--territory", "ATS-01", "--key", pubFile, "--name", "Ambito 1", "--config", cfg)
	wantID := federation.KeyID(key.Public().(ed25519.PublicKey))
	if code != 0 || !strings.Contains(out, wantID) {
		t.Fatalf("enrol with a key file: exit %d, %q %q", code, out, stderr)
	}
	if code, _, _ := snodo(t, "", "region", "enrol", "--territory", "ATS-02", "--key", pubFile, "--config", cfg); code != exitFindings {
		t.Errorf("the same key for another territory: exit %d", code)
	}
	other, err := keyring.CreateSigningKey(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(other.Public().(ed25519.PublicKey))
	if code, out, stderr := snodo(t, "", "region", "enrol", "--territory", "ATS-02", "--key", b64, "--config", cfg); code != 0 || !strings.Contains(out, "ATS-02") {
		t.Fatalf("enrol with base64: exit %d, %q %q", code, out, stderr)
	}
	code, tok, stderr := snodo(t, "", "region", "enrol", "--territory", "ATS-03", "--token", "--config", cfg)
	if code != 0 || !regexp.MustCompile(`^snde_[A-Za-z0-9_-]{43}\n$`).MatchString(tok) || !strings.Contains(stderr, "not shown again") {
		t.Fatalf("enrolment token: exit %d, %q %q", code, tok, stderr)
	}
	for name, args := range map[string][]string{
		"no key nor token": {"--territory", "ATS-04"},
		"both":             {"--territory", "ATS-04", "--token", "--key", b64},
		"bad territory":    {"--territory", "ats 4", "--token"},
		"bad key":          {"--territory", "ATS-04", "--key", "not-a-key"},
		"no config":        {"--territory", "ATS-04", "--token", "--config", filepath.Join(t.TempDir(), "region.yaml")},
	} {
		args = append([]string{"region", "enrol"}, args...)
		if !strings.Contains(strings.Join(args, " "), "--config") {
			args = append(args, "--config", cfg)
		}
		if code, _, _ := snodo(t, "", args...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	code, out, _ = snodo(t, "", "region", "territories", "--config", cfg)
	if code != 0 || !strings.Contains(out, "ATS-01") || !strings.Contains(out, "Ambito 1") || !strings.Contains(out, "ATS-02") {
		t.Errorf("territories: exit %d\n%s", code, out)
	}
	if code, out, _ := snodo(t, "", "region", "log", "verify", "--config", cfg); code != 0 || out != "ok: 0 entries\n" {
		t.Errorf("log verify: exit %d, %q", code, out)
	}
}

// enrolNewKey makes a signing key and enrols its public half (base64) for
// territory at the region of cfg.
func enrolNewKey(t *testing.T, cfg, territory string) ed25519.PrivateKey {
	t.Helper()
	key, err := keyring.CreateSigningKey(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	if code, _, stderr := snodo(t, "", "region", "enrol", "--territory", territory, "--key", b64, "--config", cfg); code != 0 {
		t.Fatalf("enrol %s: %s", territory, stderr)
	}
	return key
}

// TestRegionServe runs the region's server, sends it a real envelope and
// stops it with its context.
func TestRegionServe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := regionHub(t)
	key := enrolNewKey(t, cfg, "ATS-01")
	code, viewer, _ := snodo(t, "", "region", "tokens", "create", "--name", "dashboard", "--config", cfg)
	if code != 0 {
		t.Fatalf("tokens create: exit %d", code)
	}

	env := sealedCaseload(t, "ATS-01", key, "2025-Q2", 120)

	runCtx, stop := context.WithCancel(ctx)
	var stderr bytes.Buffer
	cmd := &cobra.Command{}
	cmd.SetErr(&stderr)
	ready := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- serveRegion(runCtx, cmd, cfg, "", "", 5*time.Second, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	post := func() int {
		res, err := http.Post("http://"+addr+"/api/v1/intake", "application/json", bytes.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if c1, c2 := post(), post(); c1 != 201 || c2 != 200 {
		t.Errorf("intake: %d then %d, want 201 then 200", c1, c2)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/region/aggregate?indicator=caseload&epoch=2025-Q2", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(viewer))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var agg struct {
		Sums []struct {
			CoverageText string `json:"coverage_text"`
		} `json:"sums"`
	}
	err = json.NewDecoder(res.Body).Decode(&agg)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || len(agg.Sums) != 1 || agg.Sums[0].CoverageText != "1 of 1 territories" {
		t.Errorf("aggregate: %d %+v %v", res.StatusCode, agg, err)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve stopped with %v", err)
	}
	if !strings.Contains(stderr.String(), "region hub stopped") {
		t.Errorf("log: %s", stderr.String())
	}
	if code, out, _ := snodo(t, "", "region", "log", "verify", "--config", cfg); code != 0 || out != "ok: 2 entries\n" {
		t.Errorf("log verify: exit %d, %q", code, out)
	}
	// A row changed behind snodo's back breaks the chain: exit 1.
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "region.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER region_intake_log_no_update`, `UPDATE region_intake_log SET reason = 'nothing' WHERE seq = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, stderr := snodo(t, "", "region", "log", "verify", "--config", cfg); code != exitFindings || !strings.Contains(stderr, "broken at seq 1") {
		t.Errorf("log verify of a tampered log: exit %d, %q", code, stderr)
	}
}

func TestRegionJetStreamHandler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := regionHub(t)
	_, st, err := openRegionStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	handle := jetStreamHandler(region.NewIntake(st, nil))
	if err := handle(ctx, []byte(`{"not":"an envelope"}`)); !federation.IsPermanent(err) {
		t.Errorf("a refused envelope: %v, want a permanent error", err)
	}
}

// TestRegionServeJetStream: envelopes published to a real nats-server
// (Debian's, skipped when missing) arrive through the same intake as over
// HTTP: a good one stored once even when published twice, a tampered one
// refused and logged.
func TestRegionServeJetStream(t *testing.T) {
	t.Parallel()
	natsURL := startNATSServer(t, natsServerBin(t))
	ctx := context.Background()

	cfg := regionHub(t)
	key := enrolNewKey(t, cfg, "ATS-01")
	env := sealedCaseload(t, "ATS-01", key, "2025", 120)
	tampered := bytes.Replace(env, []byte(`"software_version":"test"`), []byte(`"software_version":"tezt"`), 1)

	pub, err := federation.NewJetStreamPublisher(natsURL, federation.NATSAccess{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	subject, err := federation.EnvelopeSubject("ATS-01")
	if err != nil {
		t.Fatal(err)
	}
	// Published before the region runs: the stream keeps them.
	for i, b := range [][]byte{env, env, tampered} {
		if err := pub.Publish(subject, message.NewMessage(fmt.Sprintf("test-%d", i), b)); err != nil {
			t.Fatal(err)
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	var stderr lockedBuffer
	cmd := &cobra.Command{}
	cmd.SetErr(&stderr)
	served := make(chan error, 1)
	go func() { served <- serveRegion(runCtx, cmd, cfg, "127.0.0.1:0", natsURL, 5*time.Second, nil) }()
	_, st, err := openRegionStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing assertion
	for {
		log, err := st.IntakeLog(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) >= 3 {
			got := []string{log[0].Outcome, log[1].Outcome, log[2].Outcome}
			if strings.Join(got, " ") != "accepted duplicate refused" {
				t.Errorf("intake log outcomes %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the JetStream envelopes did not arrive: log %+v\n%s", log, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestRegionTLS: "snodo region init --tls" makes a region that answers
// HTTPS only: an envelope posted by a client trusting DIR/keys/tls.crt
// (what a territory's federation.ca_file does) is received; a client
// that does not trust it fails the handshake; plain HTTP never reaches the
// intake (400). A tls: with one file only is refused at load.
func TestRegionTLS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "region")
	code, out, stderr := snodo(t, "", "region", "init", dir, "--name", "Regione sicura", "--listen", "127.0.0.1:0", "--tls")
	if code != 0 || !strings.Contains(out, "federation.ca_file") {
		t.Fatalf("region init --tls: exit %d: %s %s", code, out, stderr)
	}
	cfg := filepath.Join(dir, "region.yaml")
	if info, err := os.Stat(filepath.Join(dir, "keys", "tls.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the TLS key: %v, mode %v", err, info)
	}
	key := enrolNewKey(t, cfg, "ATS-01")
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	cmd := &cobra.Command{}
	cmd.SetErr(io.Discard)
	ready, served := make(chan string, 1), make(chan error, 1)
	go func() { served <- serveRegion(runCtx, cmd, cfg, "", "", 5*time.Second, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(dir, "keys", "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("the certificate does not parse")
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	env := sealedCaseload(t, "ATS-01", key, "2025-Q2", 120)
	res, err := trusting.Post("https://"+addr+"/api/v1/intake", "application/json", bytes.NewReader(env))
	if err != nil {
		t.Fatalf("HTTPS with the region's certificate trusted: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("intake over HTTPS: %d, want 201", res.StatusCode)
	}
	if _, err := http.Get("https://" + addr + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client not trusting the certificate: %v, want a certificate error", err)
	}
	// Go's TLS server answers a plain HTTP request with a 400 of its own.
	res, err = http.Post("http://"+addr+"/api/v1/intake", "application/json", bytes.NewReader(env))
	if err != nil {
		t.Fatalf("plain HTTP: %v, want the TLS server's 400", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP: %d, want 400 from the TLS server", res.StatusCode)
	}
	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve stopped with %v", err)
	}

	// One file of the pair only: refused at load, saying what to do.
	conf, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	half := strings.Replace(string(conf), "key_file: keys/tls.key", "", 1)
	if err := os.WriteFile(cfg, []byte(half), 0o640); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := snodo(t, "", "region", "serve", "--config", cfg); code != exitUsage || !strings.Contains(stderr, "both cert_file and key_file") {
		t.Errorf("tls with one file: exit %d, %s", code, stderr)
	}
}
