package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/population"
)

// TestReadValidates reads the whole simulated system: every record
// follows its schema, none carries a name or a full birth date, and every
// kind of record is there.
func TestReadValidates(t *testing.T) {
	sim, ts := newSim(t, 3, 120)
	c, logs := newConnector()
	res := readFrom(t, c, settingsFor(t, ts.URL, nil), nil, 0)
	kinds := map[string]int{}
	mistyped := 0
	for _, raw := range res.records {
		if validate(t, raw) {
			mistyped++
		}
		h := headOf(t, raw)
		if h.Source != testSource {
			t.Errorf("record %s has source %q", h.RecordID, h.Source)
		}
		kinds[h.Schema]++
		for _, key := range []string{`"cognome"`, `"nome"`, `"data_nascita"`, `"luogo_nascita"`, `"operatore"`} {
			if bytes.Contains(raw, []byte(key)) {
				t.Errorf("record %s carries %s", h.RecordID, key)
			}
		}
	}
	for _, s := range c.Manifest().Produces {
		if kinds[s] == 0 {
			t.Errorf("no %s record read", s)
		}
	}
	t.Logf("%d records: %v; %d with a mistyped code (the hub quarantines them)", len(res.records), kinds, mistyped)
	// No name and no code in the logs.
	pop := sim.Population()
	out := logs.String()
	for i := range 300 {
		p := pop.Person(i)
		if p == nil {
			break
		}
		_, code := p.IDIn(population.Comune)
		for _, v := range []string{p.FamilyName, code} {
			if v != "" && len(v) > 3 && strings.Contains(out, v) {
				t.Errorf("the logs carry a person's name or code")
			}
		}
	}
}

// TestReadResume reads from every cursor of a read in small batches: the
// rest comes again, in the same order, neither repeated nor skipped.
func TestReadResume(t *testing.T) {
	_, ts := newSim(t, 5, 40)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, map[string]any{"feeds": []string{"persone", "consensi", "segnalazioni", "stati-segnalazioni"}})
	all := readFrom(t, c, set, nil, 7)
	want := ids(t, all.records)
	if len(want) < 20 {
		t.Fatalf("only %d records", len(want))
	}
	seen := map[string]bool{}
	for _, id := range want {
		if seen[id] {
			t.Fatalf("%s read twice in one read", id)
		}
		seen[id] = true
	}
	n := 0
	for i, b := range all.batches {
		if len(b.Records) > 7 {
			t.Errorf("batch %d has %d records, max 7", i, len(b.Records))
		}
		n += len(b.Records)
		rest := readFrom(t, c, set, b.Cursor, 7)
		if got := ids(t, rest.records); !slices.Equal(got, want[n:]) {
			t.Fatalf("from the cursor of batch %d: got %d records %v, want %d %v", i, len(got), head5(got), len(want[n:]), head5(want[n:]))
		}
	}
}

func head5(s []string) []string { return s[:min(5, len(s))] }

// TestReadIncremental changes the system after a full read: reading from
// the last cursor gives exactly the changed items, once.
func TestReadIncremental(t *testing.T) {
	sim, ts := newSim(t, 11, 60)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, nil)
	first := readFrom(t, c, set, nil, 50)
	if again := readFrom(t, c, set, first.last, 50); len(again.records) != 0 {
		t.Fatalf("reading again at once gave %d records: %v", len(again.records), ids(t, again.records))
	}

	changed := sim.Update(15)
	idx := personInComune(t, sim.Population(), 0)
	sg, err := sim.CreateReferral(idx, comune.OrgCPI, "employment-status", "routine")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SetStatus(sg.ID, "annullata", "bisogno_risolto"); err != nil {
		t.Fatal(err)
	}
	next := readFrom(t, c, set, first.last, 50)
	got := ids(t, next.records)
	wantSet := map[string]bool{"referral:" + sg.ID: true, "referral-status-event:" + sg.ID + "-2": true}
	for _, id := range changed {
		switch {
		case strings.HasPrefix(id, "ANAG-"):
			wantSet["person:"+id] = true
		case strings.HasPrefix(id, "CONS-"):
			wantSet["consent:"+id] = true
		default:
			wantSet["household:"+id] = true
		}
	}
	gotSet := map[string]bool{}
	for _, id := range got {
		if gotSet[id] {
			t.Errorf("%s read twice", id)
		}
		gotSet[id] = true
	}
	for id := range wantSet {
		if !gotSet[id] {
			t.Errorf("%s not read after it changed (got %v)", id, got)
		}
	}
	for id := range gotSet {
		if !wantSet[id] {
			t.Errorf("%s read again though it did not change", id)
		}
	}
	// The referral, as read, is cancelled; its first status is not an event.
	for _, raw := range next.records {
		var r struct {
			RecordID string `json:"record_id"`
			Status   struct {
				Code string `json:"code"`
			} `json:"status"`
		}
		_ = json.Unmarshal(raw, &r)
		if r.RecordID == sg.ID && r.Status.Code != "cancelled" {
			t.Errorf("referral status %q, want cancelled", r.Status.Code)
		}
	}
	if again := readFrom(t, c, set, next.last, 50); len(again.records) != 0 {
		t.Errorf("reading again gave %d records: %v", len(again.records), ids(t, again.records))
	}
}

// personInComune returns the population index of the n-th person the
// comune knows.
func personInComune(t testing.TB, pop *population.Population, n int) int {
	t.Helper()
	for i := 0; ; i++ {
		p := pop.Person(i)
		if p == nil {
			t.Fatal("no person in the comune")
		}
		if p.In(population.Comune) && p.Age() >= 18 {
			if n == 0 {
				return i
			}
			n--
		}
	}
}
