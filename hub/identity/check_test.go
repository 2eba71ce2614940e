package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

func TestCheckCharacter(t *testing.T) {
	t.Parallel()
	// Published examples and omocodic variants, each completed and parsed.
	for _, cf := range []string{"RSSMRA85T10A562S", "RSSMRA85T10A56NH", "BNCLRA90A41Z330U"} {
		got, err := identity.CheckCharacter(cf[:15])
		if err != nil {
			t.Fatalf("CheckCharacter: %v", err)
		}
		if want := withCheck(t, cf[:15]); string(got) != want[15:] {
			t.Errorf("CheckCharacter(%s) = %c, want %s", cf[:15], got, want[15:])
		}
		if _, err := identity.ParseKind(identity.KindCF, cf[:15]+string(got)); err != nil {
			t.Errorf("completed code does not parse: %v", err)
		}
	}
	for name, in := range map[string]string{
		"short":      "RSSMRA85T10A56",
		"long":       "RSSMRA85T10A562S",
		"lower case": "rssmra85t10a562",
		"symbol":     "RSSMRA85T10A56*",
		"not ASCII":  "RSSMRA85T10A56é",
	} {
		_, err := identity.CheckCharacter(in)
		var ie *identity.InvalidError
		if !errors.As(err, &ie) || ie.Kind != identity.KindCF {
			t.Errorf("%s: err = %v, want an *InvalidError of kind cf", name, err)
			continue
		}
		if len(in) >= 6 && strings.Contains(err.Error(), strings.ToUpper(in[:6])) {
			t.Errorf("%s: error shows the input: %v", name, err)
		}
	}
}

func TestProvisionalCheckDigit(t *testing.T) {
	t.Parallel()
	for _, first10 := range []string{"0000000000", "1234567890", "9999999999", "8051234567"} {
		got, err := identity.ProvisionalCheckDigit(first10)
		if err != nil {
			t.Fatalf("ProvisionalCheckDigit: %v", err)
		}
		// Independent computation of the DOMAIN.md rule.
		sum := 0
		for i := 0; i < 10; i++ {
			d := int(first10[i] - '0')
			if i%2 == 1 {
				d *= 2
				d = d/10 + d%10
			}
			sum += d
		}
		if want := byte('0' + (10-sum%10)%10); got != want {
			t.Errorf("ProvisionalCheckDigit(%s) = %c, want %c", first10, got, want)
		}
		if _, err := identity.ParseKind(identity.KindProvisional, first10+string(got)); err != nil {
			t.Errorf("completed code does not parse: %v", err)
		}
	}
	for name, in := range map[string]string{
		"short":  "123456789",
		"long":   "12345678901",
		"letter": "12345A7890",
		"empty":  "",
	} {
		_, err := identity.ProvisionalCheckDigit(in)
		var ie *identity.InvalidError
		if !errors.As(err, &ie) || ie.Kind != identity.KindProvisional {
			t.Errorf("%s: err = %v, want an *InvalidError of kind cf-provisional", name, err)
		}
	}
}
