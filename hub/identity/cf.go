package identity

import (
	"fmt"
	"time"
)

const (
	// omocodiaLetters replace the digits 0–9, in this order.
	omocodiaLetters = "LMNPQRSTUV"
	// monthLetters are the month letters, January to December.
	monthLetters = "ABCDEHLMPRST"
	// oddOrder lists letters by the value they count at odd positions in the
	// check character (B counts 0, A counts 1, K counts 2, …); a digit d
	// counts as the letter 'A'+d.
	oddOrder = "BAKPLCQDREVOSFTGUHMINJWZYX"
	// oddValues[c-'A'] is the index of letter c in oddOrder, precomputed
	// (a test checks it against oddOrder).
	oddValues = "\x01\x00\x05\x07\x09\x0d\x0f\x11\x13\x15\x02\x04\x12\x14\x0b\x03\x06\x08\x0c\x0e\x10\x0a\x16\x19\x18\x17"
)

// daysIn is the longest month length; February counts 29 because the
// century, hence the leap year, is unknown.
func daysIn(month int) int {
	switch month {
	case 2:
		return 29
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// monthIndex returns the 0-based month of a month letter, or -1.
func monthIndex(c byte) int {
	switch c {
	case 'A', 'B', 'C', 'D', 'E':
		return int(c - 'A')
	case 'H':
		return 5
	case 'L', 'M':
		return int(c-'L') + 6
	case 'P':
		return 8
	case 'R', 'S', 'T':
		return int(c-'R') + 9
	}
	return -1
}

// decodeDigit reads a digit or an omocodia letter.
func decodeDigit(c byte) (d int, substituted, ok bool) {
	if isDigit(c) {
		return int(c - '0'), false, true
	}
	// omocodiaLetters: L M N stand for 0 1 2, P … V for 3 … 9.
	switch {
	case c >= 'L' && c <= 'N':
		return int(c - 'L'), true, true
	case c >= 'P' && c <= 'V':
		return int(c-'P') + 3, true, true
	}
	return 0, false, false
}

// cfCheck computes the check letter over the first 15 characters of v,
// which must be ASCII upper-case letters or digits.
func cfCheck(v string) byte {
	sum := 0
	for i := 0; i < 15; i++ {
		c := v[i]
		if i%2 == 0 { // odd 1-based position
			if isDigit(c) {
				c = 'A' + c - '0'
			}
			sum += int(oddValues[c-'A'])
		} else if isDigit(c) {
			sum += int(c - '0')
		} else {
			sum += int(c - 'A')
		}
	}
	return byte('A' + sum%26)
}

func cfError(pos int, format string, args ...any) error {
	return &InvalidError{Kind: KindCF, Position: pos, Reason: fmt.Sprintf(format, args...)}
}

// parseCF validates a normalised codice fiscale and decodes its parts.
//
// The tax agency substitutes omocodia letters right to left (positions 15,
// 14, 13, 11, 10, 8, 7), but any combination is accepted: the check letter
// is what proves a code, and refusing a code the agency did issue would
// lose a person's records. Value keeps the letters; only the decoded birth
// date and place undo them.
func parseCF(v string) (Code, error) {
	if err := checkLength(KindCF, v, 16, "16"); err != nil {
		return Code{}, err
	}
	if err := checkASCII(KindCF, v); err != nil {
		return Code{}, err
	}
	c := Code{Kind: KindCF, Value: v}

	for i := 0; i < 6; i++ {
		if !isLetter(v[i]) {
			return Code{}, cfError(i+1, "character %s is not a letter (positions 1–6 encode surname and name)", quoteByte(v[i]))
		}
	}

	// digit reads the digit or omocodia letter at 0-based position i.
	digit := func(i int, what string) (int, error) {
		d, sub, ok := decodeDigit(v[i])
		if !ok {
			return 0, cfError(i+1, "%s character %s is not a digit or an omocodia letter (L M N P Q R S T U V)", what, quoteByte(v[i]))
		}
		if sub {
			c.Omocodic = true
		}
		return d, nil
	}

	y1, err := digit(6, "year")
	if err != nil {
		return Code{}, err
	}
	y2, err := digit(7, "year")
	if err != nil {
		return Code{}, err
	}
	c.BirthYear2 = y1*10 + y2

	m := monthIndex(v[8])
	if m < 0 {
		return Code{}, cfError(9, "month letter %s is not one of A B C D E H L M P R S T", quoteByte(v[8]))
	}
	c.BirthMonth = m + 1

	d1, err := digit(9, "day")
	if err != nil {
		return Code{}, err
	}
	d2, err := digit(10, "day")
	if err != nil {
		return Code{}, err
	}
	day := d1*10 + d2
	if day > 40 {
		c.Female = true
		day -= 40
	}
	if day < 1 || day > 31 {
		return Code{}, cfError(10, "day %02d is not 01–31 (men) or 41–71 (women)", d1*10+d2)
	}
	if day > daysIn(c.BirthMonth) {
		return Code{}, cfError(10, "day %d does not exist in %s", day, time.Month(c.BirthMonth))
	}
	c.BirthDay = day

	if !isLetter(v[11]) {
		return Code{}, cfError(12, "place character %s is not a letter (positions 12–15 are a cadastral code such as H501)", quoteByte(v[11]))
	}
	var place [4]byte
	place[0] = v[11]
	for i := 12; i < 15; i++ {
		d, err := digit(i, "place")
		if err != nil {
			return Code{}, err
		}
		place[i-11] = byte('0' + d)
	}
	if c.Omocodic && string(place[1:]) != v[12:15] {
		c.Place = string(place[:])
	} else {
		c.Place = v[11:15]
	}

	if !isLetter(v[15]) {
		return Code{}, cfError(16, "check character %s is not a letter", quoteByte(v[15]))
	}
	if want := cfCheck(v); v[15] != want {
		return Code{}, cfError(16, "check character is %s but the other 15 characters give %s; one of them is probably mistyped",
			quoteByte(v[15]), quoteByte(want))
	}
	return c, nil
}
