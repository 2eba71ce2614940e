package records_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/snodo-hub/snodo/hub/records"
)

type got struct {
	Pos string
	ID  any
	Err string
}

func readAll(t *testing.T, name, input string) []got {
	t.Helper()
	var out []got
	err := records.Read(strings.NewReader(input), name, func(it records.Item) error {
		g := got{Pos: it.Pos.String()}
		if it.Err != nil {
			g.Err = it.Err.Error()
		} else if m, ok := it.Doc.(map[string]any); ok {
			g.ID = m["id"]
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRead(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		name, input string
		want        []got
	}{
		"one document": {
			name: "a.json", input: "{\n  \"id\": \"x\"\n}\n",
			want: []got{{Pos: "a.json", ID: "x"}},
		},
		"array keeps indexes": {
			name: "a.json", input: "[\n {\"id\": \"a\"},\n {\"id\": \"b\"}\n]",
			want: []got{{Pos: "a.json[0]", ID: "a"}, {Pos: "a.json[1]", ID: "b"}},
		},
		"json lines keep line numbers and go on past a broken line": {
			name: "a.jsonl", input: "{\"id\": \"a\"}\n\n{\"id\": oops}\n{\"id\": \"c\"}\n",
			want: []got{
				{Pos: "a.jsonl:1", ID: "a"},
				{Pos: "a.jsonl:3", Err: "not valid JSON at line 3, column 8: invalid character 'o' looking for beginning of value"},
				{Pos: "a.jsonl:4", ID: "c"},
			},
		},
		"json lines detected without the extension": {
			name: "<stdin>", input: "{\"id\": \"a\"}\n{\"id\": \"b\"}",
			want: []got{{Pos: "<stdin>:1", ID: "a"}, {Pos: "<stdin>:2", ID: "b"}},
		},
		"byte order mark is ignored": {
			name: "a.json", input: "\xef\xbb\xbf{\"id\": \"x\"}",
			want: []got{{Pos: "a.json", ID: "x"}},
		},
		"empty input": {
			name: "a.json", input: "  \n",
			want: []got{{Pos: "a.json", Err: "empty input: expected a JSON document, a JSON array or JSON Lines"}},
		},
		"truncated document": {
			name: "a.json", input: "{\"id\": \"x\"",
			want: []got{{Pos: "a.json", Err: "not valid JSON: the document ends too early (an unclosed { or [ or string)"}},
		},
		"syntax error in an array says where": {
			name: "a.json", input: "[\n {\"id\": \"a\"},\n {\"id\": ]\n]",
			want: []got{{Pos: "a.json[0]", ID: "a"}, {Pos: "a.json[1]", Err: "not valid JSON at line 3, column 9: invalid character ']' looking for beginning of value"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, readAll(t, tc.name, tc.input)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
