package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// dateFormat is a date layout written the way spreadsheets users know it:
// dd/mm/yyyy, dd/mm/yyyy HH:MI, yyyy-mm-ddTHH:MI:SSTZ.
type dateFormat struct {
	text  string
	items []dateItem
	has   map[string]bool
}

type dateItem struct {
	tok string // a token, or "" for a literal
	lit string
}

// dateTokens are the tokens of a date format, longest first.
var dateTokens = [...]string{"yyyy", "mm", "dd", "HH", "MI", "SS", "TZ"}

const dateTokenHelp = "use yyyy (year), mm (month), dd (day), HH (hour, 00-23), MI (minutes), SS (seconds) and TZ (an offset such as +01:00 or Z); any other character is written as it is"

func parseDateFormat(s string) (dateFormat, error) {
	f := dateFormat{text: s, has: map[string]bool{}}
	for i := 0; i < len(s); {
		matched := ""
		for _, t := range dateTokens {
			if strings.HasPrefix(s[i:], t) {
				matched = t
				break
			}
		}
		if matched != "" {
			if f.has[matched] {
				msg := fmt.Sprintf("%q appears twice in date format %q", matched, s)
				if matched == "mm" {
					msg += ": mm is the month; write minutes as MI"
				}
				return f, errors.New(msg)
			}
			f.has[matched] = true
			f.items = append(f.items, dateItem{tok: matched})
			i += len(matched)
			continue
		}
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			if c == 'T' {
				f.items = append(f.items, dateItem{lit: "T"})
				i++
				continue
			}
			j := i
			for j < len(s) && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')) {
				j++
			}
			msg := fmt.Sprintf("%q in date format %q is not a token: %s", s[i:j], s, dateTokenHelp)
			switch s[i:j] {
			case "MM":
				msg = fmt.Sprintf("\"MM\" in date format %q is not a token: write the month as mm and minutes as MI", s)
			case "YYYY", "DD", "AAAA", "GG":
				msg = fmt.Sprintf("%q in date format %q is not a token: write yyyy for the year and dd for the day (lower case)", s[i:j], s)
			case "hh":
				msg = fmt.Sprintf("\"hh\" in date format %q is not a token: write the hour as HH (00-23)", s)
			}
			return f, errors.New(msg)
		}
		if len(f.items) > 0 && f.items[len(f.items)-1].tok == "" {
			f.items[len(f.items)-1].lit += string(c)
		} else {
			f.items = append(f.items, dateItem{lit: string(c)})
		}
		i++
	}
	switch {
	case !f.has["yyyy"]:
		return f, fmt.Errorf("date format %q has no year: %s", s, dateTokenHelp)
	case f.has["dd"] && !f.has["mm"]:
		return f, fmt.Errorf("date format %q has a day but no month (mm)", s)
	case (f.has["MI"] || f.has["SS"]) && !f.has["HH"]:
		return f, fmt.Errorf("date format %q has minutes or seconds but no hour (HH)", s)
	case f.has["SS"] && !f.has["MI"]:
		return f, fmt.Errorf("date format %q has seconds but no minutes (MI)", s)
	}
	return f, nil
}

func mustDateFormats(texts ...string) []dateFormat {
	out := make([]dateFormat, len(texts))
	for i, t := range texts {
		f, err := parseDateFormat(t)
		if err != nil {
			panic(err)
		}
		out[i] = f
	}
	return out
}

// defaultFormats are tried when a field of a date type names no format.
func defaultFormats(typ string) []dateFormat {
	switch typ {
	case typeDateTime:
		return mustDateFormats("yyyy-mm-ddTHH:MI:SSTZ", "yyyy-mm-ddTHH:MI:SS", "yyyy-mm-dd HH:MI:SS", "yyyy-mm-ddTHH:MI", "yyyy-mm-dd HH:MI")
	case typeYear:
		return mustDateFormats("yyyy", "yyyy-mm-dd")
	case typeYearMonth:
		return mustDateFormats("yyyy-mm", "yyyy-mm-dd")
	}
	return mustDateFormats("yyyy-mm-dd", "yyyy-mm-ddTHH:MI:SSTZ", "yyyy-mm-ddTHH:MI:SS", "yyyy-mm-dd HH:MI:SS")
}

// dateValue is what a date format read.
type dateValue struct {
	year, month, day     int
	hour, minute, second int
	nanos                int
	hasOffset            bool
	offset               int // seconds east of UTC
}

// parse reads s in format f; ok is false when s does not follow it or is
// not a real date.
func (f dateFormat) parse(s string) (dateValue, bool) {
	v := dateValue{month: 1, day: 1}
	i := 0
	digits := func(minN, maxN int) (int, bool) {
		j := i
		for j < len(s) && j-i < maxN && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i < minN {
			return 0, false
		}
		n, err := strconv.Atoi(s[i:j])
		i = j
		return n, err == nil
	}
	for _, it := range f.items {
		var ok bool
		switch it.tok {
		case "":
			if !strings.HasPrefix(s[i:], it.lit) {
				return v, false
			}
			i += len(it.lit)
			ok = true
		case "yyyy":
			v.year, ok = digits(4, 4)
		case "mm":
			v.month, ok = digits(1, 2)
		case "dd":
			v.day, ok = digits(1, 2)
		case "HH":
			v.hour, ok = digits(1, 2)
		case "MI":
			v.minute, ok = digits(2, 2)
		case "SS":
			v.second, ok = digits(2, 2)
			if ok && i < len(s) && (s[i] == '.' || s[i] == ',') {
				j := i + 1
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				if j == i+1 {
					return v, false
				}
				frac := s[i+1 : j]
				if len(frac) > 9 {
					frac = frac[:9]
				}
				n, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
				v.nanos = n
				i = j
			}
		case "TZ":
			v.offset, ok = parseOffset(s, &i)
			v.hasOffset = ok
		}
		if !ok {
			return v, false
		}
	}
	if i != len(s) {
		return v, false
	}
	if v.month < 1 || v.month > 12 || v.day < 1 || v.hour > 23 || v.minute > 59 || v.second > 59 {
		return v, false
	}
	t := time.Date(v.year, time.Month(v.month), v.day, 0, 0, 0, 0, time.UTC)
	if t.Day() != v.day || int(t.Month()) != v.month {
		return v, false // 31/02
	}
	return v, true
}

func parseOffset(s string, i *int) (int, bool) {
	if *i >= len(s) {
		return 0, false
	}
	if s[*i] == 'Z' || s[*i] == 'z' {
		*i++
		return 0, true
	}
	sign := 1
	switch s[*i] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, false
	}
	rest := s[*i+1:]
	var hh, mm int
	var n int
	switch {
	case len(rest) >= 5 && rest[2] == ':' && allDigits(rest[:2]) && allDigits(rest[3:5]):
		hh, _ = strconv.Atoi(rest[:2])
		mm, _ = strconv.Atoi(rest[3:5])
		n = 5
	case len(rest) >= 4 && allDigits(rest[:4]):
		hh, _ = strconv.Atoi(rest[:2])
		mm, _ = strconv.Atoi(rest[2:4])
		n = 4
	case len(rest) >= 2 && allDigits(rest[:2]):
		hh, _ = strconv.Atoi(rest[:2])
		n = 2
	default:
		return 0, false
	}
	if hh > 23 || mm > 59 {
		return 0, false
	}
	*i += 1 + n
	return sign * (hh*3600 + mm*60), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// readDate tries each format in turn.
func readDate(formats []dateFormat, s string) (dateValue, *dateFormat, bool) {
	for i := range formats {
		if v, ok := formats[i].parse(s); ok {
			return v, &formats[i], true
		}
	}
	return dateValue{}, nil, false
}

// timeIn turns a date-time read without an offset into an instant in loc;
// with an offset, the offset wins.
func (v dateValue) timeIn(loc *time.Location) time.Time {
	if v.hasOffset {
		loc = time.FixedZone("", v.offset)
	}
	return time.Date(v.year, time.Month(v.month), v.day, v.hour, v.minute, v.second, v.nanos, loc)
}

// serialDates says whether a file stores dates as spreadsheet serial
// numbers, and from which epoch.
type serialDates uint8

const (
	noSerials   serialDates = iota
	serials1900             // days since 1899-12-30 (the usual)
	serials1904             // days since 1904-01-01 (old Mac workbooks)
)

// excelSerial reads a spreadsheet date serial (days since the epoch, with
// the time of day as a fraction), as XLSX files store dates.
func excelSerial(s string, date1904 bool) (dateValue, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 || f > 2958465 {
		return dateValue{}, false
	}
	t, err := excelize.ExcelDateToTime(f, date1904)
	if err != nil {
		return dateValue{}, false
	}
	t = t.Round(time.Second)
	return dateValue{year: t.Year(), month: int(t.Month()), day: t.Day(), hour: t.Hour(), minute: t.Minute(), second: t.Second()}, true
}

func (v dateValue) date() string {
	return fmt.Sprintf("%04d-%02d-%02d", v.year, v.month, v.day)
}
