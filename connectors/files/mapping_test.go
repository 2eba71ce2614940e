package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/plugins/sdk/yamldoc"
)

func testContract(t *testing.T) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func compile(t *testing.T, text string) *mapping {
	t.Helper()
	m, err := parseMapping("mapping.yaml", []byte(text), testContract(t), mappingDefaults{loc: rome(t)})
	if err != nil {
		t.Fatalf("mapping does not compile:\n%v", err)
	}
	return m
}

func rome(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// where is a problem's position and pointer; the message is checked to
// contain a phrase.
type where struct {
	Line, Column int
	Pointer      string
}

func TestMappingProblems(t *testing.T) {
	t.Parallel()
	type want struct {
		at   where
		says string
	}
	tests := map[string]struct {
		file string
		text string
		want []want
	}{
		"not YAML": {
			text: "version: 1\nfiles:\n  - pattern: a.csv\n    schema: [person\n",
			want: []want{{where{3, 1, ""}, "not valid YAML or JSON"}},
		},
		"empty file": {
			text: "\n",
			want: []want{{where{1, 1, ""}, "the mapping file is empty"}},
		},
		"key given twice": {
			text: "version: 1\nfiles: []\nversion: 1\n",
			want: []want{{where{3, 1, ""}, `key "version" appears twice`}},
		},
		"alias inside its own anchor": {
			text: "version: 1\nfiles:\n  - &f\n    pattern: a.csv\n    more: [*f]\n",
			want: []want{{where{5, 12, ""}, "alias *f refers to a value that contains the alias itself"}},
		},
		"missing version and an empty list of files": {
			text: "files: []\n",
			want: []want{
				{where{1, 1, "/"}, "missing required key 'version'"},
				{where{1, 8, "/files"}, "minimum 1 items required"},
			},
		},
		"unknown key, at the key, with the keys allowed": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    patern: b.csv
    fields:
      - {column: sesso, to: /sex}
`,
			want: []want{{where{6, 5, "/files/0/patern"}, `unknown key "patern": check its spelling and indentation (allowed here: columns, constants,`}},
		},
		"wrong enum value says what was expected": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: anno
        to: /birth_year
        type: integr
`,
			want: []want{{where{9, 15, "/files/0/fields/0/type"}, `value must be one of "string", "integer"`}},
		},
		"column and template together, and neither": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: a
        template: "{a}-{b}"
        to: /household/record_id
      - to: /sex
`,
			want: []want{
				{where{7, 9, "/files/0/fields/0"}, "column and template exclude each other"},
				{where{10, 9, "/files/0/fields/1"}, "missing column or template"},
			},
		},
		"default and unknown together": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: sesso
        to: /sex
        codes: {m: M}
        default: U
        unknown: omit
`,
			want: []want{{where{7, 9, "/files/0/fields/0"}, "default and unknown exclude each other"}},
		},
		"JSON mapping files have line numbers too": {
			text: `{"version": 1,
 "files": [{"pattern": "a.jsonl", "schema": "household", "record_id": "id",
            "fields": [{"column": "n", "to": "/size", "type": 3}]}]}`,
			want: []want{{where{3, 63, "/files/0/fields/0/type"}, "value must be one of"}},
		},
		"pointer not in the target schema lists what is": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: anno
        to: /birth_yaer
      - column: motivo
        to: /permit/reasn
`,
			want: []want{
				{where{8, 13, "/files/0/fields/0/to"}, `/birth_yaer is not in the person schema: at the top of the record: there is no "birth_yaer" here: the schema allows birth_year,`},
				{where{10, 13, "/files/0/fields/1/to"}, `at /permit: there is no "reasn" here: the schema allows expiry_month, reason, status`},
			},
		},
		"envelope fields are the connector's": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    constants:
      /source: altro
    fields:
      - column: id
        to: /record_id
`,
			want: []want{
				{where{7, 7, "/files/0/constants/~1source"}, "/source is filled by the connector"},
				{where{10, 13, "/files/0/fields/0/to"}, "/record_id is filled by the connector: use the file mapping's record_id"},
			},
		},
		"codes that are not in the code list": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: sesso
        to: /sex
        codes: {maschio: M, femmina: W}
        default: X
`,
			want: []want{{where{9, 16, "/files/0/fields/0/codes"}, "not codes of the sex list: W, X (allowed: F, M, U)"}},
		},
		"codes that differ only by case": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - column: sesso
        to: /sex
        codes: {M: M, " m ": F}
`,
			want: []want{{where{9, 16, "/files/0/fields/0/codes"}, "are the same value once case and spaces are ignored"}},
		},
		"date formats with the wrong tokens": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    recorded_at: {column: agg, format: "dd/mm/yyyy"}
    fields:
      - column: uscita
        to: /reception_exit/date
        format: dd/MM/yyyy
      - column: scadenza
        to: /permit/expiry_month
        format: [mm/yyyy, "dd/mm/yyyy HH:mm"]
`,
			want: []want{
				{where{6, 40, "/files/0/recorded_at/format"}, `date format "dd/mm/yyyy" has no hour (HH)`},
				{where{10, 17, "/files/0/fields/0/format"}, `"MM" in date format "dd/MM/yyyy" is not a token: write the month as mm and minutes as MI`},
				{where{13, 27, "/files/0/fields/1/format/1"}, `"mm" appears twice`},
			},
		},
		"two fields writing the same place": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - {column: stato, to: /permit/status}
      - {column: permesso, to: /permit, type: json}
`,
			want: []want{{where{8, 9, "/files/0/fields/1"}, "/permit and /permit/status (at mapping.yaml:7:9) write to the same place"}},
		},
		"patterns that leave the folder": {
			text: `version: 1
files:
  - pattern: ../altro/*.csv
    schema: person
    record_id: id
    fields: [{column: s, to: /sex}]
  - pattern: /etc/*.csv
    schema: person
    record_id: id
    fields: [{column: s, to: /sex}]
`,
			want: []want{
				{where{3, 14, "/files/0/pattern"}, "must not contain .."},
				{where{7, 14, "/files/1/pattern"}, "must be relative to the folder"},
			},
		},
		"record id taken from a personal identifier": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: cf
    fields: [{column: cf, to: /person/identifiers/cf}]
`,
			want: []want{{where{5, 16, "/files/0/record_id"}, "the record id must not be a personal identifier"}},
		},
		"options of another format": {
			text: `version: 1
files:
  - pattern: nuclei.jsonl
    schema: household
    delimiter: ";"
    sheet: Foglio1
    record_id: id
    fields: [{column: n, to: /size}]
  - pattern: elenco.dat
    schema: household
    record_id: id
    fields: [{column: n, to: /size}]
`,
			want: []want{
				{where{5, 5, "/files/0/delimiter"}, "delimiter applies to csv files only, and this mapping reads jsonl"},
				{where{6, 5, "/files/0/sheet"}, "sheet applies to xlsx files only"},
				{where{9, 14, "/files/1/pattern"}, "cannot tell the format from the pattern's extension"},
			},
		},
		"unknown schema and time zone": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: persona
    record_id: id
    fields: [{column: s, to: /sex}]
  - pattern: b.csv
    schema: person
    time_zone: Europe/Firenze
    record_id: id
    fields: [{column: s, to: /sex}]
`,
			want: []want{
				{where{4, 13, "/files/0/schema"}, "unknown schema: use the $id or the short name of one of assessment, consent,"},
				{where{9, 16, "/files/1/time_zone"}, "unknown time zone"},
			},
		},
		"split into something that is not a list": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields: [{column: n, to: /household/record_id, split: ","}]
`,
			want: []want{{where{6, 52, "/files/0/fields/0/split"}, "split makes a list, but /household/record_id is not a list"}},
		},
		"identifier typed otherwise, and an object without type json": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - {column: cf, to: /person/identifiers/cf, type: string}
      - {column: p, to: /reception_exit}
`,
			want: []want{
				{where{7, 56, "/files/0/fields/0/type"}, "holds a personal identifier: use type identifier"},
				{where{8, 25, "/files/0/fields/1/to"}, "/reception_exit is an object: map columns into its fields"},
			},
		},
		"a file without header needs its columns": {
			text: `version: 1
files:
  - pattern: a.csv
    schema: person
    header: false
    record_id: id
    fields: [{column: s, to: /sex}]
`,
			want: []want{{where{5, 5, "/files/0/header"}, "a file without a header row needs columns"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parseMapping("mapping.yaml", []byte(tc.text), testContract(t), mappingDefaults{loc: time.UTC})
			var me *yamldoc.Error
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want a *yamldoc.Error", err)
			}
			var got, wantAt []where
			for _, p := range me.Problems {
				got = append(got, where{p.Line, p.Column, p.Pointer})
			}
			for _, w := range tc.want {
				wantAt = append(wantAt, w.at)
			}
			if diff := cmp.Diff(wantAt, got); diff != "" {
				t.Fatalf("problems at (-want +got):\n%s\nall:\n%v", diff, err)
			}
			for i, w := range tc.want {
				if !strings.Contains(me.Problems[i].Message, w.says) {
					t.Errorf("problem %d = %q, want it to say %q", i, me.Problems[i].Message, w.says)
				}
				// FILE:LINE:COLUMN: POINTER: message
				prefix := fmt.Sprintf("mapping.yaml:%d:%d: ", w.at.Line, w.at.Column)
				if !strings.HasPrefix(me.Problems[i].String(), prefix) {
					t.Errorf("problem %d reads %q, want it to start with %q", i, me.Problems[i].String(), prefix)
				}
			}
		})
	}
}

func TestExampleMappingCompiles(t *testing.T) {
	t.Parallel()
	m, err := loadMapping("mapping.example.yaml", testContract(t), mappingDefaults{loc: rome(t)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fm := range m.files {
		got = append(got, fmt.Sprintf("%s %s %s", fm.pattern, fm.format, shortName(fm.schema)))
	}
	want := []string{"persone_*.csv csv person", "nuclei*.jsonl jsonl household", "volontari.xlsx xlsx volunteer"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("file mappings (-want +got):\n%s", diff)
	}
}

// TestMappingTypesFollowTheSchema checks the conversion a field gets when
// the mapping names none.
func TestMappingTypesFollowTheSchema(t *testing.T) {
	t.Parallel()
	m := compile(t, `version: 1
files:
  - pattern: a.csv
    schema: person
    record_id: id
    fields:
      - {column: a, to: /birth_year}
      - {column: b, to: /reception_exit/date}
      - {column: c, to: /permit/expiry_month}
      - {column: d, to: /person/identifiers}
      - {column: e, to: /household/record_id}
      - {column: f, to: /languages}
      - {column: g, to: /permit/reason}
      - {column: h, to: /extensions/x, type: json}
  - pattern: b.csv
    schema: household
    record_id: id
    fields:
      - {column: a, to: /means_test/receives_adi}
      - {column: b, to: /size}
  - pattern: c.csv
    schema: volunteer
    record_id: id
    fields:
      - {column: pseudonym, to: /pseudonym}
      - {column: a, to: /total_hours}
      - {column: b, to: /skills, split: ";"}
`)
	type conv struct {
		To, Type, System string
		Array            bool
	}
	var got []conv
	for _, fm := range m.files {
		for _, f := range fm.fields {
			got = append(got, conv{f.to, f.typ, f.system, f.array})
		}
	}
	want := []conv{
		{"/birth_year", "integer", "", false},
		{"/reception_exit/date", "date", "", false},
		{"/permit/expiry_month", "year-month", "", false},
		{"/person/identifiers", "identifier", "", false},
		{"/household/record_id", "string", "", false},
		{"/languages", "string", "", true},
		{"/permit/reason", "string", "https://snodo-hub.github.io/codes/permit-reason", false},
		{"/extensions/x", "json", "", false},
		{"/means_test/receives_adi", "boolean", "", false},
		{"/size", "integer", "", false},
		{"/pseudonym", "string", "", false},
		{"/total_hours", "number", "", false},
		{"/skills", "string", "https://snodo-hub.github.io/codes/volunteer-skill", true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("conversions (-want +got):\n%s", diff)
	}
}
