// Package schemas holds Snodo's shared data contract: the versioned JSON
// Schemas (draft 2020-12) of every entity, the code lists they refer to and
// the reference data about places, all embedded in the binary.
//
// Compile loads and compiles everything once; a Registry then validates
// documents concurrently without further allocation of schemas. The package
// imports nothing else of Snodo's, so connectors may use it as well as the
// hub.
//
// Identifier formats (codice-fiscale, cf-provisional) are not implemented
// here: the hub registers them with WithFormat (see hub/identity), and
// Compile refuses to build a registry whose schemas use a format nobody
// checks, so a document is never accepted because a check was silently off.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/bytedance/sonic"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

// BaseURL prefixes every $id of the contract.
const BaseURL = "https://snodo-hub.github.io/"

const (
	schemaPrefix = BaseURL + "schemas/"
	codePrefix   = BaseURL + "codes/"
	commonName   = "common"
	codeListName = "code-list"
)

//go:embed *.schema.json codes/*.json places/*.json
var files embed.FS

// FS returns the embedded schema, code-list and place files, as shipped.
func FS() fs.FS { return files }

// Schema is one compiled entity schema.
type Schema struct {
	// Name is the short kebab-case name, as in the file name
	// <name>.schema.json.
	Name string
	// Version is the semantic version in the $id.
	Version string
	// ID is the absolute, immutable $id, which records carry in their
	// "schema" field.
	ID          string
	Title       string
	Description string

	compiled *jsonschema.Schema
	fast     *fastPath         // nil: none (see fastpath.go)
	rules    map[string]string // keyword location of an if/then rule → its description
	reg      *Registry
}

// Registry is the compiled contract. It is safe for concurrent use.
type Registry struct {
	schemas []*Schema
	byName  map[string]*Schema
	byID    map[string]*Schema
	lists   []*CodeList
	formats map[string]func(any) error
	places  *Places
}

// Option configures Compile.
type Option func(*options)

type options struct {
	formats map[string]func(any) error
}

// WithFormat registers a format assertion: check returns nil when v is
// valid (non-strings included, as JSON Schema formats apply to strings
// only) and otherwise an error saying why. The reason is shown to the user,
// so it must not repeat the value when the value may be personal.
func WithFormat(name string, check func(v any) error) Option {
	return func(o *options) { o.formats[name] = check }
}

// standardFormats are the formats of the 2020-12 specification that the
// contract uses; the validator library implements them.
var standardFormats = map[string]bool{"date": true, "date-time": true, "uri": true}

var idPattern = regexp.MustCompile(`^` + regexp.QuoteMeta(schemaPrefix) + `([a-z][a-z0-9-]*)/([0-9]+\.[0-9]+\.[0-9]+)$`)

// Compile loads every embedded schema and code list, checks them and
// compiles them. Call it once at start-up and share the Registry.
func Compile(opts ...Option) (*Registry, error) {
	o := options{formats: map[string]func(any) error{}}
	for _, opt := range opts {
		opt(&o)
	}
	places, err := loadPlaces(files)
	if err != nil {
		return nil, err
	}
	reg := &Registry{
		byName:  map[string]*Schema{},
		byID:    map[string]*Schema{},
		formats: map[string]func(any) error{},
		places:  places,
	}
	reg.formats["istat-comune"] = places.checkComune
	reg.formats["country"] = places.checkCountry
	for name, check := range o.formats {
		reg.formats[name] = check
	}

	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schema %s is not part of the embedded contract (remote references are never fetched)", s)
	}
	for name, check := range reg.formats {
		check := check
		c.Formats[name] = func(v any) bool { return check(v) == nil }
	}

	lists, err := reg.loadCodeLists()
	if err != nil {
		return nil, err
	}
	reg.lists = lists
	in := &inliner{docs: map[string]any{}}
	for _, l := range lists {
		in.docs[l.System] = l.Schema()
	}

	paths, err := fs.Glob(files, "*.schema.json")
	if err != nil {
		return nil, err
	}
	type pending struct {
		file string
		s    *Schema
	}
	var entities []pending
	for _, p := range paths {
		raw, err := files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var head struct {
			ID          string `json:"$id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		m := idPattern.FindStringSubmatch(head.ID)
		name := strings.TrimSuffix(p, ".schema.json")
		if m == nil || m[1] != name {
			return nil, fmt.Errorf("schemas/%s: $id %q must be %s%s/<major.minor.patch>", p, head.ID, schemaPrefix, name)
		}
		if err := checkFormats(p, raw, reg.formats); err != nil {
			return nil, err
		}
		doc, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		in.docs[head.ID] = doc
		if name == commonName {
			continue
		}
		entities = append(entities, pending{p, &Schema{
			Name: name, Version: m[2], ID: head.ID,
			Title: head.Title, Description: head.Description, reg: reg,
		}})
	}
	for _, e := range entities {
		flat, err := in.inline(in.docs[e.s.ID], e.s.ID, 0)
		if err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", e.file, err)
		}
		raw, err := json.Marshal(flat)
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(e.s.ID, bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", e.file, err)
		}
		e.s.rules = map[string]string{}
		collectRules(flat, "", e.s.rules)
		e.s.compiled, err = c.Compile(e.s.ID)
		if err != nil {
			return nil, fmt.Errorf("compile schemas/%s: %w", e.file, err)
		}
		if e.s.fast, err = compileFast(c, e.s.ID, flat); err != nil {
			return nil, fmt.Errorf("compile schemas/%s: %w", e.file, err)
		}
		reg.schemas = append(reg.schemas, e.s)
		reg.byName[e.s.Name] = e.s
		reg.byID[e.s.ID] = e.s
	}
	sort.Slice(reg.schemas, func(i, j int) bool { return reg.schemas[i].Name < reg.schemas[j].Name })
	return reg, nil
}

// checkFormats refuses a schema that asks for a format nobody checks: the
// validator would otherwise treat it as an annotation and accept anything.
func checkFormats(file string, raw []byte, known map[string]func(any) error) error {
	var missing []string
	for _, f := range formatsUsed(raw) {
		if !standardFormats[f] && known[f] == nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("schemas/%s uses format %s, which no checker is registered for: pass schemas.WithFormat (the hub registers identity.SchemaFormats)", file, strings.Join(missing, ", "))
	}
	return nil
}

var formatKey = regexp.MustCompile(`"format"\s*:\s*"([^"]+)"`)

func formatsUsed(raw []byte) []string {
	var out []string
	for _, m := range formatKey.FindAllSubmatch(raw, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// Schemas lists the entity schemas, by name.
func (r *Registry) Schemas() []*Schema { return r.schemas }

// Lookup finds a schema by short name ("referral") or by its $id.
func (r *Registry) Lookup(nameOrID string) (*Schema, bool) {
	if s, ok := r.byID[nameOrID]; ok {
		return s, true
	}
	s, ok := r.byName[nameOrID]
	return s, ok
}

// Names lists the short names of the entity schemas.
func (r *Registry) Names() []string {
	out := make([]string, len(r.schemas))
	for i, s := range r.schemas {
		out[i] = s.Name
	}
	return out
}

// Source returns the schema file as shipped.
func (s *Schema) Source() []byte {
	raw, err := files.ReadFile(s.Name + ".schema.json")
	if err != nil {
		panic(fmt.Sprintf("embedded schema %s vanished: %v", s.Name, err))
	}
	return raw
}

// CommonSource returns the common definitions file as shipped.
func CommonSource() []byte {
	raw, _ := files.ReadFile(commonName + ".schema.json")
	return raw
}

// Violation is one reason a document does not follow its schema.
type Violation struct {
	// Pointer is the JSON pointer (RFC 6901) of the offending value in the
	// document; "" is the document itself.
	Pointer string `json:"pointer"`
	// Keyword is the schema keyword that failed ("required", "enum", ...).
	Keyword string `json:"keyword"`
	// Message says what is wrong and, where it can, what to do.
	Message string `json:"message"`
}

func (v Violation) String() string {
	p := v.Pointer
	if p == "" {
		p = "/"
	}
	return p + ": " + v.Message
}

// Validate checks a decoded document (see Decode) against s. It returns
// nil when the document is valid. Messages never repeat string values of the
// document, which may be personal.
func (s *Schema) Validate(doc any) []Violation {
	if s.fast != nil && s.fast.valid(doc) {
		return nil
	}
	err := s.compiled.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{Keyword: "", Message: err.Error()}}
	}
	var out []Violation
	s.flatten(doc, ve, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pointer < out[j].Pointer })
	return dedupe(out)
}

// ValidateDocument picks the schema named by the document's "schema" field
// and validates the document against it. It returns the schema (nil when
// none could be chosen) and the violations.
func (r *Registry) ValidateDocument(doc any) (*Schema, []Violation) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, []Violation{{Keyword: "type", Message: "a record must be a JSON object"}}
	}
	id, ok := obj["schema"].(string)
	if !ok {
		return nil, []Violation{{Pointer: "/schema", Keyword: "required", Message: `missing "schema": set it to the $id of the record's schema (see "snodo schemas list"), or name the schema with --schema`}}
	}
	s, ok := r.byID[id]
	if !ok {
		msg := "unknown schema $id; known: " + strings.Join(r.ids(), ", ")
		if byName, isName := r.byName[id]; isName {
			msg = fmt.Sprintf("%q is a schema name, not its $id: use %q", id, byName.ID)
		}
		return nil, []Violation{{Pointer: "/schema", Keyword: "enum", Message: msg}}
	}
	return s, s.Validate(doc)
}

func (r *Registry) ids() []string {
	out := make([]string, len(r.schemas))
	for i, s := range r.schemas {
		out[i] = s.ID
	}
	return out
}

// flatten turns the validator's tree of errors into its leaves, with
// messages written for the people who fix the data.
func (s *Schema) flatten(doc any, ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			s.flatten(doc, c, out)
		}
		return
	}
	kw := path.Base(ve.KeywordLocation)
	if ve.KeywordLocation == "" {
		kw = ""
	}
	v := Violation{Pointer: ve.InstanceLocation, Keyword: kw, Message: ve.Message}
	switch {
	case kw == "additionalProperties":
		// One violation per property, at the property, as for
		// unevaluatedProperties.
		obj, _ := valueAt(doc, ve.InstanceLocation)
		m, _ := obj.(map[string]any)
		for _, name := range quotedNames(ve.Message) {
			if _, ok := m[name]; ok {
				*out = append(*out, Violation{Pointer: ve.InstanceLocation + "/" + escapePointer(name), Keyword: kw, Message: closedMessage})
			}
		}
		return
	case kw == "unevaluatedProperties" || (kw == "false" && strings.Contains(ve.KeywordLocation, "unevaluatedProperties")):
		v.Keyword = "unevaluatedProperties"
		v.Message = closedMessage
	case kw == "format":
		v.Message = s.reg.formatMessage(doc, ve)
	case kw == "required":
		v.Message = strings.Replace(ve.Message, "missing properties: ", "missing required properties: ", 1)
	case kw == "enum":
		v.Message = "value is not one of the allowed codes: " + shortList(strings.TrimPrefix(ve.Message, "value must be one of "))
	case kw == "not":
		v.Message = "this combination of values is not allowed"
	case kw == "const":
		v.Message = strings.Replace(ve.Message, "value must be ", "value must be exactly ", 1)
	}
	if rule := s.rule(ve.AbsoluteKeywordLocation); rule != "" {
		v.Message += " (rule: " + rule + ")"
	}
	*out = append(*out, v)
}

// rule finds the description of the allOf branch (a business rule written
// as if/then, not, anyOf or oneOf) that a failed keyword belongs to, if any.
func (s *Schema) rule(absLoc string) string {
	_, frag, _ := strings.Cut(absLoc, "#")
	best, rule := -1, ""
	for loc, desc := range s.rules {
		if strings.HasPrefix(frag, loc+"/") && len(loc) > best {
			best, rule = len(loc), desc
		}
	}
	return rule
}

// collectRules records where the described rules of a schema are.
func collectRules(node any, loc string, out map[string]string) {
	switch n := node.(type) {
	case map[string]any:
		for k, v := range n {
			collectRules(v, loc+"/"+escapePointer(k), out)
		}
		if all, ok := n["allOf"].([]any); ok {
			for i, item := range all {
				m, _ := item.(map[string]any)
				desc, _ := m["description"].(string)
				if desc != "" && (m["if"] != nil || m["not"] != nil || m["anyOf"] != nil || m["oneOf"] != nil) {
					out[fmt.Sprintf("%s/allOf/%d", loc, i)] = desc
				}
			}
		}
	case []any:
		for i, v := range n {
			collectRules(v, fmt.Sprintf("%s/%d", loc, i), out)
		}
	}
}

// shortList keeps a long list of allowed codes readable.
func shortList(codes string) string {
	parts := strings.Split(codes, ", ")
	if len(parts) <= 10 {
		return codes
	}
	return strings.Join(parts[:8], ", ") + fmt.Sprintf(", … (%d codes: see \"snodo schemas list --codes\")", len(parts))
}

const closedMessage = "property not allowed: the schema is closed; put source-specific data under /extensions, or fix the property name"

var quotedName = regexp.MustCompile(`'((?:[^'\\]|\\.)*)'`)

// quotedNames reads the property names the validator quotes in its
// additionalProperties message.
func quotedNames(msg string) []string {
	var out []string
	for _, m := range quotedName.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	return out
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// formatMessage explains a failed format without repeating the value.
func (r *Registry) formatMessage(doc any, ve *jsonschema.ValidationError) string {
	format := ve.Message[strings.LastIndex(ve.Message, " ")+1:]
	format = strings.Trim(format, "'\"")
	if check := r.formats[format]; check != nil {
		if v, ok := valueAt(doc, ve.InstanceLocation); ok {
			if err := check(v); err != nil {
				return fmt.Sprintf("not a valid %s: %v", format, err)
			}
		}
	}
	switch format {
	case "date":
		return "not a valid date: write it as YYYY-MM-DD"
	case "date-time":
		return "not a valid date-time: write it as RFC 3339, e.g. 2025-03-01T09:30:00+01:00"
	}
	return "not a valid " + format
}

func dedupe(vs []Violation) []Violation {
	seen := map[Violation]bool{}
	out := vs[:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// valueAt resolves a JSON pointer in a decoded document.
func valueAt(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// decoder is the fast path of Decode: sonic decodes a record into the
// validator's input (maps, slices, json.Number) in about half the time of
// encoding/json, which was a third of the cost of ingesting a record.
var decoder = sonic.Config{UseNumber: true, ValidateString: true}.Froze()

// Decode reads one JSON document the way the validator expects it: numbers
// stay json.Number, so no precision is lost. Errors are those of
// encoding/json (a *json.SyntaxError carries the offset), whichever decoder
// ran.
func Decode(data []byte) (any, error) {
	var v any
	if err := decoder.Unmarshal(data, &v); err == nil {
		return v, nil
	}
	// The slow path decides, and explains: it is the reference.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v = nil
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value: put one document per file, a JSON array, or one document per line (JSON Lines)")
	}
	return v, nil
}
