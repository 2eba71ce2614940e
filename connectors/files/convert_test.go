package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// oneFile is a mapping of a.csv to schema with the given file-level keys
// and fields (YAML, indented as items of fields).
func oneFile(schema, keys, fields string) string {
	return "version: 1\nfiles:\n  - pattern: a.csv\n    schema: " + schema + "\n    record_id: id\n" + keys + "    fields:\n" + fields
}

// rowOf makes a table row from column → value.
func rowOf(cells map[string]string) tableRow {
	r := tableRow{index: map[string]int{}}
	for k, v := range cells {
		r.index[k] = len(r.cells)
		r.cells = append(r.cells, v)
	}
	return r
}

var testEnv = envelope{source: "anagrafe-sociale", territory: "SDS-FI-NORDOVEST", recordedAt: "2025-03-14T10:22:05+01:00"}

// normal turns a record or a JSON text into plain decoded JSON, for
// comparison.
func normal(t *testing.T, v any) any {
	t.Helper()
	b, ok := v.([]byte)
	if s, isStr := v.(string); isStr {
		b, ok = []byte(s), true
	}
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out
}

// envelopeOf is the envelope the test rows get, as JSON members.
const personEnv = `"schema": "https://snodo-hub.github.io/schemas/person/1.0.0", "record_id": "R1", "source": "anagrafe-sociale", "territory": "SDS-FI-NORDOVEST", "recorded_at": "2025-03-14T10:22:05+01:00"`

func TestTransformations(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		schema string // person when empty
		keys   string
		fields string
		row    map[string]string
		serial serialDates
		want   string // the record without the envelope members, as JSON; "" when the row is malformed
		reason string // what the malformed row's reason says
	}{
		"integer": {
			fields: "      - {column: anno, to: /birth_year}\n",
			row:    map[string]string{"anno": " 1985 "},
			want:   `{"birth_year": 1985}`,
		},
		"integer written with a decimal part": {
			fields: "      - {column: anno, to: /birth_year}\n",
			row:    map[string]string{"anno": "1985,0"},
			want:   `{"birth_year": 1985}`,
		},
		"integer that is not one": {
			fields: "      - {column: anno, to: /birth_year}\n",
			row:    map[string]string{"anno": "1985,5"},
			reason: `column "anno": not a whole number, for /birth_year`,
		},
		"number with a decimal comma and thousands dots": {
			schema: "volunteer",
			fields: "      - {column: p, to: /pseudonym}\n      - {column: ore, to: /total_hours}\n      - {column: sett, to: /availability/hours_per_week}\n",
			row:    map[string]string{"p": "ALBO-1", "ore": "1.234,5", "sett": "2.5"},
			want:   `{"pseudonym": "ALBO-1", "total_hours": 1234.5, "availability": {"hours_per_week": 2.5}}`,
		},
		"number that is not one": {
			schema: "volunteer",
			fields: "      - {column: ore, to: /total_hours}\n",
			row:    map[string]string{"ore": "tante"},
			reason: `column "ore": not a number (write 12.5 or 12,5), for /total_hours`,
		},
		"booleans the Italian way": {
			schema: "household",
			fields: "      - {column: a, to: /means_test/receives_adi}\n      - {column: b, to: /means_test/receives_sfl}\n      - {column: c, to: /means_test/receives_auu}\n      - {column: d, to: /means_test/receives_other_support}\n",
			row:    map[string]string{"a": "Sì", "b": "N", "c": "s", "d": "no"},
			want:   `{"means_test": {"receives_adi": true, "receives_sfl": false, "receives_auu": true, "receives_other_support": false}}`,
		},
		"boolean that is not one": {
			schema: "household",
			fields: "      - {column: a, to: /means_test/receives_adi}\n",
			row:    map[string]string{"a": "forse"},
			reason: `column "a": not a yes/no value`,
		},
		"date from dd/mm/yyyy, with or without leading zeros": {
			fields: "      - {column: u, to: /reception_exit/date, format: dd/mm/yyyy}\n      - {column: s, to: /reception_exit/system}\n",
			row:    map[string]string{"u": "5/3/2024", "s": "SAI"},
			want:   `{"reception_exit": {"date": "2024-03-05", "system": "SAI"}}`,
		},
		"date that does not exist": {
			fields: "      - {column: u, to: /reception_exit/date, format: dd/mm/yyyy}\n",
			row:    map[string]string{"u": "31/02/2024"},
			reason: `column "u": not a date in the format dd/mm/yyyy, for /reception_exit/date`,
		},
		"date in one of several formats": {
			fields: "      - {column: u, to: /reception_exit/date, format: [dd/mm/yyyy, yyyymmdd]}\n",
			row:    map[string]string{"u": "20240305"},
			want:   `{"reception_exit": {"date": "2024-03-05"}}`,
		},
		"date as a spreadsheet serial": {
			fields: "      - {column: u, to: /reception_exit/date, format: dd/mm/yyyy}\n",
			row:    map[string]string{"u": "45356"},
			serial: serials1900,
			want:   `{"reception_exit": {"date": "2024-03-05"}}`,
		},
		"a serial of a 1904 workbook": {
			fields: "      - {column: u, to: /reception_exit/date, format: dd/mm/yyyy}\n",
			row:    map[string]string{"u": "43894"},
			serial: serials1904,
			want:   `{"reception_exit": {"date": "2024-03-05"}}`,
		},
		"a serial is a date only in a spreadsheet": {
			fields: "      - {column: u, to: /reception_exit/date, format: dd/mm/yyyy}\n",
			row:    map[string]string{"u": "45356"},
			reason: "not a date in the format dd/mm/yyyy",
		},
		"year only, from a full date": {
			fields: "      - {column: nascita, to: /birth_year, type: year, format: dd/mm/yyyy}\n",
			row:    map[string]string{"nascita": "12/08/1988"},
			want:   `{"birth_year": 1988}`,
		},
		"year-month from a date or a month": {
			fields: "      - {column: a, to: /permit/expiry_month, format: [dd/mm/yyyy, mm/yyyy]}\n      - {column: s, to: /permit/status}\n",
			row:    map[string]string{"a": "09/2026", "s": "valid"},
			want:   `{"permit": {"expiry_month": "2026-09", "status": "valid"}}`,
		},
		"date-time in winter and summer, local time in Rome": {
			schema: "volunteer",
			fields: "      - {column: a, to: /extensions/winter, type: date-time, format: dd/mm/yyyy HH:MI}\n      - {column: b, to: /extensions/summer, type: date-time, format: dd/mm/yyyy HH:MI:SS}\n",
			row:    map[string]string{"a": "14/03/2025 10:22", "b": "14/07/2025 10:22:30"},
			want:   `{"extensions": {"winter": "2025-03-14T10:22:00+01:00", "summer": "2025-07-14T10:22:30+02:00"}}`,
		},
		"date-time with its own offset, or another time zone": {
			schema: "volunteer",
			fields: "      - {column: a, to: /extensions/a, type: date-time}\n      - {column: b, to: /extensions/b, type: date-time, format: yyyy-mm-dd HH:MI, time_zone: America/Lima}\n      - {column: c, to: /extensions/c, type: date-time, format: dd/mm/yyyy HH:MI TZ}\n",
			row:    map[string]string{"a": "2025-03-14T09:22:05.5Z", "b": "2025-03-14 10:22", "c": "14/03/2025 10:22 +0530"},
			want:   `{"extensions": {"a": "2025-03-14T09:22:05.5Z", "b": "2025-03-14T10:22:00-05:00", "c": "2025-03-14T10:22:00+05:30"}}`,
		},
		"code table with a default, ignoring case and spaces": {
			fields: "      - {column: sesso, to: /sex, codes: {maschio: M, femmina: F}, default: U}\n      - {column: s2, to: /extensions/s2, codes: {maschio: M}, default: U}\n",
			row:    map[string]string{"sesso": "  FEMMINA ", "s2": "altro"},
			want:   `{"sex": "F", "extensions": {"s2": "U"}}`,
		},
		"code table that rejects": {
			fields: "      - {column: sesso, to: /sex, codes: {M: M, F: F}}\n",
			row:    map[string]string{"sesso": "X"},
			reason: `column "sesso": the value is not in the translation table of /sex`,
		},
		"code table that omits or keeps": {
			fields: "      - {column: c, to: /citizenship, codes: {Italia: IT}, unknown: omit}\n      - {column: s, to: /sex, codes: {maschio: M}, unknown: keep}\n",
			row:    map[string]string{"c": "Atlantide", "s": "F"},
			want:   `{"sex": "F"}`,
		},
		"code table feeding a boolean": {
			schema: "volunteer",
			fields: "      - {column: stato, to: /active, codes: {attivo: si, cessato: no, sospeso: false}}\n",
			row:    map[string]string{"stato": "Sospeso"},
			want:   `{"active": false}`,
		},
		"open code list: a coding with the list's system": {
			fields: "      - {column: m, to: /permit/reason, codes: {lavoro: work}}\n      - {column: s, to: /permit/status}\n",
			row:    map[string]string{"m": "Lavoro", "s": "valid"},
			want:   `{"permit": {"status": "valid", "reason": {"system": "https://snodo-hub.github.io/codes/permit-reason", "code": "work"}}}`,
		},
		"coding written as code and a constant system": {
			schema: "household",
			keys:   "    constants:\n      /household_type/system: https://snodo-hub.github.io/codes/household-type\n",
			fields: "      - {column: t, to: /household_type/code}\n      - {column: n, to: /size}\n",
			row:    map[string]string{"t": "single-person", "n": "1"},
			want:   `{"household_type": {"system": "https://snodo-hub.github.io/codes/household-type", "code": "single-person"}, "size": 1}`,
		},
		"explicit system in extensions": {
			fields: "      - {column: c, to: /extensions/servizio, system: 'https://example.org/servizi'}\n",
			row:    map[string]string{"c": "PUA"},
			want:   `{"extensions": {"servizio": {"system": "https://example.org/servizi", "code": "PUA"}}}`,
		},
		"identifiers normalised, kind from the pointer": {
			fields: "      - {column: cf, to: /person/identifiers/cf}\n",
			row:    map[string]string{"cf": " rss-mra 85t10 a562s "},
			want:   `{"person": {"identifiers": {"cf": "RSSMRA85T10A562S"}}}`,
		},
		"identifier kind from the value's shape": {
			schema: "household",
			fields: "      - {column: a, to: /members/0/person/identifiers}\n      - {column: b, to: /members/1/person/identifiers}\n      - {column: c, to: /members/2/person/identifiers}\n      - {column: d, to: /members/3/person/identifiers}\n      - {column: e, to: /members/4/person/identifiers}\n      - {column: n, to: /size}\n",
			row:    map[string]string{"a": "480 2175 3016", "b": "stp0480000012345", "c": "ENI-1000000000001", "d": "LMRYSF88M12Z330W", "e": "STPPLA80A41D612X", "n": "5"},
			want:   `{"size": 5, "members": [{"person": {"identifiers": {"cf-provisional": "48021753016"}}}, {"person": {"identifiers": {"stp": "STP0480000012345"}}}, {"person": {"identifiers": {"eni": "ENI1000000000001"}}}, {"person": {"identifiers": {"cf": "LMRYSF88M12Z330W"}}}, {"person": {"identifiers": {"cf": "STPPLA80A41D612X"}}}]}`,
		},
		"an invalid codice fiscale passes through: the hub quarantines it": {
			fields: "      - {column: cf, to: /person/identifiers}\n",
			row:    map[string]string{"cf": "BNCLCU58S42D612X"},
			want:   `{"person": {"identifiers": {"cf": "BNCLCU58S42D612X"}}}`,
		},
		"empty cells and empty values are left out": {
			keys:   "    empty_values: [n.d., '-']\n",
			fields: "      - {column: anno, to: /birth_year}\n      - {column: sesso, to: /sex}\n      - {column: comune, to: /residence_comune}\n      - {column: cf, to: /person/identifiers}\n",
			row:    map[string]string{"anno": "", "sesso": "  ", "comune": "N.D.", "cf": "-"},
			want:   `{}`,
		},
		"lists split, items converted, duplicates dropped": {
			schema: "volunteer",
			fields: "      - {column: l, to: /languages, split: ','}\n      - {column: g, to: /availability/days, split: ',', codes: {lun: mon, mar: tue}}\n      - {column: c, to: /skills, split: ';', codes: {mentoring: mentoring}, default: other}\n",
			row:    map[string]string{"l": "it, en,, it ,ar", "g": "lun,MAR", "c": "Mentoring; cucina; giardinaggio"},
			want:   `{"languages": ["it", "en", "ar"], "availability": {"days": ["mon", "tue"]}, "skills": [{"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "mentoring"}, {"system": "https://snodo-hub.github.io/codes/volunteer-skill", "code": "other"}]}`,
		},
		"several columns into one list, holes closed": {
			fields: "      - {column: l1, to: /languages/-}\n      - {column: l2, to: /languages/-}\n      - {column: l3, to: /languages/-}\n",
			row:    map[string]string{"l1": "ar", "l2": "", "l3": "fr"},
			want:   `{"languages": ["ar", "fr"]}`,
		},
		"templates": {
			fields: "      - {template: 'NUC-{anno}-{numero}', to: /household/record_id}\n      - {template: '{x}-{y}', to: /extensions/xy}\n",
			row:    map[string]string{"anno": "2024", "numero": "000412", "x": "a", "y": ""},
			want:   `{"household": {"record_id": "NUC-2024-000412"}}`,
		},
		"constants, including the territory": {
			schema: "volunteer",
			keys:   "    constants:\n      /organisation/record_id: ORG-AUSER-SESTO\n      /territory: SDS-PRATO\n      /active: true\n",
			fields: "      - {column: p, to: /pseudonym}\n",
			row:    map[string]string{"p": "ALBO-7"},
			want:   `{"pseudonym": "ALBO-7", "organisation": {"record_id": "ORG-AUSER-SESTO"}, "territory": "SDS-PRATO", "active": true}`,
		},
		"a JSON value": {
			schema: "household",
			fields: "      - {column: eta, to: /composition, type: json}\n      - {column: n, to: /size}\n",
			row:    map[string]string{"eta": `{"0-17": 2, "30-44": 1}`, "n": "3"},
			want:   `{"composition": {"0-17": 2, "30-44": 1}, "size": 3}`,
		},
		"a JSON value that is not JSON": {
			schema: "household",
			fields: "      - {column: eta, to: /composition, type: json}\n",
			row:    map[string]string{"eta": `{"0-17": 2`},
			reason: `column "eta": not valid JSON, for /composition`,
		},
		"recorded_at from a column": {
			keys:   "    recorded_at: {column: agg, format: 'dd/mm/yyyy HH:MI'}\n",
			fields: "      - {column: sesso, to: /sex}\n",
			row:    map[string]string{"agg": "01/08/2025 08:05", "sesso": "M"},
			want:   `{"sex": "M", "recorded_at": "2025-08-01T08:05:00+02:00"}`,
		},
		"recorded_at from the file when the column is empty": {
			keys:   "    recorded_at: {column: agg, format: 'dd/mm/yyyy HH:MI'}\n",
			fields: "      - {column: sesso, to: /sex}\n",
			row:    map[string]string{"agg": "", "sesso": "M"},
			want:   `{"sex": "M"}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			schema := tc.schema
			if schema == "" {
				schema = "person"
			}
			m := compile(t, oneFile(schema, tc.keys, tc.fields))
			cells := map[string]string{"id": "R1"}
			for k, v := range tc.row {
				cells[k] = v
			}
			env := testEnv
			env.serial = tc.serial
			rec, bad := m.files[0].record(rowOf(cells), env)
			if tc.want == "" {
				if bad == nil {
					t.Fatalf("record = %v, want the row skipped as malformed", rec)
				}
				if !strings.Contains(bad.reason, tc.reason) {
					t.Errorf("reason = %q, want it to say %q", bad.reason, tc.reason)
				}
				for _, v := range tc.row {
					if len(strings.TrimSpace(v)) > 2 && strings.Contains(bad.reason, v) {
						t.Errorf("reason %q repeats the cell value %q", bad.reason, v)
					}
				}
				return
			}
			if bad != nil {
				t.Fatalf("row skipped: %s", bad.reason)
			}
			want := normal(t, tc.want).(map[string]any)
			envelope := normal(t, "{"+personEnv+"}").(map[string]any)
			envelope["schema"] = m.files[0].schema
			for k, v := range envelope {
				if _, ok := want[k]; !ok {
					want[k] = v
				}
			}
			if diff := cmp.Diff(want, normal(t, rec)); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordIDs(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		recordID string
		row      map[string]string
		want     string
		reason   string
	}{
		"a column":                      {"id", map[string]string{"id": " ANAG-1 "}, "ANAG-1", ""},
		"a template":                    {"{template: 'NUC-{anno}-{n}'}", map[string]string{"anno": "2024", "n": "7"}, "NUC-2024-7", ""},
		"empty":                         {"id", map[string]string{"id": ""}, "", `the record id (column "id") is empty`},
		"a template with an empty cell": {"{template: 'NUC-{anno}-{n}'}", map[string]string{"anno": "2024", "n": ""}, "", `the record id (template of columns "anno", "n") is empty`},
		"spaces inside":                 {"id", map[string]string{"id": "ANAG 1"}, "", "printable ASCII characters without spaces"},
		"shaped like a codice fiscale":  {"id", map[string]string{"id": "RSSMRA85T10A562S"}, "", "looks like a codice fiscale"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := compile(t, "version: 1\nfiles:\n  - pattern: a.csv\n    schema: person\n    record_id: "+tc.recordID+"\n    fields: [{column: s, to: /sex}]\n")
			rec, bad := m.files[0].record(rowOf(tc.row), testEnv)
			if tc.reason != "" {
				if bad == nil || !strings.Contains(bad.reason, tc.reason) {
					t.Fatalf("record %v, reason %v; want the row skipped because %q", rec, bad, tc.reason)
				}
				return
			}
			if bad != nil {
				t.Fatal(bad.reason)
			}
			if got := rec["record_id"]; got != tc.want {
				t.Errorf("record_id = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestJSONLinesColumns(t *testing.T) {
	t.Parallel()
	m := compile(t, `version: 1
files:
  - pattern: n.jsonl
    schema: household
    record_id: /nucleo/id
    fields:
      - {column: componenti, to: /size}
      - {column: /intestatario/codici/0, to: /members/0/person/identifiers}
      - {column: adi, to: /means_test/receives_adi}
      - {column: eta, to: /composition, type: json}
      - {column: assente, to: /isee_band}
      - {column: nullo, to: /means_test/receives_sfl}
`)
	obj, ok := decodeObject([]byte(`{"nucleo": {"id": "NUC-9"}, "componenti": 2, "intestatario": {"codici": ["lmrysf88m12z330w"]}, "adi": true, "eta": {"30-44": 2}, "nullo": null}`))
	if !ok {
		t.Fatal("decodeObject refused a JSON object")
	}
	rec, bad := m.files[0].record(jsonRow{obj: obj}, testEnv)
	if bad != nil {
		t.Fatal(bad.reason)
	}
	want := normal(t, `{"schema": "https://snodo-hub.github.io/schemas/household/1.0.0", "record_id": "NUC-9", "source": "anagrafe-sociale", "territory": "SDS-FI-NORDOVEST", "recorded_at": "2025-03-14T10:22:05+01:00",
		"size": 2, "members": [{"person": {"identifiers": {"cf": "LMRYSF88M12Z330W"}}}], "means_test": {"receives_adi": true}, "composition": {"30-44": 2}}`)
	if diff := cmp.Diff(want, normal(t, rec)); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	for _, line := range []string{`[1, 2]`, `"text"`, `{"a": 1} {"b": 2}`, `{"a": `, `null`} {
		if _, ok := decodeObject([]byte(line)); ok {
			t.Errorf("decodeObject(%s) accepted a line that is not one JSON object", line)
		}
	}
}

func TestDateFormats(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		format string
		value  string
		want   string // yyyy-mm-dd HH:MI:SS, or "" when it does not parse
	}{
		"day first":             {"dd/mm/yyyy", "05/03/2024", "2024-03-05 00:00:00"},
		"single digits":         {"dd/mm/yyyy", "5/3/2024", "2024-03-05 00:00:00"},
		"dots":                  {"dd.mm.yyyy", "05.03.2024", "2024-03-05 00:00:00"},
		"compact":               {"yyyymmdd", "20240305", "2024-03-05 00:00:00"},
		"with time":             {"dd/mm/yyyy HH:MI", "05/03/2024 9:07", "2024-03-05 09:07:00"},
		"seconds and fraction":  {"yyyy-mm-ddTHH:MI:SS", "2024-03-05T09:07:08,250", "2024-03-05 09:07:08"},
		"trailing text refused": {"dd/mm/yyyy", "05/03/2024 00:00", ""},
		"february 30 refused":   {"dd/mm/yyyy", "30/02/2024", ""},
		"month 13 refused":      {"dd/mm/yyyy", "01/13/2024", ""},
		"hour 24 refused":       {"dd/mm/yyyy HH:MI", "01/01/2024 24:00", ""},
		"two-digit year":        {"dd/mm/yyyy", "05/03/24", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, err := parseDateFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := f.parse(tc.value)
			got := ""
			if ok {
				got = v.timeIn(time.UTC).Format("2006-01-02 15:04:05")
			}
			if got != tc.want {
				t.Errorf("parse(%q, %q) = %q, want %q", tc.format, tc.value, got, tc.want)
			}
		})
	}
	bad := map[string]string{
		"dd/MM/yyyy":       "write the month as mm and minutes as MI",
		"DD/mm/YYYY":       "lower case",
		"dd/mm/yyyy hh:MI": "write the hour as HH",
		"dd/mm":            "has no year",
		"dd/yyyy":          "has a day but no month",
		"yyyy-mm-dd MI":    "no hour",
		"dd/mm/yyyy Q":     "is not a token",
	}
	for format, says := range bad {
		if _, err := parseDateFormat(format); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("parseDateFormat(%q) = %v, want an error saying %q", format, err, says)
		}
	}
}

func TestCP1252(t *testing.T) {
	t.Parallel()
	in := string([]byte{'P', 'e', 'r', 0xF9, ' ', 0x80, ' ', 0x93, 'x', 0x94, ' ', 'c', 'i', 't', 't', 0xE0})
	if got, want := decodeCP1252(in), "Perù € “x” città"; got != want {
		t.Errorf("decodeCP1252 = %q, want %q", got, want)
	}
	if got := decodeCP1252("plain"); got != "plain" {
		t.Errorf("decodeCP1252(ascii) = %q", got)
	}
}
