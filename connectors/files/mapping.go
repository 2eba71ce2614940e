package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

//go:embed mapping.schema.json
var mappingSchemaJSON string

const mappingSchemaID = "https://snodo-hub.github.io/connectors/files/mapping/1.0.0"

// The conversions a field may ask for.
const (
	typeString     = "string"
	typeInteger    = "integer"
	typeNumber     = "number"
	typeBoolean    = "boolean"
	typeDate       = "date"
	typeDateTime   = "date-time"
	typeYear       = "year"
	typeYearMonth  = "year-month"
	typeIdentifier = "identifier"
	typeJSON       = "json"
)

// The formats of the files the connector reads.
const (
	formatCSV   = "csv"
	formatJSONL = "jsonl"
	formatXLSX  = "xlsx"
)

// identifierKinds are the identifiers a person reference may hold.
var identifierKinds = map[string]bool{"cf": true, "cf-provisional": true, "stp": true, "eni": true}

// reserved are the envelope fields the connector fills itself.
var reserved = map[string]string{
	"schema":      "it is the file mapping's schema",
	"record_id":   "use the file mapping's record_id",
	"source":      "it is the settings' source",
	"recorded_at": "use the file mapping's recorded_at",
}

// mapping is a checked, compiled mapping file.
type mapping struct {
	path  string
	files []*fileMapping
}

// fileMapping says how the rows of the files matching pattern become
// records of one schema.
type fileMapping struct {
	index      int
	at         string // FILE:LINE:COLUMN of the file mapping, for messages
	pattern    string
	schema     string
	format     string
	delimiter  rune
	encoding   string
	lazyQuotes bool
	sheet      string
	skipRows   int
	header     bool
	columns    []string
	empty      map[string]bool
	loc        *time.Location
	recordID   source
	recordedAt *field
	constants  []*field
	fields     []*field
	indexed    bool // a field writes a list item by index: records need compacting
}

// source is where a text comes from: a column or a template of columns.
type source struct {
	column   string
	template []templatePart
}

type templatePart struct {
	lit, col string
}

// field is one compiled field mapping (or constant).
type field struct {
	ptr        string // where the field mapping is in the mapping file
	at         string
	to         string
	toks       []string
	containers []string
	src        source
	constant   any
	isConst    bool
	typ        string
	formats    []dateFormat
	loc        *time.Location
	codes      map[string]string // folded source value → target text
	def        *string
	unknown    string
	system     string
	split      string
	optional   bool
	idKind     string // for identifiers: cf, cf-provisional, stp, eni, or "" to tell by shape
	array      bool   // the target is a list: the value is a list of items
}

// mappingDefaults are the settings a mapping falls back on.
type mappingDefaults struct {
	loc      *time.Location
	encoding string
}

// loadMapping reads, validates and compiles a mapping file.
func loadMapping(file string, c *contract, d mappingDefaults) (*mapping, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("the mapping file %s does not exist: write one (see mapping.example.yaml) or fix the mapping setting", file)
		}
		return nil, fmt.Errorf("read the mapping file: %w", err)
	}
	return parseMapping(file, data, c, d)
}

// parseMapping validates and compiles mapping data read from file.
func parseMapping(file string, data []byte, c *contract, d mappingDefaults) (*mapping, error) {
	root, err := yamldoc.Parse(file, data)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, &yamldoc.Error{Problems: []yamldoc.Problem{{File: file, Line: 1, Column: 1, Message: "the mapping file is empty: expected version: 1 and a list of files"}}}
	}
	value, err := yamldoc.ToJSON(file, root)
	if err != nil {
		return nil, err
	}
	if problems := validateMapping(file, root, value); len(problems) > 0 {
		return nil, &yamldoc.Error{Problems: problems}
	}
	b := &mappingBuilder{file: file, root: root, c: c, d: d}
	m := b.build(value.(map[string]any))
	if len(b.problems) > 0 {
		yamldoc.Sort(b.problems)
		return nil, &yamldoc.Error{Problems: b.problems}
	}
	return m, nil
}

func compileMappingSchema() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(mappingSchemaID, strings.NewReader(mappingSchemaJSON)); err != nil {
		return nil, err
	}
	return c.Compile(mappingSchemaID)
}

// validateMapping checks the mapping against its JSON Schema and says
// where each problem is and what was expected.
func validateMapping(file string, root *yaml.Node, value any) []yamldoc.Problem {
	s, err := compileMappingSchema()
	if err != nil {
		panic("files connector: the embedded mapping schema does not compile: " + err.Error())
	}
	err = s.Validate(value)
	if err == nil {
		return nil
	}
	var schemaDoc map[string]any
	_ = json.Unmarshal([]byte(mappingSchemaJSON), &schemaDoc)
	return yamldoc.SchemaProblems(file, root, err, func(p *yamldoc.Problem, v yamldoc.Violation) {
		describeViolation(p, v, schemaDoc)
	})
}

// describeViolation words a schema problem in the terms of the mapping
// file, with what the schema expected.
func describeViolation(p *yamldoc.Problem, v yamldoc.Violation, schemaDoc map[string]any) {
	e, val, kw := v.Err, v.Node, v.Keyword
	absLoc := e.AbsoluteKeywordLocation
	parent := schemaAt(schemaDoc, absLoc[:strings.LastIndex(absLoc, "/")])
	desc, _ := parent["description"].(string)
	switch kw {
	case "additionalProperties":
		props, _ := parent["properties"].(map[string]any)
		allowed := make([]string, 0, len(props))
		for k := range props {
			allowed = append(allowed, k)
		}
		sort.Strings(allowed)
		for i := 0; i+1 < len(val.Content); i += 2 {
			k := val.Content[i]
			if _, ok := props[k.Value]; !ok {
				p.Line, p.Column = k.Line, k.Column
				p.Pointer = strings.TrimSuffix(e.InstanceLocation, "/") + "/" + escapeToken(k.Value)
				p.Message = fmt.Sprintf("unknown key %q: check its spelling and indentation (allowed here: %s)", k.Value, strings.Join(allowed, ", "))
				break
			}
		}
	case "required":
		p.Message = strings.Replace(e.Message, "missing properties: ", "missing required key ", 1)
	case "oneOf", "anyOf":
		if keys := exclusiveKeys(parent, kw); keys != nil && val.Kind == yaml.MappingNode {
			var given []string
			for i := 0; i+1 < len(val.Content); i += 2 {
				for _, k := range keys {
					if val.Content[i].Value == k {
						given = append(given, k)
					}
				}
			}
			if len(given) == 0 {
				p.Message = fmt.Sprintf("missing %s: give one of them", strings.Join(keys, " or "))
			} else {
				p.Message = fmt.Sprintf("%s exclude each other: give only one of them", strings.Join(given, " and "))
			}
			break
		}
		if desc == "" {
			desc = "a value that fits one of the allowed forms"
		}
		p.Message = "expected " + desc
	case "not":
		p.Message = "default and unknown exclude each other: keep default (a code for values not in codes) or unknown (reject, omit or keep)"
	default:
		if desc != "" {
			p.Message += "; expected " + desc
		}
	}
}

// exclusiveKeys returns the keys of a oneOf whose branches each require
// one key (column or template), or nil.
func exclusiveKeys(parent map[string]any, kw string) []string {
	branches, _ := parent[kw].([]any)
	var keys []string
	for _, b := range branches {
		m, _ := b.(map[string]any)
		req, _ := m["required"].([]any)
		if len(m) != 1 || len(req) != 1 {
			return nil
		}
		k, _ := req[0].(string)
		keys = append(keys, k)
	}
	return keys
}

// schemaAt finds the sub-schema at an absolute keyword location.
func schemaAt(doc map[string]any, absLoc string) map[string]any {
	_, frag, _ := strings.Cut(absLoc, "#")
	var cur any = doc
	for _, tok := range strings.Split(strings.Trim(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		switch c := cur.(type) {
		case map[string]any:
			cur = c[unescapeToken(tok)]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

// mappingBuilder compiles a mapping that follows the mapping schema,
// collecting the problems the schema cannot see.
type mappingBuilder struct {
	file     string
	root     *yaml.Node
	c        *contract
	d        mappingDefaults
	problems []yamldoc.Problem
}

func (b *mappingBuilder) at(ptr string) string {
	n, _ := yamldoc.NodeAt(b.root, ptr)
	return fmt.Sprintf("%s:%d:%d", b.file, n.Line, n.Column)
}

func (b *mappingBuilder) fail(ptr, format string, args ...any) {
	n, _ := yamldoc.NodeAt(b.root, ptr)
	b.problems = append(b.problems, yamldoc.Problem{File: b.file, Line: n.Line, Column: n.Column, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

// failKey reports a problem at the key of ptr (for problems with a key
// itself, such as a constant's pointer).
func (b *mappingBuilder) failKey(ptr, format string, args ...any) {
	n, k := yamldoc.NodeAt(b.root, ptr)
	if k != nil {
		n = k
	}
	b.problems = append(b.problems, yamldoc.Problem{File: b.file, Line: n.Line, Column: n.Column, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
}

func (b *mappingBuilder) build(v map[string]any) *mapping {
	m := &mapping{path: b.file}
	files, _ := v["files"].([]any)
	patterns := map[string]int{}
	for i, f := range files {
		ptr := fmt.Sprintf("/files/%d", i)
		fm := b.file1(ptr, i, f.(map[string]any))
		if fm == nil {
			continue
		}
		if first, dup := patterns[fm.pattern]; dup {
			b.fail(ptr+"/pattern", "pattern %q is already used by /files/%d: a file is read by the first mapping it matches, so this one would never be used", fm.pattern, first)
		}
		patterns[fm.pattern] = i
		m.files = append(m.files, fm)
	}
	return m
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func (b *mappingBuilder) file1(ptr string, index int, v map[string]any) *fileMapping {
	fm := &fileMapping{index: index, at: b.at(ptr), pattern: str(v, "pattern"), header: true, empty: map[string]bool{}}
	before := len(b.problems)

	// Pattern: relative, inside the folder, a valid glob.
	switch {
	case strings.Contains(fm.pattern, "\\"):
		b.fail(ptr+"/pattern", "write the pattern with / between folders, not \\")
	case strings.HasPrefix(fm.pattern, "/") || (len(fm.pattern) > 1 && fm.pattern[1] == ':'):
		b.fail(ptr+"/pattern", "the pattern must be relative to the folder (no leading /): files outside the folder are never read")
	case containsDotDot(fm.pattern):
		b.fail(ptr+"/pattern", "the pattern must not contain ..: files outside the folder are never read")
	default:
		if _, err := path.Match(fm.pattern, ""); err != nil {
			b.fail(ptr+"/pattern", "not a valid glob: %v (use * ? and [a-z])", err)
		}
	}

	// Schema.
	id, ok := b.c.schemaID(str(v, "schema"))
	if !ok {
		b.fail(ptr+"/schema", "unknown schema: use the $id or the short name of one of %s", strings.Join(sortedKeys(b.c.nameSet()), ", "))
	}
	fm.schema = id

	// Format.
	fm.format = str(v, "format")
	if fm.format == "" {
		switch strings.ToLower(path.Ext(fm.pattern)) {
		case ".csv", ".tsv", ".txt":
			fm.format = formatCSV
		case ".jsonl", ".ndjson":
			fm.format = formatJSONL
		case ".xlsx":
			fm.format = formatXLSX
		default:
			b.fail(ptr+"/pattern", "cannot tell the format from the pattern's extension: add format: csv, jsonl or xlsx")
		}
	}
	only := func(key, format string) {
		if _, ok := v[key]; ok && fm.format != "" && fm.format != format {
			b.failKey(ptr+"/"+key, "%s applies to %s files only, and this mapping reads %s", key, format, fm.format)
		}
	}
	only("delimiter", formatCSV)
	only("encoding", formatCSV)
	only("lazy_quotes", formatCSV)
	only("sheet", formatXLSX)
	for _, k := range []string{"header", "columns", "skip_rows"} {
		if _, ok := v[k]; ok && fm.format == formatJSONL {
			b.failKey(ptr+"/"+k, "%s applies to CSV and XLSX files: JSON Lines files name their values in each line", k)
		}
	}

	fm.delimiter = ','
	if strings.EqualFold(path.Ext(fm.pattern), ".tsv") {
		fm.delimiter = '\t'
	}
	if d, ok := v["delimiter"].(string); ok {
		switch {
		case d == "tab" || d == "\\t":
			fm.delimiter = '\t'
		case utf8.RuneCountInString(d) == 1:
			r, _ := utf8.DecodeRuneInString(d)
			if r == '"' || r == '\r' || r == '\n' || r == utf8.RuneError {
				b.fail(ptr+"/delimiter", "the delimiter cannot be a quote, a line break or an invalid character")
			}
			fm.delimiter = r
		default:
			b.fail(ptr+"/delimiter", "the delimiter is one character (such as ; , or |) or the word tab")
		}
	}
	fm.encoding = canonicalEncoding(str(v, "encoding"))
	if fm.encoding == "" {
		fm.encoding = canonicalEncoding(b.d.encoding)
	}
	fm.lazyQuotes, _ = v["lazy_quotes"].(bool)
	fm.sheet = str(v, "sheet")
	if n, ok := v["skip_rows"].(json.Number); ok {
		i, _ := n.Int64()
		fm.skipRows = int(i)
	}
	if h, ok := v["header"].(bool); ok {
		fm.header = h
	}
	if cols, ok := v["columns"].([]any); ok {
		if fm.header {
			b.failKey(ptr+"/columns", "columns names the columns of a file without a header row: add header: false, or remove columns to use the header")
		}
		seen := map[string]bool{}
		for i, c := range cols {
			name := strings.TrimSpace(c.(string))
			if seen[name] {
				b.fail(fmt.Sprintf("%s/columns/%d", ptr, i), "column %q is named twice", name)
			}
			seen[name] = true
			fm.columns = append(fm.columns, name)
		}
	} else if !fm.header && fm.format != formatJSONL {
		b.failKey(ptr+"/header", "a file without a header row needs columns: the list of its column names, in order")
	}
	if ev, ok := v["empty_values"].([]any); ok {
		for _, e := range ev {
			fm.empty[fold(e.(string))] = true
		}
	}
	fm.loc = b.d.loc
	if tz := str(v, "time_zone"); tz != "" {
		if loc, err := time.LoadLocation(tz); err != nil {
			b.fail(ptr+"/time_zone", "unknown time zone: use an IANA name such as Europe/Rome")
		} else {
			fm.loc = loc
		}
	}
	if fm.loc == nil {
		fm.loc = time.UTC
	}

	if len(b.problems) > before {
		// Without a schema and a format, the fields cannot be checked.
		if fm.schema == "" || fm.format == "" {
			return nil
		}
	}

	// Record id.
	switch r := v["record_id"].(type) {
	case string:
		fm.recordID = source{column: strings.TrimSpace(r)}
	case map[string]any:
		fm.recordID = b.source(ptr+"/record_id", r)
	}

	// Recorded at.
	if ra, ok := v["recorded_at"].(map[string]any); ok {
		f := &field{at: b.at(ptr + "/recorded_at"), to: "/recorded_at", src: source{column: strings.TrimSpace(str(ra, "column"))}, typ: typeDateTime, loc: fm.loc}
		f.formats = b.formats(ptr+"/recorded_at/format", ra["format"], typeDateTime)
		if tz := str(ra, "time_zone"); tz != "" {
			loc, err := time.LoadLocation(tz)
			if err != nil {
				b.fail(ptr+"/recorded_at/time_zone", "unknown time zone: use an IANA name such as Europe/Rome")
			}
			f.loc = loc
		}
		fm.recordedAt = f
	}

	// Constants, then fields; no two may write the same place.
	var writes []*field
	if consts, ok := v["constants"].(map[string]any); ok {
		keys := make([]string, 0, len(consts))
		for k := range consts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cptr := ptr + "/constants/" + escapeToken(k)
			f := &field{ptr: cptr, at: b.at(cptr), to: k, constant: consts[k], isConst: true}
			if b.target(cptr, f, fm, true) {
				fm.constants = append(fm.constants, f)
				writes = append(writes, f)
			}
		}
	}
	fields, _ := v["fields"].([]any)
	for i, raw := range fields {
		fptr := fmt.Sprintf("%s/fields/%d", ptr, i)
		f := b.field(fptr, raw.(map[string]any), fm)
		if f != nil {
			fm.fields = append(fm.fields, f)
			writes = append(writes, f)
		}
	}
	for _, f := range writes {
		for i, tok := range f.toks {
			if f.containers[i] == "array" && tok != "-" {
				fm.indexed = true
			}
		}
	}
	b.conflicts(writes)
	for _, f := range fm.fields {
		if f.typ == typeIdentifier && f.src.column != "" && f.src.column == fm.recordID.column {
			b.fail(ptr+"/record_id", "the record id must not be a personal identifier (column %q is mapped to %s): use the source's own record number, which the hub keeps as it is", f.src.column, f.to)
		}
	}
	if consts, _ := v["constants"].(map[string]any); len(fields) == 0 && len(consts) == 0 {
		b.failKey(ptr, "this file mapping writes nothing besides the envelope: add fields")
	}
	return fm
}

func containsDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func canonicalEncoding(e string) string {
	switch strings.ToLower(e) {
	case "":
		return ""
	case "utf-8", "utf8":
		return "utf-8"
	default:
		return "windows-1252"
	}
}

// source compiles {column} or {template}.
func (b *mappingBuilder) source(ptr string, v map[string]any) source {
	if c, ok := v["column"].(string); ok {
		return source{column: strings.TrimSpace(c)}
	}
	t := str(v, "template")
	parts, err := parseTemplate(t)
	if err != nil {
		b.fail(ptr+"/template", "%v", err)
	}
	return source{template: parts}
}

func parseTemplate(t string) ([]templatePart, error) {
	var parts []templatePart
	cols := 0
	for t != "" {
		i := strings.IndexAny(t, "{}")
		if i < 0 {
			parts = append(parts, templatePart{lit: t})
			break
		}
		if t[i] == '}' {
			return nil, errors.New("a } without its {: write column names in braces, such as NUC-{anno}-{numero}")
		}
		if i > 0 {
			parts = append(parts, templatePart{lit: t[:i]})
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return nil, errors.New("a { without its }: write column names in braces, such as NUC-{anno}-{numero}")
		}
		name := strings.TrimSpace(t[i+1 : i+j])
		if name == "" || strings.Contains(name, "{") {
			return nil, errors.New("empty or nested braces: write one column name in each pair of braces")
		}
		parts = append(parts, templatePart{col: name})
		cols++
		t = t[i+j+1:]
	}
	if cols == 0 {
		return nil, errors.New("the template names no column: write column names in braces, such as NUC-{anno}-{numero} (for a fixed value use constants)")
	}
	return parts, nil
}

// formats compiles a format or a list of formats.
func (b *mappingBuilder) formats(ptr string, v any, typ string) []dateFormat {
	var texts []string
	switch f := v.(type) {
	case nil:
		return defaultFormats(typ)
	case string:
		texts = []string{f}
	case []any:
		for _, t := range f {
			texts = append(texts, t.(string))
		}
	}
	var out []dateFormat
	for i, t := range texts {
		df, err := parseDateFormat(t)
		if err != nil {
			p := ptr
			if _, list := v.([]any); list {
				p = fmt.Sprintf("%s/%d", ptr, i)
			}
			b.fail(p, "%v", err)
			continue
		}
		switch {
		case (typ == typeDate) && !df.has["dd"]:
			b.fail(ptr, "date format %q has no day (dd): a date needs year, month and day (for a month use type: year-month)", t)
		case typ == typeYearMonth && !df.has["mm"]:
			b.fail(ptr, "date format %q has no month (mm)", t)
		case typ == typeDateTime && !df.has["HH"]:
			b.fail(ptr, "date format %q has no hour (HH): a date-time needs one (for a date use type: date)", t)
		}
		out = append(out, df)
	}
	return out
}

// target checks f.to against the file's schema and fills toks,
// containers, type and system from it.
func (b *mappingBuilder) target(ptr string, f *field, fm *fileMapping, isConst bool) bool {
	report := b.fail
	toPtr := ptr + "/to"
	if isConst {
		report, toPtr = b.failKey, ptr
	}
	toks, err := splitPointer(f.to)
	if err != nil || len(toks) == 0 {
		report(toPtr, "%q is not a JSON pointer: write it as /birth_year or /person/identifiers/cf", f.to)
		return false
	}
	if why, ok := reserved[toks[0]]; ok {
		report(toPtr, "/%s is filled by the connector: %s", toks[0], why)
		return false
	}
	t, containers, err := b.c.lookup(fm.schema, toks)
	if err != nil {
		report(toPtr, "%s is not in the %s schema: %v", f.to, shortName(fm.schema), err)
		return false
	}
	f.toks, f.containers = toks, containers
	last := toks[len(toks)-1]
	indexed := last == "-" || isIndex(last)
	if t.kind == "array" && !indexed {
		f.array = true
		if t.item != nil {
			t = t.item
		} else {
			t = &target{kind: "any"}
		}
	}
	if isConst {
		return true
	}

	// Identifiers: /…/identifiers/<kind>, or /…/identifiers to tell the
	// kind by the value's shape.
	isIDs := t.identifiers
	if len(toks) >= 2 && toks[len(toks)-2] == "identifiers" && identifierKinds[last] {
		f.idKind = last
		isIDs = true
	}
	if isIDs {
		if f.typ != "" && f.typ != typeIdentifier {
			b.fail(ptr+"/type", "%s holds a personal identifier: use type identifier (or leave type out)", f.to)
			return false
		}
		f.typ = typeIdentifier
		return true
	}
	if f.typ == typeIdentifier {
		b.fail(ptr+"/to", "type identifier writes under a person's identifiers: point to …/identifiers/cf (cf-provisional, stp, eni) or to …/identifiers to tell the kind from the value")
		return false
	}
	if f.typ == "" {
		switch {
		case t.kind == typeInteger || t.kind == typeNumber || t.kind == typeBoolean:
			f.typ = t.kind
		case t.format == typeDate || t.format == typeDateTime:
			f.typ = t.format
		case t.yearMonth:
			f.typ = typeYearMonth
		default:
			f.typ = typeString
		}
	}
	if t.list != nil && !t.list.closed && !t.codeOnly {
		// An open code list: the value is a coding {system, code}.
		if f.system == "" {
			f.system = t.list.system
		} else if f.system != t.list.system {
			b.fail(ptr+"/system", "%s holds codes of the %s list, whose system is %s", f.to, t.list.name, t.list.system)
		}
	} else if f.system != "" && t.kind != "any" {
		if t.codeOnly {
			b.fail(ptr+"/system", "%s is a code: remove system (it goes in the coding's system), or point to the coding itself", f.to)
		} else {
			b.fail(ptr+"/system", "%s does not hold a coding {system, code}: remove system", f.to)
		}
	}
	if (t.kind == "object" && t.list == nil) && f.typ != typeJSON {
		b.fail(ptr+"/to", "%s is an object: map columns into its fields (such as %s/…), or use type json for a JSON value", f.to, f.to)
		return false
	}
	if f.codes != nil && f.typ == typeString && (t.list != nil || t.enum != nil) {
		allowed, what := map[string]bool{}, "not among the values allowed here"
		if t.list != nil {
			allowed, what = t.list.codes, "not codes of the "+t.list.name+" list"
		} else {
			for _, e := range t.enum {
				allowed[e] = true
			}
		}
		var bad []string
		for _, code := range f.codes {
			if !allowed[code] {
				bad = append(bad, code)
			}
		}
		if f.def != nil && !allowed[*f.def] {
			bad = append(bad, *f.def)
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			b.fail(ptr+"/codes", "%s: %s (allowed: %s)", what, strings.Join(dedupeSorted(bad), ", "), strings.Join(sortedKeys(allowed), ", "))
		}
	}
	return true
}

func shortName(id string) string {
	s := strings.TrimSuffix(id, "/")
	parts := strings.Split(s, "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2]
	}
	return id
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (b *mappingBuilder) field(ptr string, v map[string]any, fm *fileMapping) *field {
	f := &field{ptr: ptr, at: b.at(ptr), to: str(v, "to"), typ: str(v, "type"), split: str(v, "split"), system: str(v, "system"), unknown: str(v, "unknown")}
	f.optional, _ = v["optional"].(bool)
	f.src = b.source(ptr, v)
	if f.unknown == "" {
		f.unknown = "reject"
	}
	if c, ok := v["codes"].(map[string]any); ok {
		f.codes = map[string]string{}
		orig := map[string]string{}
		for k, t := range c {
			key := fold(k)
			text := scalarText(t)
			if prev, dup := f.codes[key]; dup && prev != text {
				b.fail(ptr+"/codes", "%q and %q are the same value once case and spaces are ignored, but translate to different codes", orig[key], k)
			}
			f.codes[key], orig[key] = text, k
		}
	}
	if d, ok := v["default"]; ok {
		if f.codes == nil {
			b.failKey(ptr+"/default", "default is the code for values not in codes: add codes, or remove default")
		}
		s := scalarText(d)
		f.def = &s
	}
	if _, ok := v["unknown"]; ok && f.codes == nil {
		b.failKey(ptr+"/unknown", "unknown says what to do with values not in codes: add codes, or remove unknown")
	}
	if !b.target(ptr, f, fm, false) {
		return nil
	}
	if f.split != "" && !f.array {
		b.failKey(ptr+"/split", "split makes a list, but %s is not a list", f.to)
	}
	f.loc = fm.loc
	if tz := str(v, "time_zone"); tz != "" {
		if f.typ != typeDateTime {
			b.failKey(ptr+"/time_zone", "time_zone applies to date-time fields only")
		} else if loc, err := time.LoadLocation(tz); err != nil {
			b.fail(ptr+"/time_zone", "unknown time zone: use an IANA name such as Europe/Rome")
		} else {
			f.loc = loc
		}
	}
	switch f.typ {
	case typeDate, typeDateTime, typeYear, typeYearMonth:
		f.formats = b.formats(ptr+"/format", v["format"], f.typ)
	default:
		if _, ok := v["format"]; ok {
			b.failKey(ptr+"/format", "format applies to date, date-time, year and year-month fields, and this field is %s", f.typ)
		}
	}
	return f
}

// scalarText is the text of a YAML scalar used as a code.
func scalarText(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case json.Number:
		return s.String()
	case bool:
		return strconv.FormatBool(s)
	}
	return fmt.Sprint(v)
}

// conflicts refuses two mappings writing the same place, or one inside
// the other's value.
func (b *mappingBuilder) conflicts(writes []*field) {
	for i, a := range writes {
		for _, o := range writes[:i] {
			if a.toks == nil || o.toks == nil {
				continue
			}
			if a.to == o.to && strings.HasSuffix(a.to, "/-") {
				continue // appends to the same list
			}
			if isPrefix(a.toks, o.toks) || isPrefix(o.toks, a.toks) {
				b.problems = append(b.problems, problemAt(a.at, a.ptr, fmt.Sprintf("%s and %s (at %s) write to the same place: each place in the record takes one value", a.to, o.to, o.at)))
			}
		}
	}
}

// problemAt makes a problem from a FILE:LINE:COLUMN position.
func problemAt(at, ptr, msg string) yamldoc.Problem {
	p := yamldoc.Problem{Pointer: ptr, Message: msg}
	parts := strings.Split(at, ":")
	if len(parts) >= 3 {
		p.File = strings.Join(parts[:len(parts)-2], ":")
		p.Line, _ = strconv.Atoi(parts[len(parts)-2])
		p.Column, _ = strconv.Atoi(parts[len(parts)-1])
	} else {
		p.File = at
	}
	return p
}

func isPrefix(short, long []string) bool {
	if len(short) > len(long) {
		return false
	}
	for i := range short {
		if short[i] != long[i] {
			return false
		}
	}
	return true
}

// columns lists the columns a file mapping reads, with where each is
// named, for checking them against a file's header.
func (fm *fileMapping) columnsUsed() []columnUse {
	var out []columnUse
	add := func(s source, at string, optional bool) {
		if s.column != "" {
			out = append(out, columnUse{s.column, at, optional})
		}
		for _, p := range s.template {
			if p.col != "" {
				out = append(out, columnUse{p.col, at, optional})
			}
		}
	}
	add(fm.recordID, fm.at, false)
	if fm.recordedAt != nil {
		add(fm.recordedAt.src, fm.recordedAt.at, false)
	}
	for _, f := range fm.fields {
		add(f.src, f.at, f.optional)
	}
	return out
}

type columnUse struct {
	name     string
	at       string
	optional bool
}

// fold is how code tables and empty values compare text: trimmed, case
// ignored.
func fold(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}
