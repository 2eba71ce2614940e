package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// The validator library checks every branch of an allOf against the whole
// document: for an object it copies the object's keys into a map at the
// branch, again at its "if", and builds a full error (keyword locations,
// formatted message) when the "if" does not hold, which is the usual case
// for a business rule. A person record's two rules so cost about as much as
// all its properties together.
//
// Compile therefore also builds, for an entity whose schema has such rules
// at its top level, a fast variant: the schema without them, plus each
// rule's condition read by a small evaluator of our own and its "then"
// compiled on its own. Validate tries the fast variant first and uses it
// only to accept: a document that it does not accept is validated again by
// the full schema, which alone writes the violations. So the violations are
// always the full schema's, and the fast variant must only never accept
// what the full schema refuses:
//
//   - without the rules, the top-level unevaluatedProperties sees no
//     property evaluated by them, so it refuses at least as much;
//   - a rule {"if": C, "then": T} (no "else") holds when C fails, and when C
//     holds and T does; T checked on its own gives what it gives in place,
//     except for the annotations it adds to the unevaluatedProperties of
//     the top level, which the previous point covers.
//
// The evaluator reads only the keywords whose result it can give exactly
// like the library: required, properties, and const or enum of strings and
// booleans (compared with ==, as the library does for those types). A rule
// whose "if" uses anything else stays in the fast variant.

// fastPath is an entity schema's fast variant.
type fastPath struct {
	schema *jsonschema.Schema // the entity schema without the rules below
	rules  []fastRule
}

// fastRule is one top-level {"if": …, "then": …} rule.
type fastRule struct {
	cond *condition
	then *jsonschema.Schema
	src  any // the "if" schema, for the tests
}

// valid reports whether the fast variant accepts doc; false says nothing.
func (f *fastPath) valid(doc any) bool {
	if f.schema.Validate(doc) != nil {
		return false
	}
	for _, r := range f.rules {
		if r.cond.holds(doc) && r.then.Validate(doc) != nil {
			return false
		}
	}
	return true
}

// condition is an "if" schema made of required, properties, and const or
// enum of strings and booleans.
type condition struct {
	required []string
	props    map[string]*condition
	// values are the allowed values of const or enum; checked when
	// hasValues.
	values    []any
	hasValues bool
}

// holds evaluates the condition as the library evaluates the schema it was
// read from: required and properties apply to objects only.
func (c *condition) holds(v any) bool {
	if c.hasValues {
		ok := false
		for _, want := range c.values {
			if scalarEquals(v, want) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		return true
	}
	for _, name := range c.required {
		if _, ok := obj[name]; !ok {
			return false
		}
	}
	for name, sub := range c.props {
		if pv, ok := obj[name]; ok && !sub.holds(pv) {
			return false
		}
	}
	return true
}

// scalarEquals is the library's equality for a string or boolean want:
// same JSON type and ==.
func scalarEquals(v, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == w
	case bool:
		b, ok := v.(bool)
		return ok && b == w
	}
	return false
}

// readCondition reads an "if" schema; ok is false when it uses anything
// the evaluator does not read exactly.
func readCondition(node any) (c *condition, ok bool) {
	m, isMap := node.(map[string]any)
	if !isMap {
		return nil, false
	}
	c = &condition{}
	for k, v := range m {
		switch k {
		case "title", "description", "$comment":
		case "required":
			list, isList := v.([]any)
			if !isList {
				return nil, false
			}
			for _, item := range list {
				name, isStr := item.(string)
				if !isStr {
					return nil, false
				}
				c.required = append(c.required, name)
			}
		case "properties":
			props, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			c.props = make(map[string]*condition, len(props))
			for name, sub := range props {
				sc, ok := readCondition(sub)
				if !ok {
					return nil, false
				}
				c.props[name] = sc
			}
		case "const":
			if !isScalar(v) || c.hasValues {
				return nil, false
			}
			c.values, c.hasValues = []any{v}, true
		case "enum":
			list, isList := v.([]any)
			if !isList || c.hasValues {
				return nil, false
			}
			for _, item := range list {
				if !isScalar(item) {
					return nil, false
				}
			}
			c.values, c.hasValues = list, true
		default:
			return nil, false
		}
	}
	return c, true
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool:
		return true
	}
	return false
}

// splitRules takes out of an inlined entity schema its top-level allOf
// branches that are rules the fast variant can check apart. It returns the
// schema without them (a copy; flat is not changed) and the rules, or ok
// false when there is no such rule.
func splitRules(flat map[string]any) (rest map[string]any, rules []splitRule, ok bool) {
	all, _ := flat["allOf"].([]any)
	var kept []any
	for _, branch := range all {
		b, _ := branch.(map[string]any)
		cond, then, simple := simpleRule(b)
		if !simple {
			kept = append(kept, branch)
			continue
		}
		rules = append(rules, splitRule{cond: cond, ifSrc: b["if"], then: then})
	}
	if len(rules) == 0 {
		return nil, nil, false
	}
	rest = make(map[string]any, len(flat))
	for k, v := range flat {
		rest[k] = v
	}
	if len(kept) == 0 {
		delete(rest, "allOf")
	} else {
		rest["allOf"] = kept
	}
	return rest, rules, true
}

// splitRule is a rule taken out by splitRules.
type splitRule struct {
	cond        *condition
	ifSrc, then any
}

// simpleRule reads a branch made of "if" and "then" only (with
// annotations), whose "if" the evaluator reads.
func simpleRule(b map[string]any) (cond *condition, then any, ok bool) {
	if b == nil {
		return nil, nil, false
	}
	for k := range b {
		switch k {
		case "if", "then", "title", "description", "$comment":
		default:
			return nil, nil, false
		}
	}
	then, hasThen := b["then"]
	if !hasThen {
		return nil, nil, false
	}
	cond, ok = readCondition(b["if"])
	return cond, then, ok
}

// compileFast builds the fast variant of the entity schema id from its
// inlined form; nil when it has no rule to take apart.
func compileFast(c *jsonschema.Compiler, id string, flat any) (*fastPath, error) {
	m, isMap := flat.(map[string]any)
	if !isMap {
		return nil, nil
	}
	rest, rules, ok := splitRules(m)
	if !ok {
		return nil, nil
	}
	fast := &fastPath{}
	var err error
	if fast.schema, err = compileAt(c, id+"/fast", rest); err != nil {
		return nil, err
	}
	for i, r := range rules {
		then, err := compileAt(c, id+"/fast/rule/"+strconv.Itoa(i), r.then)
		if err != nil {
			return nil, err
		}
		fast.rules = append(fast.rules, fastRule{cond: r.cond, then: then, src: r.ifSrc})
	}
	return fast, nil
}

// compileAt compiles schema as a resource of its own at url.
func compileAt(c *jsonschema.Compiler, url string, schema any) (*jsonschema.Schema, error) {
	if m, isMap := schema.(map[string]any); isMap {
		cp := make(map[string]any, len(m)+1)
		for k, v := range m {
			cp[k] = v
		}
		cp["$id"] = url
		schema = cp
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	if err := c.AddResource(url, bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("fast variant %s: %w", url, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compile fast variant %s: %w", url, err)
	}
	return s, nil
}
