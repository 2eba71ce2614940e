package identity

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of a personal identifier.
type Kind string

// The identifier kinds of DOMAIN.md.
const (
	// KindCF is the codice fiscale, 16 characters, possibly omocodic.
	KindCF Kind = "cf"
	// KindProvisional is the 11-digit provisional codice fiscale.
	KindProvisional Kind = "cf-provisional"
	// KindSTP is the health code of a foreigner without a permit:
	// "STP" followed by 13 digits.
	KindSTP Kind = "stp"
	// KindENI is the health code of an EU citizen without health cover:
	// "ENI" followed by 13 digits.
	KindENI Kind = "eni"
)

// Valid reports whether k is one of the four known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindCF, KindProvisional, KindSTP, KindENI:
		return true
	}
	return false
}

// label is the human name of the kind used in error messages.
func (k Kind) label() string {
	switch k {
	case KindCF:
		return "codice fiscale"
	case KindProvisional:
		return "provisional codice fiscale"
	case KindSTP:
		return "STP code"
	case KindENI:
		return "ENI code"
	}
	return "personal identifier"
}

// Code is a parsed, valid personal identifier.
//
// Code formats itself masked (see [Code.String]); read Value on purpose
// when the identifier itself is needed, and never log it.
type Code struct {
	// Kind is the identifier kind.
	Kind Kind
	// Value is the normalised identifier (see [Normalise]). For an omocodic
	// codice fiscale it keeps the omocodia letters.
	Value string
	// Omocodic is true for a codice fiscale in which at least one digit
	// was replaced by an omocodia letter.
	Omocodic bool

	// The fields below are decoded from a codice fiscale (omocodia undone
	// for decoding only) and are zero for the other kinds.

	// BirthYear2 is the two-digit birth year, 0–99; the century is unknown.
	BirthYear2 int
	// BirthMonth is the birth month, 1–12.
	BirthMonth int
	// BirthDay is the birth day, 1–31 (the +40 for women removed).
	BirthDay int
	// Female is true when the day carries the +40 for women.
	Female bool
	// Place is the 4-character cadastral (Belfiore) code of the place of
	// birth, omocodia letters decoded: a municipality, or Z + 3 digits for
	// a foreign state.
	Place string
	// PlaceKnown is true when a PlaceLookup given to ParseWith knew Place.
	PlaceKnown bool
	// PlaceName is the name the PlaceLookup gave for Place.
	PlaceName string
}

// BornAbroad reports whether a codice fiscale's place of birth is a foreign
// state (a Belfiore code starting with Z).
func (c Code) BornAbroad() bool {
	return c.Kind == KindCF && strings.HasPrefix(c.Place, "Z")
}

// String returns a masked form that cannot identify anyone: the kind and
// one '*' per character, e.g. "cf:****************".
func (c Code) String() string {
	if c.Kind == "" && c.Value == "" {
		return "identity.Code(empty)"
	}
	return string(c.Kind) + ":" + strings.Repeat("*", utf8.RuneCountInString(c.Value))
}

// Format prints the masked form of [Code.String] for every verb, including
// %#v, %+v and %d, so that no formatting of a Code shows the identifier.
func (c Code) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(c.String()))
}

// LogValue makes log/slog print the masked form, whatever the handler.
func (c Code) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// PlaceLookup returns the name of the place with the given cadastral code
// (a municipality, or Z + 3 digits for a foreign state), and whether it
// knows the code.
type PlaceLookup func(cadastral string) (name string, ok bool)

// Normalise returns s with all white space (spaces, tabs, new lines, also
// inside) and hyphens removed and ASCII letters upper-cased. Other
// characters are kept, so that validation can reject them.
func Normalise(s string) string {
	if isNormal(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= 'a' && c <= 'z':
				b.WriteByte(c - 'a' + 'A')
			case c == '-' || asciiSpace(c):
			default:
				b.WriteByte(c)
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !(r != utf8.RuneError && unicode.IsSpace(r)) {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isNormal reports whether Normalise(s) == s, for the common ASCII case.
func isNormal(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'a' && c <= 'z') || c == '-' || asciiSpace(c) {
			return false
		}
	}
	return true
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// Parse normalises s, detects its kind from its shape and validates it:
//
//   - 16 characters starting with "STP" or "ENI" and a digit: an STP or ENI code;
//   - 16 other characters: a codice fiscale;
//   - 11 characters: a provisional codice fiscale.
//
// Any other length is refused. Errors are *InvalidError and never contain
// the identifier.
func Parse(s string) (Code, error) {
	return ParseWith(s, nil)
}

// ParseWith is Parse that also looks up the place of birth of a codice
// fiscale in places (which may be nil). A place code that places does not
// know is not an error: it may be a former municipality, merged or renamed
// since; the Code then has PlaceKnown false.
func ParseWith(s string, places PlaceLookup) (Code, error) {
	v := Normalise(s)
	kind, err := detect(v)
	if err != nil {
		return Code{}, err
	}
	return parseKind(kind, v, places)
}

// ParseKind normalises s and validates it as an identifier of the given
// kind, without guessing.
func ParseKind(kind Kind, s string) (Code, error) {
	if !kind.Valid() {
		name := "(not shown)" // it might be an identifier passed by mistake
		if looksLikeKindName(kind) {
			name = strconv.Quote(string(kind))
		}
		return Code{}, &InvalidError{Kind: kind, Reason: fmt.Sprintf(
			"unknown identifier kind %s; use %q, %q, %q or %q", name, KindCF, KindProvisional, KindSTP, KindENI)}
	}
	return parseKind(kind, Normalise(s), nil)
}

// looksLikeKindName reports whether k is short and made of lower-case
// letters and hyphens, like a kind name and unlike any identifier.
func looksLikeKindName(k Kind) bool {
	if len(k) == 0 || len(k) > 20 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; !(c >= 'a' && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func parseKind(kind Kind, v string, places PlaceLookup) (Code, error) {
	switch kind {
	case KindCF:
		c, err := parseCF(v)
		if err == nil && places != nil {
			c.PlaceName, c.PlaceKnown = places(c.Place)
		}
		return c, err
	case KindProvisional:
		return parseProvisional(v)
	default:
		return parseHealthCode(kind, v)
	}
}

const acceptedShapes = `accepted are a codice fiscale (16 characters), a provisional codice fiscale (11 digits) and STP/ENI codes ("STP" or "ENI" followed by 13 digits)`

// detect guesses the kind of the normalised v from its shape.
func detect(v string) (Kind, error) {
	n := utf8.RuneCountInString(v)
	switch {
	case n == 0:
		return "", &InvalidError{Reason: "is empty; " + acceptedShapes}
	case n == 11:
		return KindProvisional, nil
	case n == 16:
		// A codice fiscale always has a letter at position 4.
		if len(v) > 3 && isDigit(v[3]) {
			switch v[:3] {
			case "STP":
				return KindSTP, nil
			case "ENI":
				return KindENI, nil
			}
		}
		return KindCF, nil
	}
	return "", &InvalidError{Reason: fmt.Sprintf("has %d characters; %s", n, acceptedShapes)}
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }

// checkLength returns an error unless v has want characters.
func checkLength(kind Kind, v string, want int, shape string) error {
	if n := utf8.RuneCountInString(v); n != want {
		return &InvalidError{Kind: kind, Reason: fmt.Sprintf("has %d characters, expected %s", n, shape)}
	}
	return nil
}

// checkASCII returns an error naming the first character of v that is not
// an ASCII letter or digit. It assumes nothing about v's encoding: a byte
// that is not valid UTF-8 counts as one character.
func checkASCII(kind Kind, v string) error {
	pos := 0
	for i := 0; i < len(v); {
		pos++
		c := v[i]
		if c < utf8.RuneSelf {
			if !isDigit(c) && !isLetter(c) {
				return &InvalidError{Kind: kind, Position: pos,
					Reason: fmt.Sprintf("character %s is not a letter or a digit", quoteByte(c))}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			return &InvalidError{Kind: kind, Position: pos,
				Reason: fmt.Sprintf("byte 0x%02x is not valid UTF-8 text; check the source's character encoding", c)}
		}
		return &InvalidError{Kind: kind, Position: pos,
			Reason: fmt.Sprintf("character %s is not a letter or a digit", quoteRune(r))}
	}
	return nil
}

// parseProvisional validates an 11-digit provisional code: digits 1–10 and
// a check digit computed as DOMAIN.md says.
func parseProvisional(v string) (Code, error) {
	if err := checkLength(KindProvisional, v, 11, "11 digits"); err != nil {
		return Code{}, err
	}
	if err := checkASCII(KindProvisional, v); err != nil {
		return Code{}, err
	}
	for i := 0; i < 11; i++ {
		if !isDigit(v[i]) {
			return Code{}, &InvalidError{Kind: KindProvisional, Position: i + 1,
				Reason: fmt.Sprintf("character %s is not a digit", quoteByte(v[i]))}
		}
	}
	if want := provisionalCheck(v); v[10] != want {
		return Code{}, &InvalidError{Kind: KindProvisional, Position: 11, Reason: fmt.Sprintf(
			"check digit is %s but the first 10 digits give %s; one of them is probably mistyped",
			quoteByte(v[10]), quoteByte(want))}
	}
	return Code{Kind: KindProvisional, Value: v}, nil
}

// provisionalCheck computes the check digit of the first 10 digits of v:
// odd positions (1-based) count as they are, even positions are doubled
// and their digits added; check = (10 − sum mod 10) mod 10.
func provisionalCheck(v string) byte {
	sum := 0
	for i := 0; i < 10; i++ {
		d := int(v[i] - '0')
		if i%2 == 1 { // even 1-based position
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// parseHealthCode validates the shape of an STP or ENI code: the prefix
// followed by 13 digits (3 for the region, 3 for the health unit, 7 for a
// progressive number).
func parseHealthCode(kind Kind, v string) (Code, error) {
	prefix := "STP"
	if kind == KindENI {
		prefix = "ENI"
	}
	if err := checkLength(kind, v, 16, fmt.Sprintf("16: %q followed by 13 digits", prefix)); err != nil {
		return Code{}, err
	}
	if err := checkASCII(kind, v); err != nil {
		return Code{}, err
	}
	if v[:3] != prefix {
		return Code{}, &InvalidError{Kind: kind, Position: 1,
			Reason: fmt.Sprintf("an %s starts with %q", kind.label(), prefix)}
	}
	for i := 3; i < 16; i++ {
		if !isDigit(v[i]) {
			return Code{}, &InvalidError{Kind: kind, Position: i + 1,
				Reason: fmt.Sprintf("character %s is not a digit (%q is followed by 13 digits)", quoteByte(v[i]), prefix)}
		}
	}
	return Code{Kind: kind, Value: v}, nil
}
