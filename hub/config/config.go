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

	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
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
	// TLS, when set, makes the API and dashboard serve HTTPS only.
	TLS TLS `yaml:"tls"`
	// Connectors are the connector instances, in the order configured.
	Connectors []Connector `yaml:"connectors"`
	// Organisations send and receive referrals; each is served by a
	// connector instance.
	Organisations []Organisation `yaml:"organisations"`
	Referrals     Referrals      `yaml:"referrals"`
	// Retention is how many months the records of each schema (by short
	// name) are kept, counted from their recorded_at; a schema not listed
	// is kept.
	Retention map[string]int `yaml:"retention"`
	// Disclosure is the territory's disclosure control of released
	// statistics; Federation where releases are sent.
	Disclosure Disclosure `yaml:"disclosure"`
	Federation Federation `yaml:"federation"`

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
	// Population, ForeignResidents and Comuni are the territory's public
	// figures (as in the region's territories file), optional: the hub's
	// own dashboard shows per-capita rates when Population is set.
	Population       int64    `yaml:"population"`
	ForeignResidents int64    `yaml:"foreign_residents"`
	Comuni           []string `yaml:"comuni"`
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

// TLS names the certificate and key the API serves HTTPS with (PEM;
// relative to snodo.yaml). Both or neither: the schema requires both.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled says whether the API serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Connector is one configured connector instance.
type Connector struct {
	Name         string `yaml:"name"`
	Plugin       string `yaml:"plugin"`
	SHA256       string `yaml:"sha256"`
	Settings     string `yaml:"settings"`
	Enabled      *bool  `yaml:"enabled"`
	ReadInterval string `yaml:"read_interval"`
}

// Organisation is an organisation of the territory that sends or receives
// referrals, and the connector instance that delivers to its system.
type Organisation struct {
	ID        string `yaml:"id"`
	Name      string `yaml:"name"`
	Connector string `yaml:"connector"`
}

// Referrals configures the referral engine.
type Referrals struct {
	EnvelopeRetention string            `yaml:"envelope_retention"`
	DeliveryInterval  string            `yaml:"delivery_interval"`
	ConsentPurpose    string            `yaml:"consent_purpose"`
	ResponseTargets   map[string]string `yaml:"response_targets"`
}

// Durations of the referral engine: the envelope retention, the delivery
// interval and the response targets by priority, with defaults.
func (r Referrals) Durations() (retention, interval time.Duration, targets map[string]time.Duration) {
	parse := func(s string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
		return def
	}
	targets = map[string]time.Duration{}
	for p, def := range DefaultResponseTargets {
		targets[p] = parse(r.ResponseTargets[p], def)
	}
	return parse(r.EnvelopeRetention, DefaultEnvelopeRetention), parse(r.DeliveryInterval, DefaultDeliveryInterval), targets
}

// Serves maps each organisation id to its connector instance.
func (c *Config) Serves() map[string]string {
	out := make(map[string]string, len(c.Organisations))
	for _, o := range c.Organisations {
		out[o.ID] = o.Connector
	}
	return out
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
	DefaultStorePath   = "snodo.db"
	DefaultPseudoKey   = "keys/pseudonymisation.key"
	DefaultSigningKey  = "keys/signing.key"
	DefaultListen      = "127.0.0.1:8181"
	DefaultBusyTimeout = 5 * time.Second
	DefaultMode        = "territory"
	DefaultLogLevel    = "info"
	DefaultLogFormat   = "auto"
	// DefaultEnvelopeRetention keeps a delivered referral's sealed identity
	// a week, for a redelivery the receiver asks for.
	DefaultEnvelopeRetention = 7 * 24 * time.Hour
	DefaultDeliveryInterval  = 2 * time.Second
	configSchemaID           = "https://snodo-hub.github.io/schemas/config/1.0.0"
	configSchemaMissing      = "the embedded snodo.yaml schema does not compile"
)

// DefaultResponseTargets are the response-time targets by priority: how
// long a referral may wait for an answer (accepted or rejected).
var DefaultResponseTargets = map[string]time.Duration{
	"stat":    4 * time.Hour,
	"asap":    24 * time.Hour,
	"urgent":  72 * time.Hour,
	"routine": 7 * 24 * time.Hour,
}

// Problem is one thing wrong in a configuration file, at its line and
// column.
type Problem = yamldoc.Problem

// Error lists every problem found in a configuration file.
type Error = yamldoc.Error

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
	doc, err := yamldoc.Parse(path, data)
	if err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, &Error{Problems: []Problem{{File: path, Line: 1, Column: 1, Message: "the file is empty: expected a mapping with at least version and territory"}}}
	}
	value, err := yamldoc.ToJSON(path, doc)
	if err != nil {
		return nil, err
	}
	if problems := check(path, doc, value); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	problems := append(uniqueConnectors(path, doc), organisationConnectors(path, doc)...)
	problems = append(append(problems, disclosureProblems(path, doc)...), territoryFigures(path, doc)...)
	problems = append(problems, federationProblems(path, doc)...)
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	var c Config
	if err := doc.Decode(&c); err != nil {
		return nil, &Error{Problems: []Problem{{File: path, Line: doc.Line, Column: doc.Column,
			Message: "cannot be read: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
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
	list, _ := yamldoc.NodeAt(doc, "/connectors")
	if list.Kind != yaml.SequenceNode {
		return nil
	}
	seen := map[string]int{}
	var problems []Problem
	for i, item := range list.Content {
		name, _ := yamldoc.NodeAt(item, "/name")
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

// organisationConnectors refuses an organisation served by a connector
// instance that is not configured, and an organisation listed twice.
func organisationConnectors(path string, doc *yaml.Node) []Problem {
	names := map[string]bool{}
	if list, _ := yamldoc.NodeAt(doc, "/connectors"); list != nil && list.Kind == yaml.SequenceNode {
		for _, item := range list.Content {
			if n, _ := yamldoc.NodeAt(item, "/name"); n != nil && n.Kind == yaml.ScalarNode {
				names[n.Value] = true
			}
		}
	}
	orgs, _ := yamldoc.NodeAt(doc, "/organisations")
	if orgs == nil || orgs.Kind != yaml.SequenceNode {
		return nil
	}
	var problems []Problem
	seen := map[string]int{}
	for i, item := range orgs.Content {
		if id, _ := yamldoc.NodeAt(item, "/id"); id != nil && id.Kind == yaml.ScalarNode {
			if first, dup := seen[id.Value]; dup {
				problems = append(problems, Problem{File: path, Line: id.Line, Column: id.Column, Pointer: fmt.Sprintf("/organisations/%d/id", i),
					Message: fmt.Sprintf("organisation %q is already listed at /organisations/%d", id.Value, first)})
			}
			seen[id.Value] = i
		}
		conn, _ := yamldoc.NodeAt(item, "/connector")
		if conn == nil || conn.Kind != yaml.ScalarNode || names[conn.Value] {
			continue
		}
		problems = append(problems, Problem{File: path, Line: conn.Line, Column: conn.Column, Pointer: fmt.Sprintf("/organisations/%d/connector", i),
			Message: fmt.Sprintf("no connector instance is named %q: name one of /connectors", conn.Value)})
	}
	return problems
}

// territoryFigures refuses more foreign residents than residents: a
// per-capita rate over them would be meaningless.
func territoryFigures(path string, doc *yaml.Node) []Problem {
	pop, _ := yamldoc.NodeAt(doc, "/territory/population")
	foreign, _ := yamldoc.NodeAt(doc, "/territory/foreign_residents")
	if pop == nil || foreign == nil || pop.Kind != yaml.ScalarNode || foreign.Kind != yaml.ScalarNode {
		return nil
	}
	p, err1 := strconv.ParseInt(pop.Value, 10, 64)
	f, err2 := strconv.ParseInt(foreign.Value, 10, 64)
	if err1 != nil || err2 != nil || f <= p {
		return nil
	}
	return []Problem{{File: path, Line: foreign.Line, Column: foreign.Column, Pointer: "/territory/foreign_residents",
		Message: fmt.Sprintf("%d foreign residents is more than the population (%d): check both figures (ISTAT publishes them per comune)", f, p)}}
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
	return yamldoc.SchemaProblems(path, doc, s.Validate(value), describe)
}

// describe words one schema problem in the terms of the configuration,
// with what the schema expected.
func describe(p *Problem, v yamldoc.Violation) {
	e, node := v.Err, v.Node
	switch v.Keyword {
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
	case "pattern", "enum", "const", "type", "minLength", "maxLength", "minimum", "maximum":
		if d := schemaDescription(e.AbsoluteKeywordLocation); d != "" {
			p.Message += "; expected: " + d
		}
	}
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
