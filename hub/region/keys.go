package region

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/store"
)

// ErrKeyNotEnrolled is wrapped by RevokeKey's error when no key has the id.
var ErrKeyNotEnrolled = errors.New("no enrolled key has this id")

// KeyRevokedError is RevokeKey's error for a key revoked already: nothing
// changed, and no second audit entry was written.
type KeyRevokedError struct {
	KeyID     string
	Territory string
	RevokedAt time.Time
}

func (e *KeyRevokedError) Error() string {
	return fmt.Sprintf("key %s of %s was revoked already, at %s", e.KeyID, e.Territory, e.RevokedAt.UTC().Format(time.RFC3339))
}

// maxRevokeReason bounds the reason kept in the audit log: a note, not a
// report.
const maxRevokeReason = 200

// checkReason keeps the reason fit for the audit log, which must hold no
// personal identifiers: one line, short, and nothing shaped like a
// codice fiscale, an STP/ENI code or 11 digits (an operator might name
// the person who lost the key). The shape is what the logs' redaction
// looks for, check character or not: a mistyped code still names a person.
func checkReason(reason string) error {
	if len(reason) > maxRevokeReason {
		return fmt.Errorf("the reason has %d bytes: keep it to %d", len(reason), maxRevokeReason)
	}
	if strings.ContainsFunc(reason, unicode.IsControl) {
		return errors.New("the reason must be one line of text")
	}
	if _, found := logging.Redact(reason); found {
		return errors.New("the reason holds something shaped like a personal identifier (a codice fiscale, an STP/ENI code or 11 digits): the audit log must hold none; say what happened without naming anyone")
	}
	return nil
}

// RevokeKey revokes the enrolled key keyID: the intake refuses envelopes
// signed with it from then on (those already received stay). It writes
// "region.key-revoke" (territory, key id, reason) to the audit log as
// actor, in the same transaction, and returns the key as revoked.
//
// An unknown id fails with an error wrapping ErrKeyNotEnrolled; a key
// revoked already with a *KeyRevokedError saying when.
func RevokeKey(ctx context.Context, st *store.Store, actor, keyID, reason string) (store.RegionKey, error) {
	reason = strings.TrimSpace(reason)
	if err := checkReason(reason); err != nil {
		return store.RegionKey{}, fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	k, err := regionKey(ctx, st, keyID)
	if err != nil {
		return store.RegionKey{}, err
	}
	if !k.Active() {
		return k, &KeyRevokedError{KeyID: k.KeyID, Territory: k.Territory, RevokedAt: k.RevokedAt}
	}
	detail := map[string]any{"territory": k.Territory, "key_id": k.KeyID}
	if reason != "" {
		detail["reason"] = reason
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeRegionKey(ctx, k.KeyID); err != nil {
			return err
		}
		return tx.Audit(ctx, actor, "region.key-revoke", detail)
	})
	if errors.Is(err, store.ErrNotFound) {
		// Revoked by someone else since it was read: say when, as above.
		if k, err := regionKey(ctx, st, keyID); err == nil && !k.Active() {
			return k, &KeyRevokedError{KeyID: k.KeyID, Territory: k.Territory, RevokedAt: k.RevokedAt}
		}
	}
	if err != nil {
		return store.RegionKey{}, fmt.Errorf("revoke key %s of %s: %w", k.KeyID, k.Territory, err)
	}
	return regionKey(ctx, st, keyID)
}

// regionKey reads one enrolled key, revoked or not.
func regionKey(ctx context.Context, st *store.Store, keyID string) (store.RegionKey, error) {
	keys, err := st.RegionKeys(ctx, keyID)
	if err != nil {
		return store.RegionKey{}, fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	if len(keys) == 0 {
		return store.RegionKey{}, fmt.Errorf("key %q: %w", keyID, ErrKeyNotEnrolled)
	}
	return keys[0], nil
}
