package schemas

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const casesDir = "testdata/compat/cases"

// loadLib reads the documents of a lib folder of a compat case by $id; code
// lists become their generated schema, as the registry makes them.
func loadLib(t testing.TB, dir string, into map[string][]byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ID     string `json:"$id"`
			System string `json:"system"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		switch {
		case head.ID != "":
			into[head.ID] = raw
		case head.System != "":
			var l CodeList
			if err := json.Unmarshal(raw, &l); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			gen, err := json.Marshal(l.Schema())
			if err != nil {
				t.Fatal(err)
			}
			into[l.System] = gen
		default:
			t.Fatalf("%s: a lib file is a schema with $id or a code list with system", p)
		}
	}
}

func mapResolver(m map[string][]byte) func(string) ([]byte, bool) {
	return func(id string) ([]byte, bool) {
		raw, ok := m[id]
		return raw, ok
	}
}

// runCase compares the two versions of a case under testdata/compat/cases.
func runCase(t testing.TB, name string) (*CompatReport, [2]string) {
	t.Helper()
	dir := filepath.Join(casesDir, name)
	var srcs [2][]byte
	var ids [2]string
	for i, f := range []string{"old.schema.json", "new.schema.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			ID string `json:"$id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s/%s: %v", dir, f, err)
		}
		srcs[i], ids[i] = raw, head.ID
	}
	shared, oldLib, newLib := map[string][]byte{}, map[string][]byte{}, map[string][]byte{}
	loadLib(t, filepath.Join(dir, "lib"), shared)
	loadLib(t, filepath.Join(dir, "old-lib"), oldLib)
	loadLib(t, filepath.Join(dir, "new-lib"), newLib)
	var rep *CompatReport
	var err error
	if len(oldLib) == 0 && len(newLib) == 0 {
		rep, err = CheckCompat(srcs[0], srcs[1], mapResolver(shared))
	} else {
		for id, raw := range shared {
			oldLib[id], newLib[id] = raw, raw
		}
		rep, err = checkCompat(srcs[0], srcs[1], mapResolver(oldLib), mapResolver(newLib))
	}
	if err != nil {
		t.Fatalf("CheckCompat: %v", err)
	}
	return rep, ids
}

func TestCheckCompat(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		level   Level
		changes []Change
		advice  string
	}{
		"identical": {level: Patch},
		"description-only": {level: Patch, changes: []Change{
			{Patch, "", "$comment added"},
			{Patch, "", "description changed"},
			{Patch, "/name", "description changed"},
			{Patch, "/nickname", "title added"},
		}},
		"optional-added": {level: Minor, changes: []Change{
			{Minor, "/email", `optional property "email" added`},
		}},
		"property-removed": {level: Major, changes: []Change{
			{Major, "/nickname", `property "nickname" removed`},
		}},
		"rename": {
			level: Major,
			changes: []Change{
				{Major, "/nickname", `property "nickname" removed`},
				{Minor, "/alias", `optional property "alias" added`},
			},
			advice: "the $id moves 1.0.0 → 1.1.0 (minor) but the change is major: use 2.0.0",
		},
		"required-added": {level: Major, changes: []Change{
			{Major, "/kind", `required property "kind" added`},
			{Major, "/status_reason", `"status_reason" became required`},
		}},
		"type-narrowed": {level: Major, changes: []Change{
			{Major, "/status_reason", "type narrowed: null no longer allowed"},
		}},
		"type-widened-same-id": {
			level: Minor,
			changes: []Change{
				{Minor, "/nickname", "type widened: null now allowed"},
				{Minor, "/score", "type widened: non-integer number now allowed"},
			},
			advice: "the $id stays 1.0.0 but the schema changed (minor): a published $id never changes, use 1.1.0",
		},
		"enum-narrowed": {level: Major, changes: []Change{
			{Major, "/status", `enum narrowed: "stat" no longer allowed`},
		}},
		"enum-widened": {level: Minor, changes: []Change{
			{Minor, "/status", `enum widened: "pending" now allowed`},
		}},
		"maxlength-lowered": {
			level: Major,
			changes: []Change{
				{Major, "/name", "maxLength lowered from 200 to 100"},
			},
			advice: "the $id moves 1.0.0 → 1.0.1 (patch) but the change is major: use 2.0.0",
		},
		"constraints-loosened": {level: Minor, changes: []Change{
			{Minor, "/code", `pattern "^[A-Z]{3}$" removed`},
			{Minor, "/name", "maxLength raised from 200 to 300"},
			{Minor, "/score", "maximum 10 removed"},
			{Minor, "/score", "minimum lowered from 0 to -5"},
			{Minor, "/tags", "maxItems raised from 5 to 10"},
			{Minor, "/when", `format "date" removed`},
		}},
		"constraints-tightened": {level: Major, changes: []Change{
			{Major, "/code", `pattern changed from "^[A-Z]{3}$" to "^[A-Z]{4}$"`},
			{Major, "/name", "minLength 1 added"},
			{Major, "/score", "minimum raised from 0 to 1"},
			{Major, "/tags", "minItems 1 added"},
			{Major, "/when", `format changed from "date" to "date-time"`},
		}},
		"additional-closed": {level: Major, changes: []Change{
			{Major, "/address", "object closed: additionalProperties became false"},
		}},
		"additional-opened": {level: Minor, changes: []Change{
			{Minor, "/address", "object opened: additionalProperties is no longer false"},
		}},
		// The envelope's properties count as the document's own; the const
		// naming the schema's own $id moves with the version unreported.
		"common-def-changed": {level: Major, changes: []Change{
			{Major, "/code", "maxLength lowered from 64 to 32"},
			{Minor, "/note", `optional property "note" added`},
			{Patch, "/owner", "description changed"},
		}},
		"array-items-nested": {level: Major, changes: []Change{
			{Major, "/goals/*/category", `enum narrowed: "c" no longer allowed`},
			{Major, "/goals/*/x", "maxLength lowered from 50 to 20"},
		}},
		"then-required": {level: Major, changes: []Change{
			{Major, "/status_reason", `allOf[0] then: "status_reason" became required`},
			{Minor, "/nickname", `allOf[1] then: "nickname" no longer required`},
		}},
		// unevaluatedProperties: false sees into the rule, but the property
		// is the object's already: constraining it narrows.
		"then-constrains-existing": {level: Major, changes: []Change{
			{Major, "/status_reason", `allOf[0] then: property "status_reason" constrained here (minLength 10 added)`},
		}},
		// In an open object a property was allowed with any value before it
		// was described.
		"open-object": {level: Major, changes: []Change{
			{Major, "/address/city", `property "city" added to an open object: its values are now checked (type narrowed: array, boolean, null, number, object no longer allowed)`},
			{Minor, "/address/street", `property "street" removed from an open object: its values are no longer checked (type widened: array, boolean, null, number, object now allowed)`},
		}},
		"code-list": {level: Major, changes: []Change{
			{Major, "/status", `enum narrowed: "c" no longer allowed (code list test-status)`},
			{Minor, "/kind/code", `enum widened: "K3" now allowed (code list test-kind)`},
		}},
		"recursive-ref": {level: Major, changes: []Change{
			{Major, "/children/*/name", "maxLength lowered from 50 to 40"},
			{Major, "/name", "maxLength lowered from 50 to 40"},
		}},
		"unclassified-keyword": {level: Major, changes: []Change{
			{Major, "/nickname", "keyword x-pii added (not classified, so treated as major)"},
		}},
		"dependent-required": {level: Major, changes: []Change{
			{Major, "/status", `"status" became required when "status_reason" is present`},
		}},
		"const-changed": {level: Major, changes: []Change{
			{Major, "/kind", `const changed from "x" to "y"`},
		}},
	}
	dirs, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := tests[d.Name()]; !ok {
			t.Errorf("%s/%s has no expected verdict in TestCheckCompat", casesDir, d.Name())
		}
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ids := runCase(t, name)
			want := &CompatReport{OldID: ids[0], NewID: ids[1], Level: tc.level, Changes: tc.changes, VersionAdvice: tc.advice}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckCompatIsSymmetric swaps old and new: what widens one way narrows
// the other, so a minor change seen backwards must be major.
func TestCheckCompatIsSymmetric(t *testing.T) {
	t.Parallel()
	tests := map[string]struct{ forward, backward Level }{
		"optional-added":       {Minor, Major},
		"enum-widened":         {Minor, Major},
		"constraints-loosened": {Minor, Major},
		"additional-opened":    {Minor, Major},
		"then-required":        {Major, Major},
		"description-only":     {Patch, Patch},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(casesDir, name)
			oldSrc, err := os.ReadFile(filepath.Join(dir, "old.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			newSrc, err := os.ReadFile(filepath.Join(dir, "new.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			fw, err := CheckCompat(oldSrc, newSrc, nil)
			if err != nil {
				t.Fatal(err)
			}
			bw, err := CheckCompat(newSrc, oldSrc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fw.Level != tc.forward || bw.Level != tc.backward {
				t.Errorf("levels forward %v, backward %v; want %v, %v (backward changes %v)", fw.Level, bw.Level, tc.forward, tc.backward, bw.Changes)
			}
			if len(fw.Changes) != len(bw.Changes) {
				t.Errorf("%d changes forward, %d backward: each change must show both ways", len(fw.Changes), len(bw.Changes))
			}
		})
	}
}

func TestCheckCompatErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		old, new string
		want     string // in the error
	}{
		"old not JSON": {
			old: `{"type": `, new: `{}`,
			want: "old schema is not valid JSON",
		},
		"new not an object": {
			old: `{}`, new: `[1]`,
			want: "new schema must be a JSON object",
		},
		"unknown $id": {
			old:  `{"$id": "https://snodo-hub.github.io/schemas/x/1.0.0", "properties": {"a": {"$ref": "https://snodo-hub.github.io/codes/nope"}}}`,
			new:  `{"$id": "https://snodo-hub.github.io/schemas/x/1.0.0", "properties": {"a": {"type": "string"}}}`,
			want: `old schema: $ref "https://snodo-hub.github.io/codes/nope": no schema with $id "https://snodo-hub.github.io/codes/nope" is known`,
		},
		"dangling pointer": {
			old:  `{"$id": "https://snodo-hub.github.io/schemas/x/1.0.0"}`,
			new:  `{"$id": "https://snodo-hub.github.io/schemas/x/1.0.0", "$ref": "#/$defs/missing"}`,
			want: `new schema: $ref "#/$defs/missing": https://snodo-hub.github.io/schemas/x/1.0.0 has nothing at "/$defs/missing"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := CheckCompat([]byte(tc.old), []byte(tc.new), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCheckCompatRefCycle: a $ref chain that loops without reaching a
// schema terminates, and so does a schema that nests itself.
func TestCheckCompatRefCycle(t *testing.T) {
	t.Parallel()
	src := []byte(`{
		"$id": "https://snodo-hub.github.io/schemas/loop/1.0.0",
		"$ref": "#/$defs/a",
		"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a", "type": "object",
			"properties": {"self": {"$ref": "#"}}}}
	}`)
	rep, err := CheckCompat(src, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Level != Patch || len(rep.Changes) != 0 || rep.VersionAdvice != "" {
		t.Errorf("a schema against itself: %+v", rep)
	}
}

func TestCompatAdvice(t *testing.T) {
	t.Parallel()
	const base = "https://snodo-hub.github.io/schemas/thing/"
	tests := map[string]struct {
		old, new string
		level    Level
		changed  bool
		want     string
	}{
		"major bump for major":   {"1.2.3", "2.0.0", Major, true, ""},
		"minor bump for minor":   {"1.2.3", "1.3.0", Minor, true, ""},
		"patch bump for patch":   {"1.2.3", "1.2.4", Patch, true, ""},
		"same id, no change":     {"1.2.3", "1.2.3", Patch, false, ""},
		"patch bump, no change":  {"1.2.3", "1.2.4", Patch, false, ""},
		"patch bump for major":   {"1.0.0", "1.0.1", Major, true, "the $id moves 1.0.0 → 1.0.1 (patch) but the change is major: use 2.0.0"},
		"minor bump for major":   {"1.4.2", "1.5.0", Major, true, "the $id moves 1.4.2 → 1.5.0 (minor) but the change is major: use 2.0.0"},
		"patch bump for minor":   {"1.4.2", "1.4.3", Minor, true, "the $id moves 1.4.2 → 1.4.3 (patch) but the change is minor: use 1.5.0"},
		"major bump for minor":   {"1.4.2", "2.0.0", Minor, true, "the $id moves 1.4.2 → 2.0.0 (major) but the change is only minor: use 1.5.0"},
		"minor bump, no change":  {"1.4.2", "1.5.0", Patch, false, "the $id moves 1.4.2 → 1.5.0 (minor) but nothing changed: keep 1.4.2"},
		"same id, changed":       {"1.0.0", "1.0.0", Patch, true, "the $id stays 1.0.0 but the schema changed (patch): a published $id never changes, use 1.0.1"},
		"backwards":              {"1.1.0", "1.0.0", Minor, true, "the $id moves 1.1.0 → 1.0.0, backwards: use 1.2.0"},
		"numeric, not lexical":   {"1.9.0", "1.10.0", Minor, true, ""},
		"different schemas":      {"1.0.0", "other/1.0.0", Patch, true, "the $ids name different schemas (https://snodo-hub.github.io/schemas/thing and https://snodo-hub.github.io/schemas/other): compare two versions of the same schema"},
		"no version in the $id":  {"1.0.0", "latest", Minor, true, `cannot check the version: $id "https://snodo-hub.github.io/schemas/thing/latest" does not end in /<major>.<minor>.<patch>`},
		"no version, no changes": {"latest", "latest", Patch, false, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			newID := base + tc.new
			if strings.HasPrefix(tc.new, "other/") {
				newID = "https://snodo-hub.github.io/schemas/" + tc.new
			}
			got := compatAdvice(base+tc.old, newID, tc.level, tc.changed)
			if got != tc.want {
				t.Errorf("advice %q; want %q", got, tc.want)
			}
		})
	}
}

func TestCompatLevelString(t *testing.T) {
	t.Parallel()
	got := []string{Patch.String(), Minor.String(), Major.String()}
	if diff := cmp.Diff([]string{"patch", "minor", "major"}, got); diff != "" {
		t.Error(diff)
	}
	raw, err := json.Marshal(Change{Level: Major, Pointer: "/a", Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"level":"major","pointer":"/a","message":"m"}`; string(raw) != want {
		t.Errorf("JSON %s; want %s", raw, want)
	}
	var back Change
	if err := json.Unmarshal(raw, &back); err != nil || back.Level != Major {
		t.Errorf("read back %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"level":"huge"}`), &back); err == nil {
		t.Error("an unknown level was accepted")
	}
}

func stubFormat(any) error { return nil }

func compileForCompat(t testing.TB) *Registry {
	t.Helper()
	reg, err := Compile(WithFormat("codice-fiscale", stubFormat), WithFormat("cf-provisional", stubFormat))
	if err != nil {
		t.Fatalf("compile the contract: %v", err)
	}
	return reg
}

// TestCheckCompatEmbeddedAgainstItself: every shipped schema, resolved
// through the registry, is patch-compatible with itself with no changes.
func TestCheckCompatEmbeddedAgainstItself(t *testing.T) {
	t.Parallel()
	reg := compileForCompat(t)
	resolve := reg.Resolver()
	for _, s := range reg.Schemas() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			got, err := CheckCompat(s.Source(), s.Source(), resolve)
			if err != nil {
				t.Fatal(err)
			}
			want := &CompatReport{OldID: s.ID, NewID: s.ID, Level: Patch}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckCompatEmbeddedEdits makes typical edits to each shipped schema,
// with the $id (and the record's "schema" const) moved as a maintainer
// would, and checks the verdict.
func TestCheckCompatEmbeddedEdits(t *testing.T) {
	t.Parallel()
	reg := compileForCompat(t)
	resolve := reg.Resolver()
	for _, s := range reg.Schemas() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			_, v, ok := compatParseID(s.ID)
			if !ok {
				t.Fatalf("$id %s has no version", s.ID)
			}
			// edit decodes the schema, applies f and moves the $id to version.
			edit := func(version compatVersion, f func(doc map[string]any)) []byte {
				doc := map[string]any{}
				if err := json.Unmarshal(s.Source(), &doc); err != nil {
					t.Fatal(err)
				}
				f(doc)
				raw, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				newID := strings.TrimSuffix(s.ID, v.String()) + version.String()
				return []byte(strings.ReplaceAll(string(raw), s.ID, newID))
			}
			props := func(doc map[string]any) map[string]any {
				p, ok := doc["properties"].(map[string]any)
				if !ok {
					t.Fatalf("%s has no properties", s.Name)
				}
				return p
			}
			var victim string // an optional property of the entity's own
			doc := map[string]any{}
			if err := json.Unmarshal(s.Source(), &doc); err != nil {
				t.Fatal(err)
			}
			required := map[string]bool{}
			if r, ok := doc["required"].([]any); ok {
				for _, n := range r {
					required[n.(string)] = true
				}
			}
			for _, name := range compatSorted(props(doc)) {
				if name != "schema" && !required[name] {
					victim = name
					break
				}
			}

			tests := map[string]struct {
				src    []byte
				level  Level
				change Change
			}{
				"optional property added": {
					src: edit(v.next(Minor), func(doc map[string]any) {
						props(doc)["zz_compat_test"] = map[string]any{"type": "string"}
					}),
					level:  Minor,
					change: Change{Minor, "/zz_compat_test", `optional property "zz_compat_test" added`},
				},
				"required property added": {
					src: edit(v.next(Major), func(doc map[string]any) {
						props(doc)["zz_compat_test"] = map[string]any{"type": "string"}
						doc["required"] = append(doc["required"].([]any), "zz_compat_test")
					}),
					level:  Major,
					change: Change{Major, "/zz_compat_test", `required property "zz_compat_test" added`},
				},
				"object opened": {
					src: edit(v.next(Minor), func(doc map[string]any) {
						delete(doc, "unevaluatedProperties")
					}),
					level:  Minor,
					change: Change{Minor, "", "object opened: unevaluatedProperties is no longer false"},
				},
				"title reworded": {
					src: edit(v.next(Patch), func(doc map[string]any) {
						doc["title"] = "Reworded"
					}),
					level:  Patch,
					change: Change{Patch, "", "title changed"},
				},
			}
			if victim != "" {
				tests["property removed"] = struct {
					src    []byte
					level  Level
					change Change
				}{
					src: edit(v.next(Major), func(doc map[string]any) {
						delete(props(doc), victim)
					}),
					level:  Major,
					change: Change{Major, "/" + victim, fmt.Sprintf("property %q removed", victim)},
				}
			}
			for name, tc := range tests {
				got, err := CheckCompat(s.Source(), tc.src, resolve)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := &CompatReport{OldID: s.ID, NewID: got.NewID, Level: tc.level, Changes: []Change{tc.change}}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

func TestCompatResolver(t *testing.T) {
	t.Parallel()
	reg := compileForCompat(t)
	resolve := reg.Resolver()
	var common struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(CommonSource(), &common); err != nil {
		t.Fatal(err)
	}
	if raw, ok := resolve(common.ID); !ok || string(raw) != string(CommonSource()) {
		t.Errorf("the common $id %s does not resolve to common.schema.json", common.ID)
	}
	for _, s := range reg.Schemas() {
		if raw, ok := resolve(s.ID); !ok || string(raw) != string(s.Source()) {
			t.Errorf("%s does not resolve to its file", s.ID)
		}
	}
	for _, l := range reg.CodeLists() {
		want, err := json.Marshal(l.Schema())
		if err != nil {
			t.Fatal(err)
		}
		if raw, ok := resolve(l.System); !ok || string(raw) != string(want) {
			t.Errorf("%s does not resolve to the list's generated schema", l.System)
		}
	}
	if _, ok := resolve("https://snodo-hub.github.io/codes/no-such-list"); ok {
		t.Error("an unknown $id resolved")
	}
}

// TestCheckCompatEmbeddedCodeListChange changes each shipped code list under
// the schemas that use it: a code removed is major at the coded fields, a
// code added is minor.
func TestCheckCompatEmbeddedCodeListChange(t *testing.T) {
	t.Parallel()
	reg := compileForCompat(t)
	resolve := reg.Resolver()
	for _, l := range reg.CodeLists() {
		var users []*Schema
		for _, s := range reg.Schemas() {
			if strings.Contains(string(s.Source()), `"`+l.System+`"`) {
				users = append(users, s)
			}
		}
		if len(users) == 0 || len(l.Codes) < 2 {
			continue
		}
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			variant := func(codes []Code) func(string) ([]byte, bool) {
				changed := *l
				changed.Codes = codes
				raw, err := json.Marshal(changed.Schema())
				if err != nil {
					t.Fatal(err)
				}
				return func(id string) ([]byte, bool) {
					if id == l.System {
						return raw, true
					}
					return resolve(id)
				}
			}
			removed := l.Codes[len(l.Codes)-1].Code
			narrowed := variant(l.Codes[:len(l.Codes)-1])
			widened := variant(append(append([]Code(nil), l.Codes...), Code{Code: "ZZ-compat-test"}))
			for _, s := range users {
				got, err := checkCompat(s.Source(), s.Source(), resolve, narrowed)
				if err != nil {
					t.Fatal(err)
				}
				wantMsg := "enum narrowed: " + compatJSON(removed) + " no longer allowed (code list " + l.Name + ")"
				if got.Level != Major || !hasMessage(got.Changes, Major, wantMsg) {
					t.Errorf("%s with %q removed: %v %v; want major %q", s.Name, removed, got.Level, got.Changes, wantMsg)
				}
				got, err = checkCompat(s.Source(), s.Source(), resolve, widened)
				if err != nil {
					t.Fatal(err)
				}
				wantMsg = `enum widened: "ZZ-compat-test" now allowed (code list ` + l.Name + ")"
				if got.Level != Minor || !hasMessage(got.Changes, Minor, wantMsg) {
					t.Errorf("%s with a code added: %v %v; want minor %q", s.Name, got.Level, got.Changes, wantMsg)
				}
			}
		})
	}
}

// hasMessage says whether cs has a change of level l whose message ends in
// msg (it may start with where in the schema it is, "propertyNames: ").
func hasMessage(cs []Change, l Level, msg string) bool {
	for _, c := range cs {
		if c.Level == l && (c.Message == msg || strings.HasSuffix(c.Message, ": "+msg)) {
			return true
		}
	}
	return false
}

// BenchmarkCheckCompat compares every shipped schema with itself through the
// registry's resolver.
func BenchmarkCheckCompat(b *testing.B) {
	reg := compileForCompat(b)
	resolve := reg.Resolver()
	schemas := reg.Schemas()
	if len(schemas) == 0 {
		b.Skip("no embedded entity schemas yet")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range schemas {
			if _, err := CheckCompat(s.Source(), s.Source(), resolve); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(schemas)), "ns/schema")
}
