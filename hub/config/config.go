// Package config reads snodo.yaml, the configuration of one hub. The file
// is checked against its own JSON Schema (snodo.schema.json, embedded), and
// every problem is reported with the file, line and column where it is and
// what was expected.
package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"go.yaml.in/yaml/v3"
)

// FileName is the configuration file a set-up folder holds.
const FileName = "snodo.yaml"

//go:embed snodo.schema.json
var schemaJSON []byte

// SchemaJSON returns the JSON Schema of snodo.yaml.
func SchemaJSON() []byte { return schemaJSON }

// Config is the content of snodo.yaml, with defaults applied and paths made
// absolute.
type Config struct {
	Version   int       `yaml:"version"`
	Mode      string    `yaml:"mode"`
	Territory Territory `yaml:"territory"`
	Store     Store     `yaml:"store"`
	Keys      Keys      `yaml:"keys"`
	Listen    string    `yaml:"listen"`
	Log       Log       `yaml:"log"`
	// Connectors are the connector instances, in the order configured.
	Connectors []Connector `yaml:"connectors"`

	// Dir is the folder of the configuration file; relative paths are
	// resolved against it.
	Dir string `yaml:"-"`
	// File is the configuration file's path.
	File string `yaml:"-"`
}

// Territory names the territory the hub serves.
type Territory struct {
	Code string `yaml:"code"`
	Name string `yaml:"name"`
}

// Store configures the database.
type Store struct {
	Path        string `yaml:"path"`
	BusyTimeout string `yaml:"busy_timeout"`
}

// Keys names the key files.
type Keys struct {
	Pseudonymisation string `yaml:"pseudonymisation"`
	Signing          string `yaml:"signing"`
}

// Connector is one configured connector instance.
type Connector struct {
	Name         string `yaml:"name"`
	Plugin       string `yaml:"plugin"`
	SHA256       string `yaml:"sha256"`
	Settings     string `yaml:"settings"`
	Enabled      *bool  `yaml:"enabled"`
	ReadInterval string `yaml:"read_interval"`
}

// IsEnabled reports whether the instance should run (the default).
func (c Connector) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Connector finds a configured instance by name.
func (c *Config) Connector(name string) (Connector, bool) {
	for _, k := range c.Connectors {
		if k.Name == name {
			return k, true
		}
	}
	return Connector{}, false
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Defaults of the optional settings.
const (
	DefaultStorePath    = "snodo.db"
	DefaultPseudoKey    = "keys/pseudonymisation.key"
	DefaultSigningKey   = "keys/signing.key"
	DefaultListen       = "127.0.0.1:8181"
	DefaultBusyTimeout  = 5 * time.Second
	DefaultMode         = "territory"
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "auto"
	configSchemaID      = "https://snodo-hub.github.io/schemas/config/1.0.0"
	configSchemaMissing = "the embedded snodo.yaml schema does not compile"
)

// Problem is one thing wrong in a configuration file.
type Problem struct {
	File    string
	Line    int
	Column  int
	Pointer string
	Message string
}

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

// Error lists every problem found in a configuration file.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and checks a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no configuration at %s: create one with \"snodo init DIR --territory CODE --name NAME\", or pass --config", path)
		}
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse checks configuration data read from path.
func Parse(path string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(path, err)}}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &Error{Problems: []Problem{{File: path, Line: 1, Column: 1, Message: "the file is empty: expected a mapping with at least version and territory"}}}
	}
	doc := root.Content[0]
	value, err := toJSON(doc)
	if err != nil {
		return nil, &Error{Problems: []Problem{{File: path, Line: doc.Line, Column: doc.Column, Message: err.Error()}}}
	}
	if problems := check(path, doc, value); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	if problems := uniqueConnectors(path, doc); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	var c Config
	if err := doc.Decode(&c); err != nil {
		return nil, &Error{Problems: []Problem{yamlProblem(path, err)}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.File, c.Dir = abs, filepath.Dir(abs)
	c.applyDefaults()
	return &c, nil
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Mode, DefaultMode)
	def(&c.Store.Path, DefaultStorePath)
	def(&c.Keys.Pseudonymisation, DefaultPseudoKey)
	def(&c.Keys.Signing, DefaultSigningKey)
	def(&c.Listen, DefaultListen)
	def(&c.Log.Level, DefaultLogLevel)
	def(&c.Log.Format, DefaultLogFormat)
}

// Path resolves a path of the configuration against its folder.
func (c *Config) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// BusyTimeout is the store's lock timeout.
func (c *Config) BusyTimeout() time.Duration {
	if d, err := time.ParseDuration(c.Store.BusyTimeout); err == nil {
		return d
	}
	return DefaultBusyTimeout
}

// uniqueConnectors refuses two connector instances with the same name: the
// name is the source of their records.
func uniqueConnectors(path string, doc *yaml.Node) []Problem {
	list := nodeAt(doc, "/connectors")
	if list.Kind != yaml.SequenceNode {
		return nil
	}
	seen := map[string]int{}
	var problems []Problem
	for i, item := range list.Content {
		name := nodeAt(item, "/name")
		if name.Kind != yaml.ScalarNode {
			continue
		}
		if first, dup := seen[name.Value]; dup {
			problems = append(problems, Problem{File: path, Line: name.Line, Column: name.Column,
				Pointer: fmt.Sprintf("/connectors/%d/name", i),
				Message: fmt.Sprintf("connector name %q is already used by /connectors/%d: each instance needs its own name", name.Value, first)})
			continue
		}
		seen[name.Value] = i
	}
	return problems
}

func yamlProblem(path string, err error) Problem {
	p := Problem{File: path, Message: err.Error()}
	// yaml.v3 errors read "yaml: line N: ...".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				p.Line, p.Column, p.Message = n, 1, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	p.Message = "not valid YAML: " + strings.TrimPrefix(p.Message, "yaml: ")
	return p
}

// toJSON turns a YAML node into the value a JSON document would have.
func toJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		return toJSON(n.Content[0])
	case yaml.AliasNode:
		return toJSON(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
			}
			v, err := toJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := toJSON(c)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int", "!!float":
			return json.Number(n.Value), nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func check(path string, doc *yaml.Node, value any) []Problem {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(configSchemaID, bytes.NewReader(schemaJSON)); err != nil {
		panic(configSchemaMissing + ": " + err.Error())
	}
	s, err := c.Compile(configSchemaID)
	if err != nil {
		panic(configSchemaMissing + ": " + err.Error())
	}
	err = s.Validate(value)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{File: path, Message: err.Error()}}
	}
	var problems []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		problems = append(problems, describe(path, doc, e))
	}
	walk(ve)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Line != problems[j].Line {
			return problems[i].Line < problems[j].Line
		}
		return problems[i].Column < problems[j].Column
	})
	return problems
}

// describe turns one schema error into a problem at a line and column, with
// what the schema expected.
func describe(path string, doc *yaml.Node, e *jsonschema.ValidationError) Problem {
	node := nodeAt(doc, e.InstanceLocation)
	p := Problem{File: path, Line: node.Line, Column: node.Column, Pointer: e.InstanceLocation, Message: e.Message}
	if p.Pointer == "" {
		p.Pointer = "/"
	}
	kw := e.KeywordLocation[strings.LastIndex(e.KeywordLocation, "/")+1:]
	switch kw {
	case "additionalProperties":
		// Point at the first unknown key.
		for i := 0; i+1 < len(node.Content); i += 2 {
			if strings.Contains(e.Message, "'"+node.Content[i].Value+"'") {
				k := node.Content[i]
				p.Line, p.Column = k.Line, k.Column
				p.Pointer = strings.TrimSuffix(e.InstanceLocation, "/") + "/" + k.Value
				p.Message = fmt.Sprintf("unknown setting %q: check its spelling and indentation (allowed here: %s)", k.Value, allowedKeys(e))
				break
			}
		}
	case "required":
		p.Message = strings.Replace(e.Message, "missing properties: ", "missing required setting ", 1)
	case "pattern", "enum", "const", "type", "minLength", "maxLength":
		if d := schemaDescription(e.AbsoluteKeywordLocation); d != "" {
			p.Message += "; expected: " + d
		}
	}
	return p
}

// allowedKeys lists the settings a mapping may hold, from the schema.
func allowedKeys(e *jsonschema.ValidationError) string {
	s := schemaAt(strings.TrimSuffix(e.AbsoluteKeywordLocation, "/additionalProperties"))
	props, _ := s["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func schemaDescription(absLoc string) string {
	s := schemaAt(absLoc[:strings.LastIndex(absLoc, "/")])
	d, _ := s["description"].(string)
	return d
}

// schemaAt finds the sub-schema at an absolute keyword location of the
// configuration schema.
func schemaAt(absLoc string) map[string]any {
	var root any
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		return nil
	}
	_, frag, _ := strings.Cut(absLoc, "#")
	cur := root
	for _, tok := range strings.Split(strings.Trim(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

// nodeAt finds the YAML node at a JSON pointer; where the pointer goes
// past the document (a missing key) it returns the deepest node found.
func nodeAt(n *yaml.Node, ptr string) *yaml.Node {
	if ptr == "" {
		return n
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					n, found = n.Content[i+1], true
					break
				}
			}
			if !found {
				return n
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n
			}
			n = n.Content[i]
		default:
			return n
		}
	}
	return n
}
