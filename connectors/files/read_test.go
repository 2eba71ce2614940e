package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// testMapping reads people from p_*.csv, households from n_*.jsonl and
// volunteers from v_*.xlsx.
const testMapping = `version: 1
files:
  - pattern: "p_*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    fields:
      - {column: anno, to: /birth_year}
      - {column: cf, to: /person/identifiers}
  - pattern: "n_*.jsonl"
    schema: household
    record_id: id
    fields:
      - {column: n, to: /size}
  - pattern: "v_*.xlsx"
    schema: volunteer
    record_id: id
    fields:
      - {template: "ALBO-{id}", to: /pseudonym}
      - {column: org, to: /organisation/record_id}
      - {column: ore, to: /total_hours}
`

// testFolder makes a settings folder with mapping.yaml and an empty
// exports folder; it returns the exports folder and the settings.
func testFolder(t *testing.T, mapping string) (string, sdk.Settings) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "mapping.yaml", mapping)
	exports := filepath.Join(dir, "exports")
	if err := os.Mkdir(exports, 0o755); err != nil {
		t.Fatal(err)
	}
	return exports, settingsFor(t, dir, nil)
}

// people is a CSV of people with ids P<first>…P<last>.
func people(first, last int) string {
	var b strings.Builder
	for i := first; i <= last; i++ {
		fmt.Fprintf(&b, "P%d;%d;CF%04d\n", i, 1950+i, i)
	}
	return b.String()
}

const peopleHeader = "id;anno;cf\n"

func writeXLSX(t testing.TB, path string, rows [][]any) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	all := append([][]any{{"id", "org", "ore"}}, rows...)
	for i, r := range all {
		if err := f.SetSheetRow("Sheet1", cellName(1, i+1), &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

func volunteers(first, last int) [][]any {
	var rows [][]any
	for i := first; i <= last; i++ {
		rows = append(rows, []any{fmt.Sprintf("V%d", i), "ORG-AUSER-SESTO", 10 * i})
	}
	return rows
}

// mixedFolder fills a folder with files of every format, malformed and
// blank rows included.
func mixedFolder(t *testing.T, exports string) {
	t.Helper()
	writeFile(t, exports, "p_a.csv", peopleHeader+people(1, 3)+"P4;non so;CF0004\n"+people(5, 6)+"P7;1957\n")
	writeFile(t, exports, "n_b.jsonl", `{"id": "N1", "n": 1}`+"\n\n"+`{"id": "N2", "n": 2}`+"\n{broken\n"+`{"id": "N3", "n": 3}`+"\n")
	writeXLSX(t, filepath.Join(exports, "v_c.xlsx"), volunteers(1, 4))
	writeFile(t, exports, "p_d.csv", peopleHeader+people(8, 9))
}

var mixedIDs = []string{"N1", "N2", "N3", "P1", "P2", "P3", "P5", "P6", "P8", "P9", "V1", "V2", "V3", "V4"} // n_b.jsonl, p_a.csv, p_d.csv, v_c.xlsx

func TestReadOrderAndMalformedRows(t *testing.T) {
	t.Parallel()
	exports, s := testFolder(t, testMapping)
	mixedFolder(t, exports)
	c, logs := newConnector()
	res := read(t, c, s, nil, 0)
	if diff := cmp.Diff(mixedIDs, recordIDs(res.records)); diff != "" {
		t.Errorf("records, files by name (-want +got):\n%s", diff)
	}
	if len(res.batches) != 1 {
		t.Errorf("%d batches, want 1 under the default size", len(res.batches))
	}
	type skipped struct {
		File string
		Row  float64
	}
	var got []skipped
	for _, l := range logs.lines(t) {
		if l["msg"] == "skipped a malformed row" {
			got = append(got, skipped{l["file"].(string), l["row"].(float64)})
		}
	}
	want := []skipped{{"n_b.jsonl", 4}, {"p_a.csv", 5}, {"p_a.csv", 8}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("malformed rows logged (-want +got):\n%s\n%s", diff, logs)
	}
	for _, secret := range []string{"non so", "CF0004", "1957", "broken", "CF0007"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log repeats the cell value %q:\n%s", secret, logs)
		}
	}
}

// TestResumeFromEveryCursor reads in small batches and then again from
// every cursor returned: what follows each cursor is exactly the rest.
func TestResumeFromEveryCursor(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("batches of %d", max), func(t *testing.T) {
			t.Parallel()
			exports, s := testFolder(t, testMapping)
			mixedFolder(t, exports)
			c, _ := newConnector()
			full := read(t, c, s, nil, max)
			if diff := cmp.Diff(mixedIDs, recordIDs(full.records)); diff != "" {
				t.Fatalf("records (-want +got):\n%s", diff)
			}
			done := 0
			for i, b := range full.batches {
				if len(b.Records) > max {
					t.Errorf("batch %d has %d records, more than %d", i, len(b.Records), max)
				}
				done += len(b.Records)
				rest := read(t, c, s, b.Cursor, 1000)
				if diff := cmp.Diff(mixedIDs[done:], recordIDs(rest.records), cmpEmpty); diff != "" {
					t.Errorf("read from the cursor of batch %d (-want +got):\n%s", i, diff)
				}
			}
			again := read(t, c, s, full.cursor, max)
			if len(again.batches) != 0 {
				t.Errorf("reading from the last cursor sent %d batches, want none", len(again.batches))
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal([]string(a), []string(b))
})

func TestCursorSemantics(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		before func(t *testing.T, dir string)
		change func(t *testing.T, dir string)
		want   []string
	}{
		"rows appended to a CSV: only the new ones": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(1, 3)) },
			change: func(t *testing.T, dir string) { appendFile(t, dir, "p_1.csv", people(4, 5)) },
			want:   []string{"P4", "P5"},
		},
		"lines appended to a JSON Lines file": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "n_1.jsonl", `{"id": "N1", "n": 1}`+"\n") },
			change: func(t *testing.T, dir string) { appendFile(t, dir, "n_1.jsonl", `{"id": "N2", "n": 2}`+"\n") },
			want:   []string{"N2"},
		},
		"rows added to a workbook": {
			before: func(t *testing.T, dir string) { writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), volunteers(1, 2)) },
			change: func(t *testing.T, dir string) { writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), volunteers(1, 4)) },
			want:   []string{"V3", "V4"},
		},
		"a CSV replaced, same size: read again from the start": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(1, 3)) },
			change: func(t *testing.T, dir string) {
				writeFile(t, dir, "p_1.csv", peopleHeader+strings.Replace(people(1, 3), "P2;1952", "P2;1962", 1))
			},
			want: []string{"P1", "P2", "P3"},
		},
		"a CSV replaced by a shorter one": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(1, 3)) },
			change: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(7, 7)) },
			want:   []string{"P7"},
		},
		"a workbook with a changed row: read again": {
			before: func(t *testing.T, dir string) { writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), volunteers(1, 2)) },
			change: func(t *testing.T, dir string) {
				rows := volunteers(1, 3)
				rows[0][2] = 99
				writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), rows)
			},
			want: []string{"V1", "V2", "V3"},
		},
		"a workbook saved again unchanged: nothing": {
			before: func(t *testing.T, dir string) { writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), volunteers(1, 2)) },
			change: func(t *testing.T, dir string) {
				time.Sleep(1100 * time.Millisecond) // a new timestamp inside the zip
				writeXLSX(t, filepath.Join(dir, "v_1.xlsx"), volunteers(1, 2))
			},
			want: nil,
		},
		"a new file, even one that sorts first": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_5.csv", peopleHeader+people(1, 2)) },
			change: func(t *testing.T, dir string) {
				writeFile(t, dir, "p_0.csv", peopleHeader+people(3, 3))
				writeFile(t, dir, "p_9.csv", peopleHeader+people(4, 4))
			},
			want: []string{"P3", "P4"},
		},
		"nothing changed": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(1, 3)) },
			change: func(t *testing.T, dir string) {},
			want:   nil,
		},
		"a file removed, then put back unchanged: not read twice": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+people(1, 3)) },
			change: func(t *testing.T, dir string) {
				// The state of a file that has gone stays in the cursor.
				if err := os.Rename(filepath.Join(dir, "p_1.csv"), filepath.Join(dir, "..", "p_1.csv")); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(filepath.Join(dir, "..", "p_1.csv"), filepath.Join(dir, "p_1.csv")); err != nil {
					t.Fatal(err)
				}
			},
			want: nil,
		},
		"rows appended after a header-only CSV": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader) },
			change: func(t *testing.T, dir string) { appendFile(t, dir, "p_1.csv", people(1, 1)) },
			want:   []string{"P1"},
		},
		"a CSV whose last line had no line break, then rows appended": {
			before: func(t *testing.T, dir string) { writeFile(t, dir, "p_1.csv", peopleHeader+"P1;1951;CF1") },
			change: func(t *testing.T, dir string) { appendFile(t, dir, "p_1.csv", "\nP2;1952;CF2\n") },
			want:   []string{"P2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exports, s := testFolder(t, testMapping)
			c, _ := newConnector()
			tc.before(t, exports)
			first := read(t, c, s, nil, 0)
			tc.change(t, exports)
			second := read(t, c, s, first.cursor, 0)
			if diff := cmp.Diff(tc.want, recordIDs(second.records), cmpEmpty); diff != "" {
				t.Errorf("second read (-want +got):\n%s", diff)
			}
			if tc.want == nil && len(second.batches) > 0 && len(second.batches[0].Records) == 0 {
				// An empty batch is fine only if it moves the cursor.
				if string(second.batches[0].Cursor) == string(first.cursor) {
					t.Error("an empty batch that does not move the cursor")
				}
			}
			third := read(t, c, s, second.cursor, 0)
			if len(third.records) != 0 {
				t.Errorf("third read repeats %v", recordIDs(third.records))
			}
		})
	}
}

func appendFile(t *testing.T, dir, name, content string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMalformedRowsAreNotReadTwice checks that the cursor moves past
// malformed rows at the end of a file, so they are logged once.
func TestMalformedRowsAreNotReadTwice(t *testing.T) {
	t.Parallel()
	exports, s := testFolder(t, testMapping)
	writeFile(t, exports, "p_1.csv", peopleHeader+people(1, 1)+"P2;mille;CF2\n")
	c, logs := newConnector()
	first := read(t, c, s, nil, 0)
	if got := strings.Count(logs.String(), "skipped a malformed row"); got != 1 {
		t.Fatalf("%d malformed rows logged, want 1:\n%s", got, logs)
	}
	c2, logs2 := newConnector()
	second := read(t, c2, s, first.cursor, 0)
	if len(second.batches) != 0 || logs2.String() != "" {
		t.Errorf("second read: %d batches, log %q; want nothing", len(second.batches), logs2)
	}

	// A file of malformed rows only still moves the cursor.
	writeFile(t, exports, "p_2.csv", peopleHeader+"P3;mille;CF3\n")
	third := read(t, c, s, first.cursor, 0)
	if len(third.batches) != 1 || len(third.batches[0].Records) != 0 {
		t.Fatalf("got %d batches, want one empty batch that moves the cursor", len(third.batches))
	}
	fourth := read(t, c2, s, third.cursor, 0)
	if len(fourth.batches) != 0 {
		t.Errorf("the malformed row was read again")
	}
}

func TestCursorFromAnotherConnector(t *testing.T) {
	t.Parallel()
	_, s := testFolder(t, testMapping)
	c, _ := newConnector()
	for _, cur := range []string{"not json", `{"v": 7, "files": []}`, `[1]`} {
		_, err := tryRead(c, s, []byte(cur), 0)
		if sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), "reset the connector's cursor") {
			t.Errorf("cursor %q: err = %v, want a config error saying to reset the cursor", cur, err)
		}
	}
}

func TestCSVEncodings(t *testing.T) {
	t.Parallel()
	const mapping = `version: 1
files:
  - pattern: "*.csv"
    schema: person
    delimiter: ";"
    encoding: latin-1
    record_id: id
    fields:
      - {column: cittadinanza, to: /citizenship, codes: {Perù: Z611, Italia: IT}}
      - {column: note, to: /extensions/note}
`
	exports, s := testFolder(t, mapping)
	latin1 := []byte("id;cittadinanza;note\nA1;Per\xf9;citt\xe0 \x80 5\n")
	if err := os.WriteFile(filepath.Join(exports, "a_latin1.csv"), latin1, 0o644); err != nil {
		t.Fatal(err)
	}
	// A byte-order mark says UTF-8, whatever the mapping says.
	writeFile(t, exports, "b_bom.csv", "\uFEFFid;cittadinanza;note\nB1;Perù;città\n")
	c, logs := newConnector()
	res := read(t, c, s, nil, 0)
	type got struct{ ID, Citizenship, Note string }
	var gs []got
	for _, r := range res.records {
		ext, _ := r["extensions"].(map[string]any)
		note, _ := ext["note"].(string)
		gs = append(gs, got{r["record_id"].(string), r["citizenship"].(string), note})
	}
	want := []got{{"A1", "Z611", "città € 5"}, {"B1", "Z611", "città"}}
	if diff := cmp.Diff(want, gs); diff != "" {
		t.Errorf("records (-want +got):\n%s\n%s", diff, logs)
	}

	// The same Latin-1 bytes, read as UTF-8: the row is malformed.
	const utf8Mapping = `version: 1
files:
  - pattern: "*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    fields:
      - {column: cittadinanza, to: /citizenship, codes: {Perù: Z611, Italia: IT}}
`
	exports2, s2 := testFolder(t, utf8Mapping)
	if err := os.WriteFile(filepath.Join(exports2, "a.csv"), append(latin1, "A2;Italia;x\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	c2, logs2 := newConnector()
	res2 := read(t, c2, s2, nil, 0)
	if diff := cmp.Diff([]string{"A2"}, recordIDs(res2.records)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs2.String(), `cell 2 is not UTF-8 text (if the file is Latin-1, set encoding: latin-1)`) {
		t.Errorf("log does not say which cell is not UTF-8:\n%s", logs2)
	}
}

func TestCSVShapes(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		keys    string
		file    string
		want    []string
		skipped int
	}{
		"quoted delimiters, quotes and line breaks": {
			keys: "    delimiter: \";\"\n",
			file: "id;nota\nA1;\"uno; due\"\nA2;\"riga\nsu due righe con \"\"virgolette\"\"\"\nA3;x\n",
			want: []string{"A1", "A2", "A3"},
		},
		"a bare quote skips that row only": {
			keys:    "    delimiter: \";\"\n",
			file:    "id;nota\nA1;x\nA2;a \"b\" c\nA3;y\n",
			want:    []string{"A1", "A3"},
			skipped: 1,
		},
		"lazy quotes accept it": {
			keys: "    delimiter: \";\"\n    lazy_quotes: true\n",
			file: "id;nota\nA1;x\nA2;a \"b\" c\nA3;y\n",
			want: []string{"A1", "A2", "A3"},
		},
		"tabs": {
			keys: "    delimiter: tab\n",
			file: "id\tnota\nA1\tx\nA2\ty\n",
			want: []string{"A1", "A2"},
		},
		"commas by default, CRLF line ends": {
			file: "id,nota\r\nA1,x\r\nA2,y\r\n",
			want: []string{"A1", "A2"},
		},
		"header names matched ignoring case and spaces": {
			keys: "    delimiter: \";\"\n",
			file: " ID ;NOTA\nA1;x\n",
			want: []string{"A1"},
		},
		"title lines before the header": {
			keys: "    delimiter: \";\"\n    skip_rows: 2\n",
			file: "Elenco al 31/12/2024\nEstratto dal gestionale;;;\nid;nota\nA1;x\n",
			want: []string{"A1"},
		},
		"no header: columns named in the mapping": {
			keys: "    delimiter: \";\"\n    header: false\n    columns: [id, nota]\n",
			file: "A1;x\nA2;y\nA3\n",
			want: []string{"A1", "A2"}, skipped: 1,
		},
		"blank lines are not rows": {
			keys: "    delimiter: \";\"\n",
			file: "id;nota\n\nA1;x\n\n\nA2;y\n\n",
			want: []string{"A1", "A2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mapping := "version: 1\nfiles:\n  - pattern: \"*.csv\"\n    schema: person\n" + tc.keys +
				"    record_id: id\n    fields:\n      - {column: nota, to: /extensions/nota}\n"
			exports, s := testFolder(t, mapping)
			writeFile(t, exports, "a.csv", tc.file)
			c, logs := newConnector()
			res := read(t, c, s, nil, 0)
			if diff := cmp.Diff(tc.want, recordIDs(res.records)); diff != "" {
				t.Errorf("records (-want +got):\n%s\n%s", diff, logs)
			}
			if got := strings.Count(logs.String(), "skipped a malformed row"); got != tc.skipped {
				t.Errorf("%d rows skipped, want %d:\n%s", got, tc.skipped, logs)
			}
			// Taking one batch at a time, each from the cursor of the one
			// before, gives the same rows.
			var ids []string
			var cursor []byte
			for range 20 {
				b, ok := readOne(t, c, s, cursor)
				if !ok {
					break
				}
				ids = append(ids, recordIDs(decodeRecords(t, b.Records))...)
				cursor = b.Cursor
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("records one batch at a time (-want +got):\n%s", diff)
			}
		})
	}
}

var errOneBatch = errors.New("one batch is enough")

// readOne reads the first batch after cursor, in batches of one record,
// and stops the read there, as a hub that stops after one batch would.
func readOne(t *testing.T, c *Connector, s sdk.Settings, cursor []byte) (sdk.Batch, bool) {
	t.Helper()
	var got sdk.Batch
	var ok bool
	err := c.Read(context.Background(), sdk.ReadRequest{Settings: s, Cursor: cursor, MaxBatch: 1}, func(b sdk.Batch) error {
		got, ok = b, true
		return errOneBatch
	})
	if err != nil && !errors.Is(err, errOneBatch) {
		t.Fatal(err)
	}
	return got, ok
}

func decodeRecords(t *testing.T, recs [][]byte) []map[string]any {
	t.Helper()
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		out[i] = normal(t, r).(map[string]any)
	}
	return out
}

func TestMissingColumns(t *testing.T) {
	t.Parallel()
	const mapping = `version: 1
files:
  - pattern: "*.csv"
    schema: person
    record_id: id
    fields:
      - {column: anno, to: /birth_year}
      - {column: nota, to: /extensions/nota, optional: true}
`
	exports, s := testFolder(t, mapping)
	writeFile(t, exports, "a.csv", "id,anno\nA1,1980\n")
	c, _ := newConnector()
	res := read(t, c, s, nil, 0)
	if diff := cmp.Diff([]string{"A1"}, recordIDs(res.records)); diff != "" {
		t.Errorf("an optional column may be missing (-want +got):\n%s", diff)
	}
	writeFile(t, exports, "b.csv", "id,nota\nB1,x\n")
	_, err := tryRead(c, s, res.cursor, 0)
	if sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), `the header of b.csv does not fit its file mapping: no column "anno" (named at`) ||
		!strings.Contains(err.Error(), "Its columns are: id, nota.") || strings.Contains(err.Error(), "delimiter") {
		t.Errorf("err = %v", err)
	}
}
