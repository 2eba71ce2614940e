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
func TestSealRefuses(t *testing.T) {
	t.Parallel()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(key, seal.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"person":{"identifiers":{"cf":"RSSMRA85T10A562S"}}}`)
	sealed := s.Seal(raw, "anagrafe", "P-1")
	if bytes.Contains(sealed, []byte("RSSMRA")) {
		t.Fatalf("the sealed record shows the plain text")
	}
	if again := s.Seal(raw, "anagrafe", "P-1"); bytes.Equal(again, sealed) {
		t.Errorf("two seals of one record are equal: the nonce must be random")
	}
	got, err := s.Open(sealed, "anagrafe", "P-1")
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("open = %q, %v", got, err)
	}

	other, _ := identity.NewKey()
	otherSealer, _ := seal.New(other, seal.Quarantine)
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	tests := map[string]struct {
		s                *seal.Sealer
		sealed           []byte
		source, recordID string
	}{
		"another source":      {s, sealed, "cpi", "P-1"},
		"another record id":   {s, sealed, "anagrafe", "P-2"},
		"ids shifted":         {s, s.Seal(raw, "anagrafeP", "-1"), "anagrafe", "P-1"},
		"another key":         {otherSealer, sealed, "anagrafe", "P-1"},
		"a changed byte":      {s, flipped, "anagrafe", "P-1"},
		"too short":           {s, sealed[:20], "anagrafe", "P-1"},
		"an unknown version":  {s, append([]byte{9}, sealed[1:]...), "anagrafe", "P-1"},
		"nothing":             {s, nil, "anagrafe", "P-1"},
		"plain text (legacy)": {s, raw, "anagrafe", "P-1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got, err := tc.s.Open(tc.sealed, tc.source, tc.recordID); err == nil {
				t.Errorf("opened: %q", got)
			}
		})
	}
	if _, err := seal.New(identity.Key{}, seal.Quarantine); err == nil {
		t.Errorf("an all-zero key was accepted")
	}
}
