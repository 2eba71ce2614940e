package yamldoc_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

// problemOf returns the only problem of an *yamldoc.Error.
func problemOf(t *testing.T, err error) yamldoc.Problem {
	t.Helper()
	var e *yamldoc.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *yamldoc.Error", err)
	}
	if len(e.Problems) != 1 {
		t.Fatalf("problems = %v, want one", e.Problems)
	}
	return e.Problems[0]
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		p    yamldoc.Problem
		want string
	}{
		"everything":    {yamldoc.Problem{File: "a.yaml", Line: 3, Column: 5, Pointer: "/x", Message: "bad"}, "a.yaml:3:5: /x: bad"},
		"no pointer":    {yamldoc.Problem{File: "a.yaml", Line: 3, Column: 1, Message: "bad"}, "a.yaml:3:1: bad"},
		"no position":   {yamldoc.Problem{File: "a.yaml", Pointer: "/x", Message: "bad"}, "a.yaml: /x: bad"},
		"only the file": {yamldoc.Problem{File: "a.yaml", Message: "bad"}, "a.yaml: bad"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := tc.p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
	err := &yamldoc.Error{Problems: []yamldoc.Problem{tests["no pointer"].p, tests["everything"].p}}
	if got, want := err.Error(), "a.yaml:3:1: bad\na.yaml:3:5: /x: bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	t.Run("syntax error at its line", func(t *testing.T) {
		t.Parallel()
		// The parser names the line of the mapping entry that holds the
		// unclosed list; it does not say the column.
		_, err := yamldoc.Parse("m.yaml", []byte("version: 1\nfiles:\n  - pattern: a.csv\n    schema: [person\n"))
		p := problemOf(t, err)
		if p.File != "m.yaml" || p.Line != 3 || p.Column != 1 || p.Pointer != "" {
			t.Errorf("problem at %s:%d:%d %q, want m.yaml:3:1 without a pointer", p.File, p.Line, p.Column, p.Pointer)
		}
		if !strings.HasPrefix(p.Message, "not valid YAML or JSON: ") || strings.Contains(p.Message, "yaml:") || strings.Contains(p.Message, "line ") {
			t.Errorf("message %q, want the parser's message after \"not valid YAML or JSON: \"", p.Message)
		}
	})
	t.Run("tab indentation", func(t *testing.T) {
		t.Parallel()
		_, err := yamldoc.Parse("m.yaml", []byte("a:\n\tb: 1\n"))
		if p := problemOf(t, err); p.Line != 2 || p.Column != 1 {
			t.Errorf("problem = %v, want one at 2:1", p)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		n, err := yamldoc.Parse("m.json", []byte("{\n  \"a\": [1, true, null]\n}\n"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := yamldoc.ToJSON("m.json", n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]any{"a": []any{json.Number("1"), true, nil}}, v); diff != "" {
			t.Errorf("value (-want +got):\n%s", diff)
		}
	})
	for name, text := range map[string]string{"empty": "", "blank": "\n\n", "only comments": "# nothing yet\n"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, err := yamldoc.Parse("m.yaml", []byte(text))
			if n != nil || err != nil {
				t.Errorf("Parse = %v, %v; want nil, nil", n, err)
			}
		})
	}
}

func TestToJSONValues(t *testing.T) {
	t.Parallel()
	text := `
text: hello
quoted: "12"
int: 12
under: 1_000
float: 2.5
hex: 0x1F
inf: .inf
bool: true
null: ~
date: 2024-01-31
tagged: !custom value
list: [a, 1]
base: &base {k: v}
copy: *base
`
	n, err := yamldoc.Parse("m.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	got, err := yamldoc.ToJSON("m.yaml", n)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"text": "hello", "quoted": "12", "int": json.Number("12"), "under": json.Number("1000"),
		"float": json.Number("2.5"), "hex": "0x1F", "inf": ".inf", "bool": true, "null": nil,
		"date": "2024-01-31", "tagged": "value", "list": []any{"a", json.Number("1")},
		"base": map[string]any{"k": "v"}, "copy": map[string]any{"k": "v"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("value (-want +got):\n%s", diff)
	}
}

func TestToJSONProblems(t *testing.T) {
	t.Parallel()
	// A document whose aliases double the data at each of 20 levels:
	// about a million values from a few hundred bytes.
	var bomb strings.Builder
	bomb.WriteString("l0: &l0 [x, x]\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&bomb, "l%d: &l%d [*l%d, *l%d]\n", i, i, i-1, i-1)
	}
	tests := map[string]struct {
		text         string
		line, column int
		says         string
	}{
		"key given twice":   {"a: 1\nb:\n  c: 1\n  c: 2\n", 4, 3, `key "c" appears twice in the same mapping`},
		"alias in itself":   {"a: &a\n  b: *a\n", 2, 6, "alias *a refers to a value that contains the alias itself"},
		"list key":          {"? [a, b]\n: x\n", 1, 3, "a key must be a single value"},
		"mapping key":       {"{a: b}: x\n", 1, 1, "a key must be a single value"},
		"merge key":         {"base: &b {k: v}\nother:\n  <<: *b\n", 3, 3, "merge keys (<<) are not supported"},
		"too many aliases":  {bomb.String(), 0, 0, "anchors and aliases repeat more than 100000 values"},
		"bad explicit bool": {"a: !!bool maybe\n", 1, 4, "cannot decode !!str `maybe` as a !!bool"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n, err := yamldoc.Parse("m.yaml", []byte(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = yamldoc.ToJSON("m.yaml", n)
			p := problemOf(t, err)
			if tc.line > 0 && (p.Line != tc.line || p.Column != tc.column) {
				t.Errorf("problem at %d:%d, want %d:%d (%v)", p.Line, p.Column, tc.line, tc.column, p)
			}
			if p.File != "m.yaml" || !strings.Contains(p.Message, tc.says) {
				t.Errorf("problem %v, want it to say %q", p, tc.says)
			}
		})
	}
}

func TestNodeAt(t *testing.T) {
	t.Parallel()
	text := `a:
  b/c: 1
  d~e: 2
  list:
    - x
    - y: 3
shared: &s
  k: 4
ref: *s
`
	n, err := yamldoc.Parse("m.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	type at struct{ Line, Column, KeyLine, KeyColumn int }
	tests := map[string]at{
		"":              {1, 1, 0, 0},
		"/":             {1, 1, 0, 0},
		"/a":            {2, 3, 1, 1},
		"/a/b~1c":       {2, 8, 2, 3},
		"/a/d~0e":       {3, 8, 3, 3},
		"/a/list/0":     {5, 7, 0, 0},
		"/a/list/1/y":   {6, 10, 6, 7},
		"/ref/k":        {8, 6, 8, 3},
		"/a/missing":    {2, 3, 0, 0}, // the deepest node found: /a
		"/a/list/9":     {5, 5, 0, 0}, // the list
		"/a/list/x":     {5, 5, 0, 0},
		"/a/b~1c/under": {2, 8, 0, 0}, // past a scalar
	}
	for ptr, want := range tests {
		t.Run(ptr, func(t *testing.T) {
			t.Parallel()
			val, key := yamldoc.NodeAt(n, ptr)
			got := at{Line: val.Line, Column: val.Column}
			if key != nil {
				got.KeyLine, got.KeyColumn = key.Line, key.Column
			}
			if got != want {
				t.Errorf("NodeAt(%q) = %+v, want %+v", ptr, got, want)
			}
		})
	}
}

func TestSchemaProblems(t *testing.T) {
	t.Parallel()
	const schema = `{
  "type": "object",
  "required": ["name"],
  "additionalProperties": false,
  "properties": {
    "name": {"type": "string"},
    "port": {"type": "integer", "minimum": 1},
    "a/b": {"type": "string"}
  }
}`
	c := jsonschema.NewCompiler()
	if err := c.AddResource("s.json", strings.NewReader(schema)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	n, err := yamldoc.Parse("m.yaml", []byte("port: 0\na/b: 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := yamldoc.ToJSON("m.yaml", n)
	if err != nil {
		t.Fatal(err)
	}
	var keywords []string
	got := yamldoc.SchemaProblems("m.yaml", n, s.Validate(v), func(p *yamldoc.Problem, v yamldoc.Violation) {
		keywords = append(keywords, v.Keyword)
		if v.Keyword == "required" {
			p.Message = "name is missing"
		}
	})
	var lines []string
	for _, p := range got {
		lines = append(lines, p.String())
	}
	want := []string{
		"m.yaml:1:1: /: name is missing",
		"m.yaml:1:7: /port: must be >= 1 but found 0",
		"m.yaml:2:6: /a~1b: expected string, but got number",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if len(keywords) != 3 {
		t.Errorf("describe saw %v, want three violations", keywords)
	}
	if p := yamldoc.SchemaProblems("m.yaml", n, nil, nil); p != nil {
		t.Errorf("no error gave %v", p)
	}
	if p := yamldoc.SchemaProblems("m.yaml", n, errors.New("boom"), nil); len(p) != 1 || p[0].String() != "m.yaml: boom" {
		t.Errorf("a plain error gave %v", p)
	}
}
