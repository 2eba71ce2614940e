package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// The outbox's retry schedule for a transient failure: 1 s after the first,
// doubling up to 10 min.
const (
	RetryFirst = time.Second
	RetryMax   = 10 * time.Minute
)

// RetryAfter is the pause before the next attempt of a message that failed
// attempts times before this failure (Attempts of OutboxMessage): RetryFirst
// doubling up to RetryMax, ±20 % so that messages that failed together do
// not all come back together. Every consumer of the outbox uses it.
func RetryAfter(attempts int) time.Duration {
	d := RetryFirst
	for range attempts {
		d *= 2
		if d >= RetryMax {
			d = RetryMax
			break
		}
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// OutboxMessage is a message waiting in the outbox.
type OutboxMessage struct {
	ID            int64
	Topic         string
	DedupKey      string
	Payload       []byte
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	LastError     string // empty before the first failure
}

const defaultPendingLimit = 100

// Enqueue adds a message to the outbox, idempotently by dedupKey: when a
// message with that key exists (delivered or not), it returns that message's
// id with created false and changes nothing. The message is due at once.
func (t *Tx) Enqueue(ctx context.Context, topic, dedupKey string, payload []byte) (id int64, created bool, err error) {
	if topic == "" || dedupKey == "" {
		return 0, false, fmt.Errorf("enqueue on topic %q: topic and dedup key are required", topic)
	}
	err = t.stmt(ctx, stmtEnqueue).QueryRowContext(ctx, topic, dedupKey, payload, t.s.stamp()).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("enqueue on topic %q: %w", topic, err)
	}
	var existing string
	err = t.tx.QueryRowContext(ctx, `SELECT id, topic FROM outbox WHERE dedup_key = ?1`, dedupKey).Scan(&id, &existing)
	if err != nil {
		return 0, false, fmt.Errorf("enqueue on topic %q: find the message already queued: %w", topic, err)
	}
	if existing != topic {
		return 0, false, fmt.Errorf("enqueue on topic %q: dedup key already used on topic %q: dedup keys must be unique across topics", topic, existing)
	}
	return id, false, nil
}

// OutboxPayload returns the payload of the message queued with dedupKey
// (delivered or not), and whether there is one.
func (t *Tx) OutboxPayload(ctx context.Context, dedupKey string) ([]byte, bool, error) {
	var p []byte
	err := t.tx.QueryRowContext(ctx, `SELECT payload FROM outbox WHERE dedup_key = ?1`, dedupKey).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read outbox message %s: %w", dedupKey, err)
	}
	return p, true, nil
}

// MarkDelivered records that outbox message id was delivered; it is no longer
// pending. Marking it again is a no-op.
func (t *Tx) MarkDelivered(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE outbox SET delivered_at = coalesce(delivered_at, ?1) WHERE id = ?2`, t.s.stamp(), id)
	if err != nil {
		return fmt.Errorf("mark outbox message %d delivered: %w", id, err)
	}
	return expectOne(res, fmt.Sprintf("mark outbox message %d delivered", id))
}

// MarkFailed records a failed delivery attempt of outbox message id: the
// attempt count goes up, cause is kept as the last error and the message is
// due again at next. cause's text is stored: it must not quote personal data.
func (t *Tx) MarkFailed(ctx context.Context, id int64, cause error, next time.Time) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?1, next_attempt_at = ?2
WHERE id = ?3 AND delivered_at IS NULL`, msg, formatTime(next), id)
	if err != nil {
		return fmt.Errorf("mark outbox message %d failed: %w", id, err)
	}
	return expectOne(res, fmt.Sprintf("mark outbox message %d failed (unknown or already delivered)", id))
}

func expectOne(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// MarkDelivered is Tx.MarkDelivered in its own transaction.
func (s *Store) MarkDelivered(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.MarkDelivered(ctx, id) })
}

// MarkFailed is Tx.MarkFailed in its own transaction.
func (s *Store) MarkFailed(ctx context.Context, id int64, cause error, next time.Time) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.MarkFailed(ctx, id, cause, next) })
}

// Pending lists up to limit (default 100) undelivered messages of topic that
// are due now, by due time then id.
func (s *Store) Pending(ctx context.Context, topic string, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultPendingLimit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, topic, dedup_key, payload, created_at, attempts, next_attempt_at, last_error
FROM outbox
WHERE topic = ?1 AND delivered_at IS NULL AND next_attempt_at <= ?2
ORDER BY next_attempt_at, id
LIMIT ?3`, topic, s.stamp(), limit)
	if err != nil {
		return nil, fmt.Errorf("list pending messages of topic %q: %w", topic, err)
	}
	defer rows.Close()
	var out []OutboxMessage
	for rows.Next() {
		var m OutboxMessage
		var created, next string
		var lastErr sql.NullString
		if err := rows.Scan(&m.ID, &m.Topic, &m.DedupKey, &m.Payload, &created, &m.Attempts, &next, &lastErr); err != nil {
			return nil, fmt.Errorf("list pending messages of topic %q: %w", topic, err)
		}
		m.LastError = lastErr.String
		if m.CreatedAt, err = parseTime(created); err != nil {
			return nil, err
		}
		if m.NextAttemptAt, err = parseTime(next); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending messages of topic %q: %w", topic, err)
	}
	return out, nil
}
