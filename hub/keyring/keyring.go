// Package keyring creates and loads a hub's secret keys: the
// pseudonymisation key of the keyed identifier index and the Ed25519 key
// that signs what the territory federates. Key files are written with mode
// 0600 and refused when anyone but the owner can read them.
package keyring

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/snodo-hub/snodo/hub/identity"
)

// KeySize is the size of the pseudonymisation key, in bytes.
const KeySize = 32

// CreatePseudonymisationKey writes a new random key (hex) to path. It never
// overwrites an existing file.
func CreatePseudonymisationKey(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate pseudonymisation key: %w", err)
	}
	if err := writeNew(path, []byte(hex.EncodeToString(key)+"\n")); err != nil {
		return nil, err
	}
	return key, nil
}

// LoadPseudonymisationKey reads a key written by CreatePseudonymisationKey.
func LoadPseudonymisationKey(path string) ([]byte, error) {
	data, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("%s: a pseudonymisation key is %d random bytes written as %d hex digits; restore the file from your backup", path, KeySize, 2*KeySize)
	}
	return key, nil
}

// LoadIdentityKey reads the pseudonymisation key as the keyed identifier
// index takes it.
func LoadIdentityKey(path string) (identity.Key, error) {
	raw, err := LoadPseudonymisationKey(path)
	if err != nil {
		return identity.Key{}, err
	}
	return identity.Key(raw), nil
}

// CreateSigningKey writes a new Ed25519 private key (PEM, PKCS #8) to path
// and its public key to path + ".pub" (PEM, PKIX).
func CreateSigningKey(path string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, err
	}
	if err := os.WriteFile(PublicKeyPath(path), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return nil, fmt.Errorf("write public key: %w", err)
	}
	return priv, nil
}

// PublicKeyPath is where the public half of a signing key is kept.
func PublicKeyPath(signingKeyPath string) string { return signingKeyPath + ".pub" }

// LoadSigningKey reads a key written by CreateSigningKey.
func LoadSigningKey(path string) (ed25519.PrivateKey, error) {
	data, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: expected a PEM \"PRIVATE KEY\" block (Ed25519, PKCS #8)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: the key is %T, expected Ed25519", path, k)
	}
	return priv, nil
}

// writeNew creates path with mode 0600, and its folder with 0700; it
// refuses to overwrite.
func writeNew(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create key folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists: refusing to overwrite a key", path)
		}
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// readPrivate reads a key file and refuses one that others may read.
func readPrivate(path string) ([]byte, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// CheckPrivate says whether path is a regular file that only its owner may
// read, as every secret of the hub must be (keys, NATS credentials). A
// missing file's error wraps fs.ErrNotExist.
func CheckPrivate(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %04o): run \"chmod 600 %s\"", path, info.Mode().Perm(), path)
	}
	return nil
}

// LoadTLSKeyPair reads a TLS certificate and its private key, refusing a
// key file others may read, as for the hub's other keys.
func LoadTLSKeyPair(certPath, keyPath string) (tls.Certificate, error) {
	keyPEM, err := readPrivate(keyPath)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("certificate file: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
	}
	return pair, nil
}
