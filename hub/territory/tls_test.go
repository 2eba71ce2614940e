package territory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/territory"
)

// TestAddTLS: a set-up gets a self-signed ECDSA P-256 certificate for
// 127.0.0.1, localhost and the host name, its key private (0600) and
// matching, and tls: in snodo.yaml pointing at both; a second call is
// refused and changes nothing.
func TestAddTLS(t *testing.T) {
	t.Parallel()
	s, err := territory.Init(context.Background(), filepath.Join(t.TempDir(), "sds"), "AB", "A")
	if err != nil {
		t.Fatal(err)
	}
	got, err := territory.AddTLS(s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.Enabled() || c.Path(c.TLS.CertFile) != got.Cert || c.Path(c.TLS.KeyFile) != got.Key {
		t.Fatalf("tls: %+v, want %s and %s", c.TLS, got.Cert, got.Key)
	}
	if info, err := os.Stat(got.Key); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key %s: %v %v, want mode 0600", got.Key, info.Mode().Perm(), err)
	}
	pair, err := tls.LoadX509KeyPair(got.Cert, got.Key)
	if err != nil {
		t.Fatalf("the key does not match the certificate: %v", err)
	}
	leaf := pair.Leaf
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"127.0.0.1", "localhost", host} {
		if name == "" {
			continue
		}
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
		if !slices.Contains(got.Names, name) {
			t.Errorf("AddTLS does not report %s among %v", name, got.Names)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the certificate does not verify as its own root: %v", err)
	}
	if d := time.Until(leaf.NotAfter); d < territory.TLSValidity-2*time.Hour || d > territory.TLSValidity {
		t.Errorf("valid until %s, want about %s from now", leaf.NotAfter, territory.TLSValidity)
	}

	before, _ := os.ReadFile(s.Config)
	var exists *territory.ExistsError
	if _, err := territory.AddTLS(s); !errors.As(err, &exists) {
		t.Errorf("second AddTLS: %v, want ExistsError", err)
	}
	if after, _ := os.ReadFile(s.Config); string(after) != string(before) {
		t.Error("a refused AddTLS changed snodo.yaml")
	}
}
