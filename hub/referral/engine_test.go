package referral_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
)

const (
	orgComune = "comune-sesto-fiorentino"
	orgCPI    = "cpi-sesto-fiorentino"
	cf        = "RSSMRA85T10A562S"
)

// fakeClock is the engine's clock, moved by the test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// system is a receiving system behind its connector's Write: it keeps
// what it was given by idempotency key, and can be down.
type system struct {
	mu       sync.Mutex
	down     bool
	got      map[string][]byte // by record id (the idempotency key)
	attempts int
}

func (s *system) Write(_ context.Context, connector, schemaID, recordID string, record []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.down {
		return "", errors.New("503 Service Unavailable")
	}
	if s.got == nil {
		s.got = map[string][]byte{}
	}
	s.got[connector+" "+recordID] = record
	return "T-" + recordID, nil
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	dir   string
	e     *referral.Engine
	clock *fakeClock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clock := &fakeClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(ctx, filepath.Join(dir, "snodo.db"), store.WithClock(clock.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := identity.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	e, err := referral.New(referral.Config{
		Key:       key,
		Serves:    map[string]string{orgComune: "comune", orgCPI: "cpi"},
		Retention: 48 * time.Hour,
		Targets:   map[string]time.Duration{"urgent": 72 * time.Hour, "routine": 7 * 24 * time.Hour},
		Clock:     clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, ctx: ctx, st: st, dir: dir, e: e, clock: clock}
}

// store stores a record as the pipeline would and lets the engine observe
// it in the same transaction.
func (f *fixture) store(schema, source, recordID, personID string, ids map[string]string, body string) {
	f.t.Helper()
	err := f.st.Write(f.ctx, func(tx *store.Tx) error {
		if _, err := tx.UpsertRecord(f.ctx, store.Record{Schema: schema, SchemaID: "https://snodo-hub.github.io/schemas/" + schema + "/1.0.0",
			Source: source, RecordID: recordID, Territory: "SDS-FI-NORDOVEST", Body: []byte(body), PersonID: personID}); err != nil {
			return err
		}
		return f.e.Stored(f.ctx, tx, referral.Record{Schema: schema, Source: source, RecordID: recordID, Body: []byte(body), PersonID: personID, Identifiers: ids})
	})
	if err != nil {
		f.t.Fatalf("store %s %s/%s: %v", schema, source, recordID, err)
	}
}

func (f *fixture) view(source, id string) store.Referral {
	f.t.Helper()
	v, ok, err := f.st.Referral(f.ctx, source, id)
	if err != nil || !ok {
		f.t.Fatalf("referral %s/%s: ok %v, %v", source, id, ok, err)
	}
	return v
}

const person = "01JB0000000000000000000001"

func referralBody(id, status string) string {
	return fmt.Sprintf(`{"schema":"https://snodo-hub.github.io/schemas/referral/1.0.0","record_id":%q,"source":"comune","territory":"SDS-FI-NORDOVEST",
"recorded_at":"2026-11-02T09:00:00Z","requester":{"record_id":%q},"owner":{"record_id":%q},"person":{"person_id":%q},
"authored_on":"2026-11-02T08:55:00Z","priority":"urgent","category":{"system":"https://snodo-hub.github.io/codes/referral-category","code":"employment-status"},
"status":{"code":%q,"changed_at":"2026-11-02T08:55:00Z"}}`, id, orgComune, orgCPI, person, status)
}

func consentBody(recipient string) string {
	return fmt.Sprintf(`{"schema":"https://snodo-hub.github.io/schemas/consent/1.0.0","record_id":"CONS-1","source":"comune","territory":"SDS-FI-NORDOVEST",
"recorded_at":"2026-10-01T09:00:00Z","person":{"person_id":%q},"status":"active",
"purposes":[{"system":"https://snodo-hub.github.io/codes/consent-purpose","code":"referral"}],
"legal_basis":[{"system":"https://snodo-hub.github.io/codes/legal-basis","code":"gdpr-6-1-a"}],
"recipients":[{"record_id":%q}],"valid_period":{"start":"2026-10-01","end":"2027-09-30"}}`, person, recipient)
}

func eventBody(id, ref, from, to, setBy, reason string) string {
	r := ""
	if reason != "" {
		r = fmt.Sprintf(`,"reason":{"system":"https://snodo-hub.github.io/codes/referral-status-reason","code":%q}`, reason)
	}
	f := ""
	if from != "" {
		f = fmt.Sprintf(`"from":%q,`, from)
	}
	return fmt.Sprintf(`{"schema":"https://snodo-hub.github.io/schemas/referral-status-event/1.0.0","record_id":%q,"source":"cpi","territory":"SDS-FI-NORDOVEST",
"recorded_at":"2026-11-03T10:00:00Z","referral":{"record_id":%q,"source":"comune"},%s"to":%q,"at":"2026-11-03T10:00:00Z","set_by":{"record_id":%q}%s}`,
		id, ref, f, to, setBy, r)
}

// TestClosedLoop follows a referral from the municipality to the
// employment centre and back: held without consent, routed once a consent
// covers the receiver, delivered exactly once across an outage, accepted
// and completed there, each status told to the requester; changes by the
// wrong party or out of order refused and recorded; the envelope deleted
// after its retention; no identifier anywhere but the sealed envelope.
func TestClosedLoop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := map[string]string{"cf": cf}

	// No consent yet: held, with why.
	f.store("referral", "comune", "REF-1", person, ids, referralBody("REF-1", "requested"))
	v := f.view("comune", "REF-1")
	if v.Delivery != store.DeliveryHeld || !strings.Contains(v.DeliveryNote, "no active consent") {
		t.Fatalf("without consent: delivery %s (%s), want held for want of consent", v.Delivery, v.DeliveryNote)
	}
	// A consent for another organisation does not cover it.
	f.store("consent", "comune", "CONS-1", person, ids, consentBody("caritas-firenze"))
	if v := f.view("comune", "REF-1"); v.Delivery != store.DeliveryHeld {
		t.Fatalf("with a consent for another recipient: %s, want held", v.Delivery)
	}
	f.store("consent", "comune", "CONS-1", person, ids, consentBody(orgCPI))
	if v := f.view("comune", "REF-1"); v.Delivery != store.DeliveryPending || v.Target != "cpi" {
		t.Fatalf("with consent: delivery %s to %q, want pending to cpi", v.Delivery, v.Target)
	}

	// The employment centre is down: the delivery waits and retries.
	cpi := &system{down: true}
	if n, err := f.e.Deliver(f.ctx, f.st, cpi); err != nil || n != 0 {
		t.Fatalf("Deliver while down: %d, %v", n, err)
	}
	if v := f.view("comune", "REF-1"); v.Delivery != store.DeliveryPending || !strings.Contains(v.DeliveryNote, "503") {
		t.Fatalf("after a failed attempt: %s %q", v.Delivery, v.DeliveryNote)
	}
	if n, _ := f.e.Deliver(f.ctx, f.st, cpi); n != 0 || cpi.attempts != 1 {
		t.Fatalf("retried before its backoff: %d attempts", cpi.attempts)
	}
	cpi.down = false
	f.clock.add(2 * time.Second)
	if n, err := f.e.Deliver(f.ctx, f.st, cpi); err != nil || n != 1 {
		t.Fatalf("Deliver once up: %d, %v", n, err)
	}
	if n, _ := f.e.Deliver(f.ctx, f.st, cpi); n != 0 || len(cpi.got) != 1 {
		t.Fatalf("delivered again: %d, system holds %d", n, len(cpi.got))
	}
	doc := cpi.got["cpi comune:REF-1"]
	var delivered struct {
		Person   map[string]map[string]string `json:"person"`
		RecordID string                       `json:"record_id"`
	}
	if err := json.Unmarshal(doc, &delivered); err != nil {
		t.Fatal(err)
	}
	if delivered.Person["identifiers"]["cf"] != cf || delivered.RecordID != "REF-1" || bytes.Contains(doc, []byte(person)) {
		t.Errorf("delivered document: %s; want the identity from the envelope, not the person id", doc)
	}
	v = f.view("comune", "REF-1")
	if v.Delivery != store.DeliveryDelivered || v.TargetID != "T-comune:REF-1" {
		t.Errorf("after delivery: %s target id %q", v.Delivery, v.TargetID)
	}

	// The source sends the referral again, changed: the identity is not
	// sealed anew and its deletion stays scheduled.
	f.store("referral", "comune", "REF-1", person, ids, strings.Replace(referralBody("REF-1", "requested"), "09:00:00Z", "09:30:00Z", 1))
	// The envelope outlives the delivery by the retention, then goes.
	f.clock.add(47 * time.Hour)
	if n, err := f.st.PurgeEnvelopes(f.ctx, f.clock.now()); err != nil || n != 0 {
		t.Fatalf("PurgeEnvelopes within the retention: %d, %v", n, err)
	}
	f.clock.add(2 * time.Hour)
	if n, err := f.st.PurgeEnvelopes(f.ctx, f.clock.now()); err != nil || n != 1 {
		t.Fatalf("PurgeEnvelopes after the retention: %d, %v; want the envelope deleted", n, err)
	}

	// Status events from the employment centre.
	f.store("referral-status-event", "cpi", "EV-1", "", nil, eventBody("EV-1", "REF-1", "requested", "completed", orgCPI, ""))
	f.store("referral-status-event", "cpi", "EV-2", "", nil, eventBody("EV-2", "REF-1", "", "accepted", orgComune, ""))
	f.store("referral-status-event", "cpi", "EV-3", "", nil, eventBody("EV-3", "REF-1", "requested", "accepted", orgCPI, ""))
	f.store("referral-status-event", "cpi", "EV-3", "", nil, eventBody("EV-3", "REF-1", "requested", "accepted", orgCPI, "")) // again
	f.store("referral-status-event", "cpi", "EV-4", "", nil, eventBody("EV-4", "REF-1", "accepted", "completed", orgCPI, ""))
	f.store("referral-status-event", "cpi", "EV-5", "", nil, eventBody("EV-5", "REF-404", "", "accepted", orgCPI, ""))
	v = f.view("comune", "REF-1")
	if v.Status != "completed" || v.RespondedAt.IsZero() || v.ClosedAt.IsZero() {
		t.Errorf("status %s responded %v closed %v, want completed with both times", v.Status, v.RespondedAt, v.ClosedAt)
	}
	evs, err := f.st.ReferralEvents(f.ctx, "comune", "REF-1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s→%s %s", e.From, e.To, e.Outcome))
	}
	want := []string{"→requested applied", "requested→completed refused", "→accepted refused", "requested→accepted applied", "accepted→completed applied"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
	if !strings.Contains(evs[1].Problem, "from requested the referral may go to accepted") ||
		!strings.Contains(evs[2].Problem, "connector cpi does not serve organisation") {
		t.Errorf("refusals do not say why: %q; %q", evs[1].Problem, evs[2].Problem)
	}
	if unknown, _ := f.st.ReferralEvents(f.ctx, "comune", "REF-404"); len(unknown) != 1 || unknown[0].Outcome != "refused" {
		t.Errorf("an event of an unknown referral: %+v, want recorded as refused", unknown)
	}

	// The two applied statuses go back to the municipality.
	comune := &system{}
	if n, err := f.e.Deliver(f.ctx, f.st, comune); err != nil || n != 2 {
		t.Fatalf("status deliveries: %d, %v; want 2", n, err)
	}
	if _, ok := comune.got["comune cpi:EV-3"]; !ok {
		t.Errorf("the acceptance did not reach the requester: %v", comune.got)
	}

	if n, _ := f.st.CountEnvelopes(f.ctx); n != 0 {
		t.Errorf("envelopes left: %d", n)
	}

	// Nothing identifying is stored outside the (now deleted) envelope.
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"snodo.db", "snodo.db-wal"} {
		b, err := os.ReadFile(filepath.Join(f.dir, name))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(cf)) {
			t.Errorf("%s holds the codice fiscale", name)
		}
	}
}

// TestRouting: a referral whose receiver no connector serves, or served by
// the connector it came from, is not delivered, and says why; a draft is
// held until it is requested; a person named by person id only is held.
func TestRouting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ids := map[string]string{"cf": cf}
	f.store("consent", "comune", "CONS-1", person, ids, consentBody(orgCPI))

	unknownOwner := strings.Replace(referralBody("REF-2", "requested"), orgCPI, "asl-nowhere", 1)
	f.store("referral", "comune", "REF-2", person, ids, unknownOwner)
	if v := f.view("comune", "REF-2"); v.Delivery != store.DeliveryUnrouted || !strings.Contains(v.DeliveryNote, `organisation "asl-nowhere"`) {
		t.Errorf("unknown owner: %s %q", v.Delivery, v.DeliveryNote)
	}
	own := strings.Replace(referralBody("REF-3", "requested"), orgCPI, orgComune, 1)
	f.store("referral", "comune", "REF-3", person, ids, own)
	if v := f.view("comune", "REF-3"); v.Delivery != store.DeliveryLocal {
		t.Errorf("own organisation: %s", v.Delivery)
	}
	f.store("referral", "comune", "REF-4", person, ids, referralBody("REF-4", "draft"))
	if v := f.view("comune", "REF-4"); v.Delivery != store.DeliveryHeld || !strings.Contains(v.DeliveryNote, "draft") {
		t.Errorf("draft: %s %q", v.Delivery, v.DeliveryNote)
	}
	f.store("referral", "comune", "REF-5", person, nil, referralBody("REF-5", "requested"))
	if v := f.view("comune", "REF-5"); v.Delivery != store.DeliveryHeld || !strings.Contains(v.DeliveryNote, "person id only") {
		t.Errorf("no identity: %s %q", v.Delivery, v.DeliveryNote)
	}
	f.store("referral", "comune", "REF-6", person, ids, referralBody("REF-6", "accepted"))
	if v := f.view("comune", "REF-6"); v.Delivery != store.DeliveryUnrouted || !strings.Contains(v.DeliveryNote, "first status is refused") {
		t.Errorf("born accepted: %s %q", v.Delivery, v.DeliveryNote)
	}

	overdue, err := f.st.ListReferrals(f.ctx, store.ReferralFilter{OpenSince: f.e.Overdue()})
	if err != nil || len(overdue) != 0 {
		t.Fatalf("overdue at once: %d, %v", len(overdue), err)
	}
	f.clock.add(73 * time.Hour)
	overdue, err = f.st.ListReferrals(f.ctx, store.ReferralFilter{OpenSince: f.e.Overdue()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range overdue {
		names = append(names, r.RecordID)
	}
	if strings.Join(names, ",") != "REF-2,REF-3,REF-5" {
		t.Errorf("overdue after 73 h (urgent target 72 h): %v, want the requested ones REF-2, REF-3, REF-5", names)
	}
}

// TestFirstSeenWithdrawn: a referral the requester cancelled before the
// hub first read it (a system connected with its history) is tracked as
// requested then cancelled, not sent; the requester system's own event for
// that change, read afterwards, changes nothing. A referral first seen
// already accepted — a status only the receiver sets — is still refused.
func TestFirstSeenWithdrawn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.store("consent", "comune", "CONS-1", person, nil, consentBody(orgCPI))
	body := strings.Replace(referralBody("REF-W", "cancelled"), `"changed_at":"2026-11-02T08:55:00Z"`,
		`"changed_at":"2026-11-02T10:00:00Z","reason":{"system":"https://snodo-hub.github.io/codes/referral-status-reason","code":"person-declined"}`, 1)
	f.store("referral", "comune", "REF-W", person, map[string]string{"cf": cf}, body)

	v := f.view("comune", "REF-W")
	if v.Status != "cancelled" || v.Delivery != store.DeliveryHeld || v.DeliveryNote != "not sent: the referral is cancelled" {
		t.Errorf("view: status %s, delivery %s %q", v.Status, v.Delivery, v.DeliveryNote)
	}
	if n, err := f.st.CountEnvelopes(f.ctx); err != nil || n != 0 {
		t.Errorf("%d envelopes (%v): the identity of a referral never to be sent is kept", n, err)
	}
	// The comune's connector reports the cancellation as its own event.
	ev := `{"schema":"https://snodo-hub.github.io/schemas/referral-status-event/1.0.0","record_id":"REF-W-2","source":"comune","territory":"SDS-FI-NORDOVEST",
"referral":{"record_id":"REF-W","source":"comune"},"from":"requested","to":"cancelled","at":"2026-11-02T10:00:00Z","set_by":{"record_id":"` + orgComune + `"},
"reason":{"system":"https://snodo-hub.github.io/codes/referral-status-reason","code":"person-declined"}}`
	f.store("referral-status-event", "comune", "REF-W-2", "", nil, ev)

	evs, err := f.st.ReferralEvents(f.ctx, "comune", "REF-W")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s→%s %s at %s %s", e.From, e.To, e.Outcome, e.At.Format("15:04"), e.Problem))
	}
	want := []string{"→requested applied at 08:55 ", "requested→cancelled applied at 10:00 ",
		"requested→cancelled applied at 10:00 nothing changed: the referral record already said so"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
	if v := f.view("comune", "REF-W"); v.Status != "cancelled" || v.Delivery != store.DeliveryHeld {
		t.Errorf("after the event: %s %s", v.Status, v.Delivery)
	}

	f.store("referral", "comune", "REF-A", person, map[string]string{"cf": cf}, referralBody("REF-A", "accepted"))
	if v := f.view("comune", "REF-A"); v.Delivery != store.DeliveryUnrouted || !strings.Contains(v.DeliveryNote, "first status is refused") {
		t.Errorf("a referral first seen accepted: %s %q", v.Delivery, v.DeliveryNote)
	}
}
