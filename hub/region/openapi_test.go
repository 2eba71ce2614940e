package region

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// openAPIChecker validates requests and answers against the embedded
// OpenAPI document with kin-openapi, a validator not written by us: every
// answer an endpoint test gets goes through it, so a field the handlers
// add, drop or retype without the document is a test failure.
type openAPIChecker struct {
	doc *openapi3.T
}

func newOpenAPIChecker(t *testing.T) *openAPIChecker {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document (kin-openapi): %v", err)
	}
	return &openAPIChecker{doc: doc}
}

// check validates the answer to req against the document: the operation
// must be documented, the status too, and the body must match the schema
// of its content type. A 200 answer's request is validated as well (bad
// requests are what the 400 tests send on purpose).
func (c *openAPIChecker) check(t *testing.T, req *http.Request, a answer) {
	t.Helper()
	item := c.doc.Paths.Find(req.URL.Path)
	if item == nil {
		t.Errorf("%s %s is not in openapi.json", req.Method, req.URL.Path)
		return
	}
	op := item.GetOperation(req.Method)
	if op == nil {
		t.Errorf("%s %s is not in openapi.json", req.Method, req.URL.Path)
		return
	}
	route := &routers.Route{Spec: c.doc, Path: req.URL.Path, PathItem: item, Method: req.Method, Operation: op}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts, QueryParams: req.URL.Query()}
	ctx := context.Background()
	if a.status == http.StatusOK {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s: the request does not follow openapi.json: %v", req.Method, req.URL, err)
		}
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: a.status, Header: a.header, Body: io.NopCloser(bytes.NewReader(a.body)), Options: opts})
	if err != nil {
		t.Errorf("%s %s: the answer %d does not follow openapi.json: %v\n%s", req.Method, req.URL, a.status, err, truncate(a.body))
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// openAPIValidator finds an OpenAPI validator not written by us:
// openapi-spec-validator (pip's, on the project's machines; Debian's
// python3-openapi-spec-validator where the release has it), else
// swagger-cli run by npx from the npm registry (Debian bookworm has no
// OpenAPI validator package; CI installs npm). nil when there is none.
func openAPIValidator() []string {
	if p, err := exec.LookPath("openapi-spec-validator"); err == nil {
		return []string{p}
	}
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import openapi_spec_validator").Run() == nil {
			return []string{py, "-m", "openapi_spec_validator"}
		}
	}
	if p, err := exec.LookPath("npx"); err == nil {
		return []string{p, "--yes", "@apidevtools/swagger-cli@4.0.4", "validate"}
	}
	return nil
}

// TestRegionOpenAPIDocumentValid validates openapi.json with an OpenAPI
// validator of its own (openAPIValidator), beside kin-openapi's check.
// Without one the test is skipped locally, and fails in CI.
func TestRegionOpenAPIDocumentValid(t *testing.T) {
	t.Parallel()
	newOpenAPIChecker(t) // kin-openapi's own validation
	cmd := openAPIValidator()
	if cmd == nil {
		msg := "no OpenAPI validator: install openapi-spec-validator, or npm for npx @apidevtools/swagger-cli"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, OpenAPI(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cmd[0], append(cmd[1:], file)...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
	t.Logf("valid for %s", strings.Join(cmd, " "))

	// A broken document must fail the same validator, or the check above
	// proves nothing.
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["paths"].(map[string]any)["/healthz"].(map[string]any)["get"].(map[string]any)["responses"] = "none"
	bad, _ := json.Marshal(doc)
	if err := os.WriteFile(file, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cmd[0], append(cmd[1:], file)...).CombinedOutput(); err == nil {
		t.Fatalf("%s accepted a broken document: %s", strings.Join(cmd, " "), out)
	}
}

// TestRegionOpenAPICoversEveryRoute: the document describes exactly the
// routes the handler serves, and every documented GET answers (not the
// handler's 404 for an unknown endpoint), validated against the document.
func TestRegionOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	sort.Strings(documented)
	// The API routes NewHandler registers, read from http.go so that a
	// route added there without the document fails here.
	src, err := os.ReadFile("http.go")
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, `h.handle("`); ok {
			pattern, _, _ := strings.Cut(rest, `"`)
			// The API's routes; pages (a dashboard) are not the API's.
			if _, path, _ := strings.Cut(pattern, " "); strings.HasPrefix(path, "/api/") || path == "/healthz" {
				served = append(served, pattern)
			}
		}
	}
	sort.Strings(served)
	if strings.Join(documented, "\n") != strings.Join(served, "\n") {
		t.Fatalf("openapi.json documents\n%s\nthe handler serves\n%s", strings.Join(documented, "\n"), strings.Join(served, "\n"))
	}

	f := newFixture(t)
	c := f.serve(t, false)
	for _, path := range []string{
		"/healthz", "/api/openapi.json", "/api/v1/region/territories", "/api/v1/region/intake-log?limit=3",
		"/api/v1/region/coverage?indicator=caseload&epoch=2025", "/api/v1/region/aggregate?indicator=referral-acceptance&epoch=2025",
		"/api/v1/region/aggregate?indicator=caseload&epoch=2025&breakdown=sex:F",
	} {
		if a := c.get(path); a.status != http.StatusOK {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	if a := c.getWith("/api/v1/region/territories", ""); a.status != http.StatusUnauthorized {
		t.Errorf("territories without a token: %d", a.status)
	}
}
