package identity_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

func TestNewPersonID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(identity.PersonIDPattern)
	seen := map[string]bool{}
	for range 1000 {
		id := identity.NewPersonID()
		if !re.MatchString(id) || !identity.ValidPersonID(id) {
			t.Fatalf("NewPersonID gave an invalid id %q", id)
		}
		if seen[id] {
			t.Fatalf("NewPersonID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidPersonID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(identity.PersonIDPattern)
	id := identity.NewPersonID()
	tests := map[string]struct {
		in   string
		want bool
	}{
		"new":                {id, true},
		"all digits":         {strings.Repeat("0", 26), true},
		"highest characters": {strings.Repeat("Z", 26), true},
		"lower case":         {strings.ToLower(id), false},
		"25 characters":      {id[:25], false},
		"27 characters":      {id + "0", false},
		"letter I":           {"I" + id[1:], false},
		"letter L":           {"L" + id[1:], false},
		"letter O":           {"O" + id[1:], false},
		"letter U":           {"U" + id[1:], false},
		"hyphenated UUID":    {"0189d7a2-5b1c-7e3a-9f00-123456789abc", false},
		"codice fiscale":     {"RSSMRA85T10A562S", false},
		"empty":              {"", false},
		"non-ASCII":          {"Ä" + id[2:], false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := identity.ValidPersonID(tc.in); got != tc.want {
				t.Errorf("ValidPersonID = %v, want %v", got, tc.want)
			}
			if got := re.MatchString(tc.in); got != tc.want {
				t.Errorf("PersonIDPattern matches = %v, want %v", got, tc.want)
			}
		})
	}
}
