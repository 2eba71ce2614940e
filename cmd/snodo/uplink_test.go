package main

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUplinkCAFile: a region behind a certificate the system does not
// trust is reached with its CA in ca_file, and refused without it.
func TestUplinkCAFile(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "region-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	get := func(u upstream) error {
		c, err := httpClient(u)
		if err != nil {
			return err
		}
		res, err := c.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	if err := get(upstream{URL: srv.URL, CAFile: ca, Where: "snodo.yaml: federation"}); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	if err := get(upstream{URL: srv.URL, Where: "snodo.yaml: federation"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA file: %v, want a certificate error", err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{notPEM: "holds no PEM certificate", filepath.Join(dir, "missing.pem"): "no such file"} {
		err := get(upstream{URL: srv.URL, CAFile: file, Where: "snodo.yaml: federation"})
		if err == nil || !strings.Contains(err.Error(), "snodo.yaml: federation.ca_file") || !strings.Contains(err.Error(), want) {
			t.Errorf("ca_file %s: %v, want %q", filepath.Base(file), err, want)
		}
	}
}
