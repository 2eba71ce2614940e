package schemas_test

import (
	"encoding/json"
	"testing"

	"github.com/snodo-hub/snodo/schemas"
)

// TestFastConditionsAreTheLibrarys checks the evaluator of the rules'
// conditions against the library on the same "if" schemas, over values
// that make each part of a condition hold or fail.
func TestFastConditionsAreTheLibrarys(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	rules := 0
	for _, s := range reg.Schemas() {
		checks, err := schemas.FastRules(s)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		for i, c := range checks {
			rules++
			for _, p := range c.Probes {
				if got, want := c.Holds(p), c.Library(p); got != want {
					b, _ := json.Marshal(p)
					t.Errorf("%s rule %d on %s: evaluator says %v, library %v", s.Name, i, b, got, want)
				}
			}
		}
	}
	if rules == 0 {
		t.Fatal("no schema has a rule the fast variant checks apart: the test tests nothing")
	}
}

// TestFastPathAgrees checks that the fast variant accepts exactly what the
// full schema accepts on every fixture, and never accepts what the full
// schema refuses on variations of the fixtures that switch the rules on
// and off: each top-level property removed, or replaced by a value the
// rules test.
func TestFastPathAgrees(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	values := []any{"IT", "Z330", "stateless", "eu", "inactive", "active", "contract", "municipality", "single-person",
		"mediation", "one-off", "completed", "rejected", "beds", true, false, 1.0, 7.0, nil,
		map[string]any{"code": "contract"}, map[string]any{"code": "municipality"}, map[string]any{"code": "single-person"},
		map[string]any{"code": "mediation"}, map[string]any{"code": "beds"}, map[string]any{"receives_adi": true},
		map[string]any{"system": "x", "code": "contract"}}
	checked := 0
	for _, f := range loadFixtures(t) {
		s, ok := reg.Lookup(f.schema)
		if !ok {
			t.Fatalf("%s: no schema %q", f.file, f.schema)
		}
		fast, full, has := schemas.FastVerdicts(s, f.doc)
		if !has {
			continue
		}
		if fast != full {
			t.Errorf("%s: fast variant says %v, full schema %v", f.file, fast, full)
		}
		doc, ok := f.doc.(map[string]any)
		if !ok {
			continue
		}
		variant := func(edit func(m map[string]any)) {
			m := make(map[string]any, len(doc))
			for k, v := range doc {
				m[k] = v
			}
			edit(m)
			checked++
			if fast, full, _ := schemas.FastVerdicts(s, m); fast && !full {
				b, _ := json.Marshal(m)
				t.Errorf("%s: the fast variant accepts a document the full schema refuses: %s", f.file, b)
			}
		}
		// One property removed or replaced; then each property the rules
		// test replaced, with another one removed.
		for k := range doc {
			if !f.valid {
				break
			}
			variant(func(m map[string]any) { delete(m, k) })
			for _, v := range []any{nil, 7.0, "zz-other", true, map[string]any{}} {
				variant(func(m map[string]any) { m[k] = v })
			}
		}
		rules, err := schemas.FastRules(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range schemas.CondKeys(s) {
			for _, v := range values {
				variant(func(m map[string]any) { m[k] = v })
				if !f.valid || !anyHolds(rules, doc, k, v) {
					continue
				}
				for k2 := range doc {
					if k2 != k {
						variant(func(m map[string]any) { m[k] = v; delete(m, k2) })
					}
				}
			}
		}
	}
	t.Logf("%d variants", checked)
	if checked == 0 {
		t.Fatal("no fixture has a fast variant: the test tests nothing")
	}
}

// anyHolds reports whether a rule's condition holds on doc with k set to v.
func anyHolds(rules []schemas.RuleCheck, doc map[string]any, k string, v any) bool {
	m := make(map[string]any, len(doc)+1)
	for key, val := range doc {
		m[key] = val
	}
	m[k] = v
	for _, r := range rules {
		if r.Holds(m) {
			return true
		}
	}
	return false
}
