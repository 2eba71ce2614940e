package identity_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
)

func TestParseValid(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   string
		want identity.Code
	}{
		"Mario Rossi, the widely published example": {
			in: "RSSMRA85T10A562S",
			want: identity.Code{Kind: identity.KindCF, Value: "RSSMRA85T10A562S",
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"python-codicefiscale README example": {
			in: "CCCFBA85D03L219P",
			want: identity.Code{Kind: identity.KindCF, Value: "CCCFBA85D03L219P",
				BirthYear2: 85, BirthMonth: 4, BirthDay: 3, Place: "L219", PlaceKnown: true, PlaceName: "Torino"},
		},
		"Milano, year 25": {
			in: "MRTMTT25D09F205Z",
			want: identity.Code{Kind: identity.KindCF, Value: "MRTMTT25D09F205Z",
				BirthYear2: 25, BirthMonth: 4, BirthDay: 9, Place: "F205", PlaceKnown: true, PlaceName: "Milano"},
		},
		"lower case, spaces and hyphens are normalised": {
			in: " rss mra-85t10 a562s ",
			want: identity.Code{Kind: identity.KindCF, Value: "RSSMRA85T10A562S",
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"tabs and new lines are normalised": {
			in: "\tRSSMRA\t85T10\nA562S\r\n",
			want: identity.Code{Kind: identity.KindCF, Value: "RSSMRA85T10A562S",
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"woman, day + 40": {
			in: withCheck(t, "BNCLRA90E45H501"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "BNCLRA90E45H501"),
				BirthYear2: 90, BirthMonth: 5, BirthDay: 5, Female: true, Place: "H501", PlaceKnown: true, PlaceName: "Roma"},
		},
		"woman born on the 31st, day 71": {
			in: withCheck(t, "BNCLRA01A71H501"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "BNCLRA01A71H501"),
				BirthYear2: 1, BirthMonth: 1, BirthDay: 31, Female: true, Place: "H501", PlaceKnown: true, PlaceName: "Roma"},
		},
		"born abroad (Morocco)": {
			in: withCheck(t, "LKHFTM98S52Z330"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "LKHFTM98S52Z330"),
				BirthYear2: 98, BirthMonth: 11, BirthDay: 12, Female: true, Place: "Z330", PlaceKnown: true, PlaceName: "Marocco"},
		},
		"29 February is accepted whatever the year": {
			in: withCheck(t, "VRDGPP85B29F205"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "VRDGPP85B29F205"),
				BirthYear2: 85, BirthMonth: 2, BirthDay: 29, Place: "F205", PlaceKnown: true, PlaceName: "Milano"},
		},
		"30 April, a woman": {
			in: withCheck(t, "VRDLCU00D70L219"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "VRDLCU00D70L219"),
				BirthYear2: 0, BirthMonth: 4, BirthDay: 30, Female: true, Place: "L219", PlaceKnown: true, PlaceName: "Torino"},
		},
		"omocodic at position 15": {
			in: "RSSMRA85T10A56NH",
			want: identity.Code{Kind: identity.KindCF, Value: "RSSMRA85T10A56NH", Omocodic: true,
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"omocodic at every substitutable position": {
			in: withCheck(t, "RSSMRAURTMLARSN"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "RSSMRAURTMLARSN"), Omocodic: true,
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"omocodic out of the usual order is accepted": {
			in: withCheck(t, "RSSMRA8RT10A562"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "RSSMRA8RT10A562"), Omocodic: true,
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"omocodic woman's day": {
			in: withCheck(t, "BNCLRA90E4RH501"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "BNCLRA90E4RH501"), Omocodic: true,
				BirthYear2: 90, BirthMonth: 5, BirthDay: 5, Female: true, Place: "H501", PlaceKnown: true, PlaceName: "Roma"},
		},
		"place not among current municipalities is unknown, not an error": {
			in: withCheck(t, "RSSMRA85T10B000"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "RSSMRA85T10B000"),
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "B000"},
		},
		"a codice fiscale whose surname letters are STP": {
			in: withCheck(t, "STPMRA85T10A562"),
			want: identity.Code{Kind: identity.KindCF, Value: withCheck(t, "STPMRA85T10A562"),
				BirthYear2: 85, BirthMonth: 12, BirthDay: 10, Place: "A562", PlaceKnown: true, PlaceName: "San Giuliano Terme"},
		},
		"provisional code": {
			in:   "00743110157",
			want: identity.Code{Kind: identity.KindProvisional, Value: "00743110157"},
		},
		"provisional code with spaces": {
			in:   " 1234567 890 3 ",
			want: identity.Code{Kind: identity.KindProvisional, Value: "12345678903"},
		},
		"provisional code with check 0": {
			in:   withProvisionalCheck(t, "9000000001"),
			want: identity.Code{Kind: identity.KindProvisional, Value: withProvisionalCheck(t, "9000000001")},
		},
		"STP code": {
			in:   "STP1200010000001",
			want: identity.Code{Kind: identity.KindSTP, Value: "STP1200010000001"},
		},
		"STP code, lower case and spaced": {
			in:   "stp 120 001 0000001",
			want: identity.Code{Kind: identity.KindSTP, Value: "STP1200010000001"},
		},
		"ENI code": {
			in:   "ENI-090-204-1234567",
			want: identity.Code{Kind: identity.KindENI, Value: "ENI0902041234567"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := identity.ParseWith(tc.in, places)
			if err != nil {
				t.Fatalf("ParseWith: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseWith (-want +got):\n%s", diff)
			}
			// Without a lookup the place is never known.
			plain, err := identity.Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want
			want.PlaceKnown, want.PlaceName = false, ""
			if diff := cmp.Diff(want, plain); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
			// Forcing the detected kind gives the same result.
			forced, err := identity.ParseKind(tc.want.Kind, tc.in)
			if err != nil {
				t.Fatalf("ParseKind: %v", err)
			}
			if diff := cmp.Diff(want, forced); diff != "" {
				t.Errorf("ParseKind (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		kind identity.Kind // forced with ParseKind; empty: Parse
		in   string
		want string // the whole error message
		pos  int
	}{
		"empty": {
			in:   "  ",
			want: `personal identifier: is empty; accepted are a codice fiscale (16 characters), a provisional codice fiscale (11 digits) and STP/ENI codes ("STP" or "ENI" followed by 13 digits)`,
		},
		"too short": {
			in:   "RSSMRA85T10",
			want: `provisional codice fiscale: position 1: character "R" is not a digit`,
			pos:  1,
		},
		"no known length": {
			in:   "RSSMRA85T10A562",
			want: `personal identifier: has 15 characters; accepted are a codice fiscale (16 characters), a provisional codice fiscale (11 digits) and STP/ENI codes ("STP" or "ENI" followed by 13 digits)`,
		},
		"too long": {
			in:   "RSSMRA85T10A562SX",
			want: `personal identifier: has 17 characters; accepted are a codice fiscale (16 characters), a provisional codice fiscale (11 digits) and STP/ENI codes ("STP" or "ENI" followed by 13 digits)`,
		},
		"invalid UTF-8 in the middle": {
			in:   "RSS\xc3MRA85T10A562",
			want: `codice fiscale: position 4: byte 0xc3 is not valid UTF-8 text; check the source's character encoding`,
			pos:  4,
		},
		"non-ASCII letter": {
			in:   "RSSMRÀ85T10A562S",
			want: `codice fiscale: position 6: character "À" is not a letter or a digit`,
			pos:  6,
		},
		"punctuation": {
			in:   "RSSMRA85T10.562S",
			want: `codice fiscale: position 12: character "." is not a letter or a digit`,
			pos:  12,
		},
		"invalid UTF-8": {
			in:   "RSSMRA85T10A562\xff",
			want: `codice fiscale: position 16: byte 0xff is not valid UTF-8 text; check the source's character encoding`,
			pos:  16,
		},
		"digit in the name part": {
			in:   "RSS4RA85T10A562S",
			want: `codice fiscale: position 4: character "4" is not a letter (positions 1–6 encode surname and name)`,
			pos:  4,
		},
		"year, position 7": {
			in:   "RSSMRAA5T10A562S",
			want: `codice fiscale: position 7: year character "A" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  7,
		},
		"year, position 8": {
			in:   "RSSMRA8KT10A562S",
			want: `codice fiscale: position 8: year character "K" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  8,
		},
		"month letter": {
			in:   "RSSMRA85X10A562S",
			want: `codice fiscale: position 9: month letter "X" is not one of A B C D E H L M P R S T`,
			pos:  9,
		},
		"month digit": {
			in:   "RSSMRA85110A562S",
			want: `codice fiscale: position 9: month letter "1" is not one of A B C D E H L M P R S T`,
			pos:  9,
		},
		"day, position 10": {
			in:   "RSSMRA85TA0A562S",
			want: `codice fiscale: position 10: day character "A" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  10,
		},
		"day, position 11": {
			in:   "RSSMRA85T1WA562S",
			want: `codice fiscale: position 11: day character "W" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  11,
		},
		"day 00": {
			in:   "RSSMRA85T00A562S",
			want: `codice fiscale: position 10: day 00 is not 01–31 (men) or 41–71 (women)`,
			pos:  10,
		},
		"day 35": {
			in:   "RSSMRA85T35A562S",
			want: `codice fiscale: position 10: day 35 is not 01–31 (men) or 41–71 (women)`,
			pos:  10,
		},
		"day 40": {
			in:   "RSSMRA85T40A562S",
			want: `codice fiscale: position 10: day 40 is not 01–31 (men) or 41–71 (women)`,
			pos:  10,
		},
		"day 72": {
			in:   "RSSMRA85T72A562S",
			want: `codice fiscale: position 10: day 72 is not 01–31 (men) or 41–71 (women)`,
			pos:  10,
		},
		"day 99 through omocodia": {
			in:   "RSSMRA85TVVA562S",
			want: `codice fiscale: position 10: day 99 is not 01–31 (men) or 41–71 (women)`,
			pos:  10,
		},
		"30 February": {
			in:   "RSSMRA85B30A562S",
			want: `codice fiscale: position 10: day 30 does not exist in February`,
			pos:  10,
		},
		"30 February, a woman": {
			in:   "RSSMRA85B70A562S",
			want: `codice fiscale: position 10: day 30 does not exist in February`,
			pos:  10,
		},
		"31 April": {
			in:   "RSSMRA85D31A562S",
			want: `codice fiscale: position 10: day 31 does not exist in April`,
			pos:  10,
		},
		"31 November through omocodia": {
			in:   "RSSMRA85SPMA562S",
			want: `codice fiscale: position 10: day 31 does not exist in November`,
			pos:  10,
		},
		"place letter": {
			in:   "RSSMRA85T101562S",
			want: `codice fiscale: position 12: place character "1" is not a letter (positions 12–15 are a cadastral code such as H501)`,
			pos:  12,
		},
		"place digit, position 13": {
			in:   "RSSMRA85T10AA62S",
			want: `codice fiscale: position 13: place character "A" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  13,
		},
		"place digit, position 15": {
			in:   "RSSMRA85T10A56ZS",
			want: `codice fiscale: position 15: place character "Z" is not a digit or an omocodia letter (L M N P Q R S T U V)`,
			pos:  15,
		},
		"check character not a letter": {
			in:   "RSSMRA85T10A5621",
			want: `codice fiscale: position 16: check character "1" is not a letter`,
			pos:  16,
		},
		"check character wrong": {
			in:   "RSSMRA85T10A562K",
			want: `codice fiscale: position 16: check character is "K" but the other 15 characters give "S"; one of them is probably mistyped`,
			pos:  16,
		},
		"typo in the name": {
			in:   "RSSMRB85T10A562S",
			want: `codice fiscale: position 16: check character is "S" but the other 15 characters give "T"; one of them is probably mistyped`,
			pos:  16,
		},
		"omocodia undone keeps the old check letter": {
			in:   "RSSMRA85T10A562H",
			want: `codice fiscale: position 16: check character is "H" but the other 15 characters give "S"; one of them is probably mistyped`,
			pos:  16,
		},
		"provisional with a letter": {
			in:   "007431A0157",
			want: `provisional codice fiscale: position 7: character "A" is not a digit`,
			pos:  7,
		},
		"provisional with a wrong check digit": {
			in:   "00743110158",
			want: `provisional codice fiscale: position 11: check digit is "8" but the first 10 digits give "7"; one of them is probably mistyped`,
			pos:  11,
		},
		"provisional with swapped digits": {
			in:   "07043110157",
			want: `provisional codice fiscale: position 11: check digit is "7" but the first 10 digits give "9"; one of them is probably mistyped`,
			pos:  11,
		},
		"provisional with punctuation": {
			in:   "00743.10157",
			want: `provisional codice fiscale: position 6: character "." is not a letter or a digit`,
			pos:  6,
		},
		"STP with a letter among the digits": {
			in:   "STP120001000000X",
			want: `STP code: position 16: character "X" is not a digit ("STP" is followed by 13 digits)`,
			pos:  16,
		},
		"ENI with a letter among the digits": {
			in:   "ENI1200O10000001",
			want: `ENI code: position 8: character "O" is not a digit ("ENI" is followed by 13 digits)`,
			pos:  8,
		},
		"forced STP, wrong prefix": {
			kind: identity.KindSTP,
			in:   "ENI1200010000001",
			want: `STP code: position 1: an STP code starts with "STP"`,
			pos:  1,
		},
		"forced ENI, wrong length": {
			kind: identity.KindENI,
			in:   "ENI120001000000",
			want: `ENI code: has 15 characters, expected 16: "ENI" followed by 13 digits`,
		},
		"forced codice fiscale, given a provisional code": {
			kind: identity.KindCF,
			in:   "00743110157",
			want: `codice fiscale: has 11 characters, expected 16`,
		},
		"forced provisional, given a codice fiscale": {
			kind: identity.KindProvisional,
			in:   "RSSMRA85T10A562S",
			want: `provisional codice fiscale: has 16 characters, expected 11 digits`,
		},
		"forced codice fiscale, given an STP code": {
			kind: identity.KindCF,
			in:   "STP1200010000001",
			want: `codice fiscale: position 4: character "1" is not a letter (positions 1–6 encode surname and name)`,
			pos:  4,
		},
		"unknown kind": {
			kind: "ssn",
			in:   "RSSMRA85T10A562S",
			want: `personal identifier: unknown identifier kind "ssn"; use "cf", "cf-provisional", "stp" or "eni"`,
		},
		"an identifier passed as the kind is not shown": {
			kind: "rssmra85t10a562s",
			in:   "RSSMRA85T10A562S",
			want: `personal identifier: unknown identifier kind (not shown); use "cf", "cf-provisional", "stp" or "eni"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.kind == "" {
				_, err = identity.Parse(tc.in)
			} else {
				_, err = identity.ParseKind(tc.kind, tc.in)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			var ie *identity.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not *InvalidError", err)
			}
			if ie.Position != tc.pos {
				t.Errorf("Position = %d, want %d", ie.Position, tc.pos)
			}
			if n := identity.Normalise(tc.in); len(n) >= 11 && strings.Contains(err.Error(), n) {
				t.Errorf("message contains the identifier")
			}
		})
	}
}

func TestNormalise(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
	}{
		"already normal":          {"RSSMRA85T10A562S", "RSSMRA85T10A562S"},
		"lower case":              {"rssmra85t10a562s", "RSSMRA85T10A562S"},
		"trimmed and inner space": {"  RSS MRA 85T10 A562S\n", "RSSMRA85T10A562S"},
		"hyphens and tabs":        {"RSS-MRA\t85T10-A562S", "RSSMRA85T10A562S"},
		"unicode spaces dropped":  {"\u00a0RSS\u2003MRA85T10A562S\u3000", "RSSMRA85T10A562S"},
		"only ASCII is upper-cased, others kept for validation to refuse": {"rssmrà", "RSSMRà"},
		"long s is not turned into S":                                     {"ſ", "ſ"},
		"other punctuation kept":                                          {"a.b/c", "A.B/C"},
		"empty":                                                           {"", ""},
		"only separators":                                                 {" - \t", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := identity.Normalise(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Normalise (-want +got):\n%s", diff)
			}
			if again := identity.Normalise(got); again != got {
				t.Errorf("Normalise is not idempotent")
			}
		})
	}
}

func TestIsCodiceFiscale(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in   string
		want bool
	}{
		"valid":            {"RSSMRA85T10A562S", true},
		"valid, spaced":    {"rss mra 85t10 a562s", true},
		"omocodic":         {"RSSMRA85T10A56NH", true},
		"wrong check":      {"RSSMRA85T10A562T", false},
		"provisional code": {"00743110157", false},
		"STP code":         {"STP1200010000001", false},
		"empty":            {"", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := identity.IsCodiceFiscale(tc.in); got != tc.want {
				t.Errorf("IsCodiceFiscale = %v, want %v", got, tc.want)
			}
		})
	}
}
