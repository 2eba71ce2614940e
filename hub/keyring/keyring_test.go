package keyring_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/keyring"
)

func TestPseudonymisationKeyRoundTrip(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "keys", "pseudo.key")
	k, err := keyring.CreatePseudonymisationKey(p)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", info.Mode(), err)
	}
	dir, _ := os.Stat(filepath.Dir(p))
	if dir.Mode().Perm() != 0o700 {
		t.Errorf("key folder mode %v", dir.Mode().Perm())
	}
	got, err := keyring.LoadPseudonymisationKey(p)
	if err != nil || !bytes.Equal(got, k) || len(k) != keyring.KeySize {
		t.Fatalf("load: %v", err)
	}
	if ik, err := keyring.LoadIdentityKey(p); err != nil || !bytes.Equal(ik[:], k) {
		t.Fatalf("LoadIdentityKey: %v", err)
	}
	if _, err := keyring.CreatePseudonymisationKey(p); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second create: %v", err)
	}
	if after, _ := keyring.LoadPseudonymisationKey(p); !bytes.Equal(after, k) {
		t.Fatal("the key changed")
	}
}

func TestKeysReadableByOthersAreRefused(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "pseudo.key")
	if _, err := keyring.CreatePseudonymisationKey(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := keyring.LoadPseudonymisationKey(p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("got %v", err)
	}
}

func TestDamagedKeyIsRefused(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "pseudo.key")
	if err := os.WriteFile(p, []byte("abcd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := keyring.LoadPseudonymisationKey(p)
	if err == nil || !strings.Contains(err.Error(), "64 hex digits") || strings.Contains(err.Error(), "abcd") {
		t.Fatalf("got %v", err)
	}
}

func TestSigningKeyRoundTrip(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "signing.key")
	priv, err := keyring.CreateSigningKey(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := keyring.LoadSigningKey(p)
	if err != nil || !got.Equal(priv) {
		t.Fatalf("load: %v", err)
	}
	sig := ed25519.Sign(got, []byte("envelope"))
	if !ed25519.Verify(priv.Public().(ed25519.PublicKey), []byte("envelope"), sig) {
		t.Fatal("signature does not verify")
	}
	pub, err := os.ReadFile(keyring.PublicKeyPath(p))
	if err != nil || !bytes.HasPrefix(pub, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("public key: %v %q", err, pub)
	}
}

// TestTLSKeyReadableByOthersIsRefused: the API's TLS key gets the same
// check as the hub's other keys.
func TestTLSKeyReadableByOthersIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadTLSKeyPair(cert, key); err != nil {
		t.Fatalf("a 0600 key: %v", err)
	}
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.LoadTLSKeyPair(cert, key); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key others may read: %v, want refused", err)
	}
}
