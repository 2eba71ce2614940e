package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problem is one thing wrong in a mapping file, at a line and column.
type problem struct {
	file    string
	line    int
	column  int
	pointer string
	message string
}

func (p problem) String() string {
	loc := p.file
	if p.line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.file, p.line, p.column)
	}
	if p.pointer != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.pointer, p.message)
	}
	return fmt.Sprintf("%s: %s", loc, p.message)
}

// mappingError lists every problem found in a mapping file.
type mappingError struct{ problems []problem }

func (e *mappingError) Error() string {
	lines := make([]string, len(e.problems))
	for i, p := range e.problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// yamlProblem turns a yaml.v3 syntax error ("yaml: line N: ...") into a
// problem at that line.
func yamlProblem(file string, err error) problem {
	p := problem{file: file, message: err.Error()}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				p.line, p.column, msg = n, 1, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	p.message = "not valid YAML or JSON: " + msg
	return p
}

// toJSON turns a YAML node into the value the same document written in
// JSON would have; a key given twice is an error.
func toJSON(file string, n *yaml.Node) (any, *problem) {
	switch n.Kind {
	case yaml.DocumentNode:
		return toJSON(file, n.Content[0])
	case yaml.AliasNode:
		return toJSON(file, n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				return nil, &problem{file: file, line: k.Line, column: k.Column, message: fmt.Sprintf("key %q appears twice in the same mapping", k.Value)}
			}
			v, p := toJSON(file, n.Content[i+1])
			if p != nil {
				return nil, p
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, p := toJSON(file, c)
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
				return nil, &problem{file: file, line: n.Line, column: n.Column, message: err.Error()}
			}
			return b, nil
		case "!!int", "!!float":
			if _, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
				return json.Number(strings.ReplaceAll(n.Value, "_", "")), nil
			}
			return n.Value, nil
		}
		return n.Value, nil
	}
	return nil, &problem{file: file, line: n.Line, column: n.Column, message: "unsupported YAML node"}
}

// nodeAt finds the YAML node at a JSON pointer; where the pointer goes
// past the document (a missing key) it returns the deepest node found.
// key is the key node of the last token, when there is one.
func nodeAt(n *yaml.Node, ptr string) (val, key *yaml.Node) {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if ptr == "" || ptr == "/" {
		return n, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescapeToken(tok)
		for n.Kind == yaml.AliasNode {
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
