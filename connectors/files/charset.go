package main

import (
	"strings"
	"unicode/utf8"
)

// cp1252 maps the bytes 0x80–0x9F of Windows-1252 to Unicode; the other
// bytes ≥ 0xA0 are Latin-1, that is the code point of the same number.
// The five bytes Windows-1252 leaves undefined map to the C1 controls of
// the same number, as the WHATWG Encoding Standard does — which is also
// why "latin-1" files are read as Windows-1252 here: that is what
// programs that say Latin-1 actually write (the euro sign, curly quotes).
var cp1252 = [32]rune{
	'€', 0x81, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0x8D, 'Ž', 0x8F,
	0x90, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0x9D, 'ž', 'Ÿ',
}

// decodeCP1252 turns Windows-1252 (and Latin-1) text into UTF-8. Every byte
// is a character, so it cannot fail.
func decodeCP1252(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x80:
			b.WriteByte(c)
		case c < 0xA0:
			b.WriteRune(cp1252[c-0x80])
		default:
			b.WriteRune(rune(c))
		}
	}
	return b.String()
}

// decodeCells turns a row's cells into UTF-8 text in place; ok is false
// when a cell of a UTF-8 file holds bytes that are not UTF-8.
func decodeCells(cells []string, encoding string) (bad int, ok bool) {
	for i, c := range cells {
		if encoding == "windows-1252" {
			cells[i] = decodeCP1252(c)
			continue
		}
		if !utf8.ValidString(c) {
			return i, false
		}
	}
	return 0, true
}
