package schemas

import (
	"bytes"
	"encoding/json"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// FastVerdicts validates doc with s's fast variant and with its full
// schema; hasFast is false when s has no fast variant.
func FastVerdicts(s *Schema, doc any) (fast, full, hasFast bool) {
	full = s.compiled.Validate(doc) == nil
	if s.fast == nil {
		return full, full, false
	}
	return s.fast.valid(doc), full, true
}

// RuleCheck is one fast rule's condition, as the evaluator reads it and as
// the library does.
type RuleCheck struct {
	Holds   func(doc any) bool // the evaluator
	Library func(doc any) bool // the library, on the same "if" schema
	Probes  []any              // values that the condition tests
}

// FastRules returns the rules s's fast variant checks apart.
func FastRules(s *Schema) ([]RuleCheck, error) {
	if s.fast == nil {
		return nil, nil
	}
	var out []RuleCheck
	for i, r := range s.fast.rules {
		raw, err := json.Marshal(r.src)
		if err != nil {
			return nil, err
		}
		c := jsonschema.NewCompiler()
		c.Draft = jsonschema.Draft2020
		url := "https://example.invalid/if/" + string(rune('a'+i))
		if err := c.AddResource(url, bytes.NewReader(raw)); err != nil {
			return nil, err
		}
		lib, err := c.Compile(url)
		if err != nil {
			return nil, err
		}
		out = append(out, RuleCheck{
			Holds:   r.cond.holds,
			Library: func(doc any) bool { return lib.Validate(doc) == nil },
			Probes:  r.cond.probes(),
		})
	}
	return out, nil
}

// probes are values that make each part of the condition hold or fail:
// its own values, values of other types, and objects made of its
// properties' probes, with and without the required ones.
func (c *condition) probes() []any {
	out := []any{nil, 7.0, 1988.0, true, false, "", "zz-other", []any{}, []any{"x"}, map[string]any{}}
	out = append(out, c.values...)
	if len(c.props) == 0 && len(c.required) == 0 {
		return out
	}
	// Objects: every required name present (with a neutral value) or one
	// missing, combined with each probe of one property at a time.
	base := map[string]any{}
	for _, name := range c.required {
		base[name] = "zz-other"
	}
	out = append(out, base)
	for _, name := range c.required {
		m := copyMap(base)
		delete(m, name)
		out = append(out, m)
	}
	for name, sub := range c.props {
		for _, p := range sub.probes() {
			for _, b := range []map[string]any{base, {}} {
				m := copyMap(b)
				m[name] = p
				out = append(out, m)
			}
		}
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CondKeys lists the top-level property names that s's fast rules test.
func CondKeys(s *Schema) []string {
	if s.fast == nil {
		return nil
	}
	var out []string
	for _, r := range s.fast.rules {
		out = append(out, r.cond.required...)
		for name := range r.cond.props {
			out = append(out, name)
		}
	}
	return out
}
