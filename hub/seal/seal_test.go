package seal_test

import (
	"bytes"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/seal"
)

func TestSealOpens(t *testing.T) {
	t.Parallel()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := identity.NewKey()
	s, err := seal.New(key, seal.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"cf":"RSSMRA85T10A562S"}`)
	sealed := s.Seal(plain, "comune", "REF-1")
	if bytes.Contains(sealed, []byte("RSSMRA")) {
		t.Fatal("the sealed value holds the plain text")
	}
	got, err := s.Open(sealed, "comune", "REF-1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := s.Seal(plain, "comune", "REF-1"); bytes.Equal(again, sealed) {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}

	quarantine, _ := seal.New(key, seal.Quarantine)
	otherKey, _ := seal.New(other, seal.Envelope)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	refused := map[string]func() ([]byte, error){
		"another row":     func() ([]byte, error) { return s.Open(sealed, "comune", "REF-2") },
		"another source":  func() ([]byte, error) { return s.Open(sealed, "cpi", "REF-1") },
		"another purpose": func() ([]byte, error) { return quarantine.Open(sealed, "comune", "REF-1") },
		"another key":     func() ([]byte, error) { return otherKey.Open(sealed, "comune", "REF-1") },
		"changed":         func() ([]byte, error) { return s.Open(tampered, "comune", "REF-1") },
		"too short":       func() ([]byte, error) { return s.Open(sealed[:10], "comune", "REF-1") },
		"other version":   func() ([]byte, error) { b := bytes.Clone(sealed); b[0] = 9; return s.Open(b, "comune", "REF-1") },
	}
	for name, open := range refused {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened (%q)", name, got)
		}
	}
	if _, err := seal.New(identity.Key{}, seal.Envelope); err == nil {
		t.Error("an all-zero key was accepted")
	}
}
