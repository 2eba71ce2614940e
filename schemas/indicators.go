package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The indicator catalogue: the fixed, versioned list of statistics a
// territory may publish (DOMAIN.md "Indicator catalogue", PRIVACY.md). It is
// data, in indicators/v1.json, checked against its own schema
// indicators/catalogue.schema.json.

//go:embed indicators/*.json
var indicatorFiles embed.FS

// CatalogueSchemaID is the $id of the catalogue's own schema.
const CatalogueSchemaID = schemaPrefix + "indicator-catalogue/1.0.0"

// Indicator kinds: how an indicator is published, always as counts.
const (
	KindRatio  = "ratio"  // numerator and denominator counts
	KindBinned = "binned" // one count per bin (their sum is the denominator)
	KindCount  = "count"  // one count
	KindSum    = "sum"    // a clamped sum and a denominator count
)

// Period kinds.
const (
	PeriodQuarter = "quarter"
	PeriodYear    = "year"
)

// Unknown is the breakdown value of a household whose value is missing or
// outside the breakdown's list.
const Unknown = "unknown"

// Text is a text in Italian and English.
type Text struct {
	IT string `json:"it"`
	EN string `json:"en"`
}

// Catalogue is a version of the indicator catalogue.
type Catalogue struct {
	Version     string      `json:"version"`
	Unit        Unit        `json:"unit"`
	PeriodKinds []string    `json:"period_kinds"`
	Breakdowns  []Breakdown `json:"breakdowns"`
	Indicators  []Indicator `json:"indicators"`
}

// Unit is the counting and privacy unit (the household).
type Unit struct {
	ID         string `json:"id"`
	Definition Text   `json:"definition"`
}

// Breakdown is a dimension a table may be split by.
type Breakdown struct {
	ID         string   `json:"id"`
	Title      Text     `json:"title"`
	CodeList   string   `json:"code_list"`
	Values     []string `json:"values"` // every value shown, Unknown last
	Derivation Text     `json:"derivation"`
}

// Measure is a count of households (or, for a sum, a clamped total).
type Measure struct {
	Definition Text   `json:"definition"`
	Unit       string `json:"unit,omitempty"`
	Cap        int64  `json:"cap,omitempty"`
}

// Bin is one class of a binned indicator.
type Bin struct {
	ID    string `json:"id"`
	Label Text   `json:"label"`
}

// Source is an entity (schema short name, or "referrals" for the hub's
// view of referrals) and the fields an indicator reads from it.
type Source struct {
	Entity string   `json:"entity"`
	Fields []string `json:"fields"`
}

// Indicator is one indicator of the catalogue.
type Indicator struct {
	ID          string   `json:"id"`
	Number      int      `json:"number"`
	Version     string   `json:"version"`
	Title       Text     `json:"title"`
	Definition  Text     `json:"definition"`
	Kind        string   `json:"kind"`
	Numerator   *Measure `json:"numerator,omitempty"`
	Denominator *Measure `json:"denominator,omitempty"`
	Count       *Measure `json:"count,omitempty"`
	Sum         *Measure `json:"sum,omitempty"`
	Bins        []Bin    `json:"bins,omitempty"`
	Counting    Text     `json:"counting"`
	Breakdowns  []string `json:"breakdowns"`
	PeriodKinds []string `json:"period_kinds"`
	Sources     []Source `json:"sources"`
}

// Measures returns the names of the counts a cell of the indicator holds,
// in order: numerator and denominator for a ratio, the bin ids for a binned
// indicator, count for a count, sum and denominator for a sum.
func (ind *Indicator) Measures() []string {
	switch ind.Kind {
	case KindRatio:
		return []string{"numerator", "denominator"}
	case KindBinned:
		out := make([]string, len(ind.Bins))
		for i, b := range ind.Bins {
			out[i] = b.ID
		}
		return out
	case KindCount:
		return []string{"count"}
	case KindSum:
		return []string{"sum", "denominator"}
	}
	return nil
}

// HasPeriodKind says whether the indicator is published for periods of
// the kind.
func (ind *Indicator) HasPeriodKind(kind string) bool {
	for _, k := range ind.PeriodKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// Indicator finds an indicator by id.
func (c *Catalogue) Indicator(id string) (*Indicator, bool) {
	for i := range c.Indicators {
		if c.Indicators[i].ID == id {
			return &c.Indicators[i], true
		}
	}
	return nil, false
}

// Breakdown finds a breakdown by id.
func (c *Catalogue) Breakdown(id string) (*Breakdown, bool) {
	for i := range c.Breakdowns {
		if c.Breakdowns[i].ID == id {
			return &c.Breakdowns[i], true
		}
	}
	return nil, false
}

// CatalogueError is a catalogue that does not follow its schema or rules:
// each violation names the place (a JSON pointer) and what is wrong.
type CatalogueError struct {
	File       string
	Violations []Violation
}

func (e *CatalogueError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return fmt.Sprintf("indicator catalogue %s is invalid: %s", e.File, strings.Join(parts, "; "))
}

// Indicators loads, validates and returns the shipped catalogue v1. Call it
// once at start-up; an error means a broken build.
func Indicators() (*Catalogue, error) {
	raw, err := indicatorFiles.ReadFile("indicators/v1.json")
	if err != nil {
		return nil, fmt.Errorf("indicator catalogue missing from the build: %w", err)
	}
	return LoadCatalogue("indicators/v1.json", raw)
}

// CatalogueSchema returns the catalogue's own schema, as shipped.
func CatalogueSchema() []byte {
	raw, _ := indicatorFiles.ReadFile("indicators/catalogue.schema.json")
	return raw
}

// LoadCatalogue validates a catalogue document against the catalogue
// schema and the rules a schema cannot say (unique ids and numbers, known
// breakdowns, breakdown values from their code lists, unique bins), and
// decodes it. file names the document in errors.
func LoadCatalogue(file string, raw []byte) (*Catalogue, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	c.AssertFormat = true
	if err := c.AddResource(CatalogueSchemaID, bytes.NewReader(CatalogueSchema())); err != nil {
		return nil, fmt.Errorf("indicators/catalogue.schema.json: %w", err)
	}
	sch, err := c.Compile(CatalogueSchemaID)
	if err != nil {
		return nil, fmt.Errorf("indicators/catalogue.schema.json: %w", err)
	}
	doc, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("indicator catalogue %s: %w", file, err)
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, fmt.Errorf("indicator catalogue %s: %w", file, err)
		}
		var vs []Violation
		leaves(ve, &vs)
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].Pointer < vs[j].Pointer })
		return nil, &CatalogueError{File: file, Violations: dedupe(vs)}
	}
	var cat Catalogue
	if err := json.Unmarshal(raw, &cat); err != nil {
		return nil, fmt.Errorf("indicator catalogue %s: %w", file, err)
	}
	if vs := cat.check(); len(vs) > 0 {
		return nil, &CatalogueError{File: file, Violations: vs}
	}
	return &cat, nil
}

func leaves(ve *jsonschema.ValidationError, out *[]Violation) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			leaves(c, out)
		}
		return
	}
	kw := ""
	if ve.KeywordLocation != "" {
		kw = ve.KeywordLocation[strings.LastIndexByte(ve.KeywordLocation, '/')+1:]
	}
	*out = append(*out, Violation{Pointer: ve.InstanceLocation, Keyword: kw, Message: ve.Message})
}

// check applies the rules the schema cannot express.
func (c *Catalogue) check() []Violation {
	var vs []Violation
	bad := func(ptr, format string, args ...any) {
		vs = append(vs, Violation{Pointer: ptr, Keyword: "catalogue", Message: fmt.Sprintf(format, args...)})
	}
	breakdowns := map[string]bool{}
	for i, b := range c.Breakdowns {
		ptr := fmt.Sprintf("/breakdowns/%d", i)
		if breakdowns[b.ID] {
			bad(ptr+"/id", "breakdown %q is defined twice", b.ID)
		}
		breakdowns[b.ID] = true
		if b.Values[len(b.Values)-1] != Unknown {
			bad(ptr+"/values", "%q must be the last value", Unknown)
		}
		codes, err := codeListCodes(b.CodeList)
		if err != nil {
			bad(ptr+"/code_list", "%v", err)
			continue
		}
		for j, v := range b.Values {
			if v != Unknown && !codes[v] {
				bad(fmt.Sprintf("%s/values/%d", ptr, j), "%q is not a code of the code list %q", v, b.CodeList)
			}
		}
	}
	kinds := map[string]bool{}
	for _, k := range c.PeriodKinds {
		kinds[k] = true
	}
	ids, numbers := map[string]bool{}, map[int]bool{}
	for i, ind := range c.Indicators {
		ptr := fmt.Sprintf("/indicators/%d", i)
		if ids[ind.ID] {
			bad(ptr+"/id", "indicator id %q is used twice", ind.ID)
		}
		ids[ind.ID] = true
		if numbers[ind.Number] {
			bad(ptr+"/number", "indicator number %d is used twice", ind.Number)
		}
		numbers[ind.Number] = true
		for j, b := range ind.Breakdowns {
			if !breakdowns[b] {
				bad(fmt.Sprintf("%s/breakdowns/%d", ptr, j), "breakdown %q is not defined in /breakdowns", b)
			}
		}
		for j, k := range ind.PeriodKinds {
			if !kinds[k] {
				bad(fmt.Sprintf("%s/period_kinds/%d", ptr, j), "period kind %q is not in /period_kinds", k)
			}
		}
		bins := map[string]bool{}
		for j, b := range ind.Bins {
			if bins[b.ID] {
				bad(fmt.Sprintf("%s/bins/%d/id", ptr, j), "bin %q appears twice", b.ID)
			}
			bins[b.ID] = true
		}
	}
	return vs
}

// codeListCodes reads the codes of an embedded code list by name, without
// compiling the whole contract.
func codeListCodes(name string) (map[string]bool, error) {
	raw, err := files.ReadFile("codes/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("no code list %q in schemas/codes", name)
	}
	var l struct {
		Codes []struct {
			Code string `json:"code"`
		} `json:"codes"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("code list %q: %w", name, err)
	}
	out := make(map[string]bool, len(l.Codes))
	for _, c := range l.Codes {
		out[c.Code] = true
	}
	return out, nil
}
