package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// Built once by TestMain: the compiled contract and the connectors the
// end-to-end tests run as real processes.
var (
	reg                               *schemas.Registry
	filesConnector, filesConnectorSum string
	testConnector, testConnectorSum   string
	repoRoot                          string
)

func TestMain(m *testing.M) {
	os.Exit(setUp(m))
}

func setUp(m *testing.M) int {
	var err error
	if reg, err = schemas.Compile(identity.SchemaFormats()...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "pipeline-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if repoRoot, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, c := range []struct {
		pkg      string
		bin, sum *string
	}{
		{"./connectors/files", &filesConnector, &filesConnectorSum},
		{"./plugins/internal/testconnector", &testConnector, &testConnectorSum},
	} {
		*c.bin = filepath.Join(dir, filepath.Base(c.pkg))
		cmd := exec.Command("go", "build", "-o", *c.bin, c.pkg)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", c.pkg, err, out)
			return 1
		}
		if *c.sum, err = host.Sum(*c.bin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

const (
	territory    = "SDS-TEST"
	source       = "anagrafe"
	personSchema = "https://snodo-hub.github.io/schemas/person/1.0.0"
)

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a log
// handler.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// env is a pipeline on a real SQLite file, logging every line (debug
// included) as JSON into logs.
type env struct {
	t    testing.TB
	path string
	st   *store.Store
	p    *pipeline.Pipeline
	key  identity.Key
	logs *lockedBuffer
}

type envOption func(*pipeline.Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, path: filepath.Join(t.TempDir(), "snodo.db"), key: key, logs: &lockedBuffer{}}
	e.st, err = store.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.p = e.pipeline(territory, opts...)
	return e
}

// pipeline starts another pipeline on the env's store and key.
func (e *env) pipeline(territory string, opts ...envOption) *pipeline.Pipeline {
	e.t.Helper()
	cfg := pipeline.Config{
		Store: e.st, Registry: reg, Key: e.key, Territory: territory,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := pipeline.New(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := p.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	})
	return p
}

// sink hands one batch to the pipeline.
func (e *env) sink(cursor string, records ...[]byte) error {
	return e.p.Sink(context.Background(), source, sdk.Batch{Records: records, Cursor: []byte(cursor)})
}

func (e *env) mustSink(cursor string, records ...[]byte) {
	e.t.Helper()
	if err := e.sink(cursor, records...); err != nil {
		e.t.Fatalf("Sink: %v", err)
	}
}

// quarantine lists every quarantine item not dropped.
func (e *env) quarantine() []store.QuarantineEntry {
	e.t.Helper()
	list, err := e.st.ListQuarantine(context.Background(), store.QuarantineFilter{Limit: 100000})
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// stored reads a stored record's body as JSON.
func (e *env) stored(recordID string) (map[string]any, store.StoredRecord) {
	e.t.Helper()
	rec, ok, err := e.st.GetRecord(context.Background(), source, recordID)
	if err != nil || !ok {
		e.t.Fatalf("record %s: stored %v, %v", recordID, ok, err)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		e.t.Fatal(err)
	}
	return body, rec
}

// personID is the person id of a stored record's personRef at pointer.
func (e *env) personID(recordID, pointer string) string {
	e.t.Helper()
	body, _ := e.stored(recordID)
	var cur any = body
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			var i int
			fmt.Sscan(tok, &i)
			cur = c[i]
		}
	}
	ref, _ := cur.(map[string]any)
	if _, ok := ref["identifiers"]; ok {
		e.t.Errorf("record %s keeps identifiers at %s", recordID, pointer)
	}
	id, _ := ref["person_id"].(string)
	if !identity.ValidPersonID(id) {
		e.t.Errorf("record %s: %s/person_id is %q, not a person id", recordID, pointer, id)
	}
	return id
}

// record is a person record's fields; person builds its JSON.
type record map[string]any

// person is a valid person record with the given identifiers (kind →
// value); edit changes it before it is written.
func person(recordID string, ids map[string]string, edit ...func(record)) []byte {
	r := record{
		"schema": personSchema, "record_id": recordID, "source": source, "territory": territory,
		"recorded_at": "2025-03-14T10:22:00+01:00", "birth_year": 1988, "sex": "M",
		"person": map[string]any{"identifiers": ids},
	}
	for _, f := range edit {
		f(r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

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

// Identifiers of the examples: valid ones, and an invalid codice fiscale
// (wrong check letter).
const (
	cfA         = "LMRYSF88M12Z330W"
	cfB         = "RSSMRA85T10A562S"
	cfC         = "QSPRSO83H70Z611C"
	provisional = "48021753016"
	stp         = "STP0480000012345"
	badCF       = "BNCLCU58S42D612X"
)

// assertNoIdentifiers fails when data holds any of values, as given or
// normalised.
func assertNoIdentifiers(t testing.TB, what string, data []byte, values []string) {
	t.Helper()
	upper := bytes.ToUpper(data)
	for _, v := range values {
		for _, form := range []string{v, identity.Normalise(v)} {
			if len(form) >= 8 && bytes.Contains(upper, bytes.ToUpper([]byte(form))) {
				t.Errorf("%s holds the identifier %s…", what, form[:3])
			}
		}
	}
}

// errorsText is every quarantine error of the store, as text.
func errorsText(list []store.QuarantineEntry) []byte {
	var b bytes.Buffer
	for _, e := range list {
		for _, q := range e.Errors {
			fmt.Fprintf(&b, "%d %s %s: %s\n", e.ID, e.RecordID, q.Pointer, q.Message)
		}
	}
	return b.Bytes()
}
