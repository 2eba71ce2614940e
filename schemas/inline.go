package schemas

import (
	"fmt"
	"reflect"
	"strings"
)

// The validator library evaluates a "$ref" as a schema of its own: for an
// object value it walks the object's keys again at every level. The entity
// schemas refer to the common definitions and the code lists at nearly every
// property, so a referral was visited five times over (about 460 µs a
// document on the reference machine). Before compiling, Compile therefore
// replaces each "$ref" by the definition it names, merged into the referring
// schema where that keeps the meaning exactly (disjoint keywords, properties
// and required lists), and as an allOf branch otherwise. The files stay as
// written, and the independent validator in the tests reads them unchanged,
// so the two must agree on every fixture.

// inliner resolves references among a set of schema documents by $id.
type inliner struct {
	docs map[string]any
}

// inline returns a copy of node with every $ref replaced. base is the $id of
// the document node comes from; depth guards against cyclic references.
func (in *inliner) inline(node any, base string, depth int) (any, error) {
	if depth > 32 {
		return nil, fmt.Errorf("references nest deeper than 32 levels from %s: a cycle?", base)
	}
	switch n := node.(type) {
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			c, err := in.inline(v, base, depth)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, v := range n {
			if k == "$ref" || k == "const" || k == "enum" {
				out[k] = v // values, not schemas
				continue
			}
			c, err := in.inline(v, base, depth)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		ref, ok := out["$ref"].(string)
		if !ok {
			return out, nil
		}
		delete(out, "$ref")
		target, targetBase, err := in.resolve(ref, base)
		if err != nil {
			return nil, err
		}
		resolved, err := in.inline(target, targetBase, depth+1)
		if err != nil {
			return nil, err
		}
		if m, ok := resolved.(map[string]any); ok {
			// Inlined, it is no longer a resource of its own.
			delete(m, "$id")
			delete(m, "$schema")
		}
		return merge(out, resolved), nil
	}
	return node, nil
}

// resolve finds the schema a reference names.
func (in *inliner) resolve(ref, base string) (any, string, error) {
	docID, frag, _ := strings.Cut(ref, "#")
	if docID == "" {
		docID = base
	}
	doc, ok := in.docs[docID]
	if !ok {
		return nil, "", fmt.Errorf("%s refers to %s, which is not part of the contract", base, ref)
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("%s: %s does not resolve", base, ref)
		}
		if cur, ok = m[tok]; !ok {
			return nil, "", fmt.Errorf("%s: %s does not resolve", base, ref)
		}
	}
	return cur, docID, nil
}

// annotations never change what validates.
var annotations = map[string]bool{"title": true, "description": true, "$comment": true, "examples": true, "default": true}

// merge combines a schema with the (already inlined) schema its $ref named,
// so that the result accepts exactly what both accept.
func merge(node map[string]any, target any) any {
	t, ok := target.(map[string]any)
	if !ok { // a boolean schema
		return appendAllOf(node, target)
	}
	if len(node) == 0 {
		return t
	}
	// Keywords that read their neighbours cannot be merged safely.
	for _, k := range []string{"additionalProperties", "unevaluatedProperties", "patternProperties", "$id", "$defs", "$anchor", "$dynamicAnchor"} {
		if _, in := t[k]; in {
			if _, alsoHere := node[k]; alsoHere || k != "additionalProperties" && k != "unevaluatedProperties" {
				return appendAllOf(node, t)
			}
			if _, np := node["properties"]; np {
				return appendAllOf(node, t)
			}
		}
	}
	if _, in := node["additionalProperties"]; in {
		if _, tp := t["properties"]; tp {
			return appendAllOf(node, t)
		}
	}
	out := make(map[string]any, len(node)+len(t))
	for k, v := range node {
		out[k] = v
	}
	for k, tv := range t {
		nv, both := out[k]
		switch {
		case !both:
			out[k] = tv
		case annotations[k]:
			// keep the referring schema's
		case k == "required":
			out[k] = union(nv, tv)
		case k == "properties":
			np, ok1 := nv.(map[string]any)
			tp, ok2 := tv.(map[string]any)
			if !ok1 || !ok2 {
				return appendAllOf(node, t)
			}
			props := make(map[string]any, len(np)+len(tp))
			for p, s := range np {
				props[p] = s
			}
			for p, s := range tp {
				if ns, dup := props[p]; dup {
					nm, ok := ns.(map[string]any)
					if !ok {
						return appendAllOf(node, t)
					}
					props[p] = merge(nm, s)
				} else {
					props[p] = s
				}
			}
			out[k] = props
		case k == "allOf":
			a, _ := nv.([]any)
			b, _ := tv.([]any)
			out[k] = append(append([]any{}, a...), b...)
		case reflect.DeepEqual(nv, tv):
		default:
			return appendAllOf(node, t)
		}
	}
	return out
}

func appendAllOf(node map[string]any, target any) map[string]any {
	out := make(map[string]any, len(node)+1)
	for k, v := range node {
		out[k] = v
	}
	all, _ := out["allOf"].([]any)
	out["allOf"] = append(append([]any{}, all...), target)
	return out
}

func union(a, b any) []any {
	seen := map[any]bool{}
	var out []any
	for _, l := range []any{a, b} {
		s, _ := l.([]any)
		for _, v := range s {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}
