package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// capture is an Observer that keeps the body of every record stored.
type capture struct {
	mu     sync.Mutex
	stored []pipeline.Stored
}

func (c *capture) Observes(string) bool { return true }

func (c *capture) Stored(_ context.Context, _ *store.Tx, r pipeline.Stored) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stored = append(c.stored, r)
	return nil
}

func (c *capture) take() []pipeline.Stored {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.stored
	c.stored = nil
	return out
}

// FuzzRecord runs a connector's record through the pipeline — decoding,
// the envelope checks, the schema, the identifiers and their
// pseudonymisation — as Sink does. The record is the fuzzed bytes with
// every @ID@ replaced by the fuzzed identifier (JSON-escaped), so that the
// fuzzer varies identifiers inside otherwise valid records as well as the
// records themselves.
//
// Properties: Sink never fails on a record's content; each record is
// either stored or put in quarantine, with every problem at a JSON pointer
// and with a message; no valid identifier of the input — in any string or
// key — appears in a problem's pointer or message, in the quarantine's
// record id or in the log; and none given in an identifiers object or as
// the record id appears in a stored body (see pseudonymised for the one
// exception).
func FuzzRecord(f *testing.F) {
	tmpl := func(edit ...func(record)) []byte {
		return person("P-1", map[string]string{"cf": "@ID@"}, edit...)
	}
	seeds := []struct {
		raw []byte
		id  string
	}{
		{tmpl(), cfA},
		{tmpl(), "rss mra 85t10 a562s"},
		{tmpl(), badCF},
		{tmpl(), ""},
		{person("P-1", map[string]string{"stp": "@ID@"}), stp},
		{person("P-1", map[string]string{"cf-provisional": "@ID@"}), provisional},
		{person("P-1", map[string]string{"cf": cfB, "stp": "@ID@"}), stp},
		{tmpl(func(r record) { r["record_id"] = "@ID@" }), cfB},
		{tmpl(func(r record) { r["nome"] = "@ID@" }), cfC},
		{tmpl(func(r record) { r["sex"] = "@ID@" }), cfC},
		{tmpl(func(r record) { r["birth_year"] = "@ID@" }), cfC},
		{tmpl(func(r record) {
			r["extensions"] = map[string]any{"@ID@": map[string]any{"identifiers": map[string]string{"cf": cfC}}}
		}), cfB},
		{tmpl(func(r record) {
			r["extensions"] = map[string]any{"partner": map[string]any{"identifiers": map[string]string{"@ID@": cfC}}}
		}), cfB},
		{tmpl(func(r record) {
			r["extensions"] = []any{map[string]any{"identifiers": "@ID@"}, map[string]any{"person_id": "@ID@"}}
		}), cfB},
		{tmpl(func(r record) { r["person"] = map[string]any{"person_id": "@ID@"} }), "01JFBF5KZNWJ47TAN9ZT24MNPZ"},
		{tmpl(func(r record) { r["@ID@"] = 1 }), cfB},
		{tmpl(func(r record) { r["@ID@"] = 1 }), "rss mra 85t10 a562s"},
		{tmpl(func(r record) { r["extensions"] = map[string]any{"@ID@": 1} }), "rss mra 85t10 a562s"},
		{tmpl(func(r record) { r["extensions"] = map[string]any{"note": "@ID@"} }), "cf " + cfA + " (madre)"},
		{tmpl(func(r record) { r["source"] = "@ID@" }), cfA},
		{tmpl(func(r record) { r["territory"] = "@ID@" }), cfA},
		{tmpl(func(r record) { r["recorded_at"] = "@ID@" }), "2025-02-30T25:00:00Z"},
		{tmpl(func(r record) { r["schema"] = "@ID@" }), "https://snodo-hub.github.io/schemas/household/1.0.0"},
		{[]byte(`{"schema":"@ID@"}`), personSchema},
		{[]byte(`{"record_id":"@ID@","person":{"identifiers":{"cf":"@ID@","cf":"` + cfA + `"}}}`), cfB},
		{[]byte(`[{"identifiers":{"cf":"@ID@"}}]`), cfA},
		{[]byte(`{"a":"@ID@"`), cfA},
		{[]byte("\xff\xfe@ID@"), cfA},
		{[]byte(`"@ID@"`), cfA},
		{[]byte(`null`), ""},
	}
	for _, s := range seeds {
		f.Add(s.raw, s.id)
	}

	// One store and pipeline per fuzzing process: opening SQLite per input
	// would leave little time for the inputs.
	key, err := identity.NewKey()
	if err != nil {
		f.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(f.TempDir(), "snodo.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	obs, logs := &capture{}, &lockedBuffer{}
	p, err := pipeline.New(context.Background(), pipeline.Config{
		Store: st, Registry: reg, Key: key, Territory: territory, Observer: obs,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Fuzzing quarantines most inputs: flooding is not what is tested.
		Flood: pipeline.Flood{Threshold: -1},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close() })
	var lastQuarantined int64

	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		esc, _ := json.Marshal(id)
		rec := bytes.ReplaceAll(raw, []byte("@ID@"), esc[1:len(esc)-1])
		secrets, kept := identifiersIn(rec), pseudonymised(rec)
		logs.mu.Lock()
		logs.buf.Reset()
		logs.mu.Unlock()

		err := p.Sink(context.Background(), source, sdk.Batch{Records: [][]byte{rec}, Cursor: []byte("c")})
		if err != nil {
			t.Fatalf("Sink: %v", err)
		}
		q, err := st.ListQuarantine(context.Background(), store.QuarantineFilter{AfterID: lastQuarantined, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		stored := obs.take()
		assertNoIdentifiers(t, "the log", logs.Bytes(), secrets)
		if len(q) > 0 {
			lastQuarantined = q[len(q)-1].ID
		}
		switch {
		case len(q) > 1 || len(stored) > 1:
			t.Fatalf("one record gave %d quarantine items and %d stored records", len(q), len(stored))
		case len(q) == 1 && len(stored) == 1:
			t.Fatalf("the record was both stored and quarantined")
		case len(q) == 1:
			e := q[0]
			if len(e.Errors) == 0 {
				t.Fatalf("quarantined without a problem")
			}
			for _, pr := range e.Errors {
				if pr.Pointer != "" && !strings.HasPrefix(pr.Pointer, "/") {
					t.Errorf("problem pointer %q is not a JSON pointer", pr.Pointer)
				}
				if pr.Message == "" {
					t.Errorf("problem at %q has no message", pr.Pointer)
				}
			}
			assertNoIdentifiers(t, "the quarantine's problems", errorsText(q), secrets)
			assertNoIdentifiers(t, "the quarantine's record id", []byte(e.RecordID), secrets)
		case len(stored) == 1:
			body := stored[0].Body
			if !json.Valid(body) {
				t.Fatalf("stored body is not JSON")
			}
			assertNoIdentifiers(t, "the stored body", body, kept)
			assertNoIdentifiers(t, "the stored record id", []byte(stored[0].RecordID), kept)
		default:
			// Neither: the record is stored unchanged, as before. Its body
			// was checked then; it must be there.
			var doc struct {
				RecordID string `json:"record_id"`
			}
			if json.Unmarshal(rec, &doc) != nil || doc.RecordID == "" {
				t.Fatalf("the record was neither stored nor quarantined")
			}
			got, ok, err := st.GetRecord(context.Background(), source, doc.RecordID)
			if err != nil || !ok {
				t.Fatalf("the record was neither stored nor quarantined (%v)", err)
			}
			assertNoIdentifiers(t, "the stored body", got.Body, kept)
		}
	})
}

// identifiersIn lists every string and object key of a JSON document —
// wherever it is, duplicate keys included — that is a valid personal
// identifier once normalised, as written. Tokens are read up to the first
// syntax error: what came before it may not be quoted either.
func identifiersIn(raw []byte) []string {
	var out []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			if _, err := identity.Parse(s); err == nil {
				out = append(out, s)
			}
		}
	}
}

// pseudonymised lists the values of every identifiers object of a record
// (as the pipeline decodes it) and its record id, when they are valid
// identifiers: what must never be stored. Strings elsewhere (free values
// and keys under extensions) are stored as they come: the contract forbids
// identifiers there, the pipeline cannot tell them from other text. So an
// identifier that a free string also holds is left out.
func pseudonymised(raw []byte) []string {
	v, err := schemas.Decode(raw)
	if err != nil {
		return nil
	}
	var ids, free []string
	add := func(x any) {
		if s, ok := x.(string); ok {
			if _, err := identity.Parse(s); err == nil {
				ids = append(ids, s)
			}
		}
	}
	if m, ok := v.(map[string]any); ok {
		add(m["record_id"])
	}
	var walk func(v any, top bool)
	walk = func(v any, top bool) {
		switch n := v.(type) {
		case string:
			free = append(free, strings.ToUpper(n))
		case map[string]any:
			for k, x := range n {
				if m, ok := x.(map[string]any); ok && k == "identifiers" {
					for _, id := range m {
						add(id)
					}
					continue
				}
				free = append(free, strings.ToUpper(k))
				if top && k == "record_id" {
					continue
				}
				walk(x, false)
			}
		case []any:
			for _, x := range n {
				walk(x, false)
			}
		}
	}
	walk(v, true)
	var out []string
	for _, id := range ids {
		norm, upper := identity.Normalise(id), strings.ToUpper(id)
		elsewhere := false
		for _, f := range free {
			if strings.Contains(f, norm) || strings.Contains(f, upper) {
				elsewhere = true
				break
			}
		}
		if !elsewhere {
			out = append(out, id)
		}
	}
	return out
}
