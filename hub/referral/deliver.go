package referral

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/snodo-hub/snodo/hub/store"
)

// purgeEvery is how often expired envelopes are deleted.
const purgeEvery = time.Minute

// Deliver sends what is due in the outbox through the connectors and says
// how many were delivered. A failed delivery is tried again after a
// growing pause; the receiving connector's Write is idempotent, so a
// delivery repeated after a crash between its Write and its commit changes
// nothing there.
func (e *Engine) Deliver(ctx context.Context, st *store.Store, w Writers) (int, error) {
	n := 0
	for _, topic := range []string{TopicReferral, TopicStatus} {
		msgs, err := st.Pending(ctx, topic, 100)
		if err != nil {
			return n, err
		}
		for _, m := range msgs {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			ok, err := e.deliverOne(ctx, st, w, m)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
	}
	return n, nil
}

// deliverOne delivers one message; an error is a failure of the store.
func (e *Engine) deliverOne(ctx context.Context, st *store.Store, w Writers, m store.OutboxMessage) (bool, error) {
	var d delivery
	if err := json.Unmarshal(m.Payload, &d); err != nil {
		return false, fmt.Errorf("outbox message %d: %w", m.ID, err)
	}
	schemaID, doc, err := e.document(ctx, st, m.Topic, d)
	var targetID string
	if err == nil {
		targetID, err = w.Write(ctx, d.Target, schemaID, d.Source+":"+d.RecordID, doc)
	}
	if err != nil {
		return false, e.failed(ctx, st, m, d, err)
	}
	now := e.now()
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.MarkDelivered(ctx, m.ID); err != nil {
			return err
		}
		detail := map[string]any{"source": d.Source, "record_id": d.RecordID, "connector": d.Target, "target_id": targetID}
		if m.Topic == TopicReferral {
			view, ok, err := tx.Referral(ctx, d.Source, d.RecordID)
			if err != nil {
				return err
			}
			if ok {
				view.Delivery, view.DeliveryNote, view.TargetID, view.DeliveredAt = store.DeliveryDelivered, "", targetID, now
				if err := tx.PutReferral(ctx, view); err != nil {
					return err
				}
			}
			if err := tx.ReleaseEnvelope(ctx, d.Source, d.RecordID, now.Add(e.cfg.Retention)); err != nil {
				return err
			}
			return tx.Audit(ctx, "hub", "referral.delivered", detail)
		}
		return tx.Audit(ctx, "hub", "referral.status-delivered", detail)
	})
	if err != nil {
		return false, err
	}
	e.log.Info("delivered", "topic", m.Topic, "source", d.Source, "record", d.RecordID, "connector", d.Target, "attempts", m.Attempts+1)
	return true, nil
}

// document is the record to deliver: a referral with the identity from its
// envelope in place of the person id, or a status event as stored.
func (e *Engine) document(ctx context.Context, st *store.Store, topic string, d delivery) (schemaID string, doc []byte, err error) {
	rec, ok, err := st.GetRecord(ctx, d.Source, d.RecordID)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, fmt.Errorf("record %s/%s is not in the store", d.Source, d.RecordID)
	}
	if topic != TopicReferral {
		return rec.SchemaID, rec.Body, nil
	}
	sealed, ok, err := st.Envelope(ctx, d.Source, d.RecordID)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, errors.New("its delivery envelope is gone (deleted after the retention): the source must send the referral again")
	}
	plain, err := e.seal.Open(sealed, d.Source, d.RecordID)
	if err != nil {
		return "", nil, fmt.Errorf("delivery envelope: %w", err)
	}
	var ids map[string]string
	if err := json.Unmarshal(plain, &ids); err != nil {
		return "", nil, fmt.Errorf("delivery envelope: %w", err)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body, &body); err != nil {
		return "", nil, fmt.Errorf("record %s/%s: %w", d.Source, d.RecordID, err)
	}
	person, err := json.Marshal(map[string]any{"identifiers": ids})
	if err != nil {
		return "", nil, err
	}
	body["person"] = person
	doc, err = json.Marshal(body)
	return rec.SchemaID, doc, err
}

// failed records a failed delivery and when it is tried again.
func (e *Engine) failed(ctx context.Context, st *store.Store, m store.OutboxMessage, d delivery, cause error) error {
	if ctx.Err() != nil {
		return nil // shutting down: not the receiver's failure
	}
	msg := redact(cause.Error())
	next := e.now().Add(store.RetryAfter(m.Attempts))
	e.log.Warn("delivery failed; retrying later", "topic", m.Topic, "source", d.Source, "record", d.RecordID,
		"connector", d.Target, "attempt", m.Attempts+1, "retry_at", next, "error", msg)
	return st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.MarkFailed(ctx, m.ID, errors.New(msg), next); err != nil {
			return err
		}
		if m.Topic != TopicReferral {
			return nil
		}
		view, ok, err := tx.Referral(ctx, d.Source, d.RecordID)
		if err != nil || !ok {
			return err
		}
		view.DeliveryNote = fmt.Sprintf("delivery attempt %d to %s failed: %s; next attempt at %s", m.Attempts+1, d.Target, msg, next.UTC().Format(time.RFC3339))
		return tx.PutReferral(ctx, view)
	})
}

// Run delivers what is due every interval and deletes the envelopes whose
// retention has ended, until ctx ends.
func (e *Engine) Run(ctx context.Context, st *store.Store, w Writers, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var purged time.Time
	for {
		if _, err := e.Deliver(ctx, st, w); err != nil && ctx.Err() == nil {
			e.log.Error("deliver referrals", "error", err)
		}
		// Purging takes the store's write lock: once a minute is enough
		// for retentions counted in hours.
		if now := e.now(); now.Sub(purged) >= purgeEvery {
			purged = now
			if n, err := st.PurgeEnvelopes(ctx, now); err != nil && ctx.Err() == nil {
				e.log.Error("delete expired delivery envelopes", "error", err)
			} else if n > 0 {
				e.log.Info("delivery envelopes deleted after their retention", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Overdue is the filter of the referrals past their response-time target
// now: still requested after their priority's target.
func (e *Engine) Overdue() map[string]time.Time {
	now := e.now()
	out := make(map[string]time.Time, len(e.cfg.Targets))
	for priority, d := range e.cfg.Targets {
		out[priority] = now.Add(-d)
	}
	return out
}
