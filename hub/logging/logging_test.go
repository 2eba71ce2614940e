package logging_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/logging"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in, want string
	}{
		"codice fiscale":            {"RSSMRA85T10A562S", "****************"},
		"lower case":                {"cf rssmra85t10a562s ok", "cf **************** ok"},
		"wrong check character":     {"BNCLCU58S42D612X", "****************"},
		"homocode":                  {"RSSMRA85T10A56NH", "****************"},
		"spaced as typed":           {"got RSS MRA 85T10 A562S.", "got *** *** ***** *****."},
		"hyphenated":                {"HXH-RBN-79C21-Z100Q", "***-***-*****-*****"},
		"provisional":               {"code=48021753016;", "code=***********;"},
		"provisional spaced":        {"480 2175 3016", "*** **** ****"},
		"STP":                       {"tessera STP0480000012345", "tessera ****************"},
		"ENI lower case":            {"eni0902041234567", "****************"},
		"in JSON":                   {`{"identifiers":{"cf":"LMRYSF88M12Z330W"}}`, `{"identifiers":{"cf":"****************"}}`},
		"in a query string":         {"/people?cf=QSPRSO83H70Z611C&x=1", "/people?cf=****************&x=1"},
		"two in a row":              {"48021753016,DLLFMT95A47Z343Z", "***********,****************"},
		"after an unrelated number": {"3 480 2175 3016", "3 *** **** ****"},
		"record id":                 {"ANAG-2024-000731", "ANAG-2024-000731"},
		"ULID":                      {"01J9Z3K4WQ8N5V6T7X8Y9Z0ABC", "01J9Z3K4WQ8N5V6T7X8Y9Z0ABC"},
		"millisecond time":          {"1741947720000", "1741947720000"},
		"12 digits":                 {"123456789012", "123456789012"},
		"10 digits":                 {"1234567890", "1234567890"},
		"a long word":               {"pseudonymisation", "pseudonymisation"},
		"sha-256":                   {"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		"date and time":             {"2025-03-14T10:22:00+01:00", "2025-03-14T10:22:00+01:00"},
		"inside a longer run":       {"xRSSMRA85T10A562S", "xRSSMRA85T10A562S"},
		"empty":                     {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, changed := logging.Redact(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Redact(%q) (-want +got):\n%s", tc.in, diff)
			}
			if changed != (tc.in != tc.want) {
				t.Errorf("Redact(%q) reported changed=%v", tc.in, changed)
			}
		})
	}
}

// identifiers are the raw codes the log test feeds in, in the forms a
// source system or a person may write them.
var identifiers = []string{
	"RSSMRA85T10A562S",
	"rssmra85t10a562s",
	"BNCLCU58S42D612X", // wrong check character: still personal
	"RSS MRA 85T10 A562S",
	"HXH-RBN-79C21-Z100Q",
	"48021753016",
	"480 2175 3016",
	"STP0480000012345",
	"ENI0902041234567",
	"LMRYSF88M12Z330W",
	"DLLFMT95A47Z343Z",
	"QSPRSO83H70Z611C",
}

type person struct {
	Name string
	CF   string
}

type stringer struct{ v string }

func (s stringer) String() string { return "person " + s.v }

// TestNoIdentifierReachesTheLog logs every identifier through every kind
// of attribute, in both formats, and scans the output for each of them.
func TestNoIdentifierReachesTheLog(t *testing.T) {
	t.Parallel()
	for _, format := range []string{logging.FormatText, logging.FormatJSON} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := logging.New(&buf, "debug", format)
			for i, id := range identifiers {
				code, _ := identity.Parse(id)
				l := log.With("with", id).WithGroup("record")
				l.Info("skipped record "+id+": invalid",
					"id", id,
					"error", fmt.Errorf("upsert: %w", errors.New("identifier "+id+" is invalid")),
					"raw", []byte(`{"person":{"identifiers":{"cf":"`+id+`"}}}`),
					"number", json.Number(strings.ReplaceAll(id, " ", "")),
					"person", person{Name: "x", CF: id},
					"stringer", stringer{id},
					"code", code,
					slog.Group("nested", "value", id),
					id, i, // an identifier as a key
				)
			}
			log.Warn("as an integer", "provisional", int64(48021753016), "unsigned", uint64(48021753016))
			log.Debug("kept as they are", "record_id", "ANAG-2024-000731", "count", 1234, "bytes", int64(123456789012),
				"person_id", "01J9Z3K4WQ8N5V6T7X8Y9Z0ABC")

			out := buf.String()
			for _, id := range identifiers {
				for _, form := range []string{id, strings.ToUpper(id), identity.Normalise(id)} {
					if strings.Contains(out, form) {
						t.Errorf("the log holds %q:\n%s", form, out)
					}
				}
			}
			for _, kept := range []string{"ANAG-2024-000731", "1234", "123456789012", "01J9Z3K4WQ8N5V6T7X8Y9Z0ABC", "skipped record", "kept as they are"} {
				if !strings.Contains(out, kept) {
					t.Errorf("the log lost %q:\n%s", kept, out)
				}
			}
			if t.Failed() {
				return
			}
			if format == logging.FormatJSON {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON line: %s", line)
					}
				}
			}
		})
	}
}

func TestNewChoosesFormatAndLevel(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	tests := map[string]struct {
		format, level string
		json          bool
		debug, info   bool
	}{
		"auto off a terminal is JSON": {format: "auto", level: "info", json: true, info: true},
		"empty is auto":               {format: "", level: "", json: true, info: true},
		"text":                        {format: "text", level: "debug", debug: true, info: true},
		"json":                        {format: "json", level: "warn", json: true},
		"unknown level is info":       {format: "json", level: "loud", json: true, info: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := logging.New(&buf, tc.level, tc.format)
			log.Debug("d")
			log.Info("i")
			log.Error("e")
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			want := 1
			if tc.info {
				want++
			}
			if tc.debug {
				want++
			}
			if len(lines) != want {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), want, buf.String())
			}
			if got := json.Valid([]byte(lines[0])); got != tc.json {
				t.Errorf("JSON %v, want %v: %s", got, tc.json, lines[0])
			}
		})
	}
	if logging.IsTerminal(file) || logging.IsTerminal(&bytes.Buffer{}) {
		t.Error("a file or a buffer taken for a terminal")
	}
}

func BenchmarkRedact(b *testing.B) {
	msg := "stored batch of 500 records from source anagrafe-sociale (cursor 01J9Z3K4WQ8N5V6T7X8Y9Z0ABC, 1741947720000 ms)"
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		logging.Redact(msg)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "strings/s")
}
