package schemas_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/schemas"
)

func compile(t testing.TB) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		t.Fatalf("compile the contract: %v", err)
	}
	return reg
}

// fixture is one document of schemas/testdata/<name>/{valid,invalid}/.
type fixture struct {
	file    string // relative to the schemas folder
	schema  string
	valid   bool
	pointer string // the error an invalid fixture must produce
	doc     any
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, p := range paths {
		parts := strings.Split(filepath.ToSlash(p), "/")
		f := fixture{file: filepath.ToSlash(p), schema: parts[1], valid: parts[2] == "valid"}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := schemas.Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		switch parts[2] {
		case "valid":
			f.doc = doc
		case "invalid":
			w, ok := doc.(map[string]any)
			ptr, okp := w["pointer"].(string)
			if !ok || !okp || w["document"] == nil || w["description"] == nil {
				t.Fatalf("%s: an invalid fixture is {description, pointer, document}", p)
			}
			f.pointer, f.doc = ptr, w["document"]
		default:
			t.Fatalf("%s: fixtures go under valid/ or invalid/", p)
		}
		out = append(out, f)
	}
	return out
}

func TestFixtures(t *testing.T) {
	t.Parallel()
	reg := compile(t)
	fixtures := loadFixtures(t)
	counts := map[string][2]int{}
	for _, f := range fixtures {
		c := counts[f.schema]
		if f.valid {
			c[0]++
		} else {
			c[1]++
		}
		counts[f.schema] = c
	}
	for _, s := range reg.Schemas() {
		if c := counts[s.Name]; c[0] < 3 || c[1] < 5 {
			t.Errorf("schema %s has %d valid and %d invalid fixtures; want at least 3 and 5", s.Name, c[0], c[1])
		}
	}
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			t.Parallel()
			s, ok := reg.Lookup(f.schema)
			if !ok {
				t.Fatalf("no schema named %q", f.schema)
			}
			got := s.Validate(f.doc)
			if f.valid {
				if len(got) > 0 {
					t.Fatalf("valid fixture rejected: %v", got)
				}
				chosen, vs := reg.ValidateDocument(f.doc)
				if chosen != s || len(vs) > 0 {
					t.Fatalf("the document's schema field chose %v with %v", chosen, vs)
				}
				return
			}
			if len(got) == 0 {
				t.Fatal("invalid fixture accepted")
			}
			var ptrs []string
			for _, v := range got {
				ptrs = append(ptrs, v.Pointer)
				if v.Message == "" {
					t.Errorf("violation at %q has no message", v.Pointer)
				}
			}
			if !contains(ptrs, f.pointer) {
				t.Errorf("want an error at %q; got %v", f.pointer, got)
			}
			for _, secret := range identifierValues(f.doc) {
				for _, v := range got {
					if strings.Contains(v.Message, secret) {
						t.Errorf("message %q repeats a personal identifier", v.Message)
					}
				}
			}
		})
	}
}

// identifierValues collects the values of personal identifiers in a
// document, which must never appear in a message.
func identifierValues(doc any) []string {
	var out []string
	var walk func(v any, inIdentifiers bool)
	walk = func(v any, in bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if in {
					if s, ok := c.(string); ok && len(s) >= 6 {
						out = append(out, s)
					}
				}
				walk(c, in || k == "identifiers")
			}
		case []any:
			for _, c := range v {
				walk(c, in)
			}
		}
	}
	walk(doc, false)
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestFixturesAgreeWithIndependentValidator runs Debian's python3-jsonschema
// over the same fixtures: both validators must judge each fixture alike and
// find the error each invalid fixture records.
func TestFixturesAgreeWithIndependentValidator(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import jsonschema").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install Debian's python3-jsonschema: %v", err)
		}
		t.Skipf("Debian's python3-jsonschema is not installed (apt-get install python3-jsonschema): %v", err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(py, filepath.Join("testdata", "agree.py"), ".")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("agree.py: %v\n%s", err, stderr.String())
	}
	type verdict struct {
		File     string   `json:"file"`
		Valid    bool     `json:"valid"`
		Pointers []string `json:"pointers"`
		Error    string   `json:"error"`
	}
	verdicts := map[string]verdict{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var v verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("agree.py printed %q: %v", sc.Text(), err)
		}
		verdicts[v.File] = v
	}
	reg := compile(t)
	fixtures := loadFixtures(t)
	if len(verdicts) != len(fixtures) {
		t.Errorf("python judged %d fixtures, Go has %d", len(verdicts), len(fixtures))
	}
	for _, f := range fixtures {
		v, ok := verdicts[f.file]
		if !ok {
			t.Errorf("%s: python gave no verdict", f.file)
			continue
		}
		if v.Error != "" {
			t.Errorf("%s: python: %s", f.file, v.Error)
			continue
		}
		s, _ := reg.Lookup(f.schema)
		goValid := len(s.Validate(f.doc)) == 0
		if v.Valid != goValid || v.Valid != f.valid {
			t.Errorf("%s: fixture says valid=%v, Go says %v, python says %v (python errors at %v)", f.file, f.valid, goValid, v.Valid, v.Pointers)
			continue
		}
		if !f.valid && !contains(v.Pointers, f.pointer) {
			sort.Strings(v.Pointers)
			t.Errorf("%s: python finds errors at %v, not at the recorded %q", f.file, v.Pointers, f.pointer)
		}
	}
}
