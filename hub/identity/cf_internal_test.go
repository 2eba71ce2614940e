package identity

import (
	"strings"
	"testing"
)

// The lookup shortcuts agree with the tables as DOMAIN.md writes them.
func TestTablesAgreeWithDomain(t *testing.T) {
	t.Parallel()
	for c := byte('A'); c <= 'Z'; c++ {
		if got, want := int(oddValues[c-'A']), strings.IndexByte(oddOrder, c); got != want {
			t.Errorf("odd value of %c = %d, want %d", c, got, want)
		}
		if got, want := monthIndex(c), strings.IndexByte(monthLetters, c); got != want {
			t.Errorf("monthIndex(%c) = %d, want %d", c, got, want)
		}
		d, sub, ok := decodeDigit(c)
		if want := strings.IndexByte(omocodiaLetters, c); (want >= 0) != ok || (ok && (d != want || !sub)) {
			t.Errorf("decodeDigit(%c) = %d %v %v, want %d", c, d, sub, ok, want)
		}
	}
	for c := byte('0'); c <= '9'; c++ {
		if d, sub, ok := decodeDigit(c); !ok || sub || d != int(c-'0') {
			t.Errorf("decodeDigit(%c) = %d %v %v", c, d, sub, ok)
		}
	}
	for _, c := range []byte{'@', '[', 'a', '/', ':', 0, 0xff} {
		if _, _, ok := decodeDigit(c); ok {
			t.Errorf("decodeDigit(%q) accepted", c)
		}
		if monthIndex(c) >= 0 {
			t.Errorf("monthIndex(%q) accepted", c)
		}
	}
}
