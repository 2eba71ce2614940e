package schemas_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/snodo-hub/snodo/schemas"
)

// The entities of DOMAIN.md: the contract must have exactly these.
var entities = []string{
	"assessment", "consent", "employment-activity", "household", "housing-placement",
	"location", "organisation", "pathway", "person", "referral", "referral-status-event",
	"service", "service-capacity", "service-encounter", "volunteer",
}

func TestRegistryHoldsEveryEntity(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	if diff := cmp.Diff(entities, reg.Names()); diff != "" {
		t.Errorf("schemas (-want +got):\n%s", diff)
	}
	for _, s := range reg.Schemas() {
		if s.Version != "1.0.0" || s.ID != schemas.BaseURL+"schemas/"+s.Name+"/1.0.0" || s.Title == "" || s.Description == "" {
			t.Errorf("%s: version %q, $id %q, title %q", s.Name, s.Version, s.ID, s.Title)
		}
		if byID, ok := reg.Lookup(s.ID); !ok || byID != s {
			t.Errorf("%s: lookup by $id", s.Name)
		}
	}
}

func TestCompileRefusesUncheckedFormats(t *testing.T) {
	t.Parallel()
	_, err := schemas.Compile()
	if err == nil || !strings.Contains(err.Error(), "codice-fiscale") || !strings.Contains(err.Error(), "WithFormat") {
		t.Fatalf("compile without identifier formats: %v", err)
	}
}

func TestEveryCodeListIsUsed(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	var sources strings.Builder
	for _, s := range reg.Schemas() {
		sources.Write(s.Source())
	}
	var unused []string
	for _, l := range reg.CodeLists() {
		if !strings.Contains(sources.String(), `"`+l.System+`"`) {
			unused = append(unused, l.Name)
		}
		if len(l.Title["it"]) == 0 || len(l.Title["en"]) == 0 || l.Source == "" {
			t.Errorf("%s: titles in Italian and English and a source are required", l.Name)
		}
	}
	sort.Strings(unused)
	// system-kind describes connectors (their plugin manifests), not records.
	allowed := map[string]bool{"system-kind": true}
	for _, u := range unused {
		if !allowed[u] {
			t.Errorf("code list %s is referred to by no schema", u)
		}
	}
}

func TestValidateDocumentChoosesBySchemaField(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	tests := map[string]struct {
		doc     any
		pointer string
		message string
	}{
		"not an object":   {doc: []any{}, pointer: "", message: "a record must be a JSON object"},
		"no schema field": {doc: map[string]any{}, pointer: "/schema", message: `missing "schema"`},
		"unknown $id":     {doc: map[string]any{"schema": "https://example.org/x"}, pointer: "/schema", message: "unknown schema $id; known: https://snodo-hub.github.io/schemas/assessment/1.0.0"},
		"a name":          {doc: map[string]any{"schema": "pathway"}, pointer: "/schema", message: `"pathway" is a schema name, not its $id`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, vs := reg.ValidateDocument(tc.doc)
			if s != nil || len(vs) != 1 || vs[0].Pointer != tc.pointer || !strings.Contains(vs[0].Message, tc.message) {
				t.Fatalf("got %v %v", s, vs)
			}
		})
	}
}

func TestPlaces(t *testing.T) {
	t.Parallel()
	p := compile(t).Places()
	if len(p.Comuni()) != 7904 || len(p.Countries()) != 221 {
		t.Fatalf("%d comuni, %d countries", len(p.Comuni()), len(p.Countries()))
	}
	if c, ok := p.Comune("048017"); !ok || c.Name != "Firenze" || c.Cadastral != "D612" || c.Population == 0 {
		t.Errorf("Firenze: %+v", c)
	}
	if n, ok := p.PlaceName("Z330"); !ok || n != "Marocco" {
		t.Errorf("Z330: %q", n)
	}
	if _, ok := p.PlaceName("A000"); ok {
		t.Error("A000 is no place")
	}
	if c, ok := p.Country("Z330"); !ok || c.NameEN != "Morocco" || !c.Active {
		t.Errorf("Z330: %+v", c)
	}
	if _, ok := p.Country("D612"); ok {
		t.Error("D612 is a comune, not a state")
	}
	for _, c := range p.Comuni() {
		if got, ok := p.Comune(c.ISTAT); !ok || got != c {
			t.Fatalf("round trip of %s: %+v", c.ISTAT, got)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      string
		want    any
		wantErr string
	}{
		"numbers stay numbers":                             {in: `{"a": 1.50, "b": 12345678901234567890}`, want: map[string]any{"a": json.Number("1.50"), "b": json.Number("12345678901234567890")}},
		"last duplicate wins":                              {in: `{"a": 1, "a": 2}`, want: map[string]any{"a": json.Number("2")}},
		"invalid UTF-8 is replaced, as encoding/json does": {in: "\"a\xffb\"", want: "a\ufffdb"},
		"syntax error":                                     {in: `{"a": 1,}`, wantErr: "invalid character '}' looking for beginning of object key string"},
		"two values":                                       {in: `{} {}`, wantErr: "more than one JSON value"},
		"nested and arrays":                                {in: `[{"x": [true, null, "é"]}]`, want: []any{map[string]any{"x": []any{true, nil, "é"}}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := schemas.Decode([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
