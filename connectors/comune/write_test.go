package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// incomingReferralDoc is a referral as the hub delivers it: the origin's
// source and record_id, the identifiers restored.
func incomingReferralDoc(t *testing.T, cf, id string) []byte {
	t.Helper()
	doc := map[string]any{
		"schema": SchemaReferral, "record_id": id, "source": "cpi", "territory": testTerritory,
		"recorded_at": "2025-06-30T09:00:00Z",
		"requester":   map[string]any{"record_id": comune.OrgCPI},
		"owner":       map[string]any{"record_id": comune.OrgID},
		"person":      map[string]any{"identifiers": map[string]any{"cf": cf}},
		"authored_on": "2025-06-30T08:30:00Z", "priority": "urgent",
		"category": map[string]any{"system": codeSystem("referral-category"), "code": "housing-instability"},
		"status":   map[string]any{"code": "requested", "changed_at": "2025-06-30T08:30:00Z"},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func eventDoc(t *testing.T, source, id string, referral ref, to, reason, setBy string) []byte {
	t.Helper()
	doc := map[string]any{
		"schema": SchemaStatusEvent, "record_id": id, "source": source, "territory": testTerritory,
		"recorded_at": "2025-06-30T10:00:00Z", "referral": referral, "to": to, "at": "2025-06-30T10:00:00Z",
		"set_by": map[string]any{"record_id": setBy}, "sequence": 2,
	}
	if reason != "" {
		doc["reason"] = map[string]any{"system": codeSystem("referral-status-reason"), "code": reason}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cfInComune returns the codice fiscale the comune holds for some adult.
func cfInComune(t *testing.T, sim *comune.Server) string {
	t.Helper()
	pop := sim.Population()
	for i := 0; ; i++ {
		p := pop.Person(i)
		if p == nil {
			t.Fatal("no person with a codice fiscale in the comune")
		}
		if kind, code := p.IDIn(population.Comune); kind == population.KindCF && p.Age() >= 18 {
			return code
		}
	}
}

// TestWriteReferral delivers a referral from the CPI: it is created once,
// with the origin as its external reference; a second delivery returns
// the same id and changes nothing; it is not read back as a referral.
func TestWriteReferral(t *testing.T) {
	sim, ts := newSim(t, 2, 50)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, nil)
	before := readFrom(t, c, set, nil, 0)
	cf := cfInComune(t, sim)
	req := sdk.WriteRequest{Settings: set, Schema: SchemaReferral, RecordID: "cpi:INV-1", Record: incomingReferralDoc(t, cf, "INV-1")}
	first, err := c.Write(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Write(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if first.TargetID == "" || first.TargetID != second.TargetID {
		t.Fatalf("target ids %q then %q", first.TargetID, second.TargetID)
	}
	sg, ok := sim.ReferralByExternal("cpi", "INV-1")
	if !ok || sg.ID != first.TargetID || sg.Direzione != comune.Ricevuta || sg.Priorita != "urgent" ||
		sg.Categoria != "housing-instability" || sg.CodiceFiscale != cf || sg.EnteRichiedente != comune.OrgCPI {
		t.Fatalf("in the comune: %+v", sg)
	}
	if sg.IDPersona == "" {
		t.Errorf("the comune did not link the referral to its registry")
	}
	if n := len(sim.History(sg.ID)); n != 1 {
		t.Errorf("%d events after two deliveries, want 1", n)
	}
	after := readFrom(t, c, set, before.last, 0)
	if got := ids(t, after.records); len(got) != 0 {
		t.Errorf("a delivered referral came back: %v", got)
	}

	// The comune's staff work on it: those changes are read, about the
	// CPI's referral, set by the comune.
	sim.Work()
	sim.Work()
	changes := readFrom(t, c, set, after.last, 0)
	var evs []map[string]any
	for _, raw := range changes.records {
		if headOf(t, raw).Schema == SchemaStatusEvent {
			validate(t, raw)
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			evs = append(evs, m)
		}
	}
	if len(evs) != 2 {
		t.Fatalf("got %d status events, want accepted and in-progress: %v", len(evs), ids(t, changes.records))
	}
	for i, want := range []string{"accepted", "in-progress"} {
		ref := evs[i]["referral"].(map[string]any)
		if evs[i]["to"] != want || ref["record_id"] != "INV-1" || ref["source"] != "cpi" ||
			evs[i]["set_by"].(map[string]any)["record_id"] != comune.OrgID {
			t.Errorf("event %d: %v", i, evs[i])
		}
	}

	// The CPI cancels it: applied once, not read back.
	ev := sdk.WriteRequest{Settings: set, Schema: SchemaStatusEvent, RecordID: "cpi:INV-1-3",
		Record: eventDoc(t, "cpi", "INV-1-3", ref{RecordID: "INV-1"}, "cancelled", "need-resolved", comune.OrgCPI)}
	a, err := c.Write(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Write(context.Background(), ev)
	if err != nil || a != b {
		t.Fatalf("second delivery: %v, %v then %v", err, a, b)
	}
	if got, _ := sim.Referral(sg.ID); got.Stato != "annullata" || got.MotivoStato != "bisogno_risolto" {
		t.Errorf("referral in the comune: %s %s", got.Stato, got.MotivoStato)
	}
	if got := readFrom(t, c, set, changes.last, 0); len(got.records) != 0 {
		t.Errorf("a delivered change came back: %v", ids(t, got.records))
	}
}

// TestWriteStatusToSentReferral delivers the CPI's answers to a referral
// the comune sent: they are applied once and not read back as the
// comune's own, while the referral record shows its new status.
func TestWriteStatusToSentReferral(t *testing.T) {
	sim, ts := newSim(t, 4, 50)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, nil)
	sg, err := sim.CreateReferral(personInComune(t, sim.Population(), 1), comune.OrgCPI, "employment-status", "routine")
	if err != nil {
		t.Fatal(err)
	}
	start := readFrom(t, c, set, nil, 0)
	for i, to := range []string{"accepted", "in-progress", "completed"} {
		id := "EV-" + sg.ID + "-" + to
		req := sdk.WriteRequest{Settings: set, Schema: SchemaStatusEvent, RecordID: "cpi:" + id,
			Record: eventDoc(t, "cpi", id, ref{RecordID: sg.ID, Source: testSource}, to, "", comune.OrgCPI)}
		for range 2 {
			res, err := c.Write(context.Background(), req)
			if err != nil {
				t.Fatalf("%s: %v", to, err)
			}
			if want := sg.ID + "-" + string(rune('2'+i)); res.TargetID != want {
				t.Errorf("%s: target id %q, want %q", to, res.TargetID, want)
			}
		}
	}
	if got, _ := sim.Referral(sg.ID); got.Stato != "conclusa" {
		t.Errorf("referral is %s, want conclusa", got.Stato)
	}
	if n := len(sim.History(sg.ID)); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
	next := readFrom(t, c, set, start.last, 0)
	got := ids(t, next.records)
	if len(got) != 1 || got[0] != "referral:"+sg.ID {
		t.Fatalf("read after the changes: %v, want the referral only", got)
	}
	if !strings.Contains(string(next.records[0]), `"code":"completed"`) {
		t.Errorf("referral record: %s", next.records[0])
	}
	// A change after a final status is refused for good.
	req := sdk.WriteRequest{Settings: set, Schema: SchemaStatusEvent, RecordID: "cpi:late",
		Record: eventDoc(t, "cpi", "late", ref{RecordID: sg.ID, Source: testSource}, "failed", "unreachable", comune.OrgCPI)}
	if _, err := c.Write(context.Background(), req); sdk.ClassOf(err) != sdk.ClassFatal {
		t.Errorf("a change of a completed referral: %v, want a fatal error", err)
	}
}

// TestWriteOwnRecords: writing back what the connector read (as the
// conformance suite does) finds it in the comune and changes nothing.
func TestWriteOwnRecords(t *testing.T) {
	sim, ts := newSim(t, 6, 40)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, nil)
	sg, err := sim.CreateReferral(personInComune(t, sim.Population(), 0), comune.OrgSDS, "homelessness", "urgent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.SetStatus(sg.ID, "annullata", "trasferito"); err != nil {
		t.Fatal(err)
	}
	res := readFrom(t, c, set, nil, 0)
	n := 0
	for _, raw := range res.records {
		h := headOf(t, raw)
		if h.Schema != SchemaReferral && h.Schema != SchemaStatusEvent {
			continue
		}
		n++
		out, err := c.Write(context.Background(), sdk.WriteRequest{Settings: set, Schema: h.Schema, RecordID: h.Source + ":" + h.RecordID, Record: raw})
		if err != nil || out.TargetID != h.RecordID {
			t.Errorf("writing back %s: %v, %q", h.RecordID, err, out.TargetID)
		}
	}
	if n < 2 {
		t.Fatalf("only %d referral records read", n)
	}
	if got := len(sim.History(sg.ID)); got != 2 {
		t.Errorf("%d events after writing back, want 2", got)
	}
}

// TestErrors: the classes of failure, and no identifier in any message.
func TestErrors(t *testing.T) {
	sim, ts := newSim(t, 8, 30)
	c, _ := newConnector()
	ctx := context.Background()
	set := settingsFor(t, ts.URL, nil)
	cf := cfInComune(t, sim)
	write := func(set sdk.Settings, owner string) error {
		doc := incomingReferralDoc(t, cf, "INV-9")
		if owner != "" {
			doc = []byte(strings.Replace(string(doc), comune.OrgID, owner, 1))
		}
		_, err := c.Write(ctx, sdk.WriteRequest{Settings: set, Schema: SchemaReferral, RecordID: "cpi:INV-9", Record: doc})
		return err
	}
	check := func(name string, err error, want sdk.Class) {
		t.Helper()
		switch {
		case err == nil:
			t.Errorf("%s: no error, want %s", name, want)
		case sdk.ClassOf(err) != want:
			t.Errorf("%s: %v is %s, want %s", name, err, sdk.ClassOf(err), want)
		case strings.Contains(err.Error(), cf):
			t.Errorf("%s: the error carries the codice fiscale", name)
		}
	}

	bad := settingsFor(t, ts.URL, map[string]any{"api_key": "wrong"})
	check("check with a wrong key", c.Check(ctx, bad), sdk.ClassConfig)
	check("write with a wrong key", write(bad, ""), sdk.ClassConfig)
	check("bad base_url", c.Check(ctx, settingsFor(t, "ftp://x", nil)), sdk.ClassConfig)
	check("unknown feed", c.Check(ctx, settingsFor(t, ts.URL, map[string]any{"feeds": []string{"x"}})), sdk.ClassConfig)
	check("a referral for another organisation", write(set, comune.OrgSDS), sdk.ClassFatal)
	_, err := c.Write(ctx, sdk.WriteRequest{Settings: set, Schema: SchemaPerson, RecordID: "x", Record: []byte(`{}`)})
	check("a schema not accepted", err, sdk.ClassFatal)
	check("a cursor of someone else", c.Read(ctx, sdk.ReadRequest{Settings: set, Cursor: []byte(`{"v":9}`)}, func(sdk.Batch) error { return nil }), sdk.ClassFatal)

	// Outage: Write, Read and Check fail at once as transient (Retry-After
	// 30 s is longer than the wait allowed in place).
	sim.SetOutage(true)
	waiting := settingsFor(t, ts.URL, map[string]any{"max_retry_wait_seconds": 2})
	check("write during an outage", write(waiting, ""), sdk.ClassTransient)
	check("check during an outage", c.Check(ctx, waiting), sdk.ClassTransient)
	check("read during an outage", c.Read(ctx, sdk.ReadRequest{Settings: waiting}, func(sdk.Batch) error { return nil }), sdk.ClassTransient)
	sim.SetOutage(false)

	// Every request answered 429 or 503: transient.
	if err := sim.SetFaultRate(1); err != nil {
		t.Fatal(err)
	}
	check("busy system", c.Check(ctx, set), sdk.ClassTransient)
	if err := sim.SetFaultRate(0); err != nil {
		t.Fatal(err)
	}

	// Unreachable.
	ts.Close()
	check("unreachable", c.Check(ctx, settingsFor(t, ts.URL, nil)), sdk.ClassTransient)
	if err := write(set, ""); !errors.As(err, new(*sdk.Error)) || sdk.ClassOf(err) != sdk.ClassTransient {
		t.Errorf("write to an unreachable system: %v", err)
	}
}

// TestRetryInPlace: with a fault rate, a read retries short 429/503 in
// place and ends with every record.
func TestRetryInPlace(t *testing.T) {
	sim, ts := newSim(t, 9, 20)
	c, _ := newConnector()
	set := settingsFor(t, ts.URL, map[string]any{"feeds": []string{"persone", "consensi"}})
	want := readFrom(t, c, set, nil, 5)
	if err := sim.SetFaultRate(0.2); err != nil {
		t.Fatal(err)
	}
	c.HTTP = nil
	retrying := settingsFor(t, ts.URL, map[string]any{"feeds": []string{"persone", "consensi"}, "max_retry_wait_seconds": 1})
	var got [][]byte
	var cur []byte
	deadline := time.Now().Add(time.Minute) // a bound on the test, not a timing assertion
	for time.Now().Before(deadline) {
		err := c.Read(context.Background(), sdk.ReadRequest{Settings: retrying, Cursor: cur, MaxBatch: 5}, func(b sdk.Batch) error {
			got = append(got, b.Records...)
			cur = b.Cursor
			return nil
		})
		if err == nil {
			break
		}
		if sdk.ClassOf(err) != sdk.ClassTransient {
			t.Fatal(err)
		}
	}
	if a, b := ids(t, want.records), ids(t, got); strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("with faults: %d records, without: %d", len(b), len(a))
	}
}
