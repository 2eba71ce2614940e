package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// CodeList is one list of codes from schemas/codes/. A closed list is a
// frozen set whose fields hold the bare code; an open list grows over time
// and its fields hold a coding {system, code, display}.
type CodeList struct {
	Name        string            `json:"name"`
	System      string            `json:"system"`
	Version     string            `json:"version"`
	Title       map[string]string `json:"title"`
	Description string            `json:"description"`
	Source      string            `json:"source"`
	Closed      bool              `json:"closed"`
	Codes       []Code            `json:"codes"`

	index map[string]*Code
}

// Code is one entry of a code list.
type Code struct {
	Code       string            `json:"code"`
	Display    map[string]string `json:"display"`
	Definition string            `json:"definition,omitempty"`
	Group      string            `json:"group,omitempty"`
}

// Lookup finds a code in the list.
func (l *CodeList) Lookup(code string) (*Code, bool) {
	c, ok := l.index[code]
	return c, ok
}

// CodeLists returns the embedded code lists, by name.
func (r *Registry) CodeLists() []*CodeList { return r.lists }

// CodeList finds a code list by name or system URI.
func (r *Registry) CodeList(nameOrSystem string) (*CodeList, bool) {
	for _, l := range r.lists {
		if l.Name == nameOrSystem || l.System == nameOrSystem {
			return l, true
		}
	}
	return nil, false
}

// Schema returns the JSON Schema that fields coded from the list must
// follow; entity schemas refer to it by the list's system URI.
func (l *CodeList) Schema() map[string]any {
	codes := make([]any, len(l.Codes))
	for i, c := range l.Codes {
		codes[i] = c.Code
	}
	if l.Closed {
		return map[string]any{"$id": l.System, "type": "string", "enum": codes}
	}
	return map[string]any{
		"$id":  l.System,
		"type": "object",
		"properties": map[string]any{
			"system":  map[string]any{"const": l.System},
			"code":    map[string]any{"enum": codes},
			"display": map[string]any{"type": "string", "maxLength": 200},
		},
		"required":             []any{"system", "code"},
		"additionalProperties": false,
	}
}

// loadCodeLists reads every code list and validates it against the
// code-list schema.
func (r *Registry) loadCodeLists() ([]*CodeList, error) {
	meta, err := files.ReadFile("codes/" + codeListName + ".schema.json")
	if err != nil {
		return nil, fmt.Errorf("code-list schema missing from the build: %w", err)
	}
	metaID := schemaPrefix + codeListName + "/1.0.0"
	mc := jsonschema.NewCompiler()
	mc.Draft = jsonschema.Draft2020
	mc.AssertFormat = true
	if err := mc.AddResource(metaID, bytes.NewReader(meta)); err != nil {
		return nil, fmt.Errorf("schemas/codes/%s.schema.json: %w", codeListName, err)
	}
	metaSchema, err := mc.Compile(metaID)
	if err != nil {
		return nil, fmt.Errorf("schemas/codes/%s.schema.json: %w", codeListName, err)
	}

	paths, err := fs.Glob(files, "codes/*.json")
	if err != nil {
		return nil, err
	}
	var lists []*CodeList
	for _, p := range paths {
		if strings.HasSuffix(p, ".schema.json") {
			continue
		}
		raw, err := files.ReadFile(p)
		if err != nil {
			return nil, err
		}
		doc, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		if err := metaSchema.Validate(doc); err != nil {
			return nil, fmt.Errorf("schemas/%s does not follow the code-list schema: %v", p, err)
		}
		var l CodeList
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("schemas/%s: %w", p, err)
		}
		name := strings.TrimSuffix(path.Base(p), ".json")
		if l.Name != name || l.System != codePrefix+name {
			return nil, fmt.Errorf("schemas/%s: name must be %q and system %q", p, name, codePrefix+name)
		}
		l.index = make(map[string]*Code, len(l.Codes))
		for i := range l.Codes {
			code := &l.Codes[i]
			if _, dup := l.index[code.Code]; dup {
				return nil, fmt.Errorf("schemas/%s: code %q appears twice", p, code.Code)
			}
			l.index[code.Code] = code
		}
		lists = append(lists, &l)
	}
	return lists, nil
}
