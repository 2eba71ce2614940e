package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Delivery states of a referral.
const (
	DeliveryLocal     = "local"     // the receiving organisation is served by the connector it came from
	DeliveryUnrouted  = "unrouted"  // no connector serves the receiving organisation
	DeliveryHeld      = "held"      // not sent: no consent covers it, or it is a draft
	DeliveryPending   = "pending"   // in the outbox
	DeliveryDelivered = "delivered" // the receiving system has it
)

// Referral is the hub's view of a referral.
type Referral struct {
	Source, RecordID string
	Requester, Owner string // organisation ids
	PersonID         string
	Priority         string
	Category         string
	Status           string
	StatusReason     string
	StatusAt         time.Time
	AuthoredOn       time.Time
	RespondedAt      time.Time // zero until accepted or rejected
	ClosedAt         time.Time // zero until final
	Delivery         string
	DeliveryNote     string
	Target           string
	TargetID         string
	DeliveredAt      time.Time
	UpdatedAt        time.Time
}

// ReferralEvent is a status change reported for a referral, applied or
// refused.
type ReferralEvent struct {
	ID                      int64
	RefSource, RefRecordID  string
	EventSource, EventID    string // EventID "" for a referral's first status
	From, To, Reason, SetBy string
	At                      time.Time
	Outcome                 string // applied or refused
	Problem                 string
	RecordedAt              time.Time
}

const referralColumns = `source, record_id, requester, owner, person_id, priority, category, status, status_reason, status_at,
authored_on, responded_at, closed_at, delivery, delivery_note, target, target_id, delivered_at, updated_at`

// PutReferral inserts or replaces the hub's view of a referral.
func (t *Tx) PutReferral(ctx context.Context, r Referral) error {
	_, err := t.tx.ExecContext(ctx, `INSERT OR REPLACE INTO referrals (`+referralColumns+`)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)`,
		r.Source, r.RecordID, r.Requester, r.Owner, nullString(r.PersonID), r.Priority, r.Category,
		r.Status, nullString(r.StatusReason), formatTime(r.StatusAt), formatTime(r.AuthoredOn),
		nullTime(r.RespondedAt), nullTime(r.ClosedAt), r.Delivery, nullString(r.DeliveryNote),
		nullString(r.Target), nullString(r.TargetID), nullTime(r.DeliveredAt), t.s.stamp())
	if err != nil {
		return fmt.Errorf("store referral %s/%s: %w", r.Source, r.RecordID, err)
	}
	return nil
}

type rowScanner interface{ Scan(...any) error }

func scanReferral(row rowScanner) (Referral, error) {
	var r Referral
	var person, reason, note, target, targetID sql.NullString
	var statusAt, authored, updated string
	var responded, closed, delivered sql.NullString
	err := row.Scan(&r.Source, &r.RecordID, &r.Requester, &r.Owner, &person, &r.Priority, &r.Category,
		&r.Status, &reason, &statusAt, &authored, &responded, &closed, &r.Delivery, &note, &target, &targetID, &delivered, &updated)
	if err != nil {
		return Referral{}, err
	}
	r.PersonID, r.StatusReason, r.DeliveryNote, r.Target, r.TargetID = person.String, reason.String, note.String, target.String, targetID.String
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&r.StatusAt, statusAt}, {&r.AuthoredOn, authored}, {&r.UpdatedAt, updated},
		{&r.RespondedAt, responded.String}, {&r.ClosedAt, closed.String}, {&r.DeliveredAt, delivered.String}} {
		if f.src == "" {
			continue
		}
		if *f.dst, err = parseTime(f.src); err != nil {
			return Referral{}, err
		}
	}
	return r, nil
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getReferral(ctx context.Context, q rowQuerier, source, recordID string) (Referral, bool, error) {
	r, err := scanReferral(q.QueryRowContext(ctx, `SELECT `+referralColumns+` FROM referrals WHERE source = ?1 AND record_id = ?2`, source, recordID))
	if errors.Is(err, sql.ErrNoRows) {
		return Referral{}, false, nil
	}
	if err != nil {
		return Referral{}, false, fmt.Errorf("read referral %s/%s: %w", source, recordID, err)
	}
	return r, true, nil
}

// Referral returns the hub's view of a referral, inside the transaction.
func (t *Tx) Referral(ctx context.Context, source, recordID string) (Referral, bool, error) {
	return getReferral(ctx, t.tx, source, recordID)
}

// Referral returns the hub's view of a referral.
func (s *Store) Referral(ctx context.Context, source, recordID string) (Referral, bool, error) {
	return getReferral(ctx, s.r, source, recordID)
}

// scanReferrals reads every row of a referrals query.
func scanReferrals(rows *sql.Rows, what string) ([]Referral, error) {
	defer rows.Close()
	var out []Referral
	for rows.Next() {
		r, err := scanReferral(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// HeldReferrals lists the referrals of a person held for want of consent.
func (t *Tx) HeldReferrals(ctx context.Context, personID string) ([]Referral, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+referralColumns+` FROM referrals WHERE person_id = ?1 AND delivery = 'held'`, personID)
	if err != nil {
		return nil, fmt.Errorf("list held referrals: %w", err)
	}
	return scanReferrals(rows, "list held referrals")
}

// ReferralFilter selects referrals to list.
type ReferralFilter struct {
	Status string // "" for any
	Owner  string // "" for any
	// OpenSince, when set, keeps the referrals still waiting for an answer
	// (requested, not accepted or rejected) whose status was set before it.
	OpenSince map[string]time.Time // by priority: overdue when requested before this
	// After and Limit page through the list in (source, record_id) order.
	AfterSource, AfterRecordID string
	Limit                      int
}

// ListReferrals lists referrals by filter.
func (s *Store) ListReferrals(ctx context.Context, f ReferralFilter) ([]Referral, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("?%d", len(args))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Owner != "" {
		where = append(where, "owner = "+arg(f.Owner))
	}
	if f.OpenSince != nil {
		var ors []string
		for priority, before := range f.OpenSince {
			ors = append(ors, fmt.Sprintf("(priority = %s AND status_at < %s)", arg(priority), arg(formatTime(before))))
		}
		if len(ors) == 0 {
			ors = []string{"0"}
		}
		where = append(where, "status = 'requested' AND ("+strings.Join(ors, " OR ")+")")
	}
	if f.AfterSource != "" {
		where = append(where, fmt.Sprintf("(source, record_id) > (%s, %s)", arg(f.AfterSource), arg(f.AfterRecordID)))
	}
	q := `SELECT ` + referralColumns + ` FROM referrals`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY source, record_id LIMIT " + arg(limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list referrals: %w", err)
	}
	return scanReferrals(rows, "list referrals")
}

// AddReferralEvent records a status change, idempotently by (EventSource,
// EventID): an event already recorded is not recorded again and created is
// false.
func (t *Tx) AddReferralEvent(ctx context.Context, e ReferralEvent) (created bool, err error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO referral_events
    (ref_source, ref_record_id, event_source, event_id, from_status, to_status, reason, set_by, at, outcome, problem, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (event_source, event_id) DO NOTHING`,
		e.RefSource, e.RefRecordID, e.EventSource, nullString(e.EventID), nullString(e.From), e.To, nullString(e.Reason),
		e.SetBy, formatTime(e.At), e.Outcome, nullString(e.Problem), t.s.stamp())
	if err != nil {
		return false, fmt.Errorf("record a status event of referral %s/%s: %w", e.RefSource, e.RefRecordID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// HasReferralEvent reports whether the status event was recorded already.
func (t *Tx) HasReferralEvent(ctx context.Context, eventSource, eventID string) (bool, error) {
	var one int
	err := t.tx.QueryRowContext(ctx, `SELECT 1 FROM referral_events WHERE event_source = ?1 AND event_id = ?2`, eventSource, eventID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up a status event: %w", err)
	}
	return true, nil
}

// ReferralEvents lists a referral's status events, oldest first.
func (s *Store) ReferralEvents(ctx context.Context, source, recordID string) ([]ReferralEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, ref_source, ref_record_id, event_source, event_id, from_status, to_status, reason, set_by,
       at, outcome, problem, recorded_at
FROM referral_events WHERE ref_source = ?1 AND ref_record_id = ?2 ORDER BY id`, source, recordID)
	if err != nil {
		return nil, fmt.Errorf("list the events of referral %s/%s: %w", source, recordID, err)
	}
	defer rows.Close()
	var out []ReferralEvent
	for rows.Next() {
		var e ReferralEvent
		var eventID, from, reason, problem sql.NullString
		var at, recorded string
		if err := rows.Scan(&e.ID, &e.RefSource, &e.RefRecordID, &e.EventSource, &eventID, &from, &e.To, &reason, &e.SetBy,
			&at, &e.Outcome, &problem, &recorded); err != nil {
			return nil, fmt.Errorf("list the events of referral %s/%s: %w", source, recordID, err)
		}
		e.EventID, e.From, e.Reason, e.Problem = eventID.String, from.String, reason.String, problem.String
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		if e.RecordedAt, err = parseTime(recorded); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PersonBodies returns the bodies of a person's records of one schema,
// inside the transaction.
func (t *Tx) PersonBodies(ctx context.Context, personID, schema string) ([][]byte, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT body FROM records WHERE person_id = ?1 AND schema = ?2`, personID, schema)
	if err != nil {
		return nil, fmt.Errorf("read a person's %s records: %w", schema, err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("read a person's %s records: %w", schema, err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// RecordBody returns the stored body of a record, inside the transaction.
func (t *Tx) RecordBody(ctx context.Context, source, recordID string) ([]byte, bool, error) {
	var b []byte
	err := t.tx.QueryRowContext(ctx, `SELECT body FROM records WHERE source = ?1 AND record_id = ?2`, source, recordID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read record %s/%s: %w", source, recordID, err)
	}
	return b, true, nil
}

// PutEnvelope stores the sealed identity of a referral's receiver,
// replacing an earlier one (the source sent the referral again) and
// clearing any scheduled deletion.
func (t *Tx) PutEnvelope(ctx context.Context, source, recordID string, sealed []byte) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO delivery_envelopes (ref_source, ref_record_id, sealed, created_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (ref_source, ref_record_id) DO UPDATE SET sealed = excluded.sealed, delete_after = NULL`, source, recordID, sealed, t.s.stamp())
	if err != nil {
		return fmt.Errorf("store the delivery envelope of referral %s/%s: %w", source, recordID, err)
	}
	return nil
}

// Envelope returns the sealed identity of a referral's receiver; ok is
// false when there is none (never made, or deleted after its retention).
func (s *Store) Envelope(ctx context.Context, source, recordID string) (sealed []byte, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT sealed FROM delivery_envelopes WHERE ref_source = ?1 AND ref_record_id = ?2`, source, recordID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the delivery envelope of referral %s/%s: %w", source, recordID, err)
	}
	return sealed, true, nil
}

// ReleaseEnvelope schedules the deletion of a referral's envelope (an
// earlier schedule stands).
func (t *Tx) ReleaseEnvelope(ctx context.Context, source, recordID string, deleteAfter time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE delivery_envelopes SET delete_after = coalesce(delete_after, ?1) WHERE ref_source = ?2 AND ref_record_id = ?3`,
		formatTime(deleteAfter), source, recordID)
	if err != nil {
		return fmt.Errorf("schedule the deletion of the delivery envelope of referral %s/%s: %w", source, recordID, err)
	}
	return nil
}

// PurgeEnvelopes deletes the envelopes whose retention ended before now.
func (s *Store) PurgeEnvelopes(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.tx.ExecContext(ctx, `DELETE FROM delivery_envelopes WHERE delete_after IS NOT NULL AND delete_after <= ?1`, formatTime(now))
		if err != nil {
			return fmt.Errorf("delete expired delivery envelopes: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// CountEnvelopes counts the delivery envelopes kept.
func (s *Store) CountEnvelopes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM delivery_envelopes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count delivery envelopes: %w", err)
	}
	return n, nil
}

// EnvelopeExists reports whether a referral has an envelope, inside the
// transaction.
func (t *Tx) EnvelopeExists(ctx context.Context, source, recordID string) (int, bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT length(sealed) FROM delivery_envelopes WHERE ref_source = ?1 AND ref_record_id = ?2`, source, recordID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("look up the delivery envelope of referral %s/%s: %w", source, recordID, err)
	}
	return n, true, nil
}

// ReferralCounts are the referrals the hub tracks, counted for monitoring.
type ReferralCounts struct {
	ByStatus   map[string]int64 // by current status
	ByDelivery map[string]int64 // by delivery state
	Overdue    map[string]int64 // requested past their priority's response target, by priority
	Events     map[string]int64 // status changes reported, by outcome (applied, refused)
}

// CountReferrals counts the referrals by status and delivery state, the
// overdue ones by priority (overdue: by priority, the time before which a
// referral still requested is overdue) and the status changes by outcome.
func (s *Store) CountReferrals(ctx context.Context, overdue map[string]time.Time) (ReferralCounts, error) {
	c := ReferralCounts{ByStatus: map[string]int64{}, ByDelivery: map[string]int64{}, Overdue: map[string]int64{}, Events: map[string]int64{}}
	count := func(into map[string]int64, q string, args ...any) error {
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("count referrals: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				return fmt.Errorf("count referrals: %w", err)
			}
			into[k] += n
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("count referrals: %w", err)
		}
		return nil
	}
	if err := count(c.ByStatus, `SELECT status, count(*) FROM referrals GROUP BY status`); err != nil {
		return c, err
	}
	if err := count(c.ByDelivery, `SELECT delivery, count(*) FROM referrals GROUP BY delivery`); err != nil {
		return c, err
	}
	if err := count(c.Events, `SELECT outcome, count(*) FROM referral_events GROUP BY outcome`); err != nil {
		return c, err
	}
	for priority, before := range overdue {
		if err := count(c.Overdue, `SELECT priority, count(*) FROM referrals WHERE status = 'requested' AND priority = ?1 AND status_at < ?2 GROUP BY priority`,
			priority, formatTime(before)); err != nil {
			return c, err
		}
	}
	return c, nil
}
