package identity_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"RSSMRA85T10A562S", "RSSMRA85T10A56NH", " rss mra-85t10 a562s ", "CCCFBA85D03L219P",
		"RSSMRAURTMLARSNB", "RSSMRA85B30A562S", "RSSMRA85T10A562K", "BNCLRA90E45H501B",
		"00743110157", "00743110158", "12345678903", "STP1200010000001", "ENI0902041234567",
		"STPMRA85T10A562S", "STP12000100000X1", "", "-", "RSSMRÀ85T10A562S", "RSS\xc3MRA85T10A562",
		"provisional", "\u00a0RSS\u2003MRA85T10A562S",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		norm := identity.Normalise(in)
		if utf8.ValidString(in) && identity.Normalise(norm) != norm {
			t.Fatalf("Normalise is not idempotent")
		}
		c, err := identity.Parse(in)
		if err != nil {
			var ie *identity.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not *InvalidError", err)
			}
			msg := err.Error()
			if len(norm) >= 11 && strings.Contains(msg, norm) {
				t.Fatalf("error contains the normalised input: %s", msg)
			}
			// Messages are lower-case prose: an upper-case input (the way
			// identifiers are written) must never appear in one.
			if len(in) >= 11 && strings.ToUpper(in) == in && strings.Contains(msg, in) {
				t.Fatalf("error contains the input: %s", msg)
			}
			for i := 0; i+8 <= len(norm); i++ {
				if strings.Contains(msg, norm[i:i+8]) {
					t.Fatalf("error contains 8 characters of the input: %s", msg)
				}
			}
			return
		}
		if c.Value != norm || !c.Kind.Valid() {
			t.Fatalf("valid code of kind %q is not the normalised input", c.Kind)
		}
		again, err := identity.Parse(c.Value)
		if err != nil {
			t.Fatalf("the value of a valid code does not parse again: %v", err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("re-parse (-first +again):\n%s", diff)
		}
		forced, err := identity.ParseKind(c.Kind, in)
		if err != nil {
			t.Fatalf("ParseKind(%s): %v", c.Kind, err)
		}
		if diff := cmp.Diff(c, forced); diff != "" {
			t.Fatalf("ParseKind (-Parse +ParseKind):\n%s", diff)
		}
		if err := identity.CheckPersonalIDFormat(c.Value); err != nil {
			t.Fatalf("CheckPersonalIDFormat refuses a valid code: %v", err)
		}
		if (identity.CheckFormat(c.Value) == nil) != (c.Kind == identity.KindCF) {
			t.Fatalf("CheckFormat disagrees with kind %s", c.Kind)
		}
		if out := fmt.Sprintf("%v %+v %#v %s", c, c, c, c); strings.Contains(out, c.Value) {
			t.Fatalf("formatting shows the value")
		}
		if c.Kind == identity.KindCF {
			if c.BirthMonth < 1 || c.BirthMonth > 12 || c.BirthDay < 1 || c.BirthDay > 31 ||
				c.BirthYear2 < 0 || c.BirthYear2 > 99 || len(c.Place) != 4 {
				t.Fatalf("decoded parts out of range: %d-%d-%d, place of %d characters", c.BirthYear2, c.BirthMonth, c.BirthDay, len(c.Place))
			}
		}
	})
}
