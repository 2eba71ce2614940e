package identity

import (
	"strconv"
	"strings"
)

// InvalidError says why an identifier is not valid. Its message names at
// most one offending character and never the identifier itself, so it may
// be logged and stored with a quarantined record.
type InvalidError struct {
	// Kind is the kind the identifier was validated as; empty when its
	// shape matched no kind.
	Kind Kind
	// Position is the 1-based position of the offending character, or 0
	// when the problem is not at one position (length, emptiness).
	Position int
	// Reason says what is wrong.
	Reason string
}

// Error returns e.g.
// `codice fiscale: position 9: month letter "X" is not one of A B C D E H L M P R S T`.
func (e *InvalidError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.label())
	b.WriteString(": ")
	if e.Position > 0 {
		b.WriteString("position ")
		b.WriteString(strconv.Itoa(e.Position))
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// quoteByte quotes one ASCII character for an error message.
func quoteByte(c byte) string { return quoteRune(rune(c)) }

// quoteRune quotes one character for an error message, escaping anything
// unprintable.
func quoteRune(r rune) string { return strconv.Quote(string(r)) }
