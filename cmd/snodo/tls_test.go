package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSInitAndRun: "snodo init --tls" makes a set-up whose "snodo run"
// serves HTTPS only: a client that trusts keys/tls.crt (and nothing else)
// gets the API's answers at 127.0.0.1 and at localhost; a client that
// does not trust it fails the handshake; a plain-HTTP request is refused
// with 400 before it reaches the API, even with a valid token.
//
// The uplink's TLS (federation.ca_file, a region with its own CA) has its
// own test: TestUplinkCAFile.
func TestTLSInitAndRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hub")
	code, out, stderr := snodo(t, "", "init", dir, "--territory", "AB", "--name", "A", "--tls")
	if code != 0 || !strings.Contains(out, "TLS certificate") {
		t.Fatalf("init --tls: exit %d: %s %s", code, out, stderr)
	}
	cfg := filepath.Join(dir, "snodo.yaml")
	code, token, stderr := snodo(t, "", "tokens", "create", "--role", "viewer", "--name", "tls-test", "--config", cfg)
	if code != 0 {
		t.Fatalf("tokens create: exit %d: %s", code, stderr)
	}
	token = strings.TrimSpace(token)
	certPEM, err := os.ReadFile(filepath.Join(dir, "keys", "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("keys/tls.crt holds no certificate")
	}

	p := startHub(t, cfg)
	var base string
	select {
	case api := <-p.addr:
		base = api
	case <-p.done:
		t.Fatalf("snodo run exited before serving (%v):\n%s", p.state, p.logText())
	case <-time.After(2 * time.Minute):
		t.Fatalf("snodo run did not start serving:\n%s", p.logText())
	}
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("the hub says it serves %s, want https://127.0.0.1:PORT", base)
	}
	port := strings.TrimPrefix(base, "https://127.0.0.1:")
	get := func(c *http.Client, url string) (*http.Response, string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body), nil
	}
	trusting := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	for _, url := range []string{base, "https://localhost:" + port} {
		resp, body, err := get(trusting, url+"/api/v1/status")
		if err != nil {
			t.Fatalf("%s over HTTPS, trusting keys/tls.crt: %v", url, err)
		}
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || !strings.Contains(body, `"records"`) {
			t.Errorf("%s/api/v1/status: %d (TLS %v): %s", url, resp.StatusCode, resp.TLS != nil, body)
		}
	}

	untrusting := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	var unknown x509.UnknownAuthorityError
	if _, _, err := get(untrusting, base+"/api/v1/status"); !errors.As(err, &unknown) {
		t.Errorf("a client that does not trust the certificate: %v, want an unknown-authority error", err)
	}

	resp, body, err := get(&http.Client{Timeout: time.Minute}, "http://127.0.0.1:"+port+"/api/v1/status")
	if err != nil {
		t.Fatalf("plain HTTP: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(body, `"records"`) || !strings.Contains(body, "HTTPS") {
		t.Errorf("plain HTTP with a valid token: %d %q, want 400 and no answer from the API", resp.StatusCode, body)
	}
}
