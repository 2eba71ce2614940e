package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

// digest stands in for an HMAC digest: the store only sees opaque bytes.
func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func TestResolvePerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)

	idA := identity.NewPersonID()
	got, created, err := s.ResolvePerson(ctx, digest("A"), identity.KindProvisional, idA)
	if err != nil || !created || got != idA {
		t.Fatalf("first ResolvePerson = (%s, %v, %v), want (%s, true, nil)", got, created, err, idA)
	}
	got, created, err = s.ResolvePerson(ctx, digest("A"), identity.KindProvisional, identity.NewPersonID())
	if err != nil || created || got != idA {
		t.Errorf("second ResolvePerson = (%s, %v, %v), want (%s, false, nil)", got, created, err, idA)
	}

	// Another identifier gets another person; reusing a person id is refused.
	idB := identity.NewPersonID()
	if got, created, err := s.ResolvePerson(ctx, digest("B"), identity.KindCF, idB); err != nil || !created || got != idB {
		t.Errorf("ResolvePerson of another digest = (%s, %v, %v), want (%s, true, nil)", got, created, err, idB)
	}
	if _, _, err := s.ResolvePerson(ctx, digest("C"), identity.KindCF, idA); err == nil {
		t.Errorf("ResolvePerson offering an existing person id for a new digest succeeded")
	}
	if _, _, err := s.ResolvePerson(ctx, digest("C"), identity.KindCF, ""); err == nil {
		t.Errorf("ResolvePerson with an empty new id succeeded")
	}
	if _, _, err := s.ResolvePerson(ctx, nil, identity.KindCF, identity.NewPersonID()); err == nil {
		t.Errorf("ResolvePerson with an empty digest succeeded")
	}
	if _, _, err := s.ResolvePerson(ctx, digest("C"), identity.Kind("passport"), identity.NewPersonID()); err == nil {
		t.Errorf("ResolvePerson with an unknown kind succeeded")
	}

	var persons, identifiers int
	if err := s.r.QueryRow(`SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM person_identifiers)`).Scan(&persons, &identifiers); err != nil {
		t.Fatal(err)
	}
	if persons != 2 || identifiers != 2 {
		t.Errorf("stored %d persons and %d identifiers, want 2 and 2 (failed calls must leave nothing)", persons, identifiers)
	}
}

func TestLinkIdentifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	idA, _, err := s.ResolvePerson(ctx, digest("provisional-A"), identity.KindProvisional, identity.NewPersonID())
	if err != nil {
		t.Fatal(err)
	}
	idB, _, err := s.ResolvePerson(ctx, digest("cf-B"), identity.KindCF, identity.NewPersonID())
	if err != nil {
		t.Fatal(err)
	}

	// A's definitive codice fiscale arrives: same person id.
	if err := s.LinkIdentifier(ctx, idA, digest("cf-A"), identity.KindCF); err != nil {
		t.Fatalf("LinkIdentifier: %v", err)
	}
	if got, created, err := s.ResolvePerson(ctx, digest("cf-A"), identity.KindCF, identity.NewPersonID()); err != nil || created || got != idA {
		t.Errorf("ResolvePerson of the linked digest = (%s, %v, %v), want (%s, false, nil)", got, created, err, idA)
	}

	tests := map[string]struct {
		person  string
		digest  []byte
		kind    identity.Kind
		wantErr error // nil: success
		anyErr  bool  // some error, no sentinel
	}{
		"same pair again":        {person: idA, digest: digest("cf-A"), kind: identity.KindCF},
		"first identifier again": {person: idA, digest: digest("provisional-A"), kind: identity.KindProvisional},
		"digest of another":      {person: idA, digest: digest("cf-B"), kind: identity.KindCF, wantErr: identity.ErrLinkedElsewhere},
		"taking A's digest":      {person: idB, digest: digest("cf-A"), kind: identity.KindCF, wantErr: identity.ErrLinkedElsewhere},
		"unknown person":         {person: identity.NewPersonID(), digest: digest("stp-X"), kind: identity.KindSTP, wantErr: ErrUnknownPerson},
		"empty digest":           {person: idA, digest: nil, kind: identity.KindSTP, anyErr: true},
		"unknown kind":           {person: idA, digest: digest("x"), kind: identity.Kind("passport"), anyErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := s.LinkIdentifier(ctx, tc.person, tc.digest, tc.kind)
			switch {
			case tc.anyErr:
				if err == nil {
					t.Errorf("LinkIdentifier succeeded, want an error")
				}
			case tc.wantErr == nil:
				if err != nil {
					t.Errorf("LinkIdentifier: %v, want success", err)
				}
			case !errors.Is(err, tc.wantErr):
				t.Errorf("LinkIdentifier: %v, want an error wrapping %v", err, tc.wantErr)
			}
		})
	}
}

func TestResolvePersonConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	const callers = 64
	ids := make([]string, callers)
	createds := make([]bool, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i], createds[i], errs[i] = s.ResolvePerson(ctx, digest("same person"), identity.KindCF, identity.NewPersonID())
		}()
	}
	close(start)
	wg.Wait()
	created := 0
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("caller %d got person %s, caller 0 got %s", i, ids[i], ids[0])
		}
		if createds[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d callers were told they created the person, want 1", created)
	}
	var persons int
	if err := s.r.QueryRow(`SELECT count(*) FROM persons`).Scan(&persons); err != nil {
		t.Fatal(err)
	}
	if persons != 1 {
		t.Errorf("%d persons stored, want 1", persons)
	}
}

// The Tx variants let the pipeline pseudonymise inside its batch: a rolled
// back batch leaves no person behind.
func TestResolvePersonInBatchRollsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	errLater := errors.New("validation failed later in the batch")
	err := s.Write(ctx, func(tx *Tx) error {
		id, created, err := tx.ResolvePerson(ctx, digest("P"), identity.KindCF, identity.NewPersonID())
		if err != nil || !created {
			t.Errorf("tx.ResolvePerson = (%s, %v, %v)", id, created, err)
		}
		// Seen again in the same batch: the same person.
		again, created, err := tx.ResolvePerson(ctx, digest("P"), identity.KindCF, identity.NewPersonID())
		if err != nil || created || again != id {
			t.Errorf("second tx.ResolvePerson = (%s, %v, %v), want (%s, false, nil)", again, created, err, id)
		}
		if err := tx.LinkIdentifier(ctx, id, digest("P2"), identity.KindProvisional); err != nil {
			t.Errorf("tx.LinkIdentifier: %v", err)
		}
		return errLater
	})
	if !errors.Is(err, errLater) {
		t.Fatalf("Write: %v", err)
	}
	if _, created, err := s.ResolvePerson(ctx, digest("P2"), identity.KindProvisional, identity.NewPersonID()); err != nil || !created {
		t.Errorf("after the rollback the linked digest is still known (created %v, err %v)", created, err)
	}
}

// The store is the directory of identity.Index, end to end.
func TestIdentityIndexOnStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	ix := identity.NewIndex(key, s)
	stp, err := identity.ParseKind(identity.KindSTP, "STP0010010000001")
	if err != nil {
		t.Fatal(err)
	}
	eni, err := identity.ParseKind(identity.KindENI, "ENI0010010000002")
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.ParseKind(identity.KindSTP, "STP0010010000003")
	if err != nil {
		t.Fatal(err)
	}

	id, created, err := ix.PersonID(ctx, stp)
	if err != nil || !created {
		t.Fatalf("PersonID: (%s, %v, %v)", id, created, err)
	}
	if err := ix.Link(ctx, id, eni); err != nil {
		t.Fatalf("Link: %v", err)
	}
	if got, created, err := ix.PersonID(ctx, eni); err != nil || created || got != id {
		t.Errorf("PersonID of the linked code = (%s, %v, %v), want (%s, false, nil)", got, created, err, id)
	}
	otherID, _, err := ix.PersonID(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Link(ctx, otherID, eni); !errors.Is(err, identity.ErrLinkedElsewhere) {
		t.Errorf("Link of a code of another person: %v, want ErrLinkedElsewhere", err)
	}
}
