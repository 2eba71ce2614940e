package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// fuzzMapping maps a.csv and a.xlsx the same way, with every kind of
// conversion: text, number, date with a format, identifiers, a template and
// an optional column.
const fuzzMapping = `version: 1
files:
  - pattern: "*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    fields: &fields
      - {column: anno, to: /birth_year}
      - {column: cf, to: /person/identifiers}
      - {column: sesso, to: /sex, optional: true}
      - {column: nato, to: /extensions/nato, type: date, format: dd/mm/yyyy, optional: true}
      - {template: "N-{id}-{anno}", to: /extensions/nota}
  - pattern: "*.xlsx"
    schema: person
    record_id: id
    fields: *fields
`

// fuzzRead reads one file named name holding data, under fuzzMapping, and
// checks what every read must hold whatever the file: no panic; an error
// only as an *sdk.Error that names the file; each skipped row logged with
// the file and a row number of at least 1, and a reason; each record a
// JSON object with its record id; and a second read from the cursor
// returned gives nothing new.
func fuzzRead(t *testing.T, name string, data []byte) {
	dir := t.TempDir()
	writeFile(t, dir, "mapping.yaml", fuzzMapping)
	writeFile(t, dir, "exports/"+name, string(data))
	s := settingsFor(t, dir, nil)
	c, logs := newConnector()
	var cursor []byte
	read := func() (records int, err error) {
		err = c.Read(context.Background(), sdk.ReadRequest{Settings: s, Cursor: cursor, MaxBatch: 7}, func(b sdk.Batch) error {
			for _, r := range b.Records {
				var m map[string]any
				if err := json.Unmarshal(r, &m); err != nil {
					t.Fatalf("a record is not a JSON object: %v", err)
				}
				if id, _ := m["record_id"].(string); id == "" {
					t.Fatalf("a record without record_id")
				}
				records++
			}
			cursor = b.Cursor
			return nil
		})
		return records, err
	}
	n, err := read()
	if err != nil {
		var se *sdk.Error
		if !errors.As(err, &se) {
			t.Fatalf("error %T is not an *sdk.Error: %v", err, err)
		}
		if !strings.Contains(err.Error(), name) {
			t.Fatalf("error does not name the file: %v", err)
		}
	}
	for _, l := range logs.lines(t) {
		if l["msg"] != "skipped a malformed row" {
			continue
		}
		row, _ := l["row"].(float64)
		if l["file"] != name || row < 1 || row != float64(int(row)) || l["reason"] == "" {
			t.Fatalf("a skipped row logged without its file, row or reason: %v", l)
		}
	}
	if err != nil {
		return
	}
	again, err := read()
	if err != nil || again != 0 {
		t.Fatalf("reading again from the cursor after %d records gave %d more, %v", n, again, err)
	}
}

// FuzzCSV reads fuzzed CSV bytes as a.csv.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"id;anno;cf;sesso;nato\nP1;1980;RSSMRA85T10A562S;M;15/01/1980\nP2;1990;rss mra 85t10 a562s;F;\n",
		"id;anno;cf\nP1;non so;X\nP2;1957\nP3;1960;a;b;c\n",
		"\xef\xbb\xbfid;anno;cf\nP1;1980;X\n",
		"id;anno;cf\nA2;\"riga\nsu due \"\"righe\"\"\";x\nA3;a \"b\" c;y\n",
		"id,anno,cf\r\nP1,1980,X\r\n",
		"ID ; ANNO;Cf\n\n\nP1;1980;X\n",
		"id;id;anno;cf\nP1;P1;1980;X\n",
		"anno;cf\n1980;X\n",
		"id;anno;cf\n;1980;X\nP\xe91;1980;X\n",
		"id;anno;cf;sesso;nato\nP1;1980;X;M;31/02/1980\nP2;1980;X;M;45672\n",
		"",
		"\n\n\n",
		"id;anno;cf\n" + strings.Repeat("P;1;X\n", 20),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "a.csv", data)
	})
}

// FuzzXLSX reads fuzzed bytes as a.xlsx, from seeds that are real
// workbooks (excelize) and their parts.
func FuzzXLSX(f *testing.F) {
	books := [][][]any{
		{{"id", "anno", "cf", "sesso", "nato"}, {"P1", 1980, "RSSMRA85T10A562S", "M", "15/01/1980"}, {"P2", "1990", "x", nil, 29221}},
		{{"id", "anno", "cf"}, {"P1", "non so", "X"}, {}, {"P3", 1960, "X", "oltre"}},
		{{"anno", "cf"}, {1980, "X"}},
		{{"ID ", " Anno", "CF"}, {"P1", 1980.5, true}},
	}
	for _, rows := range books {
		x := excelize.NewFile()
		for i, r := range rows {
			if len(r) == 0 {
				continue
			}
			if err := x.SetSheetRow("Sheet1", cellName(1, i+1), &r); err != nil {
				f.Fatal(err)
			}
		}
		var b bytes.Buffer
		if _, err := x.WriteTo(&b); err != nil {
			f.Fatal(err)
		}
		x.Close()
		f.Add(b.Bytes())
	}
	if ex, err := exampleWorkbook(); err == nil {
		var b bytes.Buffer
		if _, err := ex.WriteTo(&b); err == nil {
			f.Add(b.Bytes())
		}
		ex.Close()
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "example", "volontari.xlsx")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("PK\x03\x04"))
	f.Add([]byte("id;anno;cf\nP1;1980;X\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "a.xlsx", data)
	})
}
