package region

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
)

// DefaultTokenTTL is how long an enrolment token is valid by default.
const DefaultTokenTTL = 7 * 24 * time.Hour

// tokenPrefix starts every enrolment token.
const tokenPrefix = "snde_"

var tokenRE = regexp.MustCompile(`^snde_[A-Za-z0-9_-]{43}$`)

// CheckTerritory checks a territory code: what envelopes allow.
func CheckTerritory(code string) error {
	if !territoryRE.MatchString(code) {
		return fmt.Errorf("territory code %q: use 2 to 32 upper-case letters, digits and '-', starting with a letter or digit", code)
	}
	return nil
}

// ParsePublicKey reads an Ed25519 public key: a PEM "PUBLIC KEY" block
// (PKIX, as "snodo init" writes keys/signing.key.pub), or the standard or
// URL base64 of its 32 raw bytes or of its PKIX DER.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	s := strings.TrimSpace(string(data))
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key: expected a PEM \"PUBLIC KEY\" block, found %q", block.Type)
		}
		der = block.Bytes
	} else {
		var raw []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if raw, err = enc.DecodeString(s); err == nil {
				break
			}
		}
		if err != nil {
			return nil, errors.New("public key: neither PEM nor base64")
		}
		if len(raw) == ed25519.PublicKeySize {
			return ed25519.PublicKey(raw), nil
		}
		der = raw
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key: a %T, not Ed25519", k)
	}
	return pub, nil
}

// EnrolKey enrols pub for the territory (adding the territory, named name
// if name is not empty) and writes "region.enrol" to the audit log as
// actor. It returns the key id.
func EnrolKey(ctx context.Context, st *store.Store, actor, territory, name string, pub ed25519.PublicKey) (string, error) {
	if err := CheckTerritory(territory); err != nil {
		return "", fmt.Errorf("enrol: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("enrol %s: the public key has %d bytes, not %d", territory, len(pub), ed25519.PublicKeySize)
	}
	id := federation.KeyID(pub)
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.EnrolRegionKey(ctx, territory, name, pub, id); err != nil {
			return err
		}
		return tx.Audit(ctx, actor, "region.enrol", map[string]any{"territory": territory, "key_id": id})
	})
	if err != nil {
		return "", fmt.Errorf("enrol: %w", err)
	}
	return id, nil
}

// NewEnrolmentToken makes a one-time token with which the territory can
// enrol its key (POST /api/v1/enrol), valid for ttl; only its SHA-256 is
// stored. "region.enrol-token" goes to the audit log.
func NewEnrolmentToken(ctx context.Context, st *store.Store, actor, territory, name string, ttl time.Duration) (string, time.Time, error) {
	if err := CheckTerritory(territory); err != nil {
		return "", time.Time{}, fmt.Errorf("enrolment token: %w", err)
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("enrolment token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	expires := time.Now().Add(ttl).UTC()
	err := st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.AddEnrolmentToken(ctx, territory, name, h[:], expires); err != nil {
			return err
		}
		return tx.Audit(ctx, actor, "region.enrol-token", map[string]any{"territory": territory, "expires": expires.Format(time.RFC3339)})
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("enrolment token: %w", err)
	}
	return token, expires, nil
}

// ErrEnrolmentRefused is wrapped by EnrolWithToken's error when the token
// is unknown, used, expired or for another territory.
var ErrEnrolmentRefused = errors.New("enrolment refused: the token is unknown, used, expired or for another territory")

// EnrolWithToken consumes a one-time enrolment token and enrols pub for
// its territory, in one transaction, writing "region.enrol" to the audit
// log. It returns the key id.
func EnrolWithToken(ctx context.Context, st *store.Store, territory, token string, pub ed25519.PublicKey) (string, error) {
	if err := CheckTerritory(territory); err != nil {
		return "", fmt.Errorf("enrol: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("enrol %s: the public key has %d bytes, not %d", territory, len(pub), ed25519.PublicKeySize)
	}
	if !tokenRE.MatchString(token) {
		return "", fmt.Errorf("enrol %s: %w", territory, ErrEnrolmentRefused)
	}
	h := sha256.Sum256([]byte(token))
	id := federation.KeyID(pub)
	err := st.Write(ctx, func(tx *store.Tx) error {
		name, err := tx.UseEnrolmentToken(ctx, territory, h[:], id)
		if err != nil {
			return err
		}
		if err := tx.EnrolRegionKey(ctx, territory, name, pub, id); err != nil {
			return err
		}
		return tx.Audit(ctx, "enrolment-token", "region.enrol", map[string]any{"territory": territory, "key_id": id})
	})
	switch {
	case errors.Is(err, store.ErrEnrolmentTokenUnknown), errors.Is(err, store.ErrEnrolmentTokenUsed), errors.Is(err, store.ErrEnrolmentTokenExpired):
		return "", fmt.Errorf("enrol %s: %w (%w)", territory, ErrEnrolmentRefused, errors.Unwrap(err))
	case err != nil:
		return "", fmt.Errorf("enrol: %w", err)
	}
	return id, nil
}
