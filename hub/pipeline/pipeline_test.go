package pipeline_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	_ "modernc.org/sqlite"

	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// allIdentifiers are every identifier the tests below feed in.
var allIdentifiers = []string{cfA, cfB, cfC, provisional, stp, badCF, "rss mra 85t10 a562s"}

// TestRecordRules: each check of the pipeline, one record at a time. A bad
// record goes to quarantine with every pointer and a message that quotes no
// value of the record; a good one is stored with person ids instead of
// identifiers.
func TestRecordRules(t *testing.T) {
	t.Parallel()
	type problem struct{ pointer, contains string }
	tests := map[string]struct {
		raw  []byte
		want []problem // nil: stored
		// quarantinedID is the record id the quarantine item shows.
		quarantinedID string
	}{
		"a valid person":        {raw: person("P-1", map[string]string{"cf": cfA})},
		"identifiers as typed":  {raw: person("P-1", map[string]string{"cf": "rss mra 85t10 a562s"})},
		"an STP code":           {raw: person("P-1", map[string]string{"stp": stp})},
		"a provisional code":    {raw: person("P-1", map[string]string{"cf-provisional": "480 2175 3016"})},
		"no identifiers at all": {raw: person("P-1", nil, func(r record) { r["person"] = map[string]any{"person_id": "01JFBF5KZNWJ47TAN9ZT24MNPZ"} })},
		"identifiers in extensions are pseudonymised too": {raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
			r["extensions"] = map[string]any{"partner": map[string]any{"identifiers": map[string]string{"cf": cfC}}}
		})},
		"source is another connector's": {
			raw:           person("P-1", map[string]string{"cf": cfA}, func(r record) { r["source"] = "cpi" }),
			want:          []problem{{"/source", `is not the name of the connector instance that sent the record ("anagrafe")`}},
			quarantinedID: "P-1",
		},
		"territory is another hub's": {
			raw:           person("P-1", map[string]string{"cf": cfA}, func(r record) { r["territory"] = "ATS-ALTRO" }),
			want:          []problem{{"/territory", `is not this hub's territory ("SDS-TEST")`}},
			quarantinedID: "P-1",
		},
		"schema violations, each with its pointer": {
			raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
				r["sex"] = "X"
				r["birth_year"] = 1850
				r["nome"] = "Youssef"
			}),
			want:          []problem{{"/birth_year", "1900"}, {"/nome", ""}, {"/sex", "not one of the allowed codes"}},
			quarantinedID: "P-1",
		},
		"an invalid codice fiscale": {
			raw:           person("P-1", map[string]string{"cf": badCF}),
			want:          []problem{{"/person/identifiers/cf", ""}},
			quarantinedID: "P-1",
		},
		"an invalid codice fiscale under extensions": {
			raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
				r["extensions"] = map[string]any{"partner": map[string]any{"identifiers": map[string]string{"cf": badCF}}}
			}),
			want:          []problem{{"/extensions/partner/identifiers/cf", "check"}},
			quarantinedID: "P-1",
		},
		"a codice fiscale in clear under extensions": {
			raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
				r["extensions"] = map[string]any{
					"partner_cf": strings.ToLower(cfC),
					"notes":      []any{"ok", "referred with " + cfB + " by phone"},
					cfC:          "key",
					"cf " + cfA:  1,
					"stp":        "STP0480171234567",
					"plain":      "SRV-001-0002,SRV-003-0004,SRV-005",
				}
			}),
			want: []problem{
				{"/extensions/****************", "in clear"},
				{"/extensions/" + strings.Repeat("*", len("cf "+cfA)), "in clear"},
				{"/extensions/notes/1", "in clear"},
				{"/extensions/partner_cf", "in clear"},
				{"/extensions/stp", "in clear"},
			},
			quarantinedID: "P-1",
		},
		"identifiers that are not an object": {
			raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
				r["extensions"] = map[string]any{"identifiers": cfC}
			}),
			want:          []problem{{"/extensions/identifiers", "must be an object of identifiers"}},
			quarantinedID: "P-1",
		},
		"a record id shaped like a codice fiscale": {
			raw:  person(cfB, map[string]string{"cf": cfA}),
			want: []problem{{"/record_id", "looks like a personal identifier"}},
		},
		"a key shaped like an identifier is masked in pointers": {
			raw: person("P-1", map[string]string{"cf": cfA}, func(r record) {
				r[cfC] = true
			}),
			want:          []problem{{"/****************", ""}},
			quarantinedID: "P-1",
		},
		"not JSON": {
			raw:  []byte(`{"schema": "` + personSchema + `", "record_id": "P-1", "person": {"identifiers": {"cf": "` + cfA + `"}`),
			want: []problem{{"", "not a JSON document"}},
		},
		"not an object": {
			raw:  []byte(`["` + cfA + `"]`),
			want: []problem{{"", "a record must be a JSON object"}},
		},
		"an unknown schema": {
			raw:           person("P-1", map[string]string{"cf": cfA}, func(r record) { r["schema"] = "https://example.org/person" }),
			want:          []problem{{"/schema", "unknown schema"}},
			quarantinedID: "P-1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.mustSink("c1", tc.raw)
			q := e.quarantine()
			counts, err := e.st.CountBySchema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if len(q) != 0 {
					t.Fatalf("quarantined: %s", errorsText(q))
				}
				if counts["person"] != 1 {
					t.Fatalf("stored %v, want one person", counts)
				}
				body, rec := e.stored("P-1")
				id := e.personID("P-1", "/person")
				if rec.PersonID != id {
					t.Errorf("records.person_id = %q, want the person's id %q", rec.PersonID, id)
				}
				if ext, ok := body["extensions"].(map[string]any); ok {
					e.personID("P-1", "/extensions/partner")
					_ = ext
				}
				assertNoIdentifiers(t, "the stored record", rec.Body, allIdentifiers)
			} else {
				if len(counts) != 0 {
					t.Errorf("stored %v, want nothing", counts)
				}
				if len(q) != 1 {
					t.Fatalf("%d quarantine items, want 1", len(q))
				}
				var got []problem
				for i, p := range q[0].Errors {
					got = append(got, problem{p.Pointer, ""})
					if i < len(tc.want) && !strings.Contains(p.Message, tc.want[i].contains) {
						t.Errorf("problem at %s: %q does not say %q", p.Pointer, p.Message, tc.want[i].contains)
					}
					if p.Message == "" {
						t.Errorf("problem at %s has no message", p.Pointer)
					}
				}
				var want []problem
				for _, p := range tc.want {
					want = append(want, problem{p.pointer, ""})
				}
				if diff := cmp.Diff(want, got, cmp.AllowUnexported(problem{})); diff != "" {
					t.Errorf("pointers (-want +got):\n%s", diff)
				}
				if q[0].Source != source || q[0].RecordID != tc.quarantinedID {
					t.Errorf("quarantine item from %q, record %q; want %q, %q", q[0].Source, q[0].RecordID, source, tc.quarantinedID)
				}
				assertNoIdentifiers(t, "the quarantine errors", errorsText(q), allIdentifiers)
				assertNoIdentifiers(t, "the sealed record", q[0].Raw, allIdentifiers)
			}
			cursor, _, _ := e.st.Cursor(context.Background(), source)
			if string(cursor) != "c1" {
				t.Errorf("cursor %q, want c1: the batch's cursor is committed either way", cursor)
			}
			assertNoIdentifiers(t, "the log", e.logs.Bytes(), allIdentifiers)
		})
	}
}

// TestPseudonymisation: the keyed index across records — one person keeps
// one id; a provisional code and a codice fiscale seen together become one
// person; identifiers of two people in one record go to quarantine.
func TestPseudonymisation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// Batch 1: the same person twice, in two records, typed differently.
	e.mustSink("1",
		person("P-1", ids("cf", cfB)),
		person("P-2", ids("cf", "rss-mra-85t10-a562s")),
		person("P-3", ids("cf", cfC)),
	)
	if a, b := e.personID("P-1", "/person"), e.personID("P-2", "/person"); a != b {
		t.Errorf("one codice fiscale, two person ids: %s and %s", a, b)
	}
	if a, c := e.personID("P-1", "/person"), e.personID("P-3", "/person"); a == c {
		t.Errorf("two people, one person id %s", a)
	}

	// A provisional code first; later the definitive code with it; then
	// the definitive code alone, from another record: one person.
	e.mustSink("2", person("P-10", ids("cf-provisional", provisional)))
	first := e.personID("P-10", "/person")
	e.mustSink("3", person("P-11", ids("cf-provisional", provisional, "cf", cfA)))
	e.mustSink("4", person("P-12", ids("cf", cfA)), person("P-13", ids("stp", stp, "cf", cfA)))
	for _, id := range []string{"P-11", "P-12", "P-13"} {
		if got := e.personID(id, "/person"); got != first {
			t.Errorf("%s: person %s, want %s (the provisional code's person)", id, got, first)
		}
	}

	// The definitive code known first, the provisional code new: it joins
	// the known person (it does not make a new one).
	e.mustSink("5", person("P-20", ids("cf", "DLLFMT95A47Z343Z")))
	e.mustSink("6", person("P-21", ids("cf-provisional", "12345678903", "cf", "DLLFMT95A47Z343Z")))
	e.mustSink("7", person("P-22", ids("cf-provisional", "12345678903")))
	if a, b := e.personID("P-20", "/person"), e.personID("P-22", "/person"); a != b {
		t.Errorf("the provisional code linked to a known codice fiscale got its own person: %s, %s", a, b)
	}

	// Identifiers that belong to two different people.
	e.mustSink("8", person("P-30", ids("cf", cfB, "cf-provisional", provisional)))
	q := e.quarantine()
	if len(q) != 1 || q[0].RecordID != "P-30" {
		t.Fatalf("quarantine %s: want P-30 only", errorsText(q))
	}
	want := []store.QuarantineError{{Pointer: "/person/identifiers", Message: "identifiers of two different people in one record: the index already holds them as two people; check the source's record"}}
	if diff := cmp.Diff(want, q[0].Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	// The failed record changed nothing: each code keeps its person.
	e.mustSink("9", person("P-31", ids("cf-provisional", provisional)), person("P-32", ids("cf", cfB)))
	if got := e.personID("P-31", "/person"); got != first {
		t.Errorf("the provisional code moved to person %s", got)
	}
	if got := e.personID("P-32", "/person"); got != e.personID("P-1", "/person") {
		t.Errorf("the codice fiscale moved to person %s", got)
	}

	// A record naming several people: each is pseudonymised; the timeline
	// person is the first named when the record has no /person.
	household := []byte(`{"schema": "https://snodo-hub.github.io/schemas/household/1.0.0", "record_id": "NUC-1",
	  "source": "anagrafe", "territory": "SDS-TEST", "recorded_at": "2025-03-02T09:15:00+01:00", "size": 2,
	  "members": [
	    {"person": {"identifiers": {"cf": "` + cfC + `"}}, "role": {"system": "https://snodo-hub.github.io/codes/household-role", "code": "reference-person"}},
	    {"person": {"identifiers": {"cf": "` + cfB + `"}}}
	  ]}`)
	e.mustSink("10", household)
	if q := e.quarantine(); len(q) != 1 {
		t.Fatalf("the household went to quarantine: %s", errorsText(q))
	}
	rec, _, _ := e.st.GetRecord(context.Background(), source, "NUC-1")
	if m0, m1 := e.personID("NUC-1", "/members/0/person"), e.personID("NUC-1", "/members/1/person"); m0 != e.personID("P-3", "/person") || m1 != e.personID("P-1", "/person") || rec.PersonID != m0 {
		t.Errorf("household members %s, %s (timeline %s): want the people of P-3 and P-1, timeline the first", m0, m1, rec.PersonID)
	}
	assertNoIdentifiers(t, "the log", e.logs.Bytes(), append(allIdentifiers, "DLLFMT95A47Z343Z", "12345678903"))
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(e.path + "-wal")
	assertNoIdentifiers(t, "the database file", append(raw, wal...), append(allIdentifiers, "DLLFMT95A47Z343Z", "12345678903"))
}

// TestFivePercentInvalid is issue 4's "done when" at the pipeline: a batch
// of 200 records with exactly 10 bad ones stores the 190 and quarantines
// exactly those 10, each with its pointers.
func TestFivePercentInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rng := rand.New(rand.NewPCG(4, 5))
	bad := map[int]string{} // record number → the pointer of its problem
	for _, i := range rng.Perm(200)[:10] {
		bad[i] = []string{"/sex", "/birth_year", "/person/identifiers/cf", "/residence_comune", "/territory"}[len(bad)%5]
	}
	var records [][]byte
	for i := range 200 {
		id := fmt.Sprintf("P-%03d", i)
		cf := validCF(i)
		switch bad[i] {
		case "":
			records = append(records, person(id, map[string]string{"cf": cf}))
		case "/sex":
			records = append(records, person(id, map[string]string{"cf": cf}, func(r record) { r["sex"] = "X" }))
		case "/birth_year":
			records = append(records, person(id, map[string]string{"cf": cf}, func(r record) { r["birth_year"] = "1988" }))
		case "/person/identifiers/cf":
			records = append(records, person(id, map[string]string{"cf": cf[:15] + "0"}))
		case "/residence_comune":
			records = append(records, person(id, map[string]string{"cf": cf}, func(r record) { r["residence_comune"] = "999999" }))
		case "/territory":
			records = append(records, person(id, map[string]string{"cf": cf}, func(r record) { r["territory"] = "ATS-ALTRO" }))
		}
	}
	e.mustSink("200", records...)

	counts, err := e.st.CountBySchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts["person"] != 190 {
		t.Errorf("stored %d records, want 190", counts["person"])
	}
	got := map[string][]string{}
	for _, q := range e.quarantine() {
		for _, p := range q.Errors {
			got[q.RecordID] = append(got[q.RecordID], p.Pointer)
		}
	}
	want := map[string][]string{}
	for i, ptr := range bad {
		want[fmt.Sprintf("P-%03d", i)] = []string{ptr}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("quarantined records and their pointers (-want +got):\n%s", diff)
	}
	for i := range 200 {
		_, ok, _ := e.st.GetRecord(context.Background(), source, fmt.Sprintf("P-%03d", i))
		if ok == (bad[i] != "") {
			t.Errorf("record %d: stored %v, bad %q", i, ok, bad[i])
		}
	}
	st := e.p.Stats().Sources[source]
	if st.Records != 200 || st.Inserted != 190 || st.Quarantined != 10 || st.Degraded != "" {
		t.Errorf("stats %+v: want 200 records, 190 inserted, 10 quarantined, not degraded (5%% is under the threshold)", st)
	}
}

// TestQuarantineIsSealed: the raw record is kept encrypted — nothing of it
// is readable in the database — and opens again for replay.
func TestQuarantineIsSealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bad := person("P-1", map[string]string{"cf": badCF, "stp": stp}, func(r record) {
		r["extensions"] = map[string]any{"nota": "very recognisable plain text"}
	})
	e.mustSink("1", bad)
	q := e.quarantine()
	if len(q) != 1 {
		t.Fatalf("%d quarantine items, want 1", len(q))
	}
	if len(q[0].Raw) != len(bad)+1+12+16 {
		t.Errorf("sealed record of %d bytes for a record of %d: want version, nonce and tag around it", len(q[0].Raw), len(bad))
	}
	if err := e.st.Close(); err != nil { // checkpoint the WAL into the file
		t.Fatal(err)
	}
	raw, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	assertNoIdentifiers(t, "the database file", raw, []string{badCF, stp, "very recognisable plain text"})

	// The same key opens it: the replay finds the same problem.
	e.st, err = store.Open(context.Background(), e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	p := e.pipeline(territory)
	res, err := p.Replay(context.Background(), q[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Outcome != pipeline.ReplayFailed || len(res[0].Errors) != 1 || res[0].Errors[0].Pointer != "/person/identifiers/cf" {
		t.Errorf("replay: %+v; want the same problem at /person/identifiers/cf", res)
	}
}

// TestReplay: quarantined records run through the checks again.
func TestReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	// A pipeline whose territory was set wrong in snodo.yaml quarantines
	// everything; the admin fixes it, restarts, replays.
	wrong := e.pipeline("SDS-SBAGLIATO")
	records := [][]byte{
		person("P-1", map[string]string{"cf": cfA}),
		person("P-2", map[string]string{"cf": cfB}, func(r record) { r["sex"] = "X" }),
		person("P-3", map[string]string{"cf": cfC}),
		person("P-4", map[string]string{"cf": cfA}, func(r record) { r["birth_year"] = 1999 }),
		person("P-5", map[string]string{"cf-provisional": provisional}),
	}
	if err := wrong.Sink(ctx, source, sdkBatch("1", records...)); err != nil {
		t.Fatal(err)
	}
	q := e.quarantine()
	if len(q) != 5 {
		t.Fatalf("%d quarantined, want 5", len(q))
	}
	ids := make([]int64, len(q))
	for i, it := range q {
		ids[i] = it.ID
	}
	// P-3 comes again, valid, before the replay: the newer delivery wins.
	e.mustSink("2", person("P-3", map[string]string{"cf": cfC}, func(r record) { r["birth_year"] = 1983 }))
	// P-5 is dropped by an operator.
	if err := e.st.Write(ctx, func(tx *store.Tx) error { return tx.MarkDropped(ctx, ids[4]) }); err != nil {
		t.Fatal(err)
	}

	res, err := e.p.Replay(ctx, append(ids, 999999)...)
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		RecordID string
		Outcome  pipeline.ReplayOutcome
		Stored   store.Outcome
		Pointers []string
		Reason   string
	}
	var got []short
	for _, r := range res {
		s := short{RecordID: r.RecordID, Outcome: r.Outcome, Stored: r.Stored, Reason: r.Reason}
		for _, p := range r.Errors {
			s.Pointers = append(s.Pointers, p.Pointer)
		}
		got = append(got, s)
	}
	want := []short{
		{RecordID: "P-1", Outcome: pipeline.ReplayStored, Stored: store.Inserted},
		{RecordID: "P-2", Outcome: pipeline.ReplayFailed, Pointers: []string{"/sex"}},
		{RecordID: "P-3", Outcome: pipeline.ReplaySuperseded},
		{RecordID: "P-4", Outcome: pipeline.ReplayStored, Stored: store.Inserted},
		{RecordID: "P-5", Outcome: pipeline.ReplaySkipped, Reason: "it was dropped"},
		{Outcome: pipeline.ReplaySkipped, Reason: "no such quarantine item"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	// P-1 and P-4 are one person; P-3 keeps its newer content.
	if a, b := e.personID("P-1", "/person"), e.personID("P-4", "/person"); a != b {
		t.Errorf("P-1 and P-4 share a codice fiscale but have persons %s and %s", a, b)
	}
	if body, _ := e.stored("P-3"); fmt.Sprint(body["birth_year"]) != "1983" {
		t.Errorf("P-3 birth_year %v: the replay wrote the older copy over the newer delivery", body["birth_year"])
	}
	// P-2 stays with the errors it fails with now (the territory is right).
	left := e.quarantine()
	pending := 0
	for _, it := range left {
		if it.ReplayedAt.IsZero() {
			pending++
			if it.RecordID != "P-2" || len(it.Errors) != 1 || it.Errors[0].Pointer != "/sex" {
				t.Errorf("left in quarantine: %s %+v; want P-2 with /sex only", it.RecordID, it.Errors)
			}
		}
	}
	if n, _ := e.st.QuarantineCount(ctx); n != 1 || pending != 1 {
		t.Errorf("quarantine count %d (%d pending), want 1", n, pending)
	}
	// Replaying again skips what was replayed.
	res, err = e.p.Replay(ctx, ids[0])
	if err != nil || res[0].Outcome != pipeline.ReplaySkipped || res[0].Reason != "it was replayed already" {
		t.Errorf("second replay: %+v, %v", res, err)
	}
	if st := e.p.Stats(); st.Replayed != 2 {
		t.Errorf("Stats().Replayed = %d, want 2", st.Replayed)
	}
	assertNoIdentifiers(t, "the log", e.logs.Bytes(), allIdentifiers)
}

// TestFloodDegradesTheConnector: more than the threshold of a source's
// recent records in quarantine degrades the connector, with the reason;
// good batches end it.
func TestFloodDegradesTheConnector(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnv(t, func(c *pipeline.Config) {
		c.Flood = pipeline.Flood{Window: 100, MinRecords: 20, Threshold: 0.2, MaxAge: time.Hour}
		c.Clock = clock
	})
	n := 0
	batch := func(good, bad int) [][]byte {
		var out [][]byte
		for range good {
			n++
			out = append(out, person(fmt.Sprintf("P-%d", n), map[string]string{"cf": validCF(n)}))
		}
		for range bad {
			n++
			out = append(out, person(fmt.Sprintf("P-%d", n), map[string]string{"cf": validCF(n)}, func(r record) { r["sex"] = "X" }))
		}
		return out
	}
	degraded := func(err error) string {
		var d *supervisor.DegradedError
		if errors.As(err, &d) {
			return d.Reason
		}
		if err != nil {
			t.Fatalf("Sink: %v", err)
		}
		return ""
	}
	steps := []struct {
		good, bad int
		advance   time.Duration
		want      string
	}{
		{good: 10, bad: 5},                // 5 of 15: too few records to judge
		{good: 35, bad: 0},                // 5 of 50
		{good: 20, bad: 30},               // 35 of 100
		{good: 50},                        // 30 of 100
		{good: 50},                        // 0 of 100
		{bad: 10, good: 5},                // 10 of 100
		{bad: 25},                         // 35 of 100
		{advance: 2 * time.Hour, good: 1}, // the old records have aged out: 0 of 1
	}
	wants := []string{"", "", "35 of the last 100 records went to quarantine (more than 20%): check the connector's mapping and the source's data (snodo quarantine list)",
		"30 of the last 100 records went to quarantine (more than 20%): check the connector's mapping and the source's data (snodo quarantine list)",
		"", "", "35 of the last 100 records went to quarantine (more than 20%): check the connector's mapping and the source's data (snodo quarantine list)", ""}
	for i, s := range steps {
		now = now.Add(s.advance + time.Second)
		err := e.sink(fmt.Sprint(i), batch(s.good, s.bad)...)
		if got := degraded(err); got != wants[i] {
			t.Errorf("step %d: degraded %q, want %q", i, got, wants[i])
		}
		if got := e.p.Stats().Sources[source].Degraded; got != wants[i] {
			t.Errorf("step %d: Stats degraded %q, want %q", i, got, wants[i])
		}
	}
	// Every batch was committed, degraded or not.
	if c, _, _ := e.st.Cursor(context.Background(), source); string(c) != fmt.Sprint(len(steps)-1) {
		t.Errorf("cursor %q: every batch must be committed", c)
	}
}

func sdkBatch(cursor string, records ...[]byte) sdk.Batch {
	return sdk.Batch{Records: records, Cursor: []byte(cursor)}
}

// rawDB opens the database file with a connection of its own, as another
// process would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestPoisonedBatch: a batch that keeps failing in the store is retried,
// then put in quarantine whole with the reason, and its cursor committed;
// when even that fails, nothing is committed and Sink says why.
func TestPoisonedBatch(t *testing.T) {
	t.Parallel()
	fast := func(c *pipeline.Config) {
		c.Retry = pipeline.Retry{MaxRetries: 2, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	}
	records := [][]byte{
		person("P-1", map[string]string{"cf": cfA}),
		person("BOOM", map[string]string{"cf": cfB}),
		person("P-3", map[string]string{"cf": cfC}, func(r record) { r["sex"] = "X" }),
	}
	t.Run("quarantined whole", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, fast)
		// A store that refuses one record, as a corrupt page or a full disk
		// would refuse a whole batch.
		if _, err := rawDB(t, e.path).Exec(`CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.record_id = 'BOOM'
BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END`); err != nil {
			t.Fatal(err)
		}
		e.mustSink("c9", records...)
		if counts, _ := e.st.CountBySchema(context.Background()); len(counts) != 0 {
			t.Errorf("stored %v, want nothing: the batch is one transaction", counts)
		}
		q := e.quarantine()
		var got []string
		for _, it := range q {
			got = append(got, it.RecordID+" "+it.Schema)
			if len(it.Errors) != 1 || !strings.Contains(it.Errors[0].Message, "the whole batch failed to store 3 times") ||
				!strings.Contains(it.Errors[0].Message, "the disk is on fire") {
				t.Errorf("%s: errors %+v; want the batch's reason", it.RecordID, it.Errors)
			}
		}
		if diff := cmp.Diff([]string{"P-1 person", "BOOM person", "P-3 person"}, got); diff != "" {
			t.Errorf("quarantined (-want +got):\n%s", diff)
		}
		if c, _, _ := e.st.Cursor(context.Background(), source); string(c) != "c9" {
			t.Errorf("cursor %q, want c9: the connector must not be stuck", c)
		}
		if st := e.p.Stats(); st.PoisonedBatches != 1 || st.Sources[source].Quarantined != 3 {
			t.Errorf("stats %+v", st)
		}
		if !strings.Contains(string(e.logs.Bytes()), "storing a batch failed; retrying") {
			t.Errorf("no retry was logged")
		}
		// Once the store is mended, replay stores them, P-3 excepted.
		if _, err := rawDB(t, e.path).Exec(`DROP TRIGGER boom`); err != nil {
			t.Fatal(err)
		}
		res, err := e.p.Replay(context.Background(), q[0].ID, q[1].ID, q[2].ID)
		if err != nil {
			t.Fatal(err)
		}
		var outcomes []pipeline.ReplayOutcome
		for _, r := range res {
			outcomes = append(outcomes, r.Outcome)
		}
		if diff := cmp.Diff([]pipeline.ReplayOutcome{pipeline.ReplayStored, pipeline.ReplayStored, pipeline.ReplayFailed}, outcomes); diff != "" {
			t.Errorf("replay (-want +got):\n%s", diff)
		}
	})
	t.Run("quarantine fails too", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, fast)
		db := rawDB(t, e.path)
		for _, q := range []string{
			`CREATE TRIGGER boom BEFORE INSERT ON records WHEN NEW.record_id = 'BOOM' BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END`,
			`CREATE TRIGGER boom2 BEFORE INSERT ON quarantine BEGIN SELECT RAISE(ABORT, 'still on fire'); END`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		err := e.sink("c9", records...)
		if err == nil || !strings.Contains(err.Error(), "the disk is on fire") || !strings.Contains(err.Error(), "still on fire") {
			t.Errorf("Sink: %v; want both failures", err)
		}
		if _, ok, _ := e.st.Cursor(context.Background(), source); ok {
			t.Errorf("the cursor was committed: the batch would be lost")
		}
	})
}

// TestRetryWhileAnotherProcessWrites: a batch that meets SQLITE_BUSY (a
// backup, the sqlite3 shell holding the write lock) is retried with backoff
// and stored once the lock is gone.
func TestRetryWhileAnotherProcessWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, func(c *pipeline.Config) {
		c.Retry = pipeline.Retry{MaxRetries: 8, Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	})
	// Reopen the store with a short busy timeout, as the pipeline's store.
	e.st.Close()
	var err error
	if e.st, err = store.Open(ctx, e.path, store.WithBusyTimeout(10*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	e.p = e.pipeline(territory, func(c *pipeline.Config) {
		c.Retry = pipeline.Retry{MaxRetries: 8, Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	})

	other := rawDB(t, e.path)
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		conn.ExecContext(ctx, "ROLLBACK")
		conn.Close()
		close(released)
	}()
	e.mustSink("1", person("P-1", map[string]string{"cf": cfA}))
	<-released
	if _, ok, _ := e.st.GetRecord(ctx, source, "P-1"); !ok {
		t.Errorf("the record was not stored")
	}
	if q := e.quarantine(); len(q) != 0 {
		t.Errorf("quarantined %s", errorsText(q))
	}
	if !strings.Contains(string(e.logs.Bytes()), "storing a batch failed; retrying") {
		t.Errorf("no retry was logged")
	}
}

// TestSinkAfterClose: a closed pipeline refuses batches, so the supervisor
// reads them again later.
func TestSinkAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.sink("1", person("P-1", map[string]string{"cf": cfA})); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Sink after Close: %v", err)
	}
	if _, ok, _ := e.st.Cursor(context.Background(), source); ok {
		t.Errorf("a cursor was committed")
	}
}

// TestConcurrentSources: several connectors' batches at once, each
// committed with its own cursor.
func TestConcurrentSources(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sources := []string{"anagrafe", "cpi", "sds"}
	errs := make(chan error, len(sources)*10)
	for si, src := range sources {
		go func() {
			for b := range 10 {
				var recs [][]byte
				for i := range 20 {
					n := si*1000 + b*20 + i
					recs = append(recs, person(fmt.Sprintf("P-%d", n), map[string]string{"cf": validCF(n)}, func(r record) { r["source"] = src }))
				}
				errs <- e.p.Sink(context.Background(), src, sdkBatch(fmt.Sprint(b), recs...))
			}
		}()
	}
	for range len(sources) * 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	counts, _ := e.st.CountBySchema(context.Background())
	if counts["person"] != 600 {
		t.Errorf("stored %d, want 600", counts["person"])
	}
	st := e.p.Stats()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range st.Sources {
			if !yield(k) {
				return
			}
		}
	})
	if diff := cmp.Diff(sources, names); diff != "" {
		t.Errorf("sources in Stats (-want +got):\n%s", diff)
	}
	for _, src := range sources {
		if c, _, _ := e.st.Cursor(context.Background(), src); string(c) != "9" {
			t.Errorf("%s: cursor %q, want 9", src, c)
		}
		if s := st.Sources[src]; s.Inserted != 200 || s.Batches != 10 {
			t.Errorf("%s: %+v", src, s)
		}
	}
	if st.Latency.Count != 30 || st.Latency.Buckets[len(st.Latency.Buckets)-1] != 30 {
		t.Errorf("latency histogram %+v: want 30 batches", st.Latency)
	}
}
