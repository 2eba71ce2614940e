package pipeline

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

// sealInfo is the HKDF info string of the quarantine key: a key derived for
// one purpose is useless for any other.
const sealInfo = "snodo quarantine v1"

// sealVersion is the first byte of a sealed record, so that the format can
// change without guessing.
const sealVersion = 1

// sealer encrypts quarantined records at rest: AES-256-GCM under a key
// derived from the territory's pseudonymisation key with HKDF-SHA256. A
// sealed record is
//
//	version (1 byte) || nonce (12 random bytes) || ciphertext and tag
//
// and its additional data binds it to the source and record id it is
// stored under: a sealed record moved to another quarantine row does not
// open.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key identity.Key) (*sealer, error) {
	if key == (identity.Key{}) {
		return nil, errors.New("quarantine key: the pseudonymisation key is all zeros; load the territory's key")
	}
	k, err := hkdf.Key(sha256.New, key[:], nil, sealInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive the quarantine key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("quarantine key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("quarantine key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts raw for the quarantine row of (source, recordID).
func (s *sealer) seal(raw []byte, source, recordID string) []byte {
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(raw)+s.aead.Overhead())
	out[0] = sealVersion
	// crypto/rand never fails (it crashes the program if the system has
	// no randomness to give).
	_, _ = rand.Read(out[1 : 1+n])
	return s.aead.Seal(out, out[1:1+n], raw, sealAD(source, recordID))
}

// open decrypts what seal returned for (source, recordID).
func (s *sealer) open(sealed []byte, source, recordID string) ([]byte, error) {
	n := s.aead.NonceSize()
	switch {
	case len(sealed) < 1+n+s.aead.Overhead():
		return nil, fmt.Errorf("the sealed record has %d bytes, too few to be one", len(sealed))
	case sealed[0] != sealVersion:
		return nil, fmt.Errorf("the sealed record has format version %d; this snodo reads version %d", sealed[0], sealVersion)
	}
	raw, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], sealAD(source, recordID))
	if err != nil {
		return nil, errors.New("the sealed record does not open: it was sealed under another territory key, or changed, or moved from another quarantine row")
	}
	return raw, nil
}

// sealAD is the additional data: the info string, then source and record id,
// each as its length (4 bytes big-endian) and its bytes.
func sealAD(source, recordID string) []byte {
	ad := make([]byte, 0, len(sealInfo)+8+len(source)+len(recordID))
	ad = append(ad, sealInfo...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(source)))
	ad = append(ad, source...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(recordID)))
	return append(ad, recordID...)
}
