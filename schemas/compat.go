package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Level is how much a schema change breaks: Patch changes only documentation,
// Minor accepts every document the old version accepted, Major rejects some
// of them (or changes what a value means).
type Level int

// The levels, in increasing order of severity.
const (
	Patch Level = iota
	Minor
	Major
)

func (l Level) String() string {
	switch l {
	case Patch:
		return "patch"
	case Minor:
		return "minor"
	case Major:
		return "major"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// MarshalText writes the level as "patch", "minor" or "major".
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads "patch", "minor" or "major".
func (l *Level) UnmarshalText(text []byte) error {
	for _, v := range []Level{Patch, Minor, Major} {
		if string(text) == v.String() {
			*l = v
			return nil
		}
	}
	return fmt.Errorf("level %q: want patch, minor or major", text)
}

// Change is one difference between two versions of a schema.
type Change struct {
	Level Level `json:"level"`
	// Pointer is where in a document the change bites, as a JSON pointer
	// with "*" for the items of an array (and for the other properties of
	// an object): "/goals/*/category". "" is the document itself.
	Pointer string `json:"pointer"`
	// Message says what changed, e.g. `property "nickname" removed`.
	Message string `json:"message"`
}

// CompatReport is the verdict of CheckCompat.
type CompatReport struct {
	OldID string `json:"old_id"`
	NewID string `json:"new_id"`
	// Level is the highest level of the changes; Patch when there are none.
	Level Level `json:"level"`
	// Changes are sorted by level (major first), then pointer.
	Changes []Change `json:"changes"`
	// VersionAdvice is "" when the version in the $id moves as the level
	// requires, and otherwise says which version to use.
	VersionAdvice string `json:"version_advice,omitempty"`
}

// CheckCompat compares two versions of an entity schema and classifies every
// difference by what it does to documents, under the contract's closed-content
// rules: removing, renaming or newly requiring a property, narrowing a type, an
// enum or a code list, tightening a constraint or closing an object is major;
// adding an optional property or widening is minor; documentation-only changes
// are patch.
//
// The schemas are compared resolved: every "$ref" is followed (within the same
// file, or to another $id through resolve, which gets the $id without its
// fragment) and merged with the keywords beside it, so a change in a common
// definition or a code list shows at each field that uses it. resolve may be
// nil when the schemas refer to nothing outside themselves; Registry.Resolver
// provides the embedded contract.
func CheckCompat(oldSrc, newSrc []byte, resolve func(id string) ([]byte, bool)) (*CompatReport, error) {
	return checkCompat(oldSrc, newSrc, resolve, resolve)
}

// checkCompat is CheckCompat with a resolver for each side, for when the two
// versions see different versions of what they refer to (a code list, whose
// $id carries no version, for instance).
func checkCompat(oldSrc, newSrc []byte, resolveOld, resolveNew func(id string) ([]byte, bool)) (*CompatReport, error) {
	oldSide, oldRoot, err := newCompatSide("old", oldSrc, resolveOld)
	if err != nil {
		return nil, err
	}
	newSide, newRoot, err := newCompatSide("new", newSrc, resolveNew)
	if err != nil {
		return nil, err
	}
	c := &compatComparer{
		old: oldSide, new: newSide,
		oldID: oldRoot.id, newID: newRoot.id,
		stack: map[string]bool{},
	}
	root := func(r *compatDoc) []compatRef { return []compatRef{{v: r.root, res: r}} }
	if err := c.compareRefs(root(oldRoot), root(newRoot), "", "", compatScope{}, compatScope{}); err != nil {
		return nil, err
	}
	rep := &CompatReport{OldID: oldRoot.id, NewID: newRoot.id, Changes: compatDedupe(c.changes)}
	sort.SliceStable(rep.Changes, func(i, j int) bool {
		a, b := rep.Changes[i], rep.Changes[j]
		if a.Level != b.Level {
			return a.Level > b.Level
		}
		if a.Pointer != b.Pointer {
			return a.Pointer < b.Pointer
		}
		return a.Message < b.Message
	})
	for _, ch := range rep.Changes {
		if ch.Level > rep.Level {
			rep.Level = ch.Level
		}
	}
	rep.VersionAdvice = compatAdvice(rep.OldID, rep.NewID, rep.Level, len(rep.Changes) > 0)
	return rep, nil
}

// Resolver returns the embedded contract by $id, for CheckCompat: the entity
// and common schema files as shipped, and the schema generated from each code
// list (see CodeList.Schema) under the list's system URI.
func (r *Registry) Resolver() func(id string) ([]byte, bool) {
	byID := map[string][]byte{}
	paths, _ := fs.Glob(files, "*.schema.json")
	for _, p := range paths {
		raw, err := files.ReadFile(p)
		if err != nil {
			continue
		}
		var head struct {
			ID string `json:"$id"`
		}
		if json.Unmarshal(raw, &head) == nil && head.ID != "" {
			byID[head.ID] = raw
		}
	}
	for _, l := range r.lists {
		if raw, err := json.Marshal(l.Schema()); err == nil {
			byID[l.System] = raw
		}
	}
	return func(id string) ([]byte, bool) {
		raw, ok := byID[strings.TrimSuffix(id, "#")]
		return raw, ok
	}
}

// ---------------------------------------------------------------------------
// Loading and resolving

// compatDoc is one schema document (or a subschema with its own $id).
type compatDoc struct {
	id      string
	root    any
	anchors map[string]string // $anchor -> JSON pointer within root
}

// compatSide holds the documents one version of the schema sees.
type compatSide struct {
	name      string
	resources map[string]*compatDoc
	resolve   func(id string) ([]byte, bool)
}

func newCompatSide(name string, src []byte, resolve func(string) ([]byte, bool)) (*compatSide, *compatDoc, error) {
	root, err := Decode(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%s schema is not valid JSON: %w", name, err)
	}
	id := ""
	switch v := root.(type) {
	case map[string]any:
		if s, ok := v["$id"].(string); ok {
			id = strings.TrimSuffix(s, "#")
		}
	case bool:
	default:
		return nil, nil, fmt.Errorf("%s schema must be a JSON object", name)
	}
	s := &compatSide{name: name, resources: map[string]*compatDoc{}, resolve: resolve}
	return s, s.register(id, root), nil
}

func (s *compatSide) register(id string, root any) *compatDoc {
	r := &compatDoc{id: id, root: root, anchors: map[string]string{}}
	s.resources[id] = r
	s.scan(r, root, "")
	return r
}

// compatValueKeywords hold data, not schemas: scan does not look inside them.
var compatValueKeywords = map[string]bool{"enum": true, "const": true, "examples": true, "default": true}

// scan records the anchors of r and registers the subschemas that declare
// their own $id.
func (s *compatSide) scan(r *compatDoc, v any, ptr string) {
	switch v := v.(type) {
	case map[string]any:
		if ptr != "" {
			if id, ok := v["$id"].(string); ok {
				if abs, err := compatResolveURI(r.id, id); err == nil {
					if _, known := s.resources[abs]; !known {
						s.register(abs, v)
					}
					return
				}
			}
		}
		if a, ok := v["$anchor"].(string); ok {
			r.anchors[a] = ptr
		}
		for k, c := range v {
			if !compatValueKeywords[k] {
				s.scan(r, c, ptr+"/"+compatEscape(k))
			}
		}
	case []any:
		for i, c := range v {
			s.scan(r, c, ptr+"/"+strconv.Itoa(i))
		}
	}
}

func compatResolveURI(base, ref string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	abs := b.ResolveReference(u)
	abs.Fragment, abs.RawFragment = "", ""
	return abs.String(), nil
}

// compatRef is a schema value and where it is.
type compatRef struct {
	v   any
	res *compatDoc
	ptr string
}

func (s compatRef) loc() string { return s.res.id + "#" + s.ptr }

func (s compatRef) child(keyword string) compatRef {
	return compatRef{v: nil, res: s.res, ptr: s.ptr + "/" + compatEscape(keyword)}
}

// deref follows a $ref found in res.
func (s *compatSide) deref(ref string, res *compatDoc) (compatRef, error) {
	b, err := url.Parse(res.id)
	if err != nil {
		return compatRef{}, fmt.Errorf("%s schema: $id %q is not a URI: %w", s.name, res.id, err)
	}
	u, err := url.Parse(ref)
	if err != nil {
		return compatRef{}, fmt.Errorf("%s schema: $ref %q is not a URI: %w", s.name, ref, err)
	}
	abs := b.ResolveReference(u)
	frag := abs.Fragment
	abs.Fragment, abs.RawFragment = "", ""
	docID := abs.String()
	target, ok := s.resources[docID]
	if !ok {
		var raw []byte
		if s.resolve != nil {
			raw, ok = s.resolve(docID)
		}
		if !ok {
			return compatRef{}, fmt.Errorf("%s schema: $ref %q: no schema with $id %q is known; compare against a contract that holds it (a newer common or code list must be embedded, or resolvable, before it is referred to)", s.name, ref, docID)
		}
		root, err := Decode(raw)
		if err != nil {
			return compatRef{}, fmt.Errorf("%s schema: $ref %q: the schema %s is not valid JSON: %w", s.name, ref, docID, err)
		}
		target = s.register(docID, root)
	}
	ptr := frag
	if frag != "" && !strings.HasPrefix(frag, "/") {
		p, ok := target.anchors[frag]
		if !ok {
			return compatRef{}, fmt.Errorf("%s schema: $ref %q: %s has no $anchor %q", s.name, ref, docID, frag)
		}
		ptr = p
	}
	v, ok := valueAt(target.root, ptr)
	if !ok {
		return compatRef{}, fmt.Errorf("%s schema: $ref %q: %s has nothing at %q", s.name, ref, docID, ptr)
	}
	return compatRef{v: v, res: target, ptr: ptr}, nil
}

// ---------------------------------------------------------------------------
// Normalising: a node is the merge of every schema that applies to one place
// of a document at one level (a schema, the targets of its $ref chain, ...).

type compatBound struct {
	r    *big.Rat
	text string
}

type compatCond struct {
	ifS, thenS, elseS []compatRef
}

type compatNode struct {
	locs   []string
	never  bool            // the false schema: nothing is valid
	types  map[string]bool // nil: any type
	values map[string]bool // allowed values (enum ∩ const) as canonical JSON; nil: any
	// constOnly is true when the values come from const alone.
	constOnly   bool
	enumSeen    bool
	valueOrigin string // the code list the values come from, if any
	bounds      map[string]compatBound
	multipleOf  map[string]compatBound
	uniqueItems bool
	patterns    map[string]bool
	formats     map[string]bool
	required    map[string]bool
	props       map[string][]compatRef
	patternProp map[string][]compatRef
	additional  []compatRef
	unevaluated []compatRef
	closedBy    string // the keyword that is false, if any
	items       []compatRef
	prefixItems [][]compatRef
	allOf       []compatRef
	anyOf       [][]compatRef
	oneOf       [][]compatRef
	not         []compatRef
	propNames   []compatRef
	contains    []compatRef
	depSchemas  map[string][]compatRef
	depRequired map[string]map[string]bool
	conds       []compatCond
	notes       map[string]string   // annotations: keyword -> canonical JSON
	other       map[string][]string // unclassified keywords -> canonical JSON
}

// compatBoundDir says which way each numeric constraint tightens: +1 when a
// higher value is stricter (minimums), -1 when a lower one is (maximums).
var compatBoundDir = map[string]int{
	"minLength": 1, "minItems": 1, "minProperties": 1, "minimum": 1, "exclusiveMinimum": 1, "minContains": 1,
	"maxLength": -1, "maxItems": -1, "maxProperties": -1, "maximum": -1, "exclusiveMaximum": -1, "maxContains": -1,
}

// compatAnnotations change no verdict: a change to them is patch.
var compatAnnotations = map[string]bool{"title": true, "description": true, "$comment": true, "examples": true}

// compatStructural keywords shape how schemas are found, not what they accept.
var compatStructural = map[string]bool{
	"$id": true, "$defs": true, "definitions": true, "$anchor": true, "$dynamicAnchor": true, "$vocabulary": true,
}

func (c *compatComparer) normalize(sd *compatSide, srcs []compatRef) (*compatNode, error) {
	n := &compatNode{
		bounds: map[string]compatBound{}, multipleOf: map[string]compatBound{},
		patterns: map[string]bool{}, formats: map[string]bool{}, required: map[string]bool{},
		props: map[string][]compatRef{}, patternProp: map[string][]compatRef{},
		depSchemas: map[string][]compatRef{}, depRequired: map[string]map[string]bool{},
		notes: map[string]string{}, other: map[string][]string{},
	}
	seen := map[string]bool{}
	for _, s := range srcs {
		if err := c.merge(sd, n, s, seen); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (c *compatComparer) merge(sd *compatSide, n *compatNode, s compatRef, seen map[string]bool) error {
	if seen[s.loc()] {
		return nil // A and A is A; this also stops $ref cycles
	}
	seen[s.loc()] = true
	n.locs = append(n.locs, s.loc())
	switch v := s.v.(type) {
	case bool:
		if !v {
			n.never = true
		}
		return nil
	case map[string]any:
		if id, ok := v["$id"].(string); ok && s.ptr != "" {
			if abs, err := compatResolveURI(s.res.id, id); err == nil {
				if r, ok := sd.resources[abs]; ok {
					s = compatRef{v: v, res: r}
				}
			}
		}
		// The $ref target first, so the keywords beside it (a description,
		// say) win where only one value can be kept.
		if ref, ok := v["$ref"]; ok {
			str, isStr := ref.(string)
			if !isStr {
				return fmt.Errorf("%s schema: $ref at %s is not a string", sd.name, s.loc())
			}
			target, err := sd.deref(str, s.res)
			if err != nil {
				return err
			}
			if err := c.merge(sd, n, target, seen); err != nil {
				return err
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var cd compatCond
		hasCond := false
		for _, k := range keys {
			val := v[k]
			sub := s.child(k)
			sub.v = val
			if err := n.addKeyword(k, val, sub); err != nil {
				return fmt.Errorf("%s schema: %s: %w", sd.name, sub.loc(), err)
			}
			switch k {
			case "if":
				cd.ifS, hasCond = []compatRef{sub}, true
			case "then":
				cd.thenS, hasCond = []compatRef{sub}, true
			case "else":
				cd.elseS, hasCond = []compatRef{sub}, true
			}
		}
		if hasCond {
			n.conds = append(n.conds, cd)
		}
		return nil
	default:
		return fmt.Errorf("%s schema: %s is not a schema (a JSON object or boolean)", sd.name, s.loc())
	}
}

func (n *compatNode) addKeyword(k string, val any, sub compatRef) error {
	switch {
	case k == "$ref" || k == "if" || k == "then" || k == "else" || compatStructural[k]:
		return nil
	case compatAnnotations[k]:
		n.notes[k] = compatJSON(val)
		return nil
	case compatBoundDir[k] != 0:
		num, ok := val.(json.Number)
		if !ok {
			break
		}
		r, ok := new(big.Rat).SetString(num.String())
		if !ok {
			break
		}
		if old, had := n.bounds[k]; had && (r.Cmp(old.r) < 0) == (compatBoundDir[k] > 0) {
			return nil // the stricter one stays
		}
		n.bounds[k] = compatBound{r, num.String()}
		return nil
	}
	switch k {
	case "type":
		ts, ok := compatTypeSet(val)
		if !ok {
			break
		}
		n.types = compatIntersect(n.types, ts)
		return nil
	case "enum", "const":
		set := map[string]bool{}
		if k == "const" {
			set[compatJSON(val)] = true
		} else {
			arr, ok := val.([]any)
			if !ok {
				break
			}
			for _, e := range arr {
				set[compatJSON(e)] = true
			}
			n.enumSeen = true
		}
		if n.values == nil {
			n.values = set
		} else {
			for v := range n.values {
				if !set[v] {
					delete(n.values, v)
				}
			}
		}
		n.constOnly = !n.enumSeen
		if strings.HasPrefix(sub.res.id, codePrefix) {
			n.valueOrigin = strings.TrimPrefix(sub.res.id, codePrefix)
		}
		return nil
	case "multipleOf":
		num, ok := val.(json.Number)
		if !ok {
			break
		}
		r, ok := new(big.Rat).SetString(num.String())
		if !ok || r.Sign() <= 0 {
			break
		}
		n.multipleOf[r.RatString()] = compatBound{r, num.String()}
		return nil
	case "uniqueItems":
		b, ok := val.(bool)
		if !ok {
			break
		}
		n.uniqueItems = n.uniqueItems || b
		return nil
	case "pattern", "format":
		str, ok := val.(string)
		if !ok {
			break
		}
		if k == "pattern" {
			n.patterns[str] = true
		} else {
			n.formats[str] = true
		}
		return nil
	case "required":
		arr, ok := val.([]any)
		if !ok {
			break
		}
		for _, e := range arr {
			name, ok := e.(string)
			if !ok {
				return fmt.Errorf("required must list property names")
			}
			n.required[name] = true
		}
		return nil
	case "properties", "patternProperties":
		m, ok := val.(map[string]any)
		if !ok {
			break
		}
		into := n.props
		if k == "patternProperties" {
			into = n.patternProp
		}
		for name, pv := range m {
			ps := sub.child(name)
			ps.v = pv
			into[name] = append(into[name], ps)
		}
		return nil
	case "additionalProperties", "unevaluatedProperties":
		if b, ok := val.(bool); ok {
			if !b && n.closedBy == "" {
				n.closedBy = k
			}
			return nil
		}
		if k == "additionalProperties" {
			n.additional = append(n.additional, sub)
		} else {
			n.unevaluated = append(n.unevaluated, sub)
		}
		return nil
	case "items":
		n.items = append(n.items, sub)
		return nil
	case "not":
		n.not = append(n.not, sub)
		return nil
	case "propertyNames":
		n.propNames = append(n.propNames, sub)
		return nil
	case "contains":
		n.contains = append(n.contains, sub)
		return nil
	case "dependentSchemas":
		m, ok := val.(map[string]any)
		if !ok {
			break
		}
		for name, dv := range m {
			ds := sub.child(name)
			ds.v = dv
			n.depSchemas[name] = append(n.depSchemas[name], ds)
		}
		return nil
	case "dependentRequired":
		m, ok := val.(map[string]any)
		if !ok {
			break
		}
		for name, dv := range m {
			arr, ok := dv.([]any)
			if !ok {
				return fmt.Errorf("dependentRequired must map names to lists of names")
			}
			if n.depRequired[name] == nil {
				n.depRequired[name] = map[string]bool{}
			}
			for _, e := range arr {
				other, ok := e.(string)
				if !ok {
					return fmt.Errorf("dependentRequired must map names to lists of names")
				}
				n.depRequired[name][other] = true
			}
		}
		return nil
	case "prefixItems", "allOf", "anyOf", "oneOf":
		arr, ok := val.([]any)
		if !ok {
			break
		}
		var group []compatRef
		for i, e := range arr {
			es := sub.child(strconv.Itoa(i))
			es.v = e
			group = append(group, es)
		}
		switch k {
		case "prefixItems":
			for i, es := range group {
				if i >= len(n.prefixItems) {
					n.prefixItems = append(n.prefixItems, nil)
				}
				n.prefixItems[i] = append(n.prefixItems[i], es)
			}
		case "allOf":
			n.allOf = append(n.allOf, group...)
		case "anyOf":
			n.anyOf = append(n.anyOf, group)
		case "oneOf":
			n.oneOf = append(n.oneOf, group)
		}
		return nil
	}
	n.other[k] = append(n.other[k], compatJSON(val))
	return nil
}

var compatTypes = []string{"array", "boolean", "integer", "null", "number", "object", "string"}

func compatTypeSet(v any) (map[string]bool, bool) {
	set := map[string]bool{}
	switch v := v.(type) {
	case string:
		set[v] = true
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			set[s] = true
		}
	default:
		return nil, false
	}
	return set, true
}

// compatCovers says whether a value of JSON type t is allowed by set (nil: any).
func compatCovers(set map[string]bool, t string) bool {
	return set == nil || set[t] || (t == "integer" && set["number"])
}

func compatIntersect(a, b map[string]bool) map[string]bool {
	if a == nil {
		return b
	}
	out := map[string]bool{}
	for t := range a {
		switch {
		case compatCovers(b, t):
			out[t] = true
		case t == "number" && b["integer"]:
			out["integer"] = true
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Comparing

type compatComparer struct {
	old, new     *compatSide
	oldID, newID string
	changes      []Change
	stack        map[string]bool
}

// compatMaxDepth bounds the nesting the comparer follows; the contract's schemas
// are far shallower.
const compatMaxDepth = 256

func (c *compatComparer) note(l Level, ptr, pre, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if pre = strings.TrimSpace(pre); pre != "" {
		msg = pre + ": " + msg
	}
	c.changes = append(c.changes, Change{Level: l, Pointer: ptr, Message: msg})
}

// collect runs f and returns the changes it found instead of keeping them.
func (c *compatComparer) collect(f func() error) ([]Change, error) {
	saved := c.changes
	c.changes = nil
	err := f()
	got := c.changes
	c.changes = saved
	return got, err
}

// compareRefs compares the schemas that apply at ptr (each list is merged,
// as 2020-12 applies them all). inhOld and inhNew carry what enclosing
// schemas of the same value say (see compatScope); pre says where in the
// schema the comparison is ("allOf[0] then") and starts each message.
func (c *compatComparer) compareRefs(o, n []compatRef, ptr, pre string, inhOld, inhNew compatScope) error {
	if len(o) == 0 && len(n) == 0 {
		return nil
	}
	on, err := c.normalize(c.old, o)
	if err != nil {
		return err
	}
	nn, err := c.normalize(c.new, n)
	if err != nil {
		return err
	}
	key := strings.Join(on.locs, ",") + "|" + strings.Join(nn.locs, ",")
	if c.stack[key] {
		return nil // a recursive schema: this pair is being compared already
	}
	if len(c.stack) >= compatMaxDepth {
		return fmt.Errorf("schemas nest deeper than %d levels at %q: is a $ref cycle missing a base case?", compatMaxDepth, ptr)
	}
	c.stack[key] = true
	defer delete(c.stack, key)
	return c.compareNodes(on, nn, ptr, pre, inhOld, inhNew)
}

func (c *compatComparer) compareNodes(o, n *compatNode, ptr, pre string, inhOld, inhNew compatScope) error {
	switch {
	case o.never && n.never:
		return nil
	case n.never:
		c.note(Major, ptr, pre, "no value allowed any more (schema became false)")
		return nil
	case o.never:
		c.note(Minor, ptr, pre, "values allowed again (schema was false)")
		return nil
	}
	c.compareNotes(o, n, ptr, pre)
	c.compareTypes(o, n, ptr, pre)
	c.compareValues(o, n, ptr, pre)
	c.compareBounds(o, n, ptr, pre)
	c.compareStrings("pattern", o.patterns, n.patterns, ptr, pre)
	c.compareStrings("format", o.formats, n.formats, ptr, pre)

	if err := c.compareProperties(o, n, ptr, pre, inhOld, inhNew); err != nil {
		return err
	}
	if err := c.compareClosed(o, n, ptr, pre); err != nil {
		return err
	}

	if err := c.compareRefs(o.items, n.items, ptr+"/*", pre, compatScope{}, compatScope{}); err != nil {
		return err
	}
	for i := 0; i < max(len(o.prefixItems), len(n.prefixItems)); i++ {
		if err := c.compareRefs(compatGroupAt(o.prefixItems, i), compatGroupAt(n.prefixItems, i), ptr+"/"+strconv.Itoa(i), pre, compatScope{}, compatScope{}); err != nil {
			return err
		}
	}

	// In-place applicators see the same value; unevaluatedProperties: false
	// here closes what they describe too.
	subOld, subNew := inhOld.enter(o), inhNew.enter(n)
	for i := 0; i < max(len(o.allOf), len(n.allOf)); i++ {
		if err := c.compareRefs(compatOneAt(o.allOf, i), compatOneAt(n.allOf, i), ptr, pre+fmt.Sprintf(" allOf[%d]", i), subOld, subNew); err != nil {
			return err
		}
	}
	if err := c.compareAlternatives("anyOf", o.anyOf, n.anyOf, ptr, pre, subOld, subNew); err != nil {
		return err
	}
	if err := c.compareAlternatives("oneOf", o.oneOf, n.oneOf, ptr, pre, subOld, subNew); err != nil {
		return err
	}
	if err := c.compareNot(o, n, ptr, pre); err != nil {
		return err
	}
	if err := c.compareDependents(o, n, ptr, pre, subOld, subNew); err != nil {
		return err
	}
	// The names of the properties follow propertyNames as values follow a
	// schema: a narrower one rejects objects it used to accept.
	if err := c.compareRefs(o.propNames, n.propNames, ptr, pre+" propertyNames", compatScope{}, compatScope{}); err != nil {
		return err
	}
	switch {
	case len(o.contains) == 0 && len(n.contains) > 0:
		c.note(Major, ptr, pre, "contains added: an item must match it")
	case len(o.contains) > 0 && len(n.contains) == 0:
		c.note(Minor, ptr, pre, "contains removed")
	default:
		if err := c.compareRefs(o.contains, n.contains, ptr+"/*", pre+" contains", compatScope{}, compatScope{}); err != nil {
			return err
		}
	}
	for i := 0; i < max(len(o.conds), len(n.conds)); i++ {
		var oc, nc compatCond
		if i < len(o.conds) {
			oc = o.conds[i]
		}
		if i < len(n.conds) {
			nc = n.conds[i]
		}
		p := pre
		if len(o.conds) > 1 || len(n.conds) > 1 {
			p += fmt.Sprintf(" rule %d", i)
		}
		if err := c.compareCond(oc, nc, ptr, p, subOld, subNew); err != nil {
			return err
		}
	}
	c.compareOther(o, n, ptr, pre)
	return nil
}

func compatGroupAt(groups [][]compatRef, i int) []compatRef {
	if i < len(groups) {
		return groups[i]
	}
	return nil
}

func compatOneAt(list []compatRef, i int) []compatRef {
	if i < len(list) {
		return list[i : i+1]
	}
	return nil
}

func (c *compatComparer) compareNotes(o, n *compatNode, ptr, pre string) {
	for _, k := range compatUnion(o.notes, n.notes) {
		ov, inO := o.notes[k]
		nv, inN := n.notes[k]
		switch {
		case !inO:
			c.note(Patch, ptr, pre, "%s added", k)
		case !inN:
			c.note(Patch, ptr, pre, "%s removed", k)
		case ov != nv:
			c.note(Patch, ptr, pre, "%s changed", k)
		}
	}
}

func (c *compatComparer) compareTypes(o, n *compatNode, ptr, pre string) {
	lost := typeDiff(o.types, n.types)
	gained := typeDiff(n.types, o.types)
	if len(lost) > 0 {
		c.note(Major, ptr, pre, "type narrowed: %s no longer allowed", strings.Join(lost, ", "))
	}
	if len(gained) > 0 {
		c.note(Minor, ptr, pre, "type widened: %s now allowed", strings.Join(gained, ", "))
	}
}

// typeDiff lists the JSON types that a allows and b does not.
func typeDiff(a, b map[string]bool) []string {
	var out []string
	for _, t := range compatTypes {
		if !compatCovers(a, t) || compatCovers(b, t) {
			continue
		}
		switch {
		case t == "integer" && compatCovers(a, "number"):
			continue // said by "number"
		case t == "number" && b["integer"]:
			t = "non-integer number"
		}
		out = append(out, t)
	}
	return out
}

func (c *compatComparer) compareValues(o, n *compatNode, ptr, pre string) {
	ov := o.values
	if ov != nil && c.oldID != c.newID {
		// A const naming the schema's own $id (the record's "schema" field)
		// moves with the version; that is not a change of content.
		if oldQ, newQ := compatJSON(c.oldID), compatJSON(c.newID); ov[oldQ] {
			ov = compatCopy(ov)
			delete(ov, oldQ)
			ov[newQ] = true
		}
	}
	nv := n.values
	origin := n.valueOrigin
	if origin == "" {
		origin = o.valueOrigin
	}
	suffix := ""
	if origin != "" {
		suffix = " (code list " + origin + ")"
	}
	switch {
	case ov == nil && nv == nil:
	case ov == nil:
		if n.constOnly && len(nv) == 1 {
			c.note(Major, ptr, pre, "const added: must be %s", compatList(nv))
		} else {
			c.note(Major, ptr, pre, "enum added: only %s allowed%s", compatList(nv), suffix)
		}
	case nv == nil:
		if o.constOnly {
			c.note(Minor, ptr, pre, "const %s removed", compatList(ov))
		} else {
			c.note(Minor, ptr, pre, "enum removed: any value allowed")
		}
	case o.constOnly && n.constOnly && len(ov) == 1 && len(nv) == 1:
		if a, b := compatList(ov), compatList(nv); a != b {
			c.note(Major, ptr, pre, "const changed from %s to %s", a, b)
		}
	default:
		removed, added := compatMinus(ov, nv), compatMinus(nv, ov)
		if len(removed) > 0 {
			c.note(Major, ptr, pre, "enum narrowed: %s no longer allowed%s", compatList(removed), suffix)
		}
		if len(added) > 0 {
			c.note(Minor, ptr, pre, "enum widened: %s now allowed%s", compatList(added), suffix)
		}
	}
}

func (c *compatComparer) compareBounds(o, n *compatNode, ptr, pre string) {
	for _, k := range compatUnion(o.bounds, n.bounds) {
		ob, inO := o.bounds[k]
		nb, inN := n.bounds[k]
		switch {
		case !inN:
			c.note(Minor, ptr, pre, "%s %s removed", k, ob.text)
		case !inO:
			c.note(Major, ptr, pre, "%s %s added", k, nb.text)
		default:
			cmp := nb.r.Cmp(ob.r)
			if cmp == 0 {
				continue
			}
			verb := "raised"
			if cmp < 0 {
				verb = "lowered"
			}
			level := Minor
			if (cmp > 0) == (compatBoundDir[k] > 0) {
				level = Major
			}
			c.note(level, ptr, pre, "%s %s from %s to %s", k, verb, ob.text, nb.text)
		}
	}
	om, nm := o.multipleOf, n.multipleOf
	switch {
	case compatSameKeys(om, nm):
	case len(om) == 0:
		c.note(Major, ptr, pre, "multipleOf %s added", compatBoundTexts(nm))
	case len(nm) == 0:
		c.note(Minor, ptr, pre, "multipleOf %s removed", compatBoundTexts(om))
	default:
		level := Major
		if len(om) == 1 && len(nm) == 1 {
			for _, a := range om {
				for _, b := range nm {
					if new(big.Rat).Quo(a.r, b.r).IsInt() {
						level = Minor // every old multiple is a new one
					}
				}
			}
		}
		c.note(level, ptr, pre, "multipleOf changed from %s to %s", compatBoundTexts(om), compatBoundTexts(nm))
	}
	switch {
	case n.uniqueItems && !o.uniqueItems:
		c.note(Major, ptr, pre, "uniqueItems added: items must be distinct")
	case o.uniqueItems && !n.uniqueItems:
		c.note(Minor, ptr, pre, "uniqueItems removed")
	}
}

// compareStrings compares the patterns or formats that apply.
func (c *compatComparer) compareStrings(k string, o, n map[string]bool, ptr, pre string) {
	removed, added := compatSorted(compatMinus(o, n)), compatSorted(compatMinus(n, o))
	if len(removed) == 1 && len(added) == 1 {
		c.note(Major, ptr, pre, "%s changed from %s to %s", k, compatJSON(removed[0]), compatJSON(added[0]))
		return
	}
	for _, s := range removed {
		c.note(Minor, ptr, pre, "%s %s removed", k, compatJSON(s))
	}
	for _, s := range added {
		c.note(Major, ptr, pre, "%s %s added", k, compatJSON(s))
	}
}

// compatScope is what the schemas enclosing an in-place applicator (allOf,
// anyOf, oneOf, if/then/else, dependentSchemas) say about the same object.
type compatScope struct {
	// closed: unevaluatedProperties is false around, and it sees the
	// properties the applicator describes.
	closed bool
	// known are the properties the enclosing schemas describe already.
	known map[string]bool
}

func (s compatScope) enter(n *compatNode) compatScope {
	out := compatScope{closed: s.closed || n.closedBy == "unevaluatedProperties", known: map[string]bool{}}
	for k := range s.known {
		out.known[k] = true
	}
	for k := range n.props {
		out.known[k] = true
	}
	return out
}

func (c *compatComparer) compareProperties(o, n *compatNode, ptr, pre string, inhOld, inhNew compatScope) error {
	closedOld := inhOld.closed || o.closedBy != ""
	closedNew := inhNew.closed || n.closedBy != ""
	for _, name := range compatUnion(o.props, n.props) {
		p := ptr + "/" + compatEscape(name)
		op, inO := o.props[name]
		np, inN := n.props[name]
		switch {
		case inO && inN:
			if err := c.compareRefs(op, np, p, pre, compatScope{}, compatScope{}); err != nil {
				return err
			}
		case inO && closedNew && !inhNew.known[name]:
			c.note(Major, p, pre, "property %q removed", name)
		case inN && closedOld && !inhOld.known[name]:
			if n.required[name] && !o.required[name] {
				c.note(Major, p, pre, "required property %q added", name)
			} else {
				c.note(Minor, p, pre, "optional property %q added", name)
			}
		default:
			// The object is open (or an enclosing schema describes the
			// property too): describing it here narrows, dropping it widens.
			var sub []Change
			var err error
			if inO {
				sub, err = c.collect(func() error { return c.compareRefs(op, nil, p, "", compatScope{}, compatScope{}) })
			} else {
				sub, err = c.collect(func() error { return c.compareRefs(nil, np, p, "", compatScope{}, compatScope{}) })
			}
			if err != nil {
				return err
			}
			level := compatMaxLevel(sub)
			var msg string
			switch {
			case level == Patch:
				msg = fmt.Sprintf("property %q described here (annotations only)", name)
			case inO && (inhNew.known[name] || closedNew):
				msg = fmt.Sprintf("property %q no longer constrained here", name)
			case inO:
				msg = fmt.Sprintf("property %q removed from an open object: its values are no longer checked", name)
			case inhOld.known[name] || closedOld:
				msg = fmt.Sprintf("property %q constrained here", name)
			default:
				msg = fmt.Sprintf("property %q added to an open object: its values are now checked", name)
			}
			c.note(level, p, pre, "%s%s", msg, compatDetails(sub, level, p))
		}
	}
	for _, name := range compatUnion(o.required, n.required) {
		p := ptr + "/" + compatEscape(name)
		_, inO := o.props[name]
		_, inN := n.props[name]
		switch {
		case n.required[name] && !o.required[name]:
			if !(inN && !inO && closedOld && !inhOld.known[name]) {
				c.note(Major, p, pre, "%q became required", name)
			}
		case o.required[name] && !n.required[name]:
			if !(inO && !inN) {
				c.note(Minor, p, pre, "%q no longer required", name)
			}
		}
	}
	for _, pat := range compatUnion(o.patternProp, n.patternProp) {
		op, inO := o.patternProp[pat]
		np, inN := n.patternProp[pat]
		switch {
		case inO && inN:
			if err := c.compareRefs(op, np, ptr+"/*", pre+" patternProperties "+compatJSON(pat), compatScope{}, compatScope{}); err != nil {
				return err
			}
		case inO:
			c.note(Major, ptr+"/*", pre, "patternProperties %s removed", compatJSON(pat))
		default:
			c.note(Major, ptr+"/*", pre, "patternProperties %s added", compatJSON(pat))
		}
	}
	return nil
}

func (c *compatComparer) compareClosed(o, n *compatNode, ptr, pre string) error {
	switch {
	case o.closedBy == "" && n.closedBy != "":
		c.note(Major, ptr, pre, "object closed: %s became false", n.closedBy)
		return nil
	case o.closedBy != "" && n.closedBy == "":
		c.note(Minor, ptr, pre, "object opened: %s is no longer false", o.closedBy)
		return nil
	case o.closedBy != "":
		return nil
	}
	if err := c.compareRefs(o.additional, n.additional, ptr+"/*", pre+" additionalProperties", compatScope{}, compatScope{}); err != nil {
		return err
	}
	return c.compareRefs(o.unevaluated, n.unevaluated, ptr+"/*", pre+" unevaluatedProperties", compatScope{}, compatScope{})
}

func (c *compatComparer) compareAlternatives(k string, o, n [][]compatRef, ptr, pre string, inhOld, inhNew compatScope) error {
	for g := 0; g < max(len(o), len(n)); g++ {
		og, ng := compatGroupAt(o, g), compatGroupAt(n, g)
		switch {
		case og == nil:
			c.note(Major, ptr, pre, "%s added", k)
			continue
		case ng == nil:
			c.note(Minor, ptr, pre, "%s removed", k)
			continue
		}
		for b := 0; b < max(len(og), len(ng)); b++ {
			label := fmt.Sprintf("%s[%d]", k, b)
			switch {
			case b >= len(og):
				level := Minor
				if k == "oneOf" {
					level = Major // the new branch may overlap an old one
				}
				c.note(level, ptr, pre, "%s branch added", label)
			case b >= len(ng):
				c.note(Major, ptr, pre, "%s branch removed", label)
			default:
				sub, err := c.collect(func() error {
					return c.compareRefs(og[b:b+1], ng[b:b+1], ptr, pre+" "+label, inhOld, inhNew)
				})
				if err != nil {
					return err
				}
				for _, ch := range sub {
					if k == "oneOf" && ch.Level == Minor {
						ch.Level = Major
						ch.Message += " (a widened oneOf branch may overlap another)"
					}
					c.changes = append(c.changes, ch)
				}
			}
		}
	}
	return nil
}

// compareDependents compares dependentRequired and dependentSchemas, which
// apply to the object when it has a given property.
func (c *compatComparer) compareDependents(o, n *compatNode, ptr, pre string, inhOld, inhNew compatScope) error {
	for _, name := range compatUnion(o.depRequired, n.depRequired) {
		for _, other := range compatSorted(compatMinus(n.depRequired[name], o.depRequired[name])) {
			c.note(Major, ptr+"/"+compatEscape(other), pre, "%q became required when %q is present", other, name)
		}
		for _, other := range compatSorted(compatMinus(o.depRequired[name], n.depRequired[name])) {
			c.note(Minor, ptr+"/"+compatEscape(other), pre, "%q no longer required when %q is present", other, name)
		}
	}
	for _, name := range compatUnion(o.depSchemas, n.depSchemas) {
		label := fmt.Sprintf(" dependentSchemas[%s]", compatJSON(name))
		if err := c.compareRefs(o.depSchemas[name], n.depSchemas[name], ptr, pre+label, inhOld, inhNew); err != nil {
			return err
		}
	}
	return nil
}

// compareNot: what not excludes cannot be classified by direction, so any
// change beyond annotations is major.
func (c *compatComparer) compareNot(o, n *compatNode, ptr, pre string) error {
	sub, err := c.collect(func() error { return c.compareRefs(o.not, n.not, ptr, pre+" not", compatScope{}, compatScope{}) })
	if err != nil {
		return err
	}
	for _, ch := range sub {
		if ch.Level == Minor {
			ch.Level = Major
		}
		c.changes = append(c.changes, ch)
	}
	return nil
}

func (c *compatComparer) compareCond(o, n compatCond, ptr, pre string, inhOld, inhNew compatScope) error {
	if len(o.ifS) > 0 && len(n.ifS) > 0 {
		sub, err := c.collect(func() error { return c.compareRefs(o.ifS, n.ifS, ptr, pre+" if", compatScope{}, compatScope{}) })
		if err != nil {
			return err
		}
		for _, ch := range sub {
			if ch.Level > Patch {
				ch.Level = Major
				ch.Message += " (this changes when the rule applies)"
			}
			c.changes = append(c.changes, ch)
		}
	}
	// A rule that appears or disappears adds or drops what its then and
	// else demand; the comparison against "nothing" classifies that.
	if err := c.compareRefs(o.thenS, n.thenS, ptr, pre+" then", inhOld, inhNew); err != nil {
		return err
	}
	return c.compareRefs(o.elseS, n.elseS, ptr, pre+" else", inhOld, inhNew)
}

func (c *compatComparer) compareOther(o, n *compatNode, ptr, pre string) {
	for _, k := range compatUnion(o.other, n.other) {
		ov, inO := o.other[k]
		nv, inN := n.other[k]
		switch {
		case !inO:
			c.note(Major, ptr, pre, "keyword %s added (not classified, so treated as major)", k)
		case !inN:
			c.note(Major, ptr, pre, "keyword %s removed (not classified, so treated as major)", k)
		case strings.Join(ov, "\x00") != strings.Join(nv, "\x00"):
			c.note(Major, ptr, pre, "keyword %s changed (not classified, so treated as major)", k)
		}
	}
}

// ---------------------------------------------------------------------------
// Versions

var compatVersionTail = regexp.MustCompile(`^(.*/)([0-9]+)\.([0-9]+)\.([0-9]+)$`)

type compatVersion struct{ major, minor, patch int }

func (v compatVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch) }

func (v compatVersion) next(l Level) compatVersion {
	switch l {
	case Major:
		return compatVersion{v.major + 1, 0, 0}
	case Minor:
		return compatVersion{v.major, v.minor + 1, 0}
	}
	return compatVersion{v.major, v.minor, v.patch + 1}
}

func compatParseID(id string) (string, compatVersion, bool) {
	m := compatVersionTail.FindStringSubmatch(id)
	if m == nil {
		return "", compatVersion{}, false
	}
	var v compatVersion
	var err error
	if v.major, err = strconv.Atoi(m[2]); err != nil {
		return "", compatVersion{}, false
	}
	if v.minor, err = strconv.Atoi(m[3]); err != nil {
		return "", compatVersion{}, false
	}
	if v.patch, err = strconv.Atoi(m[4]); err != nil {
		return "", compatVersion{}, false
	}
	return m[1], v, true
}

func (v compatVersion) cmp(w compatVersion) int {
	for _, d := range [3]int{v.major - w.major, v.minor - w.minor, v.patch - w.patch} {
		if d != 0 {
			return d
		}
	}
	return 0
}

// compatAdvice checks the version bump of the $id against the level.
func compatAdvice(oldID, newID string, level Level, changed bool) string {
	oldBase, ov, okOld := compatParseID(oldID)
	newBase, nv, okNew := compatParseID(newID)
	if !okOld || !okNew {
		if oldID == newID && !changed {
			return ""
		}
		bad := oldID
		if okOld {
			bad = newID
		}
		return fmt.Sprintf("cannot check the version: $id %q does not end in /<major>.<minor>.<patch>", bad)
	}
	if oldBase != newBase {
		return fmt.Sprintf("the $ids name different schemas (%s and %s): compare two versions of the same schema", strings.TrimSuffix(oldBase, "/"), strings.TrimSuffix(newBase, "/"))
	}
	want := ov.next(level)
	switch d := nv.cmp(ov); {
	case d == 0:
		if !changed {
			return ""
		}
		return fmt.Sprintf("the $id stays %s but the schema changed (%s): a published $id never changes, use %s", ov, level, want)
	case d < 0:
		return fmt.Sprintf("the $id moves %s → %s, backwards: use %s", ov, nv, want)
	}
	bump := Patch
	switch {
	case nv.major != ov.major:
		bump = Major
	case nv.minor != ov.minor:
		bump = Minor
	}
	switch {
	case bump == level:
		return ""
	case bump < level:
		return fmt.Sprintf("the $id moves %s → %s (%s) but the change is %s: use %s", ov, nv, bump, level, want)
	case !changed:
		return fmt.Sprintf("the $id moves %s → %s (%s) but nothing changed: keep %s", ov, nv, bump, ov)
	default:
		return fmt.Sprintf("the $id moves %s → %s (%s) but the change is only %s: use %s", ov, nv, bump, level, want)
	}
}

// ---------------------------------------------------------------------------
// Helpers

// compatJSON is the canonical JSON text of a decoded value (keys sorted, no HTML
// escaping), used to compare values and to quote them in messages.
func compatJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func compatEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// compatMaxListed caps how many values a message lists.
const compatMaxListed = 10

func compatList(set map[string]bool) string {
	vals := compatSorted(set)
	if len(vals) > compatMaxListed {
		return strings.Join(vals[:compatMaxListed], ", ") + fmt.Sprintf(" and %d more", len(vals)-compatMaxListed)
	}
	return strings.Join(vals, ", ")
}

func compatBoundTexts(m map[string]compatBound) string {
	var out []string
	for _, b := range m {
		out = append(out, b.text)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func compatUnion[V any](a, b map[string]V) []string {
	seen := make(map[string]bool, len(a)+len(b))
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return compatSorted(seen)
}

func compatSorted[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func compatSameKeys[V any](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func compatMinus(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if !b[k] {
			out[k] = true
		}
	}
	return out
}

func compatCopy(a map[string]bool) map[string]bool {
	out := make(map[string]bool, len(a))
	for k := range a {
		out[k] = true
	}
	return out
}

// compatDetails quotes the changes of level l among cs, for a message that
// sums them up at ptr.
func compatDetails(cs []Change, l Level, ptr string) string {
	var out []string
	for _, c := range cs {
		if c.Level != l {
			continue
		}
		msg := c.Message
		if rel := strings.TrimPrefix(c.Pointer, ptr); rel != "" {
			msg = rel + ": " + msg
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more", len(out)-3))
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, "; ") + ")"
}

func compatMaxLevel(cs []Change) Level {
	l := Patch
	for _, c := range cs {
		if c.Level > l {
			l = c.Level
		}
	}
	return l
}

func compatDedupe(cs []Change) []Change {
	seen := map[Change]bool{}
	out := []Change{}
	for _, c := range cs {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}
