package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/plugins/host"
)

// filesHub sets up a hub (territory SDS-TEST) with one instance of the file
// connector, "anagrafe", reading DIR/connectors/anagrafe/exports with the
// mapping given. It returns the configuration file and the connector's
// folder.
func filesHub(t *testing.T, mapping string, exports map[string]string) (cfgPath, connDir string) {
	t.Helper()
	bin := connectorBin(t, "files")
	sum, err := host.Sum(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "hub")
	if code, _, stderr := snodo(t, "", "init", dir, "--territory", "SDS-TEST", "--name", "Ambito di prova"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	connDir = filepath.Join(dir, "connectors", "anagrafe")
	files := map[string]string{
		"settings.yaml": "source: anagrafe\nterritory: SDS-TEST\nfolder: exports\nmapping: mapping.yaml\n",
		"mapping.yaml":  mapping,
	}
	for name, content := range exports {
		files[filepath.Join("exports", name)] = content
	}
	for name, content := range files {
		p := filepath.Join(connDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath = filepath.Join(dir, "snodo.yaml")
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\nconnectors:\n  - name: anagrafe\n    plugin: %s\n    sha256: %s\n    settings: connectors/anagrafe/settings.yaml\n", bin, sum)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return cfgPath, connDir
}

// peopleMapping maps the test exports: a sex value outside the table is
// kept as it is, so that such a row makes a record the schema refuses.
const peopleMapping = `version: 1
files:
  - pattern: "persone*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    fields:
      - {column: cf, to: /person/identifiers}
      - {column: anno, to: /birth_year}
      - column: sesso
        to: /sex
        codes: {M: M, F: F}
        unknown: keep
      - {column: comune, to: /residence_comune}
`

// validCF makes the n-th of a family of distinct, valid codici fiscali.
func validCF(n int) string {
	var letters [6]byte
	for i := 5; i >= 0; i-- {
		letters[i] = byte('A' + n%26)
		n /= 26
	}
	first15 := fmt.Sprintf("%s85A%02dZ330", letters[:], 1+n%28)
	for c := byte('A'); c <= 'Z'; c++ {
		if _, err := identity.Parse(first15 + string(c)); err == nil {
			return first15 + string(c)
		}
	}
	panic("no check letter for " + first15)
}

// peopleCSV writes n people; the rows in bad carry sex "X", which the
// mapping's table lacks. It returns the CSV and every codice fiscale in it.
func peopleCSV(n int, bad map[int]bool) (string, []string) {
	var b strings.Builder
	var cfs []string
	b.WriteString("id;cf;anno;sesso;comune\n")
	for i := range n {
		sex := "MF"[i%2 : i%2+1]
		if bad[i] {
			sex = "X"
		}
		cf := validCF(i)
		cfs = append(cfs, cf)
		// Typed as people type them: lower case, spaced.
		fmt.Fprintf(&b, "P-%04d;%s %s %s;%d;%s;048017\n", i, strings.ToLower(cf[:6]), cf[6:11], cf[11:], 1950+i%50, sex)
	}
	return b.String(), cfs
}

type ingestOutput struct {
	Runs []runJSON `json:"runs"`
}

func ingestJSON(t *testing.T, wantCode int, args ...string) []runJSON {
	t.Helper()
	code, out, stderr := snodo(t, "", append([]string{"ingest", "--once", "--json"}, args...)...)
	if code != wantCode {
		t.Fatalf("ingest %v: exit %d, want %d\n%s%s", args, code, wantCode, out, stderr)
	}
	var got ingestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	return got.Runs
}

type runCounts struct {
	Outcome                                 string
	Records, Stored, Unchanged, Quarantined int64
}

func counts(runs []runJSON) []runCounts {
	var out []runCounts
	for _, r := range runs {
		out = append(out, runCounts{r.Outcome, r.Records, r.Stored, r.Unchanged, r.Quarantined})
	}
	return out
}

func statusJSON(t *testing.T, cfg string) statusReport {
	t.Helper()
	code, out, stderr := snodo(t, "", "status", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return rep
}

func quarantineJSON(t *testing.T, cfg string) []quarantineItem {
	t.Helper()
	code, out, stderr := snodo(t, "", "quarantine", "list", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("quarantine list: exit %d\n%s", code, stderr)
	}
	var got struct{ Items []quarantineItem }
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	return got.Items
}

// TestFivePercentInvalidEndToEnd is issue 4's "done when", end to end with
// the file connector as a real process: 200 rows of which exactly 10 carry
// a sex code the mapping's table lacks. Ingest stores the 190 and
// quarantines exactly those 10 with their pointer; after the mapping is
// fixed (as an admin would) and the source read again, replay clears them
// and the store holds all 200 — and no identifier is anywhere in the
// database, the output or the log.
func TestFivePercentInvalidEndToEnd(t *testing.T) {
	t.Parallel()
	bad := map[int]bool{3: true, 17: true, 42: true, 64: true, 99: true, 100: true, 133: true, 150: true, 181: true, 199: true}
	csv, cfs := peopleCSV(200, bad)
	cfg, connDir := filesHub(t, peopleMapping, map[string]string{"persone_2025-03.csv": csv})
	var everything bytes.Buffer // every output of every command

	// 1. Ingest: 190 stored, 10 quarantined.
	runs := ingestJSON(t, 0, "--config", cfg)
	if diff := cmp.Diff([]runCounts{{"ok", 200, 190, 0, 10}}, counts(runs)); diff != "" {
		t.Errorf("first ingest (-want +got):\n%s", diff)
	}
	items := quarantineJSON(t, cfg)
	var gotIDs, wantIDs []string
	for _, it := range items {
		gotIDs = append(gotIDs, it.RecordID)
		if len(it.Errors) != 1 || it.Errors[0].Pointer != "/sex" || !strings.Contains(it.Errors[0].Message, "not one of the allowed codes") {
			t.Errorf("item %d (%s): errors %+v, want one at /sex", it.ID, it.RecordID, it.Errors)
		}
		if it.Source != "anagrafe" || it.Schema != "person" || it.SealedBytes == 0 {
			t.Errorf("item %+v", it)
		}
	}
	for i := range 200 {
		if bad[i] {
			wantIDs = append(wantIDs, fmt.Sprintf("P-%04d", i))
		}
	}
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("quarantined records (-want +got):\n%s", diff)
	}
	code, out, _ := snodo(t, "", "quarantine", "show", fmt.Sprint(items[0].ID), "--config", cfg)
	everything.WriteString(out)
	if code != 0 || !strings.Contains(out, "/sex: value is not one of the allowed codes") || !strings.Contains(out, "kept encrypted (never shown)") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	code, out, _ = snodo(t, "", "quarantine", "list", "--config", cfg)
	everything.WriteString(out)
	if code != 0 || strings.Count(out, "\n") != 11 || !strings.Contains(out, "P-0003  person  /sex: value is not one of the allowed codes") {
		t.Errorf("list: exit %d\n%s", code, out)
	}
	st := statusJSON(t, cfg)
	if st.Records["person"] != 190 || st.Quarantine != 10 || len(st.Connectors) != 1 || st.Connectors[0].State != "ok" ||
		st.Connectors[0].LastRun == nil || st.Connectors[0].LastRun.Quarantined != 10 {
		t.Errorf("status %+v", st)
	}

	// 2. Replay alone cannot help: the records are what the mapping made.
	code, out, stderr := snodo(t, "", "quarantine", "replay", "--all", "--config", cfg)
	everything.WriteString(out + stderr)
	if code != exitFindings || !strings.Contains(out, "0 stored, 0 superseded, 10 still failing, 0 skipped") ||
		!strings.Contains(stderr, "--from-start") {
		t.Errorf("replay before the fix: exit %d\n%s%s", code, out, stderr)
	}

	// 3. The admin fixes the mapping, reads the source again and replays.
	fixed := strings.Replace(peopleMapping, "codes: {M: M, F: F}", "codes: {M: M, F: F, X: U}", 1)
	if err := os.WriteFile(filepath.Join(connDir, "mapping.yaml"), []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	runs = ingestJSON(t, 0, "--connector", "anagrafe", "--from-start", "--config", cfg)
	if diff := cmp.Diff([]runCounts{{"ok", 200, 10, 190, 0}}, counts(runs)); diff != "" {
		t.Errorf("ingest after the fix (-want +got):\n%s", diff)
	}
	code, out, stderr = snodo(t, "", "quarantine", "replay", "--all", "--json", "--config", cfg)
	everything.WriteString(out + stderr)
	var replayed struct{ Results []replayJSON }
	if err := json.Unmarshal([]byte(out), &replayed); code != 0 || err != nil {
		t.Fatalf("replay after the fix: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	var outcomes []string
	for _, r := range replayed.Results {
		outcomes = append(outcomes, string(r.Outcome))
	}
	if diff := cmp.Diff(slices.Repeat([]string{"superseded"}, 10), outcomes); diff != "" {
		t.Errorf("replay outcomes (-want +got):\n%s", diff)
	}
	st = statusJSON(t, cfg)
	if st.Records["person"] != 200 || st.Quarantine != 0 {
		t.Errorf("after the fix: %d people, %d in quarantine; want 200 and 0", st.Records["person"], st.Quarantine)
	}
	if code, out, _ := snodo(t, "", "quarantine", "list", "--config", cfg); code != 0 || out != "" {
		t.Errorf("list after the fix: exit %d, %q", code, out)
	}

	// No identifier anywhere: not in the database (records hold person ids,
	// the quarantine is sealed), not in what the commands printed.
	db := filepath.Join(filepath.Dir(cfg), "snodo.db")
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(db + "-wal")
	assertNoIdentifier(t, "the database", append(data, wal...), cfs)
	assertNoIdentifier(t, "the commands' output", everything.Bytes(), cfs)
}

// assertNoIdentifier fails when data holds any of ids (normalised or as
// the test CSV types them).
func assertNoIdentifier(t *testing.T, what string, data []byte, ids []string) {
	t.Helper()
	upper := bytes.ToUpper(data)
	for _, id := range ids {
		n := identity.Normalise(id)
		for _, form := range []string{n, n[:6] + " " + n[6:11] + " " + n[11:]} {
			if bytes.Contains(upper, []byte(strings.ToUpper(form))) {
				t.Errorf("%s holds the identifier %s…", what, n[:3])
			}
		}
	}
}

// TestIngestExampleLeaksNothing ingests the file connector's sample exports
// (an invalid codice fiscale, provisional and STP codes, typed with spaces
// and hyphens) with the log at debug level, and looks for every identifier
// of the input in everything the commands print and in the database.
func TestIngestExampleLeaksNothing(t *testing.T) {
	t.Parallel()
	example := "../../connectors/files/testdata/example"
	exports := map[string]string{}
	for _, name := range []string{"persone_2025-03.csv", "nuclei.jsonl", "volontari.xlsx"} {
		b, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Fatal(err)
		}
		exports[name] = string(b)
	}
	mapping, err := os.ReadFile("../../connectors/files/mapping.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, connDir := filesHub(t, string(mapping), exports)
	// The sample's records say territory SDS-FI-NORDOVEST: so does this hub.
	for file, edits := range map[string][2]string{
		cfg:                                     {"code: SDS-TEST", "code: SDS-FI-NORDOVEST"},
		filepath.Join(connDir, "settings.yaml"): {"territory: SDS-TEST", "territory: SDS-FI-NORDOVEST"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte(edits[0]), []byte(edits[1]), 1)
		b = bytes.Replace(b, []byte("level: info"), []byte("level: debug"), 1)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, line := range strings.Split(exports["persone_2025-03.csv"], "\n")[1:] {
		if cells := strings.Split(line, ";"); len(cells) > 1 && cells[1] != "" {
			ids = append(ids, cells[1])
		}
	}
	for _, line := range strings.Split(exports["nuclei.jsonl"], "\n") {
		var row struct {
			Intestatario struct{ Codice string } `json:"intestatario"`
		}
		if json.Unmarshal([]byte(line), &row) == nil && row.Intestatario.Codice != "" {
			ids = append(ids, row.Intestatario.Codice)
		}
	}
	if len(ids) < 15 {
		t.Fatalf("found %d identifiers in the sample", len(ids))
	}

	var everything bytes.Buffer
	code, out, stderr := snodo(t, "", "ingest", "--once", "--config", cfg)
	everything.WriteString(out + stderr)
	if code != 0 || !strings.Contains(stderr, "DEBUG") || !strings.Contains(stderr, "record quarantined") {
		t.Fatalf("ingest: exit %d (or no debug log)\n%s%s", code, out, stderr)
	}
	for _, args := range [][]string{{"quarantine", "list"}, {"quarantine", "list", "--json"}, {"quarantine", "show", "1"}, {"status"}, {"status", "--json"}} {
		code, out, stderr := snodo(t, "", append(args, "--config", cfg)...)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", args, code, stderr)
		}
		everything.WriteString(out + stderr)
	}
	if !strings.Contains(everything.String(), "ANAG-2024-000738  person  /person/identifiers/cf") {
		t.Errorf("the invalid codice fiscale is not in quarantine:\n%s", everything.String())
	}
	db := filepath.Join(filepath.Dir(cfg), "snodo.db")
	data, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	upperAll := bytes.ToUpper(append(everything.Bytes(), append(data, wal...)...))
	for _, id := range ids {
		for _, form := range []string{id, identity.Normalise(id)} {
			if bytes.Contains(upperAll, []byte(strings.ToUpper(form))) {
				t.Errorf("the output or the database holds the identifier %s…", form[:3])
			}
		}
	}
}

// TestIngestRefuses: usage errors, and a connector that fails.
func TestIngestRefuses(t *testing.T) {
	t.Parallel()
	csv, _ := peopleCSV(3, nil)
	cfg, _ := filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})
	usage := map[string]struct {
		args []string
		err  string
	}{
		"no --once":         {[]string{"ingest", "--config", cfg}, "pass --once"},
		"unknown connector": {[]string{"ingest", "--once", "--connector", "cpi", "--config", cfg}, `--connector "cpi": no such connector`},
		"no configuration":  {[]string{"ingest", "--once", "--config", filepath.Join(t.TempDir(), "snodo.yaml")}, "no configuration at"},
		"an argument":       {[]string{"ingest", "--once", "anagrafe", "--config", cfg}, "unknown command"},
	}
	for name, tc := range usage {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := snodo(t, "", tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, want %d; stderr %q, want %q", code, exitUsage, stderr, tc.err)
			}
		})
	}

	// A binary that does not match its pin: the run fails, exit 1, and
	// status says why.
	cfg, _ = filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = regexp.MustCompile(`sha256: [0-9a-f]{64}`).ReplaceAll(b, []byte("sha256: "+strings.Repeat("ab", 32)))
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	runs := ingestJSON(t, exitFindings, "--config", cfg)
	if len(runs) != 1 || runs[0].Outcome != "failed" || !strings.Contains(runs[0].Message, "SHA-256") {
		t.Errorf("runs %+v: want a failure naming the SHA-256", runs)
	}
	st := statusJSON(t, cfg)
	if c := st.Connectors[0]; c.State != "failed" || c.Binary != "sha256-mismatch" || c.LastRun == nil || !strings.Contains(c.LastRun.Message, "SHA-256") {
		t.Errorf("status of the connector %+v", c)
	}
}

// TestIngestDegradedByAFlood: a source whose records mostly fail is read to
// the end, stored where it can be, and reported degraded with the reason.
func TestIngestDegradedByAFlood(t *testing.T) {
	t.Parallel()
	bad := map[int]bool{}
	for i := range 100 {
		bad[i] = i%5 < 2 // 40 of 100
	}
	csv, _ := peopleCSV(100, bad)
	cfg, _ := filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})
	runs := ingestJSON(t, 0, "--config", cfg)
	if diff := cmp.Diff([]runCounts{{"degraded", 100, 60, 0, 40}}, counts(runs)); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if want := "40 of the last 100 records went to quarantine"; len(runs) != 1 || !strings.HasPrefix(runs[0].Message, want) {
		t.Errorf("message %q, want %q…", runs[0].Message, want)
	}
	if st := statusJSON(t, cfg); st.Connectors[0].State != "degraded" {
		t.Errorf("status: %+v", st.Connectors[0])
	}
}

func TestQuarantineCommands(t *testing.T) {
	t.Parallel()
	csv, _ := peopleCSV(6, map[int]bool{1: true, 4: true})
	cfg, _ := filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})
	if code, out, stderr := snodo(t, "", "quarantine", "list", "--config", cfg); code != 0 || out != "" || !strings.Contains(stderr, "the quarantine is empty") {
		t.Errorf("list of an empty quarantine: exit %d, %q, %q", code, out, stderr)
	}
	ingestJSON(t, 0, "--config", cfg)
	items := quarantineJSON(t, cfg)
	if len(items) != 2 {
		t.Fatalf("%d items, want 2", len(items))
	}
	refused := map[string]struct {
		args []string
		code int
		err  string
	}{
		"show an unknown id":   {[]string{"show", "999"}, exitFindings, "no quarantine item 999"},
		"show a bad id":        {[]string{"show", "abc"}, exitUsage, `"abc" is not a quarantine item id`},
		"show nothing":         {[]string{"show"}, exitUsage, "accepts 1 arg"},
		"replay nothing":       {[]string{"replay"}, exitUsage, "give the ids of the records to replay, or --all"},
		"replay ids and --all": {[]string{"replay", "1", "--all"}, exitUsage, "give the ids of the records to replay, or --all"},
		"drop an unknown id":   {[]string{"drop", "999"}, exitFindings, "no quarantine item 999"},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := snodo(t, "", append(append([]string{"quarantine"}, tc.args...), "--config", cfg)...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, want %d; stderr %q, want %q", code, tc.code, stderr, tc.err)
			}
		})
	}

	id := fmt.Sprint(items[0].ID)
	code, out, stderr := snodo(t, "", "quarantine", "show", id, "--json", "--config", cfg)
	var shown quarantineItem
	if err := json.Unmarshal([]byte(out), &shown); code != 0 || err != nil || shown.RecordID != "P-0001" || shown.SealedBytes == 0 {
		t.Errorf("show --json: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if strings.Contains(out, "raw") {
		t.Errorf("show --json prints a raw field:\n%s", out)
	}
	// Replaying one that still fails: exit 1, the errors printed.
	code, out, _ = snodo(t, "", "quarantine", "replay", id, "--config", cfg)
	if code != exitFindings || !strings.Contains(out, id+" anagrafe P-0001: failed: /sex: value is not one of the allowed codes") {
		t.Errorf("replay: exit %d\n%s", code, out)
	}
	// Drop: no longer listed or counted, and audited.
	if code, out, stderr := snodo(t, "", "quarantine", "drop", id, "--config", cfg); code != 0 || out != "quarantine item "+id+" dropped\n" {
		t.Errorf("drop: exit %d, %q, %q", code, out, stderr)
	}
	code, out, _ = snodo(t, "", "quarantine", "drop", id, "--json", "--config", cfg)
	if code != 0 || strings.Join(strings.Fields(out), "") != `{"dropped":[`+id+`]}` {
		t.Errorf("drop again --json: exit %d, %q (dropping twice is a no-op)", code, out)
	}
	if left := quarantineJSON(t, cfg); len(left) != 1 || left[0].RecordID != "P-0004" {
		t.Errorf("after the drop: %+v", left)
	}
	if st := statusJSON(t, cfg); st.Quarantine != 1 {
		t.Errorf("status counts %d in quarantine, want 1", st.Quarantine)
	}
	h, err := openPipelineHub(context.Background(), cfg, &bytes.Buffer{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	e, _, err := h.st.Quarantine(context.Background(), items[0].ID)
	if err != nil || e.DroppedAt.IsZero() {
		t.Errorf("item %s: dropped at %v, %v", id, e.DroppedAt, err)
	}
	if err := h.st.VerifyAudit(context.Background()); err != nil {
		t.Errorf("audit log: %v", err)
	}
}

func TestStatusOfANewHub(t *testing.T) {
	t.Parallel()
	csv, _ := peopleCSV(1, nil)
	cfg, _ := filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})
	st := statusJSON(t, cfg)
	want := statusReport{Territory: "SDS-TEST", TerritoryName: "Ambito di prova", Records: map[string]int64{}, Quarantine: 0,
		Connectors: []connectorStatus{{Name: "anagrafe", Enabled: true, Binary: "ok", State: "never run"}}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	code, out, _ := snodo(t, "", "status", "--config", cfg)
	for _, line := range []string{"Territory SDS-TEST (Ambito di prova)", "none yet: read the connectors with \"snodo ingest --once\"",
		"Quarantine: 0 records awaiting attention", "anagrafe  yes      ok      -         never run"} {
		if code != 0 || !strings.Contains(out, line) {
			t.Errorf("status: exit %d, no line %q:\n%s", code, line, out)
		}
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := &progress{w: &b, tty: true}
	p.show("files: 10 records")
	fmt.Fprintln(p, "a log line")
	p.show("files: 20 records")
	p.show("")
	want := "\r\033[Kfiles: 10 records" + "\r\033[Ka log line\nfiles: 10 records" + "\r\033[Kfiles: 20 records" + "\r\033[K"
	if got := b.String(); got != want {
		t.Errorf("terminal output %q, want %q", got, want)
	}
	b.Reset()
	p = &progress{w: &b}
	p.show("files: 10 records")
	fmt.Fprintln(p, "a log line")
	if got := b.String(); got != "a log line\n" {
		t.Errorf("output off a terminal %q: want the log line alone", got)
	}
}
