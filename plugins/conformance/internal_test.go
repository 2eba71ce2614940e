package conformance

import (
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v5"
)

func TestHandshakeProblem(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		line, want string
	}{
		"go on linux":      {line: "1|1|unix|/tmp/plugin123|grpc|", want: ""},
		"tcp with cert":    {line: "1|1|tcp|127.0.0.1:10000|grpc|" + strings.Repeat("A", 60), want: ""},
		"multiplex field":  {line: "1|1|tcp|127.0.0.1:10000|grpc||true", want: ""},
		"banner":           {line: "starting", want: "1 fields separated by |, want at least 5"},
		"net/rpc":          {line: "1|1|tcp|127.0.0.1:1|netrpc", want: `protocol "netrpc", want grpc`},
		"no protocol":      {line: "1|1|tcp|127.0.0.1:1", want: "4 fields"},
		"other version":    {line: "1|2|tcp|127.0.0.1:1|grpc", want: `protocol version "2", want 1`},
		"other core":       {line: "2|1|tcp|127.0.0.1:1|grpc", want: `core protocol "2"`},
		"bad network":      {line: "1|1|udp|127.0.0.1:1|grpc", want: `network "udp"`},
		"tcp without port": {line: "1|1|tcp|localhost|grpc", want: `address "localhost" is not host:port`},
		"empty address":    {line: "1|1|unix||grpc", want: "empty address"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := handshakeProblem(tc.line)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("handshakeProblem(%q) = %q, want %q", tc.line, got, tc.want)
			}
		})
	}
}

func compile(t *testing.T, src string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	if err := c.AddResource("s.json", strings.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInvalidSettings(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		schema, given string
		want          string // "" when there are none
	}{
		"required":           {schema: `{"type": "object", "required": ["file"]}`, given: `{"file": "x"}`, want: `{}`},
		"closed":             {schema: `{"type": "object", "additionalProperties": false, "properties": {"file": {}}}`, given: `{"file": "x"}`, want: `{"__snodo_conformance_unknown__": true}`},
		"given plus unknown": {schema: `{"type": "object", "dependentSchemas": {"file": {"maxProperties": 1}}}`, given: `{"file": "x"}`, want: `{"__snodo_conformance_unknown__":true,"file":"x"}`},
		"open object":        {schema: `{"type": "object"}`, given: `{}`, want: `[]`},
		"anything":           {schema: `true`, given: `{}`, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, ok := invalidSettings(compile(t, tc.schema), []byte(tc.given))
			if tc.want == "" {
				if ok {
					t.Errorf("found %s", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestShapeFormats(t *testing.T) {
	t.Parallel()
	opts := map[string]func(any) error{
		"codice-fiscale": shapeCheck(16, isAlnumUpper, ""),
		"cf-provisional": shapeCheck(11, isDigit, ""),
	}
	for format, values := range map[string]map[any]bool{
		// A check-digit mistake is the hub's to find: the shape is right.
		"codice-fiscale": {"RSSMRA85T10A562X": true, "rssmra85t10a562s": false, "RSSMRA85T10A562": false, 42: true},
		"cf-provisional": {"80615234079": true, "8061523407A": false},
	} {
		for v, valid := range values {
			if err := opts[format](v); (err == nil) != valid {
				t.Errorf("%s %v: %v", format, v, err)
			}
			if err := opts[format](v); err != nil && strings.Contains(err.Error(), v.(string)) {
				t.Errorf("the message repeats the value: %v", err)
			}
		}
	}
}

// The goroutine check counts what carries the suite's label — and only
// that, whatever else the process runs.
func TestLabelledGoroutines(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	done := make(chan struct{})
	pprof.Do(context.Background(), pprof.Labels(labelKey, "leak-test"), func(context.Context) {
		go func() {
			go func() { <-stop; close(done) }() // inherits the label
			<-stop
		}()
	})
	other := make(chan struct{})
	go func() { <-other }()
	defer close(other)
	time.Sleep(10 * time.Millisecond)
	n, where := labelled("leak-test")
	if n != 2 || !strings.Contains(where, "TestLabelledGoroutines") {
		t.Fatalf("%d labelled goroutines in %q, want 2", n, where)
	}
	close(stop)
	<-done
	for i := 0; ; i++ {
		if n, _ := labelled("leak-test"); n == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("%d goroutines still labelled", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
