// Package yamldoc reads YAML (or JSON) documents so that each problem in
// them can be reported at its file, line and column.
//
// It is for the files people write by hand and validate against a JSON
// Schema: the settings and mapping files of connectors, and the hub's own
// snodo.yaml. Parse reads a document into a yaml.Node tree, ToJSON turns
// the tree into the value the same document written in JSON would have
// (for github.com/santhosh-tekuri/jsonschema/v5), NodeAt maps a JSON
// pointer from a schema error back to the node it names, and
// SchemaProblems does all of that for a validation error at once.
package yamldoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong in a document, at a line and column.
type Problem struct {
	File string
	// Line and Column start at 1; 0 when the place is not known.
	Line, Column int
	// Pointer is the JSON pointer of the value concerned, or "".
	Pointer string
	Message string
}

// String reads "file:line:column: pointer: message", leaving out the
// position and the pointer when they are not known.
func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	if p.Pointer != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Pointer, p.Message)
	}
	return fmt.Sprintf("%s: %s", loc, p.Message)
}

// Error lists every problem found in a document, one a line.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by line and column, keeping the order of those at
// the same place.
func Sort(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}

// Parse reads the first document of data, YAML or JSON, and returns its
// top node (a mapping, a sequence or a scalar). A document that holds
// nothing (an empty file, or only comments) gives a nil node and no error:
// what it should have held is for the caller to say. A syntax error is an
// *Error with one problem, at the line the parser names.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{syntaxProblem(file, err)}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, nil
	}
	return root.Content[0], nil
}

// syntaxProblem turns a yaml.v3 error ("yaml: line N: ...") into a problem
// at that line; the parser does not say the column. yaml.v3 leaves out
// "line N: " when its marks are on the first line (it writes the line only
// when it is not 0, counting from 0), so such an error is at line 1.
func syntaxProblem(file string, err error) Problem {
	p := Problem{File: file, Line: 1, Column: 1}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				p.Line, p.Column, msg = n, 1, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	p.Message = "not valid YAML or JSON: " + msg
	return p
}

// MaxAliasValues bounds how many values aliases may repeat in one
// document, so that a few nested anchors cannot expand to gigabytes.
const MaxAliasValues = 100_000

// ToJSON turns a node into the value the same document written in JSON
// would have: map[string]any, []any, string, bool, json.Number or nil.
// Aliases stand for a copy of their anchor's value. Plain scalars keep
// the type YAML gives them (true is a boolean, 12 a number, 2024-01-31
// a text); a number JSON cannot write (0x1F, .inf) stays a text. It is an
// *Error, with the problem's line and column, when a key appears twice in
// a mapping, a key is not a scalar, a merge key (<<) is used, an alias
// refers to a value that contains it, or aliases repeat more than
// MaxAliasValues values.
func ToJSON(file string, n *yaml.Node) (any, error) {
	c := converter{file: file, expanding: map[*yaml.Node]bool{}}
	v, p := c.value(n)
	if p != nil {
		return nil, &Error{Problems: []Problem{*p}}
	}
	return v, nil
}

type converter struct {
	file      string
	expanding map[*yaml.Node]bool // the aliases being expanded
	depth     int                 // how many aliases are being expanded
	repeated  int                 // values produced through aliases
}

func (c *converter) problem(n *yaml.Node, format string, args ...any) *Problem {
	return &Problem{File: c.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)}
}

func (c *converter) value(n *yaml.Node) (any, *Problem) {
	if c.depth > 0 {
		c.repeated++
		if c.repeated > MaxAliasValues {
			return nil, c.problem(n, "anchors and aliases repeat more than %d values: write the values out, or repeat less", MaxAliasValues)
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		if c.expanding[n] || n.Alias == nil {
			return nil, c.problem(n, "alias *%s refers to a value that contains the alias itself", n.Value)
		}
		c.expanding[n] = true
		c.depth++
		v, p := c.value(n.Alias)
		c.depth--
		delete(c.expanding, n)
		return v, p
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			for k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			switch {
			case k.Kind != yaml.ScalarNode:
				return nil, c.problem(n.Content[i], "a key must be a single value, not a list or a mapping")
			case k.ShortTag() == "!!merge":
				return nil, c.problem(n.Content[i], "merge keys (<<) are not supported: write the keys out")
			}
			if _, dup := m[k.Value]; dup {
				return nil, c.problem(n.Content[i], "key %q appears twice in the same mapping", k.Value)
			}
			v, p := c.value(n.Content[i+1])
			if p != nil {
				return nil, p
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			v, p := c.value(e)
			if p != nil {
				return nil, p
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, c.problem(n, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
			}
			return b, nil
		case "!!int", "!!float":
			num := strings.ReplaceAll(n.Value, "_", "")
			if _, err := strconv.ParseFloat(num, 64); err == nil {
				return json.Number(num), nil
			}
		}
		return n.Value, nil
	}
	return nil, c.problem(n, "unsupported YAML node")
}

// NodeAt finds the node at a JSON pointer (RFC 6901, with ~0 for ~ and ~1
// for /) below n, following aliases; "" and "/" both name n itself (or a
// document's top node). Where the pointer goes past the document, at a
// missing key or index, it returns the deepest node found. key is the key
// node of the pointer's last token when that token is a mapping key, for
// problems with a key itself; otherwise nil.
func NodeAt(n *yaml.Node, pointer string) (val, key *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if pointer == "" || pointer == "/" {
		return n, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					key, n, found = n.Content[i], n.Content[i+1], true
					break
				}
			}
			if !found {
				return n, nil
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, nil
			}
			key, n = nil, n.Content[i]
		default:
			return n, nil
		}
	}
	return n, key
}

// Violation is one thing a JSON Schema found wrong with a document.
type Violation struct {
	// Err is the schema error: a leaf of the error tree, or a oneOf or
	// anyOf whose branches all failed.
	Err *jsonschema.ValidationError
	// Keyword is the schema keyword that failed: "required", "type",
	// "additionalProperties", "oneOf"...
	Keyword string
	// Node is the node at Err.InstanceLocation (see NodeAt).
	Node *yaml.Node
}

// SchemaProblems turns the error of validating ToJSON's value of root
// against a JSON Schema into problems at the lines and columns of the
// document, sorted by position. Each violation is one problem: every leaf
// of the error tree, except that a oneOf or anyOf is one violation rather
// than one per failed branch. The problem starts as the node's position,
// the instance pointer ("/" for the whole document) and the schema's
// message; describe, when not nil, rewords it in the user's terms. An
// error that is not a *jsonschema.ValidationError is one problem without
// a position. A nil err gives no problems.
func SchemaProblems(file string, root *yaml.Node, err error, describe func(p *Problem, v Violation)) []Problem {
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{File: file, Message: err.Error()}}
	}
	var problems []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		kw := e.KeywordLocation[strings.LastIndex(e.KeywordLocation, "/")+1:]
		if len(e.Causes) > 0 && kw != "oneOf" && kw != "anyOf" {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		val, _ := NodeAt(root, e.InstanceLocation)
		p := Problem{File: file, Line: val.Line, Column: val.Column, Pointer: e.InstanceLocation, Message: e.Message}
		if p.Pointer == "" {
			p.Pointer = "/"
		}
		if describe != nil {
			describe(&p, Violation{Err: e, Keyword: kw, Node: val})
		}
		problems = append(problems, p)
	}
	walk(ve)
	Sort(problems)
	return problems
}
