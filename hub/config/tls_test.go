package config_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/config"
)

// TestTLS: tls: names a certificate and a key, resolved against the
// configuration's folder; both are required, nothing else is accepted;
// without tls: the API serves plain HTTP.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "snodo.yaml")
	const base = "version: 1\nterritory: {code: AB, name: F}\n"
	c, err := config.Parse(path, []byte(base+"tls:\n  cert_file: keys/tls.crt\n  key_file: /etc/snodo/tls.key\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.Enabled() {
		t.Error("tls with both files: not enabled")
	}
	if got := c.Path(c.TLS.CertFile); got != filepath.Join(dir, "keys", "tls.crt") {
		t.Errorf("cert_file resolves to %s", got)
	}
	if got := c.Path(c.TLS.KeyFile); got != "/etc/snodo/tls.key" {
		t.Errorf("key_file resolves to %s", got)
	}
	if c, err := config.Parse(path, []byte(base)); err != nil || c.TLS.Enabled() {
		t.Errorf("no tls: enabled %v, err %v", c != nil && c.TLS.Enabled(), err)
	}
	for name, tc := range map[string]struct{ yaml, want string }{
		"no key":      {"tls:\n  cert_file: a.crt\n", "/tls: missing required setting 'key_file'"},
		"empty cert":  {"tls:\n  cert_file: ''\n  key_file: a.key\n", "/tls/cert_file:"},
		"unknown key": {"tls:\n  cert_file: a.crt\n  key_file: a.key\n  ca_file: ca.pem\n", `/tls/ca_file: unknown setting "ca_file"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse(path, []byte(base+tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a problem containing %q", err, tc.want)
			}
		})
	}
}
