package referral

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/seal"
	"github.com/snodo-hub/snodo/hub/store"
)

// The schemas the engine follows, by short name.
const (
	SchemaReferral = "referral"
	SchemaEvent    = "referral-status-event"
	SchemaConsent  = "consent"
)

// The outbox topics of deliveries.
const (
	TopicReferral = "referral.deliver"
	TopicStatus   = "referral.status"
)

// DefaultRetention is how long a delivery envelope is kept after the
// delivery when the configuration does not say.
const DefaultRetention = 7 * 24 * time.Hour

// DefaultPurpose is the consent purpose a referral needs.
const DefaultPurpose = "referral"

// Config is what the engine needs.
type Config struct {
	// Key is the territory's key; the envelope key is derived from it.
	Key identity.Key
	// Serves maps an organisation id to the connector instance that
	// delivers to its system.
	Serves map[string]string
	// Retention is how long an envelope is kept after its delivery
	// (DefaultRetention if 0).
	Retention time.Duration
	// Targets are the response-time targets by priority: a referral still
	// requested after its target is overdue.
	Targets map[string]time.Duration
	// Purpose is the consent purpose a referral needs (DefaultPurpose if
	// empty).
	Purpose string
	// Clock (time.Now if nil) and Logger (none if nil).
	Clock  func() time.Time
	Logger *slog.Logger
}

// Engine tracks referrals. Stored runs inside the pipeline's transactions;
// Deliver runs beside the pipeline.
type Engine struct {
	cfg  Config
	seal *seal.Sealer
	log  *slog.Logger
	now  func() time.Time
}

// New makes an engine.
func New(cfg Config) (*Engine, error) {
	s, err := seal.New(cfg.Key, seal.Envelope)
	if err != nil {
		return nil, fmt.Errorf("referral engine: %w", err)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Purpose == "" {
		cfg.Purpose = DefaultPurpose
	}
	e := &Engine{cfg: cfg, seal: s, log: cfg.Logger, now: cfg.Clock}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	return e, nil
}

// Record is a record the pipeline has just stored.
type Record = pipeline.Stored

// Observes reports whether the engine follows records of schema.
func (e *Engine) Observes(schema string) bool {
	switch schema {
	case SchemaReferral, SchemaEvent, SchemaConsent:
		return true
	}
	return false
}

// Stored follows a stored record inside the transaction that stored it
// (the engine is the pipeline's Observer).
// A refused status change is not an error: it is recorded, with why. An
// error is a failure of the store.
func (e *Engine) Stored(ctx context.Context, tx *store.Tx, r Record) error {
	switch r.Schema {
	case SchemaReferral:
		return e.observeReferral(ctx, tx, r)
	case SchemaEvent:
		return e.observeEvent(ctx, tx, r)
	case SchemaConsent:
		return e.observeConsent(ctx, tx, r)
	}
	return nil
}

// code reads a code that is either a string or a {system, code} coding.
func code(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var c struct{ Code string }
	_ = json.Unmarshal(raw, &c)
	return c.Code
}

type reference struct {
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
}

// referralDoc is what the engine reads of a referral.
type referralDoc struct {
	Requester  reference       `json:"requester"`
	Owner      reference       `json:"owner"`
	AuthoredOn time.Time       `json:"authored_on"`
	RecordedAt time.Time       `json:"recorded_at"`
	Priority   json.RawMessage `json:"priority"`
	Category   json.RawMessage `json:"category"`
	Status     struct {
		Code      string          `json:"code"`
		Reason    json.RawMessage `json:"reason"`
		ChangedAt time.Time       `json:"changed_at"`
	} `json:"status"`
}

func (e *Engine) observeReferral(ctx context.Context, tx *store.Tx, r Record) error {
	var d referralDoc
	if err := json.Unmarshal(r.Body, &d); err != nil {
		return fmt.Errorf("referral %s/%s: read the stored record: %w", r.Source, r.RecordID, err)
	}
	view, known, err := tx.Referral(ctx, r.Source, r.RecordID)
	if err != nil {
		return err
	}
	view.Source, view.RecordID = r.Source, r.RecordID
	view.Requester, view.Owner = d.Requester.RecordID, d.Owner.RecordID
	view.PersonID, view.Priority, view.Category, view.AuthoredOn = r.PersonID, code(d.Priority), code(d.Category), d.AuthoredOn
	if !known {
		at := d.Status.ChangedAt
		if at.IsZero() {
			at = d.AuthoredOn
		}
		to, reason := Status(d.Status.Code), code(d.Status.Reason)
		ev := store.ReferralEvent{RefSource: r.Source, RefRecordID: r.RecordID, EventSource: r.Source,
			To: string(to), Reason: reason, SetBy: view.Requester, At: at, Outcome: "applied"}
		view.Status, view.StatusReason, view.StatusAt = string(to), reason, at
		if lateStart(to, view.Requester, reason) {
			// The requester withdrew it before the hub first read it: it
			// was requested when authored, then changed by the requester.
			first := ev
			first.To, first.Reason, first.At = string(Requested), "", d.AuthoredOn
			if _, err := tx.AddReferralEvent(ctx, first); err != nil {
				return err
			}
			ev.From = string(Requested)
		} else if err := CheckTransition("", to, view.Requester, Requester, reason); err != nil {
			ev.Outcome, ev.Problem = "refused", err.Error()
			view.Delivery, view.DeliveryNote = store.DeliveryUnrouted, "not tracked: its first status is refused: "+err.Error()
			e.log.Warn("referral refused", "source", r.Source, "referral", r.RecordID, "problem", err.Error())
			if _, err := tx.AddReferralEvent(ctx, ev); err != nil {
				return err
			}
			return tx.PutReferral(ctx, view)
		}
		if _, err := tx.AddReferralEvent(ctx, ev); err != nil {
			return err
		}
	}
	// The identity is sealed until the referral is delivered; a copy the
	// source sends again afterwards is not kept.
	if len(r.Identifiers) > 0 && view.Delivery != store.DeliveryDelivered && e.needsDelivery(view) {
		plain, err := json.Marshal(r.Identifiers)
		if err != nil {
			return err
		}
		if err := tx.PutEnvelope(ctx, r.Source, r.RecordID, e.seal.Seal(plain, r.Source, r.RecordID)); err != nil {
			return err
		}
	}
	if !known || view.Delivery == store.DeliveryHeld || view.Delivery == store.DeliveryUnrouted {
		if err := e.route(ctx, tx, &view, len(r.Identifiers) > 0); err != nil {
			return err
		}
	}
	return tx.PutReferral(ctx, view)
}

// lateStart reports whether a referral the hub reads for the first time
// with status to is one its requester changed before the hub saw it:
// cancelled or entered in error, which the requester may set on a
// requested referral.
func lateStart(to Status, requester, reason string) bool {
	if to == Draft || to == Requested {
		return false
	}
	return CheckTransition(Requested, to, requester, Requester, reason) == nil
}

// needsDelivery reports whether the referral's receiver is served by
// another connector than the one it came from.
func (e *Engine) needsDelivery(view store.Referral) bool {
	target, ok := e.cfg.Serves[view.Owner]
	return ok && target != view.Source && !Status(view.Status).Final()
}

// route decides what becomes of a referral not yet sent: delivered
// through the outbox, held (draft, no consent, no identity), or not routed
// (no connector serves its receiver, or the receiver's own system sent it).
func (e *Engine) route(ctx context.Context, tx *store.Tx, view *store.Referral, hasIdentity bool) error {
	target, ok := e.cfg.Serves[view.Owner]
	switch {
	case !ok:
		view.Delivery, view.DeliveryNote = store.DeliveryUnrouted,
			fmt.Sprintf("no connector serves organisation %q: add it under organisations in snodo.yaml with the connector that delivers to it", view.Owner)
		return nil
	case target == view.Source:
		view.Delivery, view.DeliveryNote = store.DeliveryLocal, ""
		return nil
	case Status(view.Status).Final():
		view.Delivery, view.DeliveryNote = store.DeliveryHeld, "not sent: the referral is "+view.Status
		return tx.ReleaseEnvelope(ctx, view.Source, view.RecordID, e.now())
	case Status(view.Status) == Draft:
		view.Delivery, view.DeliveryNote = store.DeliveryHeld, "held: a draft is sent once the requester sets it requested"
		return nil
	}
	if !hasIdentity {
		if _, ok, err := tx.EnvelopeExists(ctx, view.Source, view.RecordID); err != nil {
			return err
		} else if !ok {
			view.Delivery, view.DeliveryNote = store.DeliveryHeld,
				"held: the source named the person by person id only, so the hub has no identity to give the receiver; the source must send the person's identifiers"
			return nil
		}
	}
	covered, err := e.consented(ctx, tx, view.PersonID, view.Owner)
	if err != nil {
		return err
	}
	if !covered {
		view.Delivery, view.DeliveryNote = store.DeliveryHeld,
			fmt.Sprintf("held: no active consent of the person covers organisation %q for the purpose %q; it is sent once one arrives", view.Owner, e.cfg.Purpose)
		return nil
	}
	payload, err := json.Marshal(delivery{Source: view.Source, RecordID: view.RecordID, Target: target})
	if err != nil {
		return err
	}
	if _, _, err := tx.Enqueue(ctx, TopicReferral, "referral:"+view.Source+":"+view.RecordID, payload); err != nil {
		return err
	}
	view.Delivery, view.DeliveryNote, view.Target = store.DeliveryPending, "", target
	e.log.Info("referral routed", "source", view.Source, "referral", view.RecordID, "owner", view.Owner, "connector", target)
	return nil
}

// delivery is an outbox message's payload.
type delivery struct {
	// Source and RecordID name the record to deliver: the referral, or
	// the status event.
	Source   string `json:"source"`
	RecordID string `json:"record_id"`
	// Target is the connector instance to deliver to.
	Target string `json:"target"`
	// Referral names the referral of a status event.
	Referral *reference `json:"referral,omitempty"`
}

// consentDoc is what the engine reads of a consent.
type consentDoc struct {
	Status      json.RawMessage   `json:"status"`
	Purposes    []json.RawMessage `json:"purposes"`
	Recipients  []reference       `json:"recipients"`
	ValidPeriod *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"valid_period"`
}

// consented reports whether an active consent of the person covers the
// organisation for the engine's purpose today.
func (e *Engine) consented(ctx context.Context, tx *store.Tx, personID, org string) (bool, error) {
	if personID == "" {
		return false, nil
	}
	bodies, err := tx.PersonBodies(ctx, personID, SchemaConsent)
	if err != nil {
		return false, err
	}
	today := e.now().Format(time.DateOnly)
	for _, b := range bodies {
		var c consentDoc
		if json.Unmarshal(b, &c) != nil || code(c.Status) != "active" {
			continue
		}
		if !slices.ContainsFunc(c.Purposes, func(p json.RawMessage) bool { return code(p) == e.cfg.Purpose }) {
			continue
		}
		if !slices.ContainsFunc(c.Recipients, func(r reference) bool { return r.RecordID == org }) {
			continue
		}
		if p := c.ValidPeriod; p != nil && (p.Start > today || (p.End != "" && p.End < today)) {
			continue
		}
		return true, nil
	}
	return false, nil
}

// observeConsent sends the person's held referrals a new consent covers.
func (e *Engine) observeConsent(ctx context.Context, tx *store.Tx, r Record) error {
	if r.PersonID == "" {
		return nil
	}
	held, err := tx.HeldReferrals(ctx, r.PersonID)
	if err != nil {
		return err
	}
	for _, view := range held {
		if err := e.route(ctx, tx, &view, false); err != nil {
			return err
		}
		if err := tx.PutReferral(ctx, view); err != nil {
			return err
		}
	}
	return nil
}

// eventDoc is what the engine reads of a status event.
type eventDoc struct {
	Referral reference       `json:"referral"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	At       time.Time       `json:"at"`
	SetBy    reference       `json:"set_by"`
	Reason   json.RawMessage `json:"reason"`
}

func (e *Engine) observeEvent(ctx context.Context, tx *store.Tx, r Record) error {
	seen, err := tx.HasReferralEvent(ctx, r.Source, r.RecordID)
	if err != nil || seen {
		return err // an event is applied once; a changed copy changes nothing
	}
	var d eventDoc
	if err := json.Unmarshal(r.Body, &d); err != nil {
		return fmt.Errorf("status event %s/%s: read the stored record: %w", r.Source, r.RecordID, err)
	}
	refSource := d.Referral.Source
	if refSource == "" {
		refSource = r.Source
	}
	to, reason, setBy := Status(d.To), code(d.Reason), d.SetBy.RecordID
	ev := store.ReferralEvent{RefSource: refSource, RefRecordID: d.Referral.RecordID, EventSource: r.Source, EventID: r.RecordID,
		From: d.From, To: string(to), Reason: reason, SetBy: setBy, At: d.At, Outcome: "applied"}
	refuse := func(problem string) error {
		ev.Outcome, ev.Problem = "refused", problem
		e.log.Warn("status change refused", "source", r.Source, "event", r.RecordID, "referral", d.Referral.RecordID, "problem", problem)
		_, err := tx.AddReferralEvent(ctx, ev)
		return err
	}
	view, known, err := tx.Referral(ctx, refSource, d.Referral.RecordID)
	if err != nil {
		return err
	}
	if !known {
		return refuse(fmt.Sprintf("no referral %s from %s is known to the hub", d.Referral.RecordID, refSource))
	}
	party := Neither
	switch setBy {
	case view.Requester:
		party = Requester
	case view.Owner:
		party = Owner
	}
	// The connector that reports a change must speak for the organisation
	// that set it: the requester's own system, or the one the hub
	// delivered to.
	if party != Neither && e.cfg.Serves[setBy] != r.Source && !(r.Source == view.Source && party == Requester) {
		return refuse(fmt.Sprintf("connector %s does not serve organisation %q, which the event says set the status", r.Source, setBy))
	}
	if to == Status(view.Status) && d.At.Equal(view.StatusAt) && setBy == view.Requester && party == Requester && r.Source == view.Source {
		// The requester's system reports a change the referral record
		// already carried when the hub first read it.
		ev.Problem = "nothing changed: the referral record already said so"
		_, err := tx.AddReferralEvent(ctx, ev)
		return err
	}
	if d.From != "" && d.From != view.Status {
		return refuse(fmt.Sprintf("the event changes the status from %s, but the referral is %s", d.From, view.Status))
	}
	if err := CheckTransition(Status(view.Status), to, setBy, party, reason); err != nil {
		return refuse(err.Error())
	}
	ev.From = view.Status
	if _, err := tx.AddReferralEvent(ctx, ev); err != nil {
		return err
	}
	view.Status, view.StatusReason, view.StatusAt = string(to), reason, d.At
	if (to == Accepted || to == Rejected) && view.RespondedAt.IsZero() {
		view.RespondedAt = d.At
	}
	if to.Final() && view.ClosedAt.IsZero() {
		view.ClosedAt = d.At
	}
	switch view.Delivery {
	case store.DeliveryHeld:
		// Held and now sent (a draft requested) or ended (cancelled).
		if err := e.route(ctx, tx, &view, false); err != nil {
			return err
		}
	case store.DeliveryPending, store.DeliveryDelivered:
		// Tell the other side.
		other := view.Requester
		if party == Requester {
			other = view.Owner
		}
		if target, ok := e.cfg.Serves[other]; ok && target != r.Source {
			payload, err := json.Marshal(delivery{Source: r.Source, RecordID: r.RecordID, Target: target,
				Referral: &reference{Source: view.Source, RecordID: view.RecordID}})
			if err != nil {
				return err
			}
			if _, _, err := tx.Enqueue(ctx, TopicStatus, "status:"+r.Source+":"+r.RecordID, payload); err != nil {
				return err
			}
		}
	}
	if to.Final() {
		if err := tx.ReleaseEnvelope(ctx, view.Source, view.RecordID, e.now().Add(e.cfg.Retention)); err != nil {
			return err
		}
	}
	e.log.Info("referral status", "referral", view.RecordID, "source", view.Source, "status", string(to), "set_by", setBy)
	return tx.PutReferral(ctx, view)
}

// Writers finds the connector instance that delivers to a system.
type Writers interface {
	// Write delivers one record through the connector instance named.
	Write(ctx context.Context, connector, schemaID, recordID string, record []byte) (targetID string, err error)
}

// redact keeps identifier-shaped text out of what is stored and shown.
func redact(s string) string {
	s, _ = logging.Redact(s)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return strings.TrimSpace(s)
}
