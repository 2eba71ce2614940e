package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v5"
	"github.com/xuri/excelize/v2"

	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

func TestManifest(t *testing.T) {
	t.Parallel()
	c := &Connector{}
	if err := sdk.CheckManifest(c); err != nil {
		t.Fatal(err)
	}
	m := c.Manifest()
	if m.Name != "files" || m.Kind != sdk.KindOther || m.Version != Version || len(m.Accepts) != 0 {
		t.Errorf("manifest = %s %s %s accepts %v", m.Name, m.Kind, m.Version, m.Accepts)
	}
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range reg.Schemas() {
		want = append(want, s.ID)
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, m.Produces); diff != "" {
		t.Errorf("Produces is not every entity schema (-want +got):\n%s", diff)
	}
	if len(want) != 15 {
		t.Errorf("%d entity schemas, want the 15 of DOMAIN.md", len(want))
	}
}

func TestSettingsSchema(t *testing.T) {
	t.Parallel()
	comp := jsonschema.NewCompiler()
	comp.Draft = jsonschema.Draft2020
	if err := comp.AddResource("settings.json", bytes.NewReader((&Connector{}).Manifest().SettingsSchema)); err != nil {
		t.Fatal(err)
	}
	schema, err := comp.Compile("settings.json")
	if err != nil {
		t.Fatal(err)
	}
	valid := func(raw json.RawMessage) error {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		return schema.Validate(v)
	}
	if err := valid(yamlSettings(t, "settings.example.yaml").Raw()); err != nil {
		t.Errorf("settings.example.yaml does not follow the settings schema: %v", err)
	}
	bad := map[string]string{
		"no folder":         `{"source": "a", "territory": "T1", "mapping": "m.yaml"}`,
		"source not a name": `{"source": "Anagrafe Sociale", "territory": "T1", "folder": "f", "mapping": "m.yaml"}`,
		"territory lower":   `{"source": "a", "territory": "sds-fi", "folder": "f", "mapping": "m.yaml"}`,
		"unknown setting":   `{"source": "a", "territory": "T1", "folder": "f", "mapping": "m.yaml", "delimiter": ";"}`,
		"unknown encoding":  `{"source": "a", "territory": "T1", "folder": "f", "mapping": "m.yaml", "encoding": "utf-16"}`,
	}
	for name, raw := range bad {
		if err := valid(json.RawMessage(raw)); err == nil {
			t.Errorf("%s: %s passes the settings schema", name, raw)
		}
	}
}

// exampleCells lists every value in the sample exports, to check that
// none reaches the log.
func exampleCells(t *testing.T) []string {
	t.Helper()
	var out []string
	raw, err := os.ReadFile(filepath.Join("testdata", "example", "persone_2025-03.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(decodeCP1252(string(raw)), "\r\n") {
		if i == 0 {
			continue // the header: column names are not personal
		}
		out = append(out, strings.Split(line, ";")...)
	}
	f, err := os.Open(filepath.Join("testdata", "example", "nuclei.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case string:
				out = append(out, x)
			}
		}
		var v any
		if json.Unmarshal(sc.Bytes(), &v) == nil {
			walk(v)
		}
	}
	x, err := excelize.OpenFile(exampleWorkbookPath)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows("Volontari")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		out = append(out, r...)
	}
	var long []string
	for _, c := range out {
		if len(strings.TrimSpace(c)) >= 4 {
			long = append(long, strings.TrimSpace(c))
		}
	}
	return long
}

// TestExample reads the sample exports with the example settings, as
// "snodo connectors test" does, and validates every record against the
// shared schemas.
func TestExample(t *testing.T) {
	t.Parallel()
	c, logs := newConnector()
	s := yamlSettings(t, "settings.example.yaml")
	if err := c.Check(t.Context(), s); err != nil {
		t.Fatalf("Check: %v", err)
	}
	res := read(t, c, s, nil, 0)
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range res.batches {
		for _, raw := range b.Records {
			doc, err := schemas.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, vs := reg.ValidateDocument(doc); len(vs) > 0 {
				t.Errorf("record %s does not validate: %v", raw, vs)
			}
		}
	}
	want := []string{
		// nuclei.jsonl: line 5 has a household type not in the table.
		"NUC-2024-000412", "NUC-2024-000413", "NUC-2024-000415", "NUC-2024-000420", "NUC-2024-000421",
		// persone_2025-03.csv: rows 10 (a cell missing) and 11 (31 February) are malformed.
		"ANAG-2024-000731", "ANAG-2024-000732", "ANAG-2024-000733", "ANAG-2024-000734", "ANAG-2024-000735",
		"ANAG-2024-000736", "ANAG-2024-000737", "ANAG-2024-000738", "ANAG-2024-000741",
		// volontari.xlsx, sheet Volontari.
		"VOL-42", "VOL-57", "VOL-63", "VOL-71",
	}
	if diff := cmp.Diff(want, recordIDs(res.records)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	byID := map[string]map[string]any{}
	for _, r := range res.records {
		byID[r["record_id"].(string)] = r
	}
	checks := []struct {
		id, pointer string
		want        any
	}{
		{"ANAG-2024-000736", "/citizenship", "Z611"}, // "Perù", read from Latin-1
		{"ANAG-2024-000732", "/person/identifiers/cf-provisional", "48021753016"},
		{"ANAG-2024-000733", "/person/identifiers/cf", "RSSMRA85T10A562S"},
		{"ANAG-2024-000734", "/person/identifiers/cf", "HXHRBN79C21Z100Q"},
		{"ANAG-2024-000738", "/person/identifiers/cf", "BNCLCU58S42D612X"}, // invalid: the hub quarantines it
		{"ANAG-2024-000741", "/person/identifiers/stp", "STP0480000012345"},
		{"ANAG-2024-000731", "/recorded_at", "2025-03-14T10:22:00+01:00"},
		{"ANAG-2024-000731", "/permit/expiry_month", "2026-09"},
		{"ANAG-2024-000731", "/source", "anagrafe-sociale"},
		{"NUC-2024-000415", "/isee_band", "not-submitted"},
		{"VOL-42", "/recorded_at", "2024-07-01T09:00:00+02:00"}, // a date cell, local time
		{"VOL-71", "/recorded_at", "2025-01-15T10:30:00+01:00"}, // the same, written as text
		{"VOL-57", "/availability/hours_per_week", json.Number("2.5")},
	}
	for _, ck := range checks {
		got, _ := valueAtPointer(byID[ck.id], ck.pointer)
		if got != ck.want {
			t.Errorf("%s %s = %v, want %v", ck.id, ck.pointer, got, ck.want)
		}
	}

	type skipped struct {
		File   string
		Row    float64
		Reason string
	}
	var got []skipped
	var logged strings.Builder
	for _, l := range logs.lines(t) {
		delete(l, "time")
		b, _ := json.Marshal(l)
		logged.Write(b)
		if l["msg"] == "skipped a malformed row" {
			got = append(got, skipped{l["file"].(string), l["row"].(float64), l["reason"].(string)})
		}
	}
	wantSkipped := []skipped{
		{"nuclei.jsonl", 5, `column "tipologia": the value is not in the translation table of /household_type (add it to codes, or set default or unknown)`},
		{"persone_2025-03.csv", 10, "15 cells where the header has 17 (check the delimiter and the quotes)"},
		{"persone_2025-03.csv", 11, `column "data_nascita": not a date in the format dd/mm/yyyy, for /birth_year`},
	}
	if diff := cmp.Diff(wantSkipped, got); diff != "" {
		t.Errorf("malformed rows logged (-want +got):\n%s", diff)
	}
	for _, v := range exampleCells(t) {
		if strings.Contains(logged.String(), v) {
			t.Errorf("the log repeats the cell value %q", v)
		}
	}
}

func valueAtPointer(doc any, ptr string) (any, bool) {
	toks, err := splitPointer(ptr)
	if err != nil {
		return nil, false
	}
	cur := doc
	for _, tok := range toks {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestCheck(t *testing.T) {
	t.Parallel()
	const goodMapping = "version: 1\nfiles:\n  - pattern: \"*.csv\"\n    schema: person\n    record_id: id\n    fields:\n      - {column: anno, to: /birth_year}\n"
	tests := map[string]struct {
		setup   func(t *testing.T, dir string)
		extra   map[string]any
		pointer string
		says    []string
		never   []string // what the message must not hold
	}{
		"all is well": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "mapping.yaml", goodMapping)
				writeFile(t, dir, "exports/a.csv", "id,anno\nA1,1980\n")
			},
		},
		"no folder": {
			setup:   func(t *testing.T, dir string) { writeFile(t, dir, "mapping.yaml", goodMapping) },
			pointer: "/folder",
			says:    []string{"the folder exports does not exist", "relative paths are relative to the settings file"},
		},
		"the folder is a file": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "mapping.yaml", goodMapping)
				writeFile(t, dir, "exports", "")
			},
			pointer: "/folder",
			says:    []string{"exports is a file, not a folder"},
		},
		"no mapping": {
			setup:   func(t *testing.T, dir string) { writeFile(t, dir, "exports/a.csv", "") },
			pointer: "/mapping",
			says:    []string{"mapping.yaml does not exist"},
		},
		"a mapping with problems, with their lines": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "exports/a.csv", "")
				writeFile(t, dir, "mapping.yaml", "version: 1\nfiles:\n  - pattern: \"*.csv\"\n    schema: persona\n    record_id: id\n    fields:\n      - {column: anno, to: /birth_yaer}\n")
			},
			pointer: "/mapping",
			says:    []string{"the mapping file has 1 problem:", "mapping.yaml:4:13: /files/0/schema: unknown schema"},
		},
		"a header without a mapped column": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "mapping.yaml", goodMapping)
				writeFile(t, dir, "exports/a.csv", "id;anno\nA1;1980\n")
			},
			pointer: "/mapping",
			says:    []string{`the header of a.csv does not fit its file mapping: no column "id" (named at`, `no column "anno"`, "has 1 cells and none of the mapped columns, so they are not shown", `is the delimiter ";"?`},
		},
		"a data row read as the header is not quoted": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "mapping.yaml", goodMapping)
				writeFile(t, dir, "exports/a.csv", "RSSMRA80A01H501U,Mario Rossi\n")
			},
			pointer: "/mapping",
			says:    []string{"has 2 cells and none of the mapped columns", "check header and skip_rows"},
			never:   []string{"RSSMRA80A01H501U", "Mario", "Rossi"},
		},
		"an unknown time zone": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, dir, "mapping.yaml", goodMapping)
				writeFile(t, dir, "exports/a.csv", "")
			},
			extra:   map[string]any{"time_zone": "Europe/Firenze"},
			pointer: "/time_zone",
			says:    []string{`unknown time zone "Europe/Firenze"`},
		},
		"settings without a folder": {
			setup:   func(t *testing.T, dir string) {},
			extra:   map[string]any{"folder": ""},
			pointer: "/folder",
			says:    []string{"folder is missing"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc.setup(t, dir)
			c, _ := newConnector()
			s := settingsFor(t, dir, tc.extra)
			err := c.Check(t.Context(), s)
			if tc.pointer == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var se *sdk.Error
			if !errors.As(err, &se) || se.Class != sdk.ClassConfig || se.Pointer != tc.pointer {
				t.Fatalf("err = %v, want a config error at %s", err, tc.pointer)
			}
			for _, say := range tc.says {
				if !strings.Contains(se.Message, say) {
					t.Errorf("message %q does not say %q", se.Message, say)
				}
			}
			for _, secret := range tc.never {
				if strings.Contains(se.Error(), secret) {
					t.Errorf("the error holds %q", secret)
				}
			}
			// Read refuses the same settings the same way.
			if _, rerr := tryRead(c, s, nil, 0); sdk.ClassOf(rerr) != sdk.ClassConfig {
				t.Errorf("Read: err = %v, want a config error", rerr)
			}
		})
	}
}

func TestReadStopsWhenAsked(t *testing.T) {
	t.Parallel()
	exports, s := testFolder(t, testMapping)
	writeFile(t, exports, "p_1.csv", peopleHeader+people(1, 2000))
	c, _ := newConnector()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Read(ctx, sdk.ReadRequest{Settings: s}, func(sdk.Batch) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: err = %v, want context.Canceled", err)
	}

	stop := errors.New("the hub went away")
	batches := 0
	err := c.Read(t.Context(), sdk.ReadRequest{Settings: s, MaxBatch: 10}, func(sdk.Batch) error {
		batches++
		if batches == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || batches != 3 {
		t.Errorf("err = %v after %d batches, want the emit error after 3", err, batches)
	}
}

func TestRecordedAtIsTheFileTime(t *testing.T) {
	t.Parallel()
	exports, s := testFolder(t, testMapping)
	p := writeFile(t, exports, "p_1.csv", peopleHeader+people(1, 1))
	mtime := time.Date(2025, 1, 2, 2, 4, 5, 999, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	c, _ := newConnector()
	res := read(t, c, s, nil, 0)
	if len(res.records) != 1 || res.records[0]["recorded_at"] != "2025-01-02T03:04:05+01:00" {
		t.Errorf("records = %v, want recorded_at 2025-01-02T03:04:05+01:00 (the file time in Rome)", res.records)
	}
}
