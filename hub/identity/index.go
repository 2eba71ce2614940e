package identity

import (
	"context"
	"errors"
	"fmt"
)

// ErrLinkedElsewhere is wrapped by Directory.LinkIdentifier and Index.Link
// when the identifier already belongs to another person.
var ErrLinkedElsewhere = errors.New("identifier already belongs to another person")

// Directory stores the mapping from identifier digests to person ids.
// hub/store implements it; digests are 32-byte HMAC-SHA-256 values from
// Key.Digest, never identifiers.
type Directory interface {
	// ResolvePerson atomically returns the person id recorded for digest,
	// with created false, or records newID for it and returns newID with
	// created true.
	ResolvePerson(ctx context.Context, digest []byte, kind Kind, newID string) (personID string, created bool, err error)
	// LinkIdentifier attaches digest to the existing personID. Linking a
	// pair that is already linked is a no-op; if digest belongs to another
	// person it returns an error wrapping ErrLinkedElsewhere.
	LinkIdentifier(ctx context.Context, personID string, digest []byte, kind Kind) error
}

// Index turns identifiers into person ids: the keyed index of DOMAIN.md.
// It is safe for concurrent use if its Directory is.
type Index struct {
	key Key
	dir Directory
}

// NewIndex returns an index that digests identifiers with key and keeps the
// digest → person id mapping in dir.
func NewIndex(key Key, dir Directory) *Index {
	return &Index{key: key, dir: dir}
}

// PersonID returns the person id of c, giving a new random one (created
// true) the first time c is seen. c must come from Parse or ParseKind.
func (ix *Index) PersonID(ctx context.Context, c Code) (id string, created bool, err error) {
	if err := checkCode(c); err != nil {
		return "", false, fmt.Errorf("person id: %w", err)
	}
	newID := NewPersonID()
	id, created, err = ix.dir.ResolvePerson(ctx, ix.key.Digest(c), c.Kind, newID)
	if err != nil {
		return "", false, fmt.Errorf("person id of a %s: resolve in the directory: %w", c.Kind.label(), err)
	}
	if !ValidPersonID(id) {
		return "", false, fmt.Errorf("person id of a %s: the directory returned an id of %d characters that is not a ULID; check the identity tables of the store", c.Kind.label(), len(id))
	}
	if created && id != newID {
		return "", false, fmt.Errorf("person id of a %s: the directory reported a new person under an id other than the one offered; its ResolvePerson is broken", c.Kind.label())
	}
	return id, created, nil
}

// Link attaches c to the existing person personID, for a person who
// receives another identifier (typically a definitive codice fiscale after
// a provisional one) and must keep the same person id. Linking twice is a
// no-op; if c already belongs to another person the error wraps
// ErrLinkedElsewhere.
func (ix *Index) Link(ctx context.Context, personID string, c Code) error {
	if !ValidPersonID(personID) {
		return fmt.Errorf("link identifier: the person id (%d characters) is not a ULID; give an id returned by Index.PersonID", len(personID))
	}
	if err := checkCode(c); err != nil {
		return fmt.Errorf("link identifier to person %s: %w", personID, err)
	}
	if err := ix.dir.LinkIdentifier(ctx, personID, ix.key.Digest(c), c.Kind); err != nil {
		return fmt.Errorf("link a %s to person %s: %w", c.Kind.label(), personID, err)
	}
	return nil
}

// checkCode refuses a Code that did not come from Parse: a digest of
// anything but a valid normalised identifier would split a person in two.
func checkCode(c Code) error {
	if !c.Kind.Valid() {
		return &InvalidError{Kind: c.Kind, Reason: "the code has no known kind; obtain codes from identity.Parse"}
	}
	p, err := ParseKind(c.Kind, c.Value)
	if err != nil {
		return err
	}
	if p.Value != c.Value {
		return &InvalidError{Kind: c.Kind, Reason: "the code is not normalised; obtain codes from identity.Parse"}
	}
	return nil
}
