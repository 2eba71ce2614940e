// Package seal encrypts personal data the hub must keep for a while —
// quarantined records, the identity in a referral's delivery envelope — at
// rest: AES-256-GCM under a key derived for one purpose from the
// territory's pseudonymisation key with HKDF-SHA256. A key derived for one
// purpose opens nothing sealed for another.
//
// A sealed value is
//
//	version (1 byte) || nonce (12 random bytes) || ciphertext and tag
//
// and its additional data binds it to the source and record id it is
// stored under: a sealed value moved to another row does not open.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/snodo-hub/snodo/hub/identity"
)

// version is the first byte of a sealed value, so that the format can
// change without guessing.
const version = 1

// The purposes, as HKDF info strings.
const (
	Quarantine = "snodo quarantine v1"
	Envelope   = "snodo delivery envelope v1"
)

// Sealer seals and opens values for one purpose. It is safe for concurrent
// use.
type Sealer struct {
	aead cipher.AEAD
	info string
}

// New derives the key of purpose (Quarantine or Envelope) from the
// territory's key.
func New(key identity.Key, purpose string) (*Sealer, error) {
	if key == (identity.Key{}) {
		return nil, errors.New("sealing key: the pseudonymisation key is all zeros; load the territory's key")
	}
	k, err := hkdf.Key(sha256.New, key[:], nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the %q key: %w", purpose, err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("%q key: %w", purpose, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%q key: %w", purpose, err)
	}
	return &Sealer{aead: aead, info: purpose}, nil
}

// Seal encrypts plain for the row of (source, recordID).
func (s *Sealer) Seal(plain []byte, source, recordID string) []byte {
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(plain)+s.aead.Overhead())
	out[0] = version
	// crypto/rand never fails (it crashes the program if the system has
	// no randomness to give).
	_, _ = rand.Read(out[1 : 1+n])
	return s.aead.Seal(out, out[1:1+n], plain, s.ad(source, recordID))
}

// Open decrypts what Seal returned for (source, recordID).
func (s *Sealer) Open(sealed []byte, source, recordID string) ([]byte, error) {
	n := s.aead.NonceSize()
	switch {
	case len(sealed) < 1+n+s.aead.Overhead():
		return nil, fmt.Errorf("the sealed value has %d bytes, too few to be one", len(sealed))
	case sealed[0] != version:
		return nil, fmt.Errorf("the sealed value has format version %d; this snodo reads version %d", sealed[0], version)
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], s.ad(source, recordID))
	if err != nil {
		return nil, errors.New("the sealed value does not open: it was sealed under another territory key or for another purpose, or changed, or moved from another row")
	}
	return plain, nil
}

// ad is the additional data: the purpose, then source and record id, each
// as its length (4 bytes big-endian) and its bytes.
func (s *Sealer) ad(source, recordID string) []byte {
	ad := make([]byte, 0, len(s.info)+8+len(source)+len(recordID))
	ad = append(ad, s.info...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(source)))
	ad = append(ad, source...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(recordID)))
	return append(ad, recordID...)
}
