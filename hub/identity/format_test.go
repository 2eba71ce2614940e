package identity_test

import (
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/hub/identity"
)

func TestCheckFormat(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in         any
		cf, person bool // valid for "codice-fiscale", for "personal-id"
	}{
		"nil":                          {nil, true, true},
		"number":                       {42.0, true, true},
		"bool":                         {true, true, true},
		"object":                       {map[string]any{"a": "RSSMRA85T10A562T"}, true, true},
		"codice fiscale":               {"RSSMRA85T10A562S", true, true},
		"omocodic codice fiscale":      {"RSSMRA85T10A56NH", true, true},
		"lower case is not normalised": {"rssmra85t10a562s", false, false},
		"spaces are not normalised":    {"RSSMRA85T10 A562S", false, false},
		"wrong check letter":           {"RSSMRA85T10A562T", false, false},
		"provisional code":             {"00743110157", false, true},
		"provisional, wrong check":     {"00743110158", false, false},
		"STP code":                     {"STP1200010000001", false, true},
		"ENI code":                     {"ENI0902041234567", false, true},
		"empty string":                 {"", false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := identity.CheckFormat(tc.in); (err == nil) != tc.cf {
				t.Errorf("CheckFormat: %v, want valid %v", err, tc.cf)
			}
			if err := identity.CheckPersonalIDFormat(tc.in); (err == nil) != tc.person {
				t.Errorf("CheckPersonalIDFormat: %v, want valid %v", err, tc.person)
			}
		})
	}
}

// TestFormatsInJSONSchema registers the formats with the schema validator
// the hub uses and validates documents through it.
func TestFormatsInJSONSchema(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	c.Formats["codice-fiscale"] = func(v any) bool { return identity.CheckFormat(v) == nil }
	c.Formats["personal-id"] = func(v any) bool { return identity.CheckPersonalIDFormat(v) == nil }
	const schema = `{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"properties": {
			"cf": {"type": "string", "format": "codice-fiscale"},
			"id": {"format": "personal-id"},
			"person": {"type": "string", "pattern": "` + identity.PersonIDPattern + `"}
		}
	}`
	if err := c.AddResource("mem://person.json", strings.NewReader(schema)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem://person.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		doc   map[string]any
		valid bool
	}{
		"valid cf and STP id":    {map[string]any{"cf": "RSSMRA85T10A562S", "id": "STP1200010000001"}, true},
		"provisional id":         {map[string]any{"id": "00743110157"}, true},
		"non-string id":          {map[string]any{"id": 12.0}, true},
		"person id":              {map[string]any{"person": identity.NewPersonID()}, true},
		"lower-case person id":   {map[string]any{"person": strings.ToLower(identity.NewPersonID())}, false},
		"wrong check":            {map[string]any{"cf": "RSSMRA85T10A562T"}, false},
		"provisional as cf":      {map[string]any{"cf": "00743110157"}, false},
		"not normalised":         {map[string]any{"cf": "rssmra85t10a562s"}, false},
		"bad provisional as id":  {map[string]any{"id": "00743110158"}, false},
		"valid cf, bad other id": {map[string]any{"cf": "RSSMRA85T10A562S", "id": "STP12000100000X1"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := s.Validate(tc.doc); (err == nil) != tc.valid {
				t.Errorf("Validate: %v, want valid %v", err, tc.valid)
			}
		})
	}
}
