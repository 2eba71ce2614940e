package population

import (
	"fmt"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
)

const (
	monthLetters    = "ABCDEHLMPRST"
	omocodiaLetters = "LMNPQRSTUV" // replace the digits 0–9
)

// omocodiaPositions are the 0-based positions of the digits the Agenzia
// delle Entrate replaces, in order, to tell apart two people whose codes
// would collide (1-based positions 15, 14, 13, 11, 10, 8, 7).
var omocodiaPositions = [...]int{14, 13, 12, 10, 9, 7, 6}

// letters returns the ASCII upper-case letters of a name, accents folded
// (à → A, ò → O, …), spaces and apostrophes dropped.
func letters(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			if f, ok := accentFold[r]; ok {
				b.WriteByte(f)
			}
		}
	}
	return b.String()
}

var accentFold = map[rune]byte{
	'à': 'A', 'á': 'A', 'è': 'E', 'é': 'E', 'ì': 'I', 'í': 'I', 'ò': 'O', 'ó': 'O', 'ù': 'U', 'ú': 'U',
	'À': 'A', 'È': 'E', 'É': 'E', 'Ì': 'I', 'Ò': 'O', 'Ù': 'U',
}

func isVowel(c byte) bool { return strings.IndexByte("AEIOU", c) >= 0 }

func split(name string) (consonants, vowels string) {
	l := letters(name)
	var c, v strings.Builder
	for i := 0; i < len(l); i++ {
		if isVowel(l[i]) {
			v.WriteByte(l[i])
		} else {
			c.WriteByte(l[i])
		}
	}
	return c.String(), v.String()
}

// surnameCode is characters 1–3: the surname's consonants, then its
// vowels, then X, the first three.
func surnameCode(surname string) string {
	c, v := split(surname)
	return (c + v + "XXX")[:3]
}

// givenNameCode is characters 4–6: with four or more consonants the 1st,
// 3rd and 4th; otherwise as for the surname.
func givenNameCode(name string) string {
	c, v := split(name)
	if len(c) >= 4 {
		return string([]byte{c[0], c[2], c[3]})
	}
	return (c + v + "XXX")[:3]
}

// cfPrefix computes the first 15 characters of a codice fiscale, before
// any omocodia.
func cfPrefix(surname, given string, female bool, birth time.Time, place string) string {
	day := birth.Day()
	if female {
		day += 40
	}
	return fmt.Sprintf("%s%s%02d%c%02d%s", surnameCode(surname), givenNameCode(given),
		birth.Year()%100, monthLetters[birth.Month()-1], day, place)
}

// omocodic replaces the digits at the first level omocodia positions of a
// 15-character prefix with their letters.
func omocodic(prefix string, level int) string {
	b := []byte(prefix)
	for _, pos := range omocodiaPositions[:level] {
		b[pos] = omocodiaLetters[b[pos]-'0']
	}
	return string(b)
}

// withCheck appends the check character, computed by hub/identity.
func withCheck(first15 string) string {
	c, err := identity.CheckCharacter(first15)
	if err != nil {
		// The prefix is built here from letters and digits: a bug.
		panic("population: codice fiscale prefix: " + err.Error())
	}
	return first15 + string(c)
}

// provisionalCode completes 10 digits with their check digit.
func provisionalCode(first10 string) string {
	c, err := identity.ProvisionalCheckDigit(first10)
	if err != nil {
		panic("population: provisional code: " + err.Error())
	}
	return first10 + string(c)
}

// alter returns code with the character at pos replaced by another of the
// same class (letter for letter, digit for digit), chosen by n.
func alter(code string, pos, n int) string {
	b := []byte(code)
	c := b[pos]
	if c >= '0' && c <= '9' {
		b[pos] = byte('0' + (int(c-'0')+1+n%9)%10)
	} else {
		b[pos] = byte('A' + (int(c-'A')+1+n%25)%26)
	}
	return string(b)
}
