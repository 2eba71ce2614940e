package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// snodo runs one command line in-process and returns its exit code and
// output.
func snodo(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb lockedBuffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: a library's
// goroutine may still log a debug line while the command returns (the
// watermill router's handlers log their close).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
		path := strings.Fields(c.CommandPath())[1:]
		code, out, _ := snodo(t, "", append(path, "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%q --help: exit %d, output %q", c.CommandPath(), code, out)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "__start_snodo") {
		t.Fatalf("bash completion: exit %d", code)
	}
	// Dynamic completion of schema names.
	code, out, _ = snodo(t, "", "__complete", "validate", "--schema", "ref")
	if code != 0 || !strings.Contains(out, "referral-status-event") {
		t.Fatalf("completion of --schema: exit %d, %q", code, out)
	}
}

func TestUnknownCommandAndFlagAreUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"frobnicate"}, {"validate", "--nope", "x"}, {"init"}, {"validate"}} {
		if code, _, stderr := snodo(t, "", args...); code != exitUsage || !strings.Contains(stderr, "snodo:") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "version")
	if code != 0 || !strings.Contains(out, "snodo ") || !strings.Contains(out, "15 schemas") {
		t.Fatalf("exit %d: %q", code, out)
	}
}

const validReferral = `{"schema":"https://snodo-hub.github.io/schemas/referral/1.0.0","record_id":"R1","source":"comune-firenze","territory":"SDS-FI","recorded_at":"2025-03-04T10:15:22+01:00","requester":{"record_id":"O1"},"owner":{"record_id":"O2"},"person":{"identifiers":{"cf":"RSSMRA85T10A562S"}},"authored_on":"2025-03-04T09:58:00+01:00","priority":"urgent","category":{"system":"https://snodo-hub.github.io/codes/referral-category","code":"homelessness"},"status":{"code":"requested"}}`

func TestValidate(t *testing.T) {
	t.Parallel()
	badCF := strings.Replace(validReferral, "RSSMRA85T10A562S", "RSSMRA85T10A562X", 1)
	noReason := strings.Replace(validReferral, `"status":{"code":"requested"}`, `"status":{"code":"rejected"}`, 1)
	jsonl := writeFile(t, "refs.jsonl", validReferral+"\n"+badCF+"\n{broken\n"+noReason+"\n")
	array := writeFile(t, "refs.json", "["+validReferral+",\n"+badCF+"]")
	single := writeFile(t, "one.json", validReferral)

	tests := map[string]struct {
		args      []string
		stdin     string
		code      int
		wantOut   []string
		notInOut  []string
		wantErrIn string
	}{
		"all valid": {args: []string{single}, code: 0, wantErrIn: "1 documents: 1 valid, 0 invalid"},
		"json lines with a broken line and invalid documents": {
			args: []string{jsonl}, code: 1,
			wantOut: []string{
				jsonl + ":2: /person/identifiers/cf: not a valid codice-fiscale",
				jsonl + ":3: not valid JSON at line 3",
				jsonl + ":4: /status: missing required properties: 'reason'",
			},
			notInOut:  []string{"RSSMRA85T10A562X", jsonl + ":1:"},
			wantErrIn: "4 documents: 1 valid, 3 invalid",
		},
		"array index": {args: []string{array}, code: 1, wantOut: []string{array + "[1]: /person/identifiers/cf"}},
		"stdin":       {args: []string{"-"}, stdin: badCF, code: 1, wantOut: []string{"<stdin>: /person/identifiers/cf"}},
		"forced schema": {
			args: []string{"--schema", "person", single}, code: 1,
			wantOut: []string{"value must be exactly \"https://snodo-hub.github.io/schemas/person/1.0.0\""},
		},
		"unknown schema": {args: []string{"--schema", "nope", single}, code: 2, wantErrIn: "no such schema"},
		"missing file":   {args: []string{single, "/nonexistent/x.json"}, code: 2, wantErrIn: "/nonexistent/x.json: cannot read: no such file or directory"},
		"name not $id": {
			args: []string{"-"}, stdin: strings.Replace(validReferral, "https://snodo-hub.github.io/schemas/referral/1.0.0", "referral", 1), code: 1,
			wantOut: []string{`"referral" is a schema name, not its $id`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out, stderr := snodo(t, tc.stdin, append([]string{"validate"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notInOut {
				if strings.Contains(out, w) || strings.Contains(stderr, w) {
					t.Errorf("output contains %q:\n%s%s", w, out, stderr)
				}
			}
			if tc.wantErrIn != "" && !strings.Contains(stderr, tc.wantErrIn) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErrIn, stderr)
			}
			if lines := strings.Count(out, "\n"); tc.code == 1 && lines != len(tc.wantOut) && len(tc.wantOut) > 0 {
				t.Errorf("want one line per invalid document (%d), got %d:\n%s", len(tc.wantOut), lines, out)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	t.Parallel()
	badCF := strings.Replace(validReferral, "RSSMRA85T10A562S", "RSSMRA85T10A562X", 1)
	code, out, _ := snodo(t, validReferral+"\n"+badCF+"\n", "validate", "--json", "-")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var rep validationReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Documents != 2 || rep.Invalid != 1 || len(rep.Results) != 1 || rep.Results[0].Line != 2 ||
		rep.Results[0].Errors[0].Pointer != "/person/identifiers/cf" || rep.Results[0].Schema != "referral" {
		t.Fatalf("report: %+v", rep)
	}
}

func TestIDCheck(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "id", "check", " rss mra-85t10 a562s ", "80615234079", "STP0900010000001")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, w := range []string{"RSSMRA85T10A562S\tvalid\tcf", "80615234079\tvalid\tcf-provisional", "STP0900010000001\tvalid\tstp"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = snodo(t, "RSSMRA85T10A562X\nRSSMRA85X10A562S\n", "id", "check", "-")
	if code != 1 || !strings.Contains(out, "RSSMRA85T10A562X\tinvalid\tcodice fiscale: position 16") ||
		!strings.Contains(out, "position 9: month letter") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "hub")
	code, out, stderr := snodo(t, "", "init", dir, "--territory", "SDS-FI-NORDOVEST", "--name", "SdS Firenze Nord-Ovest")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Territory hub SDS-FI-NORDOVEST set up") {
		t.Errorf("output: %s", out)
	}
	for _, f := range []string{"snodo.yaml", "snodo.db", "keys/pseudonymisation.key", "keys/signing.key", "keys/signing.key.pub"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, _, stderr = snodo(t, "", "init", dir, "--territory", "SDS-FI-NORDOVEST", "--name", "x")
	if code != exitFindings || !strings.Contains(stderr, "refusing to overwrite") {
		t.Errorf("second init: exit %d: %s", code, stderr)
	}
	code, _, stderr = snodo(t, "", "init", filepath.Join(t.TempDir(), "x"), "--territory", "sds fi", "--name", "x")
	if code != exitUsage || !strings.Contains(stderr, "upper-case letters") {
		t.Errorf("bad code: exit %d: %s", code, stderr)
	}
}

func TestSchemasCommands(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "schemas", "list")
	if code != 0 || !strings.Contains(out, "referral  ") || !strings.Contains(out, "https://snodo-hub.github.io/schemas/volunteer/1.0.0") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if n := strings.Count(out, "\n"); n != 16 {
		t.Errorf("list: %d lines, want a header and 15 schemas", n)
	}
	code, out, _ = snodo(t, "", "schemas", "list", "--codes", "--json")
	var lists []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &lists) != nil || len(lists) < 30 {
		t.Fatalf("list --codes: exit %d\n%s", code, out)
	}
	code, out, _ = snodo(t, "", "schemas", "show", "referral")
	if code != 0 || !strings.Contains(out, `"$id": "https://snodo-hub.github.io/schemas/referral/1.0.0"`) {
		t.Fatalf("show: exit %d", code)
	}
	code, out, _ = snodo(t, "", "schemas", "show", "ethos-light")
	if code != 0 || !strings.Contains(out, `"EL1"`) {
		t.Fatalf("show code list: exit %d", code)
	}
	if code, _, _ = snodo(t, "", "schemas", "show", "nope"); code != exitUsage {
		t.Errorf("show nope: exit %d", code)
	}
}

func TestCheckCompat(t *testing.T) {
	t.Parallel()
	code, out, _ := snodo(t, "", "schemas", "check-compat", "referral", "referral")
	if code != 0 || !strings.Contains(out, "patch change") {
		t.Fatalf("same schema: exit %d\n%s", code, out)
	}
	var s map[string]any
	code, src, _ := snodo(t, "", "schemas", "show", "referral")
	if code != 0 || json.Unmarshal([]byte(src), &s) != nil {
		t.Fatal("show referral")
	}
	props := s["properties"].(map[string]any)
	delete(props, "pathway")
	s["required"] = append(s["required"].([]any), "household")
	major, _ := json.Marshal(s)
	code, out, _ = snodo(t, "", "schemas", "check-compat", "referral", writeFile(t, "new.schema.json", string(major)))
	if code != exitFindings || !strings.Contains(out, "major change") || !strings.Contains(out, "/pathway") || !strings.Contains(out, "/household") {
		t.Fatalf("major: exit %d\n%s", code, out)
	}

	// Only an optional property added: minor, exit 0.
	if json.Unmarshal([]byte(src), &s) != nil {
		t.Fatal("show referral")
	}
	s["properties"].(map[string]any)["referral_channel"] = map[string]any{"type": "string", "maxLength": 20}
	minor, _ := json.Marshal(s)
	code, out, _ = snodo(t, "", "schemas", "check-compat", "referral", writeFile(t, "minor.schema.json", string(minor)))
	if code != 0 || !strings.Contains(out, "minor change") || !strings.Contains(out, "/referral_channel") {
		t.Fatalf("minor: exit %d\n%s", code, out)
	}
}
