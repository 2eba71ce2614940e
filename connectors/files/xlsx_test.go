package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// workbook writes sheets (in order) of rows to path.
func workbook(t *testing.T, path string, sheets []string, rows map[string][][]any) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			t.Fatal(err)
		}
		for j, r := range rows[name] {
			if r == nil {
				continue
			}
			if err := f.SetSheetRow(name, cellName(1, j+1), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

func TestXLSXSheets(t *testing.T) {
	t.Parallel()
	sheets := []string{"Note", "Volontari"}
	rows := map[string][][]any{
		"Note": {{"id", "ore"}, {"NOTA-1", 1}},
		"Volontari": {
			{"Titolo: elenco volontari"},
			{"id", "ore", "data"},
			{"V1", 3.5, "15/01/2025"},
			nil,
			{"V2", "2,5", 45672},
			{"V3", "molte", "15/01/2025"},
			{"V4", 1, "15/01/2025", "nota a margine"},
		},
	}
	tests := map[string]struct {
		keys    string
		want    []string
		skipped []string
	}{
		"the first sheet by default": {
			keys: "",
			want: []string{"NOTA-1"},
		},
		"a named sheet, after a title row": {
			keys:    "    sheet: Volontari\n    skip_rows: 1\n",
			want:    []string{"V1", "V2"},
			skipped: []string{`"row":6`, `"row":7`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mapping := "version: 1\nfiles:\n  - pattern: \"*.xlsx\"\n    schema: volunteer\n" + tc.keys + `    record_id: id
    fields:
      - {column: id, to: /pseudonym}
      - {column: ore, to: /total_hours}
      - {column: data, to: /assignments/0/start, format: dd/mm/yyyy, optional: true}
    constants:
      /organisation/record_id: ORG-1
      /assignments/0/pathway/record_id: PAIS-1
`
			exports, s := testFolder(t, mapping)
			workbook(t, filepath.Join(exports, "albo.xlsx"), sheets, rows)
			c, logs := newConnector()
			res := read(t, c, s, nil, 0)
			if diff := cmp.Diff(tc.want, recordIDs(res.records)); diff != "" {
				t.Errorf("records (-want +got):\n%s\n%s", diff, logs)
			}
			for _, sk := range tc.skipped {
				if !strings.Contains(logs.String(), sk) {
					t.Errorf("log does not report the malformed row %s:\n%s", sk, logs)
				}
			}
			if strings.Contains(logs.String(), "molte") || strings.Contains(logs.String(), "nota a margine") {
				t.Errorf("log repeats cell values:\n%s", logs)
			}
			if len(tc.skipped) > 0 {
				// Dates as text and as serial numbers both read.
				for _, r := range res.records {
					a := r["assignments"].([]any)[0].(map[string]any)
					if a["start"] != "2025-01-15" {
						t.Errorf("%s: start = %v, want 2025-01-15", r["record_id"], a["start"])
					}
				}
			}
		})
	}
}

func TestXLSXProblems(t *testing.T) {
	t.Parallel()
	const mapping = `version: 1
files:
  - pattern: "*.xlsx"
    schema: volunteer
    sheet: Volontari
    record_id: id
    fields:
      - {column: id, to: /pseudonym}
  - pattern: "*.csv"
    schema: person
    record_id: id
    fields:
      - {column: anno, to: /birth_year}
`
	t.Run("a sheet that is not there", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, mapping)
		workbook(t, filepath.Join(exports, "albo.xlsx"), []string{"Foglio1", "Altro"}, map[string][][]any{"Foglio1": {{"id"}, {"V1"}}})
		c, _ := newConnector()
		_, err := tryRead(c, s, nil, 0)
		if sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), `mapping.yaml:3:5): its sheets are Foglio1, Altro`) {
			t.Errorf("err = %v", err)
		}
		if err := c.Check(t.Context(), s); sdk.ClassOf(err) != sdk.ClassConfig || !strings.Contains(err.Error(), `no sheet "Volontari"`) {
			t.Errorf("Check: err = %v", err)
		}
	})
	t.Run("a file that is not a workbook is skipped, the others read", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, mapping)
		writeFile(t, exports, "albo.xlsx", "this is not a zip file")
		writeFile(t, exports, "p.csv", "id,anno\nP1,1980\n")
		c, logs := newConnector()
		res := read(t, c, s, nil, 0)
		if diff := cmp.Diff([]string{"P1"}, recordIDs(res.records)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		if !strings.Contains(logs.String(), "skipped a file that is not a readable XLSX workbook") {
			t.Errorf("log:\n%s", logs)
		}
		// Not in the cursor: once fixed, it is read.
		workbook(t, filepath.Join(exports, "albo.xlsx"), []string{"Volontari"}, map[string][][]any{"Volontari": {{"id"}, {"V1"}}})
		res2 := read(t, c, s, res.cursor, 0)
		if diff := cmp.Diff([]string{"V1"}, recordIDs(res2.records)); diff != "" {
			t.Errorf("records after the fix (-want +got):\n%s", diff)
		}
	})
	t.Run("office lock files and hidden files are not read", func(t *testing.T) {
		t.Parallel()
		exports, s := testFolder(t, mapping)
		writeFile(t, exports, "~$albo.xlsx", "lock")
		writeFile(t, exports, ".p.csv", "id,anno\nP1,1980\n")
		writeFile(t, exports, ".nascosta/p.csv", "id,anno\nP2,1980\n")
		c, logs := newConnector()
		res := read(t, c, s, nil, 0)
		if len(res.records) != 0 || logs.String() != "" {
			t.Errorf("records %v, log %q; want neither", recordIDs(res.records), logs)
		}
	})
}
