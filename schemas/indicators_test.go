package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestIndicatorsShippedCatalogue(t *testing.T) {
	cat, err := Indicators()
	if err != nil {
		t.Fatal(err)
	}
	if cat.Version != "1.0.0" || cat.Unit.ID != "household" {
		t.Errorf("version %q unit %q", cat.Version, cat.Unit.ID)
	}
	if len(cat.Indicators) != 15 {
		t.Fatalf("%d indicators, want the 15 of DOMAIN.md", len(cat.Indicators))
	}
	for i, ind := range cat.Indicators {
		if ind.Number != i+1 {
			t.Errorf("indicator %d (%s) has number %d: keep DOMAIN.md's order", i, ind.ID, ind.Number)
		}
		if len(ind.Measures()) == 0 {
			t.Errorf("%s: no measures for kind %q", ind.ID, ind.Kind)
		}
		if !ind.HasPeriodKind(PeriodYear) {
			t.Errorf("%s: every indicator is published for years", ind.ID)
		}
	}
	for _, ind := range cat.Indicators {
		for _, src := range ind.Sources {
			if src.Entity == "referrals" {
				continue
			}
			raw, err := files.ReadFile(src.Entity + ".schema.json")
			if err != nil {
				t.Errorf("%s reads %q, which is not a schema of the contract", ind.ID, src.Entity)
				continue
			}
			var sch struct {
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(raw, &sch); err != nil {
				t.Fatal(err)
			}
			for _, f := range src.Fields {
				top, _, _ := strings.Cut(f, ".")
				if _, ok := sch.Properties[top]; !ok {
					t.Errorf("%s reads %s.%s, which the schema does not have", ind.ID, src.Entity, f)
				}
			}
		}
	}
	caseload, ok := cat.Indicator("caseload")
	if !ok || caseload.Kind != KindCount || caseload.Count == nil {
		t.Errorf("caseload: %+v", caseload)
	}
	rt, _ := cat.Indicator("referral-response-time")
	if got := strings.Join(rt.Measures(), ","); got != "le-2d,3-7d,8-30d,gt-30d,none" {
		t.Errorf("response time bins %s", got)
	}
	if b, ok := cat.Breakdown("age-band"); !ok || b.Values[len(b.Values)-1] != Unknown {
		t.Errorf("age-band breakdown %+v", b)
	}
}

// A broken copy of the catalogue is refused, naming the place and the fault.
func TestIndicatorsBrokenCatalogueRefused(t *testing.T) {
	raw, err := indicatorFiles.ReadFile("indicators/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		edit    func(doc map[string]any)
		pointer string
		message string
	}{
		"ratio without denominator": {
			edit:    func(doc map[string]any) { delete(indicator(doc, 0), "denominator") },
			pointer: "/indicators/0",
			message: "denominator",
		},
		"unknown kind": {
			edit:    func(doc map[string]any) { indicator(doc, 2)["kind"] = "median" },
			pointer: "/indicators/2/kind",
			message: "must be one of",
		},
		"bad slug": {
			edit:    func(doc map[string]any) { indicator(doc, 13)["id"] = "Case Load" },
			pointer: "/indicators/13/id",
			message: "does not match pattern",
		},
		"extra field": {
			edit:    func(doc map[string]any) { indicator(doc, 1)["ratio"] = 0.5 },
			pointer: "/indicators/1",
			message: "additionalProperties",
		},
		"duplicate id": {
			edit:    func(doc map[string]any) { indicator(doc, 1)["id"] = "referral-acceptance" },
			pointer: "/indicators/1/id",
			message: "used twice",
		},
		"undefined breakdown": {
			edit:    func(doc map[string]any) { indicator(doc, 13)["breakdowns"] = []any{"sex", "income"} },
			pointer: "/indicators/13/breakdowns/1",
			message: `"income" is not defined`,
		},
		"value outside the code list": {
			edit: func(doc map[string]any) {
				b := doc["breakdowns"].([]any)[0].(map[string]any)
				b["values"] = []any{"F", "M", "X", "unknown"}
			},
			pointer: "/breakdowns/0/values/2",
			message: "not a code of the code list",
		},
		"missing Italian title": {
			edit:    func(doc map[string]any) { delete(indicator(doc, 4)["title"].(map[string]any), "it") },
			pointer: "/indicators/4/title",
			message: "it",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			tc.edit(doc)
			broken, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadCatalogue("broken.json", broken)
			var ce *CatalogueError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *CatalogueError", err)
			}
			found := false
			for _, v := range ce.Violations {
				if v.Pointer == tc.pointer && strings.Contains(v.Message, tc.message) {
					found = true
				}
			}
			if !found {
				t.Errorf("no violation at %s mentioning %q; got %v", tc.pointer, tc.message, ce)
			}
			if !strings.Contains(err.Error(), "broken.json") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func indicator(doc map[string]any, i int) map[string]any {
	return doc["indicators"].([]any)[i].(map[string]any)
}
