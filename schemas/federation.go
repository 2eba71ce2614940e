package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// EnvelopeSchemaID is the $id of the federation envelope schema: the JSON
// Schema of everything that leaves a territory (see hub/federation).
const EnvelopeSchemaID = schemaPrefix + "federation/envelope/1.0.0"

const envelopeSchemaFile = "federation/envelope.schema.json"

//go:embed federation/*.schema.json
var federationFiles embed.FS

// FederationFS returns the embedded federation schemas (federation/*.schema.json),
// as shipped. They are not entity schemas: Compile does not load them.
func FederationFS() fs.FS { return federationFiles }

// EnvelopeSchemaSource returns the federation envelope schema as shipped.
func EnvelopeSchemaSource() []byte {
	raw, err := federationFiles.ReadFile(envelopeSchemaFile)
	if err != nil {
		panic(fmt.Sprintf("embedded %s vanished: %v", envelopeSchemaFile, err))
	}
	return raw
}

// EnvelopeSchema is the compiled federation envelope schema. It is safe for
// concurrent use.
type EnvelopeSchema struct {
	s *Schema
}

// ID returns the schema's $id.
func (e *EnvelopeSchema) ID() string { return e.s.ID }

// Validate checks a decoded envelope (see Decode) and returns its
// violations, each with the JSON pointer of the offending value, or nil.
// Messages never repeat string values of the document.
func (e *EnvelopeSchema) Validate(doc any) []Violation {
	vs := e.s.Validate(doc)
	for i := range vs {
		if vs[i].Keyword == "additionalProperties" {
			vs[i].Message = "property not allowed: the envelope schema is closed"
		}
	}
	return vs
}

var compileEnvelope = sync.OnceValues(func() (*EnvelopeSchema, error) {
	raw := EnvelopeSchemaSource()
	var head struct {
		ID          string `json:"$id"`
		Title       string `json:"title"`
		Description string `json:"description"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("schemas/%s: %w", envelopeSchemaFile, err)
	}
	if head.ID != EnvelopeSchemaID {
		return nil, fmt.Errorf("schemas/%s: $id %q, want %q", envelopeSchemaFile, head.ID, EnvelopeSchemaID)
	}
	doc, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("schemas/%s: %w", envelopeSchemaFile, err)
	}
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("schema %s is not part of the embedded contract (remote references are never fetched)", s)
	}
	if err := c.AddResource(EnvelopeSchemaID, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("schemas/%s: %w", envelopeSchemaFile, err)
	}
	compiled, err := c.Compile(EnvelopeSchemaID)
	if err != nil {
		return nil, fmt.Errorf("compile schemas/%s: %w", envelopeSchemaFile, err)
	}
	s := &Schema{
		Name: "federation-envelope", Version: "1.0.0", ID: EnvelopeSchemaID,
		Title: head.Title, Description: head.Description,
		compiled: compiled, rules: map[string]string{},
		reg: &Registry{formats: map[string]func(any) error{}},
	}
	collectRules(doc, "", s.rules)
	return &EnvelopeSchema{s: s}, nil
})

// CompileEnvelope compiles the federation envelope schema (once; later
// calls return the same value).
func CompileEnvelope() (*EnvelopeSchema, error) { return compileEnvelope() }
