package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/examples/sources/sds"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

var testPop = population.Generate(11, 120)

func registry(t *testing.T) *schemas.Registry {
	t.Helper()
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func settingsJSON(folder, inbox string) []byte {
	b, _ := json.Marshal(map[string]any{"source": "sds", "territory": "SDS-FI-NORDOVEST", "folder": folder, "inbox": inbox})
	return b
}

// newSim starts a simulator with its first night written.
func newSim(t *testing.T) (*sds.System, sdk.Settings) {
	t.Helper()
	sys, err := sds.New(sds.Options{Population: testPop, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.WriteNight(); err != nil {
		t.Fatal(err)
	}
	return sys, sdk.NewSettings(settingsJSON(sys.ExportDir(), sys.InboxDir()), "")
}

type batch struct {
	records []map[string]any
	cursor  []byte
}

func readAll(t *testing.T, s sdk.Settings, cursor []byte, max int) []batch {
	t.Helper()
	var out []batch
	err := (&Connector{}).Read(context.Background(), sdk.ReadRequest{Settings: s, Cursor: cursor, MaxBatch: max}, func(b sdk.Batch) error {
		var x batch
		x.cursor = b.Cursor
		for _, r := range b.Records {
			var m map[string]any
			if err := json.Unmarshal(r, &m); err != nil {
				t.Fatal(err)
			}
			x.records = append(x.records, m)
		}
		out = append(out, x)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return out
}

func flat(bs []batch) []map[string]any {
	var out []map[string]any
	for _, b := range bs {
		out = append(out, b.records...)
	}
	return out
}

func key(r map[string]any) string { return r["schema"].(string) + " " + r["record_id"].(string) }

// TestGolden maps each file of testdata/golden to the records of its .json
// twin, compared exactly. go test -update rewrites the .json files.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.csv")
	if len(files) < 5 {
		t.Fatalf("only %d golden cases", len(files))
	}
	reg := registry(t)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			recs := flat(readAll(t, sdk.NewSettings(settingsJSON(dir, dir), ""), nil, 0))
			got, err := json.MarshalIndent(recs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			want := strings.TrimSuffix(path, ".csv") + ".json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("records differ from %s:\n%s", want, got)
			}
			for _, r := range recs {
				if _, vs := reg.ValidateDocument(r); len(vs) > 0 {
					t.Errorf("%s does not validate: %v", key(r), vs)
				}
			}
		})
	}
}

// TestRecordsValidate reads a whole simulated export: every record follows
// its schema, except the codes the system holds mistyped (the hub
// quarantines those), and no name or birth date leaves the connector.
func TestRecordsValidate(t *testing.T) {
	_, s := newSim(t)
	recs := flat(readAll(t, s, nil, 0))
	reg := registry(t)
	counts := map[string]int{}
	typos := 0
	names := map[string]bool{}
	for _, p := range testPop.People() {
		if p.In(population.SDS) {
			names[p.FamilyName] = true
		}
	}
	for _, r := range recs {
		counts[r["schema"].(string)]++
		if _, vs := reg.ValidateDocument(r); len(vs) > 0 {
			for _, v := range vs {
				if v.Keyword == "format" && strings.HasPrefix(v.Pointer, "/person/identifiers/") {
					typos++
					continue
				}
				t.Errorf("%s: %+v", key(r), v)
			}
		}
		raw, _ := json.Marshal(r)
		for _, banned := range []string{"nome", "cognome", "data_nascita", "birth_date"} {
			if bytes.Contains(raw, []byte(`"`+banned+`"`)) {
				t.Fatalf("%s carries %s", key(r), banned)
			}
		}
		if r["schema"] == SchemaPerson {
			for n := range names {
				if len(n) > 3 && bytes.Contains(raw, []byte(n)) {
					t.Fatalf("%s carries a family name", key(r))
				}
			}
		}
	}
	for _, id := range (&Connector{}).Manifest().Produces {
		if counts[id] == 0 && id != SchemaStatusEvent {
			t.Errorf("no record of %s", id)
		}
	}
	t.Logf("records by schema: %v; mistyped codes: %d", counts, typos)
}

// TestResume reads in small batches, then again from every cursor: each
// resumed read gives exactly the records after that batch; and a new night
// is read once.
func TestResume(t *testing.T) {
	sys, s := newSim(t)
	all := readAll(t, s, nil, 37)
	var ids []string
	for _, b := range all {
		if len(b.records) > 37 {
			t.Fatalf("batch of %d records", len(b.records))
		}
		for _, r := range b.records {
			ids = append(ids, key(r))
		}
	}
	seen := 0
	for i, b := range all {
		seen += len(b.records)
		if i%5 != 0 && i != len(all)-1 {
			continue
		}
		var rest []string
		for _, r := range flat(readAll(t, s, b.cursor, 100)) {
			rest = append(rest, key(r))
		}
		if !slices.Equal(rest, ids[seen:]) {
			t.Fatalf("resume from batch %d: %d records, want %d", i, len(rest), len(ids)-seen)
		}
	}
	last := all[len(all)-1].cursor
	if again := readAll(t, s, last, 0); len(flat(again)) != 0 {
		t.Fatalf("nothing new, yet %d records", len(flat(again)))
	}
	// A new night with one new referral sent by the PUA.
	idx := -1
	for _, p := range testPop.People() {
		if p.In(population.SDS) {
			idx = p.Index
			break
		}
	}
	id, err := sys.SendReferral(idx, sds.OrgComune, "housing-instability", "urgente")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.WriteNight(); err != nil {
		t.Fatal(err)
	}
	next := flat(readAll(t, s, last, 0))
	var got []string
	for _, r := range next {
		got = append(got, r["schema"].(string)+" "+r["record_id"].(string))
	}
	if len(next) != 2 || next[1]["record_id"] != id || next[1]["priority"] != "urgent" {
		t.Fatalf("new night gave %v", got)
	}
}

func referralDoc(cf string) []byte {
	b, _ := json.Marshal(map[string]any{
		"schema": SchemaReferral, "record_id": "SEG-2025-0042", "source": "comune", "territory": "SDS-FI-NORDOVEST",
		"recorded_at": "2025-07-01T10:00:00+02:00", "requester": map[string]any{"record_id": sds.OrgComune},
		"owner": map[string]any{"record_id": sds.OrgID}, "person": map[string]any{"identifiers": map[string]any{"cf": cf}},
		"authored_on": "2025-07-01T09:58:00+02:00", "priority": "routine",
		"category": map[string]any{"system": "https://snodo-hub.github.io/codes/referral-category", "code": "social-connection"},
		"status":   map[string]any{"code": "requested"},
	})
	return b
}

func statusDoc(refSource, refID, to, reason, by string) []byte {
	m := map[string]any{
		"schema": SchemaStatusEvent, "record_id": "EV-1", "source": "comune", "territory": "SDS-FI-NORDOVEST",
		"recorded_at": "2025-07-02T10:00:00+02:00", "referral": map[string]any{"record_id": refID, "source": refSource},
		"to": to, "at": "2025-07-02T09:00:00+02:00", "set_by": map[string]any{"record_id": by},
	}
	if reason != "" {
		m["reason"] = map[string]any{"system": "https://snodo-hub.github.io/codes/referral-status-reason", "code": reason}
	}
	b, _ := json.Marshal(m)
	return b
}

func cfInSDS(t *testing.T) string {
	for _, p := range testPop.People() {
		if kind, code := p.IDIn(population.SDS); kind == population.KindCF && !p.TypoIn(population.SDS) {
			return code
		}
	}
	t.Fatal("no CF in the SDS")
	return ""
}

// TestReferralLoop delivers a referral to the inbox (twice), lets the
// staff accept it, reads the status back, delivers a cancellation from the
// requester and checks it is not read back as the SDS's own.
func TestReferralLoop(t *testing.T) {
	sys, s := newSim(t)
	c := &Connector{}
	ctx := context.Background()
	cursor := readAll(t, s, nil, 0)
	last := cursor[len(cursor)-1].cursor
	cf := cfInSDS(t)

	req := sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "comune:SEG-2025-0042", Record: referralDoc(cf)}
	first, err := c.Write(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sys.ProcessInbox(); err != nil {
		t.Fatal(err)
	}
	second, err := c.Write(ctx, req)
	if err != nil || second != first {
		t.Fatalf("second Write = %v, %v; first %v", second, err, first)
	}
	if taken, _, _ := sys.ProcessInbox(); taken != 0 {
		t.Fatalf("a repeated Write put %d files in the inbox", taken)
	}
	seg, ok := sys.ReferralByExternal("comune", "SEG-2025-0042")
	if !ok || seg.Protocollo != first.TargetID || seg.Codici.CF != cf || seg.Priorita != "ordinaria" {
		t.Fatalf("referral in the system: %+v (target %s)", seg, first.TargetID)
	}
	if err := sys.Accept(seg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.WriteNight(); err != nil {
		t.Fatal(err)
	}
	bs := readAll(t, s, last, 0)
	last = bs[len(bs)-1].cursor
	evs := flat(bs)
	if len(evs) != 1 {
		t.Fatalf("%d records after the acceptance, want 1 event", len(evs))
	}
	ev := evs[0]
	if ev["schema"] != SchemaStatusEvent || ev["from"] != "requested" || ev["to"] != "accepted" ||
		ev["referral"].(map[string]any)["record_id"] != "SEG-2025-0042" || ev["referral"].(map[string]any)["source"] != "comune" ||
		ev["set_by"].(map[string]any)["record_id"] != sds.OrgID {
		t.Fatalf("event %v", ev)
	}
	if _, vs := registry(t).ValidateDocument(ev); len(vs) > 0 {
		t.Fatalf("event invalid: %v", vs)
	}

	// The requester cancels: applied, and not read back.
	sreq := sdk.WriteRequest{Settings: s, Schema: SchemaStatusEvent, RecordID: "comune:EV-1", Record: statusDoc("comune", "SEG-2025-0042", "cancelled", "need-resolved", sds.OrgComune)}
	if _, err := c.Write(ctx, sreq); err != nil {
		t.Fatal(err)
	}
	if _, refused, err := sys.ProcessInbox(); err != nil || refused != 0 {
		t.Fatalf("refused %d, %v: %v", refused, err, sys.Refusals())
	}
	if seg, _ := sys.Referral(seg.ID); seg.Stato != sds.Annullata || seg.Motivo != "bisogno_risolto" {
		t.Fatalf("after the cancellation: %s %s", seg.Stato, seg.Motivo)
	}
	if _, err := sys.WriteNight(); err != nil {
		t.Fatal(err)
	}
	if n := len(flat(readAll(t, s, last, 0))); n != 0 {
		t.Fatalf("the requester's cancellation came back as %d records", n)
	}
}

func TestWriteErrors(t *testing.T) {
	sys, s := newSim(t)
	c := &Connector{}
	ctx := context.Background()
	// Not for this organisation: refused for good.
	doc := bytes.Replace(referralDoc(cfInSDS(t)), []byte(`"owner":{"record_id":"sds-fi-nordovest"}`), []byte(`"owner":{"record_id":"cpi-sesto-fiorentino"}`), 1)
	_, err := c.Write(ctx, sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "x:1", Record: doc})
	if sdk.ClassOf(err) != sdk.ClassFatal {
		t.Fatalf("wrong owner: %v", err)
	}
	// The share is down: transient, and no code in the message.
	if err := sys.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	cf := cfInSDS(t)
	_, err = c.Write(ctx, sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "x:2", Record: referralDoc(cf)})
	if sdk.ClassOf(err) != sdk.ClassTransient || strings.Contains(err.Error(), cf) {
		t.Fatalf("outage: %v", err)
	}
	err = c.Read(ctx, sdk.ReadRequest{Settings: s}, func(sdk.Batch) error { return nil })
	if sdk.ClassOf(err) != sdk.ClassTransient {
		t.Fatalf("read during outage: %v", err)
	}
	if err := sys.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(ctx, s); err != nil {
		t.Fatalf("Check: %v", err)
	}
	// A cursor of something else.
	err = c.Read(ctx, sdk.ReadRequest{Settings: s, Cursor: []byte(`{"file":"../x","rows":1}`)}, func(sdk.Batch) error { return nil })
	if sdk.ClassOf(err) != sdk.ClassFatal {
		t.Fatalf("foreign cursor: %v", err)
	}
}

// TestWriteOwnReferral: a referral the health society sent, written back,
// is in the system already: its own id, no inbox file.
func TestWriteOwnReferral(t *testing.T) {
	sys, s := newSim(t)
	var own []byte
	for _, b := range readAll(t, s, nil, 0) {
		for _, r := range b.records {
			if r["schema"] == SchemaReferral && own == nil {
				own, _ = json.Marshal(r)
			}
		}
	}
	if own == nil {
		t.Fatal("the first night has no referral")
	}
	var id struct {
		RecordID string `json:"record_id"`
	}
	_ = json.Unmarshal(own, &id)
	for range 2 {
		resp, err := (&Connector{}).Write(context.Background(), sdk.WriteRequest{Settings: s, Schema: SchemaReferral, RecordID: "sds:" + id.RecordID, Record: own})
		if err != nil || resp.TargetID != id.RecordID {
			t.Fatalf("write back %s: %q, %v", id.RecordID, resp.TargetID, err)
		}
	}
	entries, err := os.ReadDir(sys.InboxDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			t.Errorf("the inbox holds %s, want no file", e.Name())
		}
	}
}
