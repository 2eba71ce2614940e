package identity

import (
	"crypto/rand"

	"github.com/oklog/ulid/v2"
)

// PersonIDPattern is the regular expression of a person id: a ULID in its
// canonical 26-character upper-case Crockford base32 form.
const PersonIDPattern = "^[0-9A-HJKMNP-TV-Z]{26}$"

// NewPersonID returns a new random person id: a ULID (time-ordered, which
// keeps database inserts fast) with 80 bits from crypto/rand.
func NewPersonID() string {
	// crypto/rand does not fail (it crashes the program if the system
	// cannot give randomness), and ulid.Now is within the ULID time range.
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// ValidPersonID reports whether s matches PersonIDPattern.
func ValidPersonID(s string) bool {
	if len(s) != ulid.EncodedSize {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U':
		default:
			return false
		}
	}
	return true
}
