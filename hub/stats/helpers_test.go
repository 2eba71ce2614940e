package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

const (
	territory = "SDS-TEST"
	src       = "sds-test"
)

var (
	regOnce sync.Once
	reg     *schemas.Registry
	regErr  error
)

func registry(t testing.TB) *schemas.Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = schemas.Compile(identity.SchemaFormats()...) })
	if regErr != nil {
		t.Fatal(regErr)
	}
	return reg
}

func catalogue(t testing.TB) *Computer {
	t.Helper()
	cat, err := schemas.Indicators()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture fills a real store with records as the pipeline stores them:
// canonical bodies that validate against the shared schemas, person ids in
// place of identifiers, and the records.person_id column set.
type fixture struct {
	t       testing.TB
	ctx     context.Context
	s       *store.Store
	pending []func(tx *store.Tx) error
	check   bool // validate bodies against the schemas
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{t: t, ctx: ctx, s: s, check: true}
}

// pid makes a person id (the keyed index's 26-character pseudonym).
func pid(n int) string { return fmt.Sprintf("01JM9S346Q3D25VT4F5V%06d", n) }

func ref(id string) map[string]any { return map[string]any{"record_id": id} }

func who(person string) map[string]any { return map[string]any{"person_id": person} }

func coding(list, c string) map[string]any {
	return map[string]any{"system": "https://snodo-hub.github.io/codes/" + list, "code": c}
}

// record queues a record of the schema with the given fields; person is
// its main person (records.person_id), "" for none.
func (f *fixture) record(schema, recordID, person string, fields map[string]any) {
	f.t.Helper()
	doc := map[string]any{
		"schema":      "https://snodo-hub.github.io/schemas/" + schema + "/1.0.0",
		"record_id":   recordID,
		"source":      src,
		"territory":   territory,
		"recorded_at": "2025-12-31T12:00:00Z",
	}
	for k, v := range fields {
		doc[k] = v
	}
	// Through encoding/json and Decode, so that numbers are json.Number
	// as the pipeline sees them, then to canonical JSON.
	raw, err := json.Marshal(doc)
	if err != nil {
		f.t.Fatal(err)
	}
	dec, err := schemas.Decode(raw)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.check {
		if _, vs := registry(f.t).ValidateDocument(dec); len(vs) > 0 {
			f.t.Fatalf("fixture %s %s is not a valid record: %v", schema, recordID, vs)
		}
	}
	body, err := schemas.AppendCanonical(nil, dec)
	if err != nil {
		f.t.Fatal(err)
	}
	rec := store.Record{Schema: schema, SchemaID: doc["schema"].(string), Source: src, RecordID: recordID,
		Territory: territory, RecordedAt: time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), Body: body, PersonID: person}
	f.pending = append(f.pending, func(tx *store.Tx) error {
		_, err := tx.UpsertRecord(f.ctx, rec)
		return err
	})
}

func (f *fixture) person(n int, fields map[string]any) {
	f.t.Helper()
	fields["person"] = who(pid(n))
	f.record("person", fmt.Sprintf("ANAG-%d", n), pid(n), fields)
}

// referral queues the hub's view of a referral; requested adds the applied
// status event to requested that the hub records.
func (f *fixture) referral(id string, person int, status string, authored, responded, closed string, requested bool) {
	f.t.Helper()
	r := store.Referral{Source: src, RecordID: id, Requester: "ORG-A", Owner: "ORG-B", Priority: "routine",
		Category: "housing-instability", Status: status, AuthoredOn: ts(f.t, authored), StatusAt: ts(f.t, authored),
		RespondedAt: ts(f.t, responded), ClosedAt: ts(f.t, closed), Delivery: store.DeliveryLocal}
	if person != 0 {
		r.PersonID = pid(person)
	}
	f.pending = append(f.pending, func(tx *store.Tx) error {
		if err := tx.PutReferral(f.ctx, r); err != nil {
			return err
		}
		if !requested {
			return nil
		}
		_, err := tx.AddReferralEvent(f.ctx, store.ReferralEvent{RefSource: src, RefRecordID: id, EventSource: src,
			To: "requested", SetBy: "ORG-A", At: r.AuthoredOn, Outcome: "applied", RecordedAt: r.AuthoredOn})
		return err
	})
}

func ts(t testing.TB, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *fixture) commit() *store.Store {
	f.t.Helper()
	err := f.s.Write(f.ctx, func(tx *store.Tx) error {
		for _, p := range f.pending {
			if err := p(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	f.pending = nil
	return f.s
}

func period(t testing.TB, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
