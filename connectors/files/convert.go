package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// row is one row of a file, by column name.
type row interface {
	// get returns the text of a column ("" when the cell is empty or the
	// key is absent).
	get(col string) string
}

// tableRow is a row of a CSV or XLSX file.
type tableRow struct {
	index map[string]int
	cells []string
}

func (r tableRow) get(col string) string {
	i, ok := r.index[col]
	if !ok || i >= len(r.cells) {
		return ""
	}
	return r.cells[i]
}

// jsonRow is a line of a JSON Lines file. A column is a top-level key, or
// a JSON pointer (/nucleo/id) into the line.
type jsonRow struct {
	obj map[string]any
}

func (r jsonRow) get(col string) string {
	var v any
	var ok bool
	if strings.HasPrefix(col, "/") {
		toks, err := splitPointer(col)
		if err != nil {
			return ""
		}
		var cur any = r.obj
		for _, t := range toks {
			switch c := cur.(type) {
			case map[string]any:
				cur, ok = c[t]
			case []any:
				i, err := strconv.Atoi(t)
				ok = err == nil && i >= 0 && i < len(c)
				if ok {
					cur = c[i]
				}
			default:
				ok = false
			}
			if !ok {
				return ""
			}
		}
		v = cur
	} else {
		v, ok = r.obj[col]
		if !ok {
			return ""
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// rowError is why a row is skipped. Its reason names columns and rules,
// never the values of cells, which may be personal.
type rowError struct {
	reason string
}

func (e *rowError) Error() string { return e.reason }

func rowErrorf(format string, args ...any) *rowError {
	return &rowError{reason: fmt.Sprintf(format, args...)}
}

// text reads a source from a row: a column, or a template whose columns
// are all filled ("" if one is empty).
func (s source) text(r row, empty map[string]bool) string {
	if s.column != "" {
		return cell(r, s.column, empty)
	}
	var b strings.Builder
	for _, p := range s.template {
		if p.col == "" {
			b.WriteString(p.lit)
			continue
		}
		v := cell(r, p.col, empty)
		if v == "" {
			return ""
		}
		b.WriteString(v)
	}
	return b.String()
}

func (s source) describe() string {
	if s.column != "" {
		return "column " + strconv.Quote(s.column)
	}
	var cols []string
	for _, p := range s.template {
		if p.col != "" {
			cols = append(cols, strconv.Quote(p.col))
		}
	}
	return "template of columns " + strings.Join(cols, ", ")
}

// cell is a column's trimmed text, "" for an empty value.
func cell(r row, col string, empty map[string]bool) string {
	v := strings.TrimSpace(r.get(col))
	if v == "" || (len(empty) > 0 && empty[fold(v)]) {
		return ""
	}
	return v
}

// envelope is what the connector puts in every record.
type envelope struct {
	source     string
	territory  string
	recordedAt string      // when no column says
	serial     serialDates // how the file stores dates as numbers (XLSX)
}

var (
	recordIDPattern = regexp.MustCompile(`^[!-~]{1,128}$`)
	cfShape         = regexp.MustCompile(`^[A-Za-z]{6}[0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{2}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{3}[A-Za-z]$`)
)

// record turns a row into a record, or says why the row is malformed.
func (fm *fileMapping) record(r row, env envelope) (map[string]any, *rowError) {
	id := fm.recordID.text(r, fm.empty)
	switch {
	case id == "":
		return nil, rowErrorf("the record id (%s) is empty", fm.recordID.describe())
	case !recordIDPattern.MatchString(id):
		return nil, rowErrorf("the record id (%s) must be 1 to 128 printable ASCII characters without spaces", fm.recordID.describe())
	case cfShape.MatchString(id):
		return nil, rowErrorf("the record id (%s) looks like a codice fiscale: record ids are kept as they are, so use the source's own record number", fm.recordID.describe())
	}
	rec := map[string]any{}
	for _, c := range fm.constants {
		setIn(rec, c.toks, c.containers, c.constant)
	}
	for _, f := range fm.fields {
		v, set, err := f.value(r, fm.empty, env.serial)
		if err != nil {
			return nil, err
		}
		if !set {
			continue
		}
		toks := f.toks
		if f.typ == typeIdentifier && f.idKind == "" {
			id := v.(identifier)
			toks, v = append(append([]string(nil), toks...), id.kind), id.value
		} else if id, ok := v.(identifier); ok {
			v = id.value
		}
		containers := f.containers
		if len(containers) < len(toks) {
			containers = append(append([]string(nil), containers...), "object")
		}
		setIn(rec, toks, containers, v)
	}
	if fm.indexed {
		compact(rec)
	}
	rec["schema"] = fm.schema
	rec["record_id"] = id
	rec["source"] = env.source
	if _, ok := rec["territory"]; !ok {
		rec["territory"] = env.territory
	}
	rec["recorded_at"] = env.recordedAt
	if fm.recordedAt != nil {
		v, set, err := fm.recordedAt.value(r, fm.empty, env.serial)
		if err != nil {
			return nil, err
		}
		if set {
			rec["recorded_at"] = v
		}
	}
	return rec, nil
}

// identifier is a normalised personal identifier and its kind.
type identifier struct {
	kind, value string
}

// value converts a field's cell; set is false when the cell is empty (or
// everything in it was omitted).
func (f *field) value(r row, empty map[string]bool, serial serialDates) (any, bool, *rowError) {
	text := f.src.text(r, empty)
	if text == "" {
		return nil, false, nil
	}
	if !f.array {
		return f.convert(text, serial)
	}
	parts := []string{text}
	if f.split != "" {
		parts = strings.Split(text, f.split)
	}
	var out []any
	seen := map[string]bool{}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" || empty[fold(p)] {
			continue
		}
		v, set, err := f.convert(p, serial)
		if err != nil {
			return nil, false, err
		}
		if !set {
			continue
		}
		key, _ := json.Marshal(v)
		if seen[string(key)] {
			continue // lists of the shared schemas hold each item once
		}
		seen[string(key)] = true
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, false, nil
	}
	return out, true, nil
}

func (f *field) convert(text string, serial serialDates) (any, bool, *rowError) {
	if f.codes != nil {
		code, ok := f.codes[fold(text)]
		switch {
		case ok:
			text = code
		case f.def != nil:
			text = *f.def
		case f.unknown == "omit":
			return nil, false, nil
		case f.unknown == "keep":
		default:
			return nil, false, rowErrorf("%s: the value is not in the translation table of %s (add it to codes, or set default or unknown)", f.src.describe(), f.to)
		}
	}
	v, err := f.convertType(text, serial)
	if err != nil {
		return nil, false, err
	}
	if f.system != "" {
		v = map[string]any{"system": f.system, "code": v}
	}
	return v, true, nil
}

func (f *field) convertType(text string, serial serialDates) (any, *rowError) {
	bad := func(what string) *rowError {
		return rowErrorf("%s: %s, for %s", f.src.describe(), what, f.to)
	}
	switch f.typ {
	case typeInteger:
		n, ok := parseNumber(text)
		if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return nil, bad("not a whole number")
		}
		return int64(n), nil
	case typeNumber:
		n, ok := parseNumber(text)
		if !ok {
			return nil, bad("not a number (write 12.5 or 12,5)")
		}
		return json.Number(strconv.FormatFloat(n, 'f', -1, 64)), nil
	case typeBoolean:
		b, ok := parseBool(text)
		if !ok {
			return nil, bad("not a yes/no value (si, no, s, n, true, false, 1, 0)")
		}
		return b, nil
	case typeDate, typeDateTime, typeYear, typeYearMonth:
		v, ok := f.readDate(text, serial)
		if !ok {
			return nil, bad("not a date in the format " + formatList(f.formats))
		}
		switch f.typ {
		case typeDate:
			return v.date(), nil
		case typeYear:
			return int64(v.year), nil
		case typeYearMonth:
			return fmt.Sprintf("%04d-%02d", v.year, v.month), nil
		}
		return v.timeIn(f.loc).Format(time.RFC3339Nano), nil
	case typeIdentifier:
		id := normaliseIdentifier(text)
		if id == "" {
			return nil, bad("an empty identifier")
		}
		kind := f.idKind
		if kind == "" {
			kind = identifierKind(id)
		}
		return identifier{kind: kind, value: id}, nil
	case typeJSON:
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil || dec.More() {
			return nil, bad("not valid JSON")
		}
		return v, nil
	}
	return text, nil
}

func (f *field) readDate(text string, serial serialDates) (dateValue, bool) {
	if v, _, ok := readDate(f.formats, text); ok {
		return v, true
	}
	if serial != noSerials {
		return excelSerial(text, serial == serials1904)
	}
	return dateValue{}, false
}

func formatList(fs []dateFormat) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.text
	}
	return strings.Join(out, " or ")
}

// parseNumber reads 12, -3, 12.5, 12,5 and 1.234,5 (Italian decimal comma
// with dots between thousands).
func parseNumber(s string) (float64, bool) {
	s = strings.ReplaceAll(s, " ", "")
	if strings.Contains(s, ",") {
		if strings.Count(s, ",") > 1 {
			return 0, false
		}
		s = strings.ReplaceAll(s, ".", "")
		s = strings.Replace(s, ",", ".", 1)
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// parseBool reads yes/no values as Italian exports write them.
func parseBool(s string) (bool, bool) {
	switch fold(s) {
	case "si", "sì", "s", "yes", "y", "true", "vero", "1", "x":
		return true, true
	case "no", "n", "false", "falso", "0":
		return false, true
	}
	return false, false
}

// normaliseIdentifier drops white space (inside too) and hyphens and
// upper-cases ASCII letters, as the hub does; other characters are kept
// for the hub to refuse. It does not check the identifier: that is the
// hub's job (an invalid one is quarantined, never dropped).
func normaliseIdentifier(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '-' || unicode.IsSpace(r):
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// identifierKind tells an identifier's kind by its shape, as the hub does:
// 11 characters are a provisional codice fiscale; STP and ENI codes are
// STP or ENI and 13 digits (a codice fiscale always has a letter fourth,
// so STPPLA… is a codice fiscale); anything else is a codice fiscale,
// which the hub checks.
func identifierKind(id string) string {
	switch n := utf8.RuneCountInString(id); {
	case n == 11:
		return "cf-provisional"
	case n == 16 && id[3] >= '0' && id[3] <= '9' && strings.HasPrefix(id, "STP"):
		return "stp"
	case n == 16 && id[3] >= '0' && id[3] <= '9' && strings.HasPrefix(id, "ENI"):
		return "eni"
	}
	return "cf"
}

// setIn sets v at toks in cur, making objects and lists on the way as
// kinds says (kinds[i] is what toks[:i] is).
func setIn(cur any, toks, kinds []string, v any) any {
	if len(toks) == 0 {
		return v
	}
	tok := toks[0]
	if kinds[0] == "array" {
		arr, _ := cur.([]any)
		i := len(arr)
		if tok != "-" {
			i, _ = strconv.Atoi(tok)
		}
		for len(arr) <= i {
			arr = append(arr, nil)
		}
		arr[i] = setIn(arr[i], toks[1:], kinds[1:], v)
		return arr
	}
	obj, ok := cur.(map[string]any)
	if !ok {
		obj = map[string]any{}
	}
	obj[tok] = setIn(obj[tok], toks[1:], kinds[1:], v)
	return obj
}

// compact drops the holes that indexed list items left empty.
func compact(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch e.(type) {
			case []any:
				x[k] = compact(e)
			case map[string]any:
				compact(e)
			}
		}
		return x
	case []any:
		out := x[:0]
		for _, e := range x {
			if e != nil {
				out = append(out, compact(e))
			}
		}
		return out
	}
	return v
}
