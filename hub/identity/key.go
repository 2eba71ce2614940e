package identity

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Key is a territory's secret key for the keyed index. It formats itself
// redacted under every fmt verb and in log/slog.
type Key [32]byte

// NewKey returns a fresh random key from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := io.ReadFull(rand.Reader, k[:]); err != nil {
		return Key{}, fmt.Errorf("generate identity key: read random bytes: %w", err)
	}
	return k, nil
}

// ParseKey reads a key given as exactly 32 raw bytes or as 64 hexadecimal
// characters (surrounding white space, such as a final new line in a key
// file, is ignored for the hexadecimal form). An all-zero key is refused.
func ParseKey(b []byte) (Key, error) {
	var k Key
	switch t := bytes.TrimSpace(b); {
	case len(b) == len(k):
		if isHex(b) {
			return Key{}, errors.New("identity key: 32 hexadecimal characters is only 16 bytes; give 32 random bytes as 64 hexadecimal characters (e.g. openssl rand -hex 32)")
		}
		copy(k[:], b)
	case len(t) == 2*len(k):
		if _, err := hex.Decode(k[:], t); err != nil {
			// The decoder's error would quote a character of the key.
			return Key{}, errors.New("identity key: 64 characters but not all hexadecimal; give 32 random bytes as 64 hexadecimal characters (e.g. openssl rand -hex 32)")
		}
	default:
		return Key{}, fmt.Errorf("identity key: got %d bytes; give exactly 32 raw bytes or 64 hexadecimal characters (e.g. openssl rand -hex 32)", len(t))
	}
	if k == (Key{}) {
		return Key{}, errors.New("identity key: the key is all zeros; generate a random one (e.g. openssl rand -hex 32)")
	}
	return k, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Digest returns HMAC-SHA-256 under k of kind + "|" + the normalised value:
// the 32-byte digest the Directory stores instead of the identifier.
func (k Key) Digest(c Code) []byte {
	m := hmac.New(sha256.New, k[:])
	_, _ = io.WriteString(m, string(c.Kind))
	_, _ = io.WriteString(m, "|")
	_, _ = io.WriteString(m, c.Value)
	return m.Sum(make([]byte, 0, sha256.Size))
}

// Fingerprint returns 8 hexadecimal characters that name the key without
// revealing it, for checking which key a hub runs with.
func (k Key) Fingerprint() string {
	h := sha256.New()
	_, _ = io.WriteString(h, "snodo identity key fingerprint|")
	_, _ = h.Write(k[:])
	return hex.EncodeToString(h.Sum(nil)[:4])
}

// String returns "identity.Key(redacted)".
func (k Key) String() string { return "identity.Key(redacted)" }

// Format prints the redacted form for every verb, including %x and %#v.
func (k Key) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, k.String()) }

// LogValue makes log/slog print the redacted form.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
