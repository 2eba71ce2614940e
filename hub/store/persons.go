package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/snodo-hub/snodo/hub/identity"
)

// ErrUnknownPerson is wrapped by LinkIdentifier's error when the person id
// has never been recorded.
var ErrUnknownPerson = errors.New("unknown person id")

// Digests are keyed hashes (HMACs) of normalised identifiers: the raw codes
// never reach this package. Errors name neither digests nor identifiers.

// ResolvePerson returns the person that digest belongs to (created false) or,
// when digest is new, records newID as a new person with digest as its first
// identifier (created true). Because the transaction holds the write lock,
// concurrent resolutions of one digest all get the same person id.
func (t *Tx) ResolvePerson(ctx context.Context, digest []byte, kind identity.Kind, newID string) (personID string, created bool, err error) {
	if len(digest) == 0 {
		return "", false, errors.New("resolve person: digest is empty")
	}
	personID, found, err := t.findPerson(ctx, digest)
	if err != nil || found {
		return personID, false, err
	}
	if newID == "" {
		return "", false, errors.New("resolve person: new person id is empty")
	}
	if !kind.Valid() {
		return "", false, fmt.Errorf("resolve person: unknown identifier kind %q", kind)
	}
	now := t.s.stamp()
	if _, err := t.stmt(ctx, stmtInsertPerson).ExecContext(ctx, newID, now); err != nil {
		return "", false, fmt.Errorf("resolve person: record new person %s: %w (person ids must be unique)", newID, err)
	}
	if _, err := t.stmt(ctx, stmtInsertIdentifier).ExecContext(ctx, digest, kindText(kind), newID, now); err != nil {
		return "", false, fmt.Errorf("resolve person: link first identifier of person %s: %w", newID, err)
	}
	return newID, true, nil
}

// LinkIdentifier attaches digest to the existing person personID. Linking a
// pair already linked is a no-op; a digest that belongs to another person
// gives an error wrapping identity.ErrLinkedElsewhere, and a person id never
// recorded one wrapping ErrUnknownPerson.
func (t *Tx) LinkIdentifier(ctx context.Context, personID string, digest []byte, kind identity.Kind) error {
	if len(digest) == 0 {
		return fmt.Errorf("link identifier to person %s: digest is empty", personID)
	}
	owner, found, err := t.findPerson(ctx, digest)
	if err != nil {
		return fmt.Errorf("link identifier to person %s: %w", personID, err)
	}
	if found {
		if owner == personID {
			return nil
		}
		return fmt.Errorf("link identifier to person %s: %w", personID, identity.ErrLinkedElsewhere)
	}
	if !kind.Valid() {
		return fmt.Errorf("link identifier to person %s: unknown identifier kind %q", personID, kind)
	}
	var one int
	err = t.stmt(ctx, stmtPersonExists).QueryRowContext(ctx, personID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("link identifier to person %q: %w: resolve the person first", personID, ErrUnknownPerson)
	}
	if err != nil {
		return fmt.Errorf("link identifier to person %s: %w", personID, err)
	}
	if _, err := t.stmt(ctx, stmtInsertIdentifier).ExecContext(ctx, digest, kindText(kind), personID, t.s.stamp()); err != nil {
		return fmt.Errorf("link identifier to person %s: %w", personID, err)
	}
	return nil
}

// LookupPerson returns the person digest belongs to, with found false when
// the digest is unknown; unlike ResolvePerson it never records anything. The
// pipeline looks up every identifier of a record first, so that an
// identifier seen before decides the person and the new ones are linked to
// it.
func (t *Tx) LookupPerson(ctx context.Context, digest []byte) (personID string, found bool, err error) {
	if len(digest) == 0 {
		return "", false, errors.New("look up person: digest is empty")
	}
	return t.findPerson(ctx, digest)
}

func (t *Tx) findPerson(ctx context.Context, digest []byte) (personID string, found bool, err error) {
	err = t.stmt(ctx, stmtFindPerson).QueryRowContext(ctx, digest).Scan(&personID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up identifier digest: %w", err)
	}
	return personID, true, nil
}

// ResolvePerson is Tx.ResolvePerson in its own short write transaction.
func (s *Store) ResolvePerson(ctx context.Context, digest []byte, kind identity.Kind, newID string) (personID string, created bool, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		personID, created, err = tx.ResolvePerson(ctx, digest, kind, newID)
		return err
	})
	if err != nil {
		return "", false, err
	}
	return personID, created, nil
}

// LinkIdentifier is Tx.LinkIdentifier in its own short write transaction.
func (s *Store) LinkIdentifier(ctx context.Context, personID string, digest []byte, kind identity.Kind) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.LinkIdentifier(ctx, personID, digest, kind) })
}

// kindText is the stored form of an identifier kind.
func kindText(k identity.Kind) string { return string(k) }

var _ identity.Directory = (*Store)(nil)
