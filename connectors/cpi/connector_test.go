package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/snodo-hub/snodo/examples/sources/cpi"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

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
	if err := schema.Validate(yamlSettings(t, "settings.example.yaml")); err != nil {
		t.Errorf("settings.example.yaml does not follow the settings schema: %v", err)
	}
	for name, raw := range map[string]string{
		"no base_url":   `{"source": "cpi", "territory": "T1"}`,
		"ftp base_url":  `{"source": "cpi", "territory": "T1", "base_url": "ftp://x"}`,
		"page too big":  `{"source": "cpi", "territory": "T1", "base_url": "http://x", "page_size": 501}`,
		"unknown field": `{"source": "cpi", "territory": "T1", "base_url": "http://x", "folder": "f"}`,
	} {
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			t.Fatal(err)
		}
		if schema.Validate(v) == nil {
			t.Errorf("%s: %s passes the settings schema", name, raw)
		}
	}
}

// deliver writes a referral to the cpi as the hub does, and returns the
// cpi's id.
func deliver(t testing.TB, s sdk.Settings, origin string, p *population.Person) string {
	t.Helper()
	_, code := p.IDIn(population.CPI)
	doc := map[string]any{
		"schema": SchemaReferral, "record_id": origin, "source": "comune", "territory": "SDS-FI-NORDOVEST",
		"recorded_at": "2025-06-02T09:00:00+02:00",
		"requester":   map[string]any{"record_id": "comune-sesto-fiorentino"},
		"owner":       map[string]any{"record_id": "cpi-sesto-fiorentino"},
		"person":      map[string]any{"identifiers": map[string]any{"cf": code}},
		"authored_on": "2025-06-02T08:55:00+02:00", "priority": "routine",
		"category": map[string]any{"system": "https://snodo-hub.github.io/codes/referral-category", "code": "employment-status"},
		"status":   map[string]any{"code": "requested", "changed_at": "2025-06-02T08:55:00+02:00"},
	}
	raw, _ := json.Marshal(doc)
	req := sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "comune:" + origin, Record: raw}
	first, err := (&Connector{}).Write(context.Background(), req)
	if err != nil {
		t.Fatalf("write referral: %v", err)
	}
	second, err := (&Connector{}).Write(context.Background(), req)
	if err != nil {
		t.Fatalf("write referral again: %v", err)
	}
	if first.TargetID == "" || second.TargetID != first.TargetID {
		t.Fatalf("target ids %q then %q: want the same non-empty id", first.TargetID, second.TargetID)
	}
	return first.TargetID
}

func TestReadValidates(t *testing.T) {
	t.Parallel()
	sim, url := startSim(t)
	s := settingsFor(t, url, nil)
	id := deliver(t, s, "SEG-C-1", cpiPerson(t))
	if err := sim.Accept(id); err != nil {
		t.Fatal(err)
	}
	if err := sim.Reject(id, cpi.MotivoNonIdoneo); err != nil {
		t.Fatal(err)
	}
	typos := map[string]bool{}
	for _, p := range testPopulation().People() {
		if p.TypoIn(population.CPI) {
			_, code := p.IDIn(population.CPI)
			typos[code] = true
		}
	}
	recs, _, _ := readAll(t, s, nil, 0)
	counts := map[string]int{}
	reg := registry(t)
	for _, r := range recs {
		counts[r["schema"].(string)]++
		sch, vs := reg.ValidateDocument(decoded(t, r))
		if sch == nil {
			t.Fatalf("%s: no schema", key(r))
		}
		if len(vs) == 0 {
			continue
		}
		ids, _ := r["person"].(map[string]any)["identifiers"].(map[string]any)
		cf, _ := ids["cf"].(string)
		onlyID := true
		for _, v := range vs {
			if !strings.HasPrefix(v.Pointer, "/person/identifiers/") {
				onlyID = false
			}
		}
		if !(onlyID && typos[cf]) {
			t.Errorf("%s does not validate: %v", key(r), vs)
		}
	}
	for _, sch := range []string{SchemaPerson, SchemaEmploymentActivity, SchemaStatusEvent} {
		if counts[sch] == 0 {
			t.Errorf("no record of %s", sch)
		}
	}
	if counts[SchemaStatusEvent] != 2 {
		t.Errorf("%d status events, want 2", counts[SchemaStatusEvent])
	}
	// No names, no full birth dates.
	data, _ := json.Marshal(recs)
	for _, p := range testPopulation().People() {
		if p.In(population.CPI) && (bytes.Contains(data, []byte(`"`+p.FamilyName+`"`)) || bytes.Contains(data, []byte(p.BirthDate.Format("2006-01-02")))) {
			t.Fatalf("a record carries a name or a birth date")
		}
	}
}

func TestReferralLoop(t *testing.T) {
	t.Parallel()
	sim, url := startSim(t)
	s := settingsFor(t, url, nil)
	_, _, ends := readAll(t, s, nil, 0)
	if len(ends) == 0 {
		t.Fatal("no batch")
	}
	_, cursors, _ := readAll(t, s, nil, 0)
	cur := cursors[len(cursors)-1]

	p := cpiPerson(t)
	id := deliver(t, s, "SEG-C-7", p)
	ref, ok := sim.Referral(id)
	if !ok || ref.RiferimentoEsterno != (cpi.RiferimentoEsterno{Fonte: "comune", ID: "SEG-C-7"}) || ref.Richiedente != "comune-sesto-fiorentino" ||
		ref.Categoria != "employment-status" || ref.Priorita != "routine" || ref.DataRichiesta != "2025-06-02" {
		t.Fatalf("the cpi holds %+v", ref)
	}
	if _, code := p.IDIn(population.CPI); ref.Lavoratore.CodiceFiscale != code || ref.Lavoratore.IDSIL == "" {
		t.Errorf("the cpi did not find the worker")
	}
	if n := len(sim.Referrals()); n != 1 {
		t.Fatalf("%d referrals after two writes, want 1", n)
	}
	// The referral received gives no record.
	recs, cursors, _ := readAll(t, s, cur, 0)
	if len(recs) != 0 {
		t.Fatalf("after the delivery read %v, want nothing", recs)
	}
	cur = cursors[len(cursors)-1]

	for _, f := range []func(string) error{sim.Accept, sim.Start} {
		if err := f(id); err != nil {
			t.Fatal(err)
		}
	}
	recs, cursors, _ = readAll(t, s, cur, 0)
	cur = cursors[len(cursors)-1]
	want := []map[string]any{
		{"record_id": id + "-1", "from": "requested", "to": "accepted", "sequence": 2.0},
		{"record_id": id + "-2", "from": "accepted", "to": "in-progress", "sequence": 3.0},
	}
	if len(recs) != len(want) {
		t.Fatalf("read %d records, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r["schema"] != SchemaStatusEvent {
			t.Fatalf("record %d is %v", i, r["schema"])
		}
		for k, v := range w {
			if r[k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, r[k], v)
			}
		}
		if rr := r["referral"].(map[string]any); rr["record_id"] != "SEG-C-7" || rr["source"] != "comune" {
			t.Errorf("record %d: referral %v", i, rr)
		}
		if sb := r["set_by"].(map[string]any); sb["record_id"] != "cpi-sesto-fiorentino" {
			t.Errorf("record %d: set_by %v", i, sb)
		}
		if _, vs := registry(t).ValidateDocument(decoded(t, r)); len(vs) > 0 {
			t.Errorf("record %d: %v", i, vs)
		}
	}

	// The requester cancels through the hub: applied once, never read
	// back as the centre's own change.
	ev := map[string]any{
		"schema": SchemaStatusEvent, "record_id": "SEG-C-7-EV3", "source": "comune", "territory": "SDS-FI-NORDOVEST",
		"recorded_at": "2025-06-03T10:00:00+02:00", "referral": map[string]any{"record_id": "SEG-C-7"},
		"from": "in-progress", "to": "cancelled", "at": "2025-06-03T09:59:00+02:00",
		"set_by": map[string]any{"record_id": "comune-sesto-fiorentino"},
		"reason": map[string]any{"system": systemReason, "code": "need-resolved"}, "sequence": 4,
	}
	raw, _ := json.Marshal(ev)
	req := sdk.WriteRequest{Settings: s, Schema: SchemaStatusEvent, RecordID: "comune:SEG-C-7-EV3", Record: raw}
	for i := range 2 {
		resp, err := (&Connector{}).Write(context.Background(), req)
		if err != nil || resp.TargetID != id {
			t.Fatalf("write %d of the cancellation: %q, %v", i+1, resp.TargetID, err)
		}
	}
	ref, _ = sim.Referral(id)
	if ref.Stato != cpi.StatoAnnullata || ref.Motivo != cpi.MotivoBisognoRisolto || len(ref.Storia) != 3 {
		t.Fatalf("after the cancellation the cpi holds %s (%s) with %d changes", ref.Stato, ref.Motivo, len(ref.Storia))
	}
	recs, _, _ = readAll(t, s, cur, 0)
	if len(recs) != 0 {
		t.Fatalf("the requester's cancellation came back: %v", recs)
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	sim, url := startSim(t)
	s := settingsFor(t, url, nil)
	id := deliver(t, s, "SEG-C-2", cpiPerson(t))
	sim.Advance()
	all, cursors, ends := readAll(t, s, nil, 7)
	if len(all) < 20 {
		t.Fatalf("only %d records", len(all))
	}
	keys := make([]string, len(all))
	for i, r := range all {
		keys[i] = key(r)
	}
	for i, c := range cursors {
		rest, _, _ := readAll(t, s, c, 50)
		got := make([]string, len(rest))
		for j, r := range rest {
			got[j] = key(r)
		}
		if !slices.Equal(got, keys[ends[i]:]) {
			t.Fatalf("from the cursor of batch %d: read %d records, want %d", i+1, len(got), len(keys)-ends[i])
		}
	}
	// New changes after the last cursor are read, and only they.
	sim.Advance()
	rest, _, _ := readAll(t, s, cursors[len(cursors)-1], 0)
	if len(rest) != 1 || rest[0]["record_id"] != id+"-2" {
		t.Fatalf("after Advance read %v, want the one new status event", rest)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	sim, url := startSim(t)
	s := settingsFor(t, url, nil)
	p := cpiPerson(t)
	_, code := p.IDIn(population.CPI)
	c := &Connector{}
	ctx := context.Background()
	read := func(s sdk.Settings) error {
		return c.Read(ctx, sdk.ReadRequest{Settings: s}, func(sdk.Batch) error { return nil })
	}
	referral := func(cf, owner, requester string) sdk.WriteRequest {
		doc := map[string]any{
			"schema": SchemaReferral, "record_id": "SEG-E-1", "source": "comune",
			"requester": map[string]any{"record_id": requester}, "owner": map[string]any{"record_id": owner},
			"person": map[string]any{"identifiers": map[string]any{"cf": cf}}, "authored_on": "2025-06-02T08:55:00Z",
			"priority": "urgent", "category": map[string]any{"code": "employment-status"}, "status": map[string]any{"code": "requested"},
		}
		raw, _ := json.Marshal(doc)
		return sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "comune:SEG-E-1", Record: raw}
	}
	check := func(name string, err error, want sdk.Class) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		if got := sdk.ClassOf(err); got != want {
			t.Errorf("%s: class %v, want %v (%v)", name, got, want, err)
		}
		if strings.Contains(err.Error(), code) {
			t.Errorf("%s: the error names the codice fiscale", name)
		}
	}

	sim.SetOutage(true)
	check("check while down", c.Check(ctx, s), sdk.ClassTransient)
	check("read while down", read(s), sdk.ClassTransient)
	_, err := c.Write(ctx, referral(code, "cpi-sesto-fiorentino", "comune-sesto-fiorentino"))
	check("write while down", err, sdk.ClassTransient)
	sim.SetOutage(false)
	if n := len(sim.Referrals()); n != 0 {
		t.Fatalf("%d referrals registered while down", n)
	}

	sim.FailNext(http.StatusTooManyRequests)
	check("read on 429", read(s), sdk.ClassTransient)
	check("wrong key", c.Check(ctx, settingsFor(t, url, map[string]any{"api_key": "sbagliata"})), sdk.ClassConfig)
	check("bad base_url", c.Check(ctx, settingsFor(t, "file:///tmp", nil)), sdk.ClassConfig)

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	check("network", read(settingsFor(t, deadURL, nil)), sdk.ClassTransient)

	_, err = c.Write(ctx, referral(code, "sds-fi-nordovest", "comune-sesto-fiorentino"))
	check("another owner", err, sdk.ClassFatal)
	_, err = c.Write(ctx, referral(code, "cpi-sesto-fiorentino", "nessuno"))
	check("unknown requester (422)", err, sdk.ClassFatal)
	_, err = c.Write(ctx, referral(code[:15]+"!", "cpi-sesto-fiorentino", "comune-sesto-fiorentino"))
	check("malformed code (422)", err, sdk.ClassFatal)

	// A cancellation of a referral the cpi has closed is refused for good.
	id := deliver(t, s, "SEG-E-2", p)
	if err := sim.Reject(id, cpi.MotivoFuoriTerritorio); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(map[string]any{"schema": SchemaStatusEvent, "record_id": "EV-9", "source": "comune",
		"referral": map[string]any{"record_id": "SEG-E-2", "source": "comune"}, "to": "cancelled",
		"at": "2025-06-03T09:59:00Z", "set_by": map[string]any{"record_id": "comune-sesto-fiorentino"},
		"reason": map[string]any{"code": "duplicate"}})
	_, err = c.Write(ctx, sdk.WriteRequest{Settings: s, Schema: SchemaStatusEvent, RecordID: "comune:EV-9", Record: ev})
	check("cancel a closed referral (409)", err, sdk.ClassFatal)
	ev2 := bytes.Replace(ev, []byte("SEG-E-2"), []byte("SEG-E-404"), 1)
	_, err = c.Write(ctx, sdk.WriteRequest{Settings: s, Schema: SchemaStatusEvent, RecordID: "comune:EV-10", Record: ev2})
	check("status of an unknown referral", err, sdk.ClassTransient)
	err = c.Read(ctx, sdk.ReadRequest{Settings: s, Cursor: []byte("garbage")}, func(sdk.Batch) error { return nil })
	check("garbage cursor", err, sdk.ClassFatal)
	if !errors.Is(c.Read(ctx, sdk.ReadRequest{Settings: s}, func(sdk.Batch) error { return context.Canceled }), context.Canceled) {
		t.Error("Read does not return emit's error")
	}
}
