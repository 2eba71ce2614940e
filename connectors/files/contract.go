package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/snodo-hub/snodo/schemas"
)

// contract is what the connector knows of the shared schemas: the entity
// $ids, and enough of each schema's structure to check a mapping's JSON
// pointers and to pick a conversion for each field. It is read from the
// files the schemas package embeds, so it never drifts from them.
type contract struct {
	ids   []string                  // entity $ids, sorted
	names map[string]string         // short name → $id
	docs  map[string]map[string]any // $id (entities and common) → schema
	lists map[string]*codeList      // system URI → code list
}

type codeList struct {
	name   string
	system string
	closed bool
	codes  map[string]bool
}

const yearMonthPattern = "^[0-9]{4}-(0[1-9]|1[0-2])$"

// entityIDs lists the $ids of the entity schemas (every schema but the
// common definitions), sorted.
func entityIDs() []string {
	c, err := loadContract()
	if err != nil {
		// The files are embedded in the binary: this is a broken build.
		panic(fmt.Sprintf("files connector: the embedded schemas do not load: %v", err))
	}
	return c.ids
}

func loadContract() (*contract, error) {
	fsys := schemas.FS()
	c := &contract{names: map[string]string{}, docs: map[string]map[string]any{}, lists: map[string]*codeList{}}
	paths, err := fs.Glob(fsys, "*.schema.json")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		id, _ := doc["$id"].(string)
		if id == "" {
			return nil, fmt.Errorf("schemas/%s has no $id", p)
		}
		c.docs[id] = doc
		name := strings.TrimSuffix(p, ".schema.json")
		if name == "common" {
			continue
		}
		c.ids = append(c.ids, id)
		c.names[name] = id
	}
	sort.Strings(c.ids)
	paths, err = fs.Glob(fsys, "codes/*.json")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if strings.HasSuffix(p, ".schema.json") {
			continue
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		var l struct {
			Name   string `json:"name"`
			System string `json:"system"`
			Closed bool   `json:"closed"`
			Codes  []struct {
				Code string `json:"code"`
			} `json:"codes"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		cl := &codeList{name: path.Base(strings.TrimSuffix(p, ".json")), system: l.System, closed: l.Closed, codes: map[string]bool{}}
		for _, code := range l.Codes {
			cl.codes[code.Code] = true
		}
		c.lists[l.System] = cl
	}
	return c, nil
}

// schemaID resolves a schema given by $id or short name.
func (c *contract) schemaID(s string) (string, bool) {
	if _, ok := c.docs[s]; ok && s != c.commonID() {
		return s, true
	}
	id, ok := c.names[s]
	return id, ok
}

func (c *contract) nameSet() map[string]bool {
	out := make(map[string]bool, len(c.names))
	for n := range c.names {
		out[n] = true
	}
	return out
}

func (c *contract) commonID() string {
	for id := range c.docs {
		if strings.Contains(id, "/schemas/common/") {
			return id
		}
	}
	return ""
}

// node is one schema object and the document its relative $refs resolve
// against.
type node struct {
	m    map[string]any
	base string
}

// view is a position in a schema: a node and the nodes its $ref chain
// leads to, which all apply together.
type view struct {
	nodes []node
	list  *codeList // the position holds a code from this list
	leaf  string    // for synthesized positions inside a coding: "system", "code", "display"
	any   bool      // an open object (extensions): anything goes below
}

// target is what a JSON pointer of a record leads to.
type target struct {
	kind        string // object, array, string, integer, number, boolean, any
	format      string // date, date-time
	yearMonth   bool
	identifiers bool      // the identifiers object of a person reference
	list        *codeList // a code of this list (closed: the bare code; open: a coding object, or its code)
	codeOnly    bool      // the position is the code of a coding, or a closed code
	enum        []string  // the values allowed, for a closed set written in the schema
	item        *target   // for arrays: what an item is
}

func (c *contract) root(schemaID string) view {
	return c.expand(node{m: c.docs[schemaID], base: schemaID})
}

// expand follows $ref from n.
func (c *contract) expand(n node) view {
	v := view{}
	for depth := 0; n.m != nil && depth < 16; depth++ {
		v.nodes = append(v.nodes, n)
		ref, _ := n.m["$ref"].(string)
		if ref == "" {
			break
		}
		uri, frag, _ := strings.Cut(ref, "#")
		if uri == "" {
			uri = n.base
		}
		if l, ok := c.lists[uri]; ok {
			v.list = l
			break
		}
		doc, ok := c.docs[uri]
		if !ok {
			break
		}
		var cur any = doc
		for _, tok := range strings.Split(strings.Trim(frag, "/"), "/") {
			if tok == "" {
				continue
			}
			m, _ := cur.(map[string]any)
			cur = m[unescapeToken(tok)]
		}
		m, _ := cur.(map[string]any)
		n = node{m: m, base: uri}
	}
	if v.list == nil && len(v.nodes) > 0 {
		// An object schema with nothing said of its content (extensions)
		// is open: any pointer below it is fine.
		open := v.nodes[len(v.nodes)-1].m["type"] == "object"
		for _, n := range v.nodes {
			for _, k := range []string{"properties", "additionalProperties", "propertyNames", "items", "enum", "const"} {
				if _, ok := n.m[k]; ok {
					open = false
				}
			}
		}
		v.any = open
	}
	return v
}

// child moves one pointer token down from v.
func (c *contract) child(v view, tok string) (view, error) {
	if v.any {
		return view{any: true}, nil
	}
	if v.leaf != "" {
		return view{}, fmt.Errorf("%s is a single value: it has no %q inside", v.leaf, tok)
	}
	if v.list != nil {
		if v.list.closed {
			return view{}, fmt.Errorf("it holds a code of the %s list: it has no %q inside", v.list.name, tok)
		}
		switch tok {
		case "system", "code", "display":
			return view{leaf: tok, list: v.list}, nil
		}
		return view{}, fmt.Errorf("a coding has system, code and display, not %q", tok)
	}
	var names []string
	for _, n := range v.nodes {
		props, _ := n.m["properties"].(map[string]any)
		if p, ok := props[tok].(map[string]any); ok {
			return c.expand(node{m: p, base: n.base}), nil
		}
		for k := range props {
			names = append(names, k)
		}
	}
	for _, n := range v.nodes {
		if items, ok := n.m["items"].(map[string]any); ok {
			if tok == "-" || isIndex(tok) {
				return c.expand(node{m: items, base: n.base}), nil
			}
			return view{}, fmt.Errorf("it is a list: use an index (0, 1, ...) or - to add an item, not %q", tok)
		}
	}
	for _, n := range v.nodes {
		if addl, ok := n.m["additionalProperties"].(map[string]any); ok {
			return c.expand(node{m: addl, base: n.base}), nil
		}
	}
	sort.Strings(names)
	names = dedupeSorted(names)
	if len(names) == 0 {
		return view{}, fmt.Errorf("it is a single value: it has no %q inside", tok)
	}
	return view{}, fmt.Errorf("there is no %q here: the schema allows %s", tok, strings.Join(names, ", "))
}

func dedupeSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (c *contract) describe(v view) *target {
	t := &target{}
	switch {
	case v.any:
		t.kind = "any"
		return t
	case v.leaf != "":
		t.kind = "string"
		if v.leaf == "code" {
			t.list, t.codeOnly = v.list, true
		}
		return t
	case v.list != nil:
		t.list = v.list
		if v.list.closed {
			t.kind, t.codeOnly = "string", true
		} else {
			t.kind = "object"
		}
		return t
	}
	for _, n := range v.nodes {
		if s, ok := n.m["type"].(string); ok && t.kind == "" {
			t.kind = s
		}
		if f, ok := n.m["format"].(string); ok && t.format == "" {
			t.format = f
		}
		if e, ok := n.m["enum"].([]any); ok && t.enum == nil {
			for _, v := range e {
				if s, ok := v.(string); ok {
					t.enum = append(t.enum, s)
				}
			}
		}
		if p, ok := n.m["pattern"].(string); ok && p == yearMonthPattern {
			t.yearMonth = true
		}
		if items, ok := n.m["items"].(map[string]any); ok && t.item == nil {
			t.item = c.describe(c.expand(node{m: items, base: n.base}))
		}
		if props, ok := n.m["properties"].(map[string]any); ok {
			if _, cf := props["cf"]; cf {
				if _, stp := props["stp"]; stp {
					t.identifiers = true
				}
			}
		}
	}
	if t.kind == "" {
		if t.item != nil {
			t.kind = "array"
		} else {
			t.kind = "string"
		}
	}
	return t
}

// lookup resolves a pointer (as tokens) in a schema and describes the
// target, with the kind of container each prefix is.
func (c *contract) lookup(schemaID string, toks []string) (*target, []string, error) {
	v := c.root(schemaID)
	containers := make([]string, len(toks))
	for i, tok := range toks {
		if c.describe(v).kind == "array" {
			containers[i] = "array"
		} else {
			containers[i] = "object"
		}
		next, err := c.child(v, tok)
		if err != nil {
			if i == 0 {
				return nil, nil, fmt.Errorf("at the top of the record: %v", err)
			}
			return nil, nil, fmt.Errorf("at %s: %v", pointerOf(toks[:i]), err)
		}
		v = next
	}
	return c.describe(v), containers, nil
}

func isIndex(tok string) bool {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return false
	}
	_, err := strconv.Atoi(tok)
	return err == nil
}

// splitPointer parses a JSON pointer (RFC 6901) into its tokens.
func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("a JSON pointer starts with /")
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		if t == "" {
			return nil, fmt.Errorf("a JSON pointer has no empty parts (//)")
		}
		toks[i] = unescapeToken(t)
	}
	return toks, nil
}

func unescapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

func escapeToken(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}

func pointerOf(toks []string) string {
	if len(toks) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, t := range toks {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}
