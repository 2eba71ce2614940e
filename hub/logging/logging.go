// Package logging makes the hub's log/slog loggers: text for a person at a
// terminal, JSON for a log collector, and in both a last line of defence
// against personal identifiers.
//
// Identifiers should never reach a log call: the pipeline replaces them by
// person ids, identity.Code masks itself when logged, and error messages
// name a wrong character's position, never the code. Should a raw string
// slip through anyway — a connector's message, a record id chosen badly by
// a source system, a value quoted in a third-party error — the handler
// masks every value shaped like a codice fiscale (16 characters), a
// provisional code (11 digits) or an STP/ENI code ("STP" or "ENI" and 13
// digits) before it is written. See [Redact] for the exact rules.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// Formats of New.
const (
	FormatAuto = "auto" // text on a terminal, JSON otherwise (also "")
	FormatText = "text"
	FormatJSON = "json"
)

// New returns a logger writing to w at level ("debug", "info", "warn" or
// "error"; anything else is "info") in format: "text", "json", or "auto"
// (and "") for text when w is a terminal and JSON otherwise. Every
// attribute, the message included, goes through [ReplaceAttr].
func New(w io.Writer, level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level), ReplaceAttr: ReplaceAttr}
	if useText(w, format) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func useText(w io.Writer, format string) bool {
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatText:
		return true
	case FormatJSON:
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// ParseLevel reads "debug", "info", "warn" (or "warning") and "error", in
// any case; anything else is info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// ReplaceAttr masks personal identifiers in an attribute's key and value,
// for slog.HandlerOptions. Strings are masked where they hold an identifier
// (the rest of the text stays); errors, byte slices, fmt.Stringers and
// other values are checked in their printed form and, when they hold one,
// replaced by that form masked; integers of 11 digits are masked whole.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if k, ok := Redact(a.Key); ok {
		a.Key = k
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s, ok := Redact(a.Value.String()); ok {
			a.Value = slog.StringValue(s)
		}
	case slog.KindInt64:
		if s, ok := Redact(strconv.FormatInt(a.Value.Int64(), 10)); ok {
			a.Value = slog.StringValue(s)
		}
	case slog.KindUint64:
		if s, ok := Redact(strconv.FormatUint(a.Value.Uint64(), 10)); ok {
			a.Value = slog.StringValue(s)
		}
	case slog.KindAny:
		var text string
		switch v := a.Value.Any().(type) {
		case nil:
			return a
		case error:
			text = v.Error()
		case []byte:
			text = string(v)
		case fmt.Stringer:
			text = v.String()
		default:
			text = fmt.Sprint(v)
		}
		if s, ok := Redact(text); ok {
			a.Value = slog.StringValue(s)
		}
	}
	return a
}

// Redact returns s with every character of each identifier-shaped part
// replaced by '*', and whether it found one. A part is a run of ASCII
// letters and digits, or several runs joined by single spaces or hyphens
// (as people type codes: "RSS MRA 85T10 A562S", "480 2175 3016"), bounded
// by anything else, that reads, ignoring case, as:
//
//   - a codice fiscale: 16 characters, letters where a codice fiscale
//     always has letters (positions 1–6, 9, 12 and 16) and digits, or the
//     letters L–V that replace them in homocodes, elsewhere — whether or
//     not its check character is right;
//   - "STP" or "ENI" followed by 13 digits;
//   - 11 digits (a provisional codice fiscale, or a company's VAT number).
//
// Longer runs of digits (timestamps, counters) and ULIDs do not match.
func Redact(s string) (string, bool) {
	var buf []byte // allocated at the first match
	// Walk the runs of letters and digits; try every chain of runs that
	// starts at each one.
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		end := runEnd(s, i)
		if j := matchFrom(s, i, end); j > 0 {
			if buf == nil {
				buf = []byte(s)
			}
			for k := i; k < j; k++ {
				if isAlnum(buf[k]) {
					buf[k] = '*'
				}
			}
			i = j
			continue
		}
		i = end
	}
	if buf == nil {
		return s, false
	}
	return string(buf), true
}

// matchFrom tries the chains of runs starting with the run s[start:end] and
// returns the end of the longest one shaped like an identifier, or 0.
func matchFrom(s string, start, end int) int {
	var chars [16]byte
	n, found := 0, 0
	for {
		if n+(end-start) > len(chars) {
			return found
		}
		n += copy(chars[n:], s[start:end])
		if (n == 11 || n == 16) && identifierShaped(chars[:n]) {
			found = end
		}
		// The next run must follow after exactly one space or hyphen.
		if end+1 >= len(s) || (s[end] != ' ' && s[end] != '-') || !isAlnum(s[end+1]) {
			return found
		}
		start = end + 1
		end = runEnd(s, start)
	}
}

func identifierShaped(c []byte) bool {
	switch len(c) {
	case 11:
		for _, b := range c {
			if !isDigit(b) {
				return false
			}
		}
		return true
	case 16:
		if prefixFold(c, "STP") || prefixFold(c, "ENI") {
			all := true
			for _, b := range c[3:] {
				all = all && isDigit(b)
			}
			if all {
				return true
			}
		}
		for i, b := range c {
			switch i {
			case 0, 1, 2, 3, 4, 5, 8, 11, 15:
				if !isLetter(b) {
					return false
				}
			default:
				if !isDigit(b) && !strings.ContainsRune("LMNPQRSTUV", rune(b&^0x20)) {
					return false
				}
			}
		}
		return true
	}
	return false
}

// prefixFold reports whether c starts with the upper-case prefix p, in
// any case.
func prefixFold(c []byte, p string) bool {
	for i := 0; i < len(p); i++ {
		if c[i]&^0x20 != p[i] {
			return false
		}
	}
	return true
}

func runEnd(s string, i int) int {
	for i < len(s) && isAlnum(s[i]) {
		i++
	}
	return i
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return (b|0x20) >= 'a' && (b|0x20) <= 'z' }
func isAlnum(b byte) bool  { return isDigit(b) || isLetter(b) }
