package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

func mustParse(t testing.TB, s string) identity.Code {
	t.Helper()
	c, err := identity.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIndexSameCodeSameID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ix := identity.NewIndex(sequentialKey(), newMemDirectory())
	id, created, err := ix.PersonID(ctx, mustParse(t, "RSSMRA85T10A562S"))
	if err != nil || !created || !identity.ValidPersonID(id) {
		t.Fatalf("first sight: %q %v %v", id, created, err)
	}
	again, created, err := ix.PersonID(ctx, mustParse(t, " rss mra-85t10 a562s "))
	if err != nil || created || again != id {
		t.Fatalf("second sight: %q %v %v, want %q", again, created, err, id)
	}
	other, created, err := ix.PersonID(ctx, mustParse(t, "RSSMRA85T10A56NH"))
	if err != nil || !created || other == id {
		t.Fatalf("the omocodic code must be another person: %q %v %v", other, created, err)
	}
}

func TestIndexKeysSeparateTerritories(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k2 := sequentialKey()
	k2[0] ^= 0x80
	dir := newMemDirectory() // one directory, two keys: nothing collides
	a := identity.NewIndex(sequentialKey(), dir)
	b := identity.NewIndex(k2, dir)
	c := mustParse(t, "RSSMRA85T10A562S")
	idA, _, err := a.PersonID(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	idB, created, err := b.PersonID(ctx, c)
	if err != nil || !created || idA == idB {
		t.Fatalf("second key: %q %v %v", idB, created, err)
	}
	if dir.size() != 2 {
		t.Fatalf("directory holds %d digests, want 2", dir.size())
	}
}

func TestIndexProvisionalThenDefinitive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := newMemDirectory()
	ix := identity.NewIndex(sequentialKey(), dir)
	prov := mustParse(t, "00743110157")
	cf := mustParse(t, withCheck(t, "LKHFTM98S52Z330"))

	id, created, err := ix.PersonID(ctx, prov)
	if err != nil || !created {
		t.Fatalf("provisional: %v %v", created, err)
	}
	if err := ix.Link(ctx, id, cf); err != nil {
		t.Fatalf("link the definitive code: %v", err)
	}
	if err := ix.Link(ctx, id, cf); err != nil {
		t.Fatalf("linking twice must be a no-op: %v", err)
	}
	got, created, err := ix.PersonID(ctx, cf)
	if err != nil || created || got != id {
		t.Fatalf("definitive code: %q %v %v, want %q", got, created, err, id)
	}
	got, created, err = ix.PersonID(ctx, prov)
	if err != nil || created || got != id {
		t.Fatalf("provisional code again: %q %v %v, want %q", got, created, err, id)
	}
}

func TestIndexLinkedElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ix := identity.NewIndex(sequentialKey(), newMemDirectory())
	cf := mustParse(t, "RSSMRA85T10A562S")
	owner, _, err := ix.PersonID(ctx, cf)
	if err != nil {
		t.Fatal(err)
	}
	someoneElse, _, err := ix.PersonID(ctx, mustParse(t, "00743110157"))
	if err != nil {
		t.Fatal(err)
	}
	err = ix.Link(ctx, someoneElse, cf)
	if !errors.Is(err, identity.ErrLinkedElsewhere) {
		t.Fatalf("Link = %v, want ErrLinkedElsewhere", err)
	}
	if strings.Contains(err.Error(), cf.Value) {
		t.Errorf("error shows the identifier: %v", err)
	}
	if got, _, _ := ix.PersonID(ctx, cf); got != owner {
		t.Errorf("the failed link moved the identifier")
	}
}

func TestIndexRefusesBadInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := newMemDirectory()
	ix := identity.NewIndex(sequentialKey(), dir)
	id := identity.NewPersonID()
	tests := map[string]struct {
		code     identity.Code
		personID string // for Link
	}{
		"zero code":               {code: identity.Code{}, personID: id},
		"unknown kind":            {code: identity.Code{Kind: "ssn", Value: "123456789"}, personID: id},
		"not normalised":          {code: identity.Code{Kind: identity.KindCF, Value: "rssmra85t10a562s"}, personID: id},
		"invalid value":           {code: identity.Code{Kind: identity.KindCF, Value: "RSSMRA85T10A562T"}, personID: id},
		"kind and value mismatch": {code: identity.Code{Kind: identity.KindProvisional, Value: "RSSMRA85T10A562S"}, personID: id},
		"bad person id":           {code: mustParse(t, "RSSMRA85T10A562S"), personID: "RSSMRA85T10A562S"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if tc.personID == id {
				if _, _, err := ix.PersonID(ctx, tc.code); err == nil {
					t.Error("PersonID accepted it")
				} else if tc.code.Value != "" && strings.Contains(err.Error(), strings.ToUpper(tc.code.Value)) {
					t.Errorf("PersonID error shows the identifier: %v", err)
				}
			}
			err := ix.Link(ctx, tc.personID, tc.code)
			if err == nil {
				t.Fatal("Link accepted it")
			}
			if strings.Contains(strings.ToUpper(err.Error()), "RSSMRA85T10A562") {
				t.Errorf("Link error shows the identifier: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		if n := dir.callCount(); n != 0 {
			t.Errorf("the directory was called %d times for refused input", n)
		}
	})
}

func TestIndexDirectoryErrorsKeepContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ix := identity.NewIndex(sequentialKey(), newMemDirectory())
	_, _, err := ix.PersonID(ctx, mustParse(t, "RSSMRA85T10A562S"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("PersonID = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "codice fiscale") || strings.Contains(err.Error(), "RSSMRA") {
		t.Errorf("error context: %v", err)
	}
	if err := ix.Link(ctx, identity.NewPersonID(), mustParse(t, "00743110157")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Link = %v, want context.Canceled", err)
	}
}

func TestIndexConcurrentFirstSight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ix := identity.NewIndex(sequentialKey(), newMemDirectory())
	c := mustParse(t, "CCCFBA85D03L219P")
	const n = 32
	ids := make([]string, n)
	createdCount := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id, created, err := ix.PersonID(ctx, c)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = id
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if createdCount != 1 {
		t.Errorf("%d goroutines created the person, want 1", createdCount)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("different ids %q and %q for one code", id, ids[0])
		}
	}
}

// brokenDirectory returns what a faulty store might.
type brokenDirectory struct {
	id      string
	created bool
}

func (d brokenDirectory) ResolvePerson(context.Context, []byte, identity.Kind, string) (string, bool, error) {
	return d.id, d.created, nil
}

func (d brokenDirectory) LinkIdentifier(context.Context, string, []byte, identity.Kind) error {
	return nil
}

func TestIndexChecksTheDirectory(t *testing.T) {
	t.Parallel()
	tests := map[string]brokenDirectory{
		"returns an identifier instead of an id": {id: "RSSMRA85T10A562S"},
		"returns an empty id":                    {id: ""},
		"creates under another id":               {id: identity.NewPersonID(), created: true},
	}
	for name, dir := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ix := identity.NewIndex(sequentialKey(), dir)
			_, _, err := ix.PersonID(context.Background(), mustParse(t, "RSSMRA85T10A562S"))
			if err == nil {
				t.Fatal("PersonID accepted a broken directory's answer")
			}
			if strings.Contains(err.Error(), "RSSMRA") {
				t.Errorf("error shows the identifier: %v", err)
			}
		})
	}
}
