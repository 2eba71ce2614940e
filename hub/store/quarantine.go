package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// QuarantineError is one reason a record was quarantined: a JSON pointer into
// the record and a message. Messages must not quote personal identifiers.
type QuarantineError struct {
	Pointer string `json:"pointer"`
	Message string `json:"message"`
}

// QuarantineItem is a record the pipeline could not accept.
type QuarantineItem struct {
	Source   string // required
	RecordID string // optional: empty when the record could not be parsed
	Schema   string // optional
	Errors   []QuarantineError
	Raw      []byte // the raw record, already encrypted by the caller
}

// QuarantineEntry is a stored quarantine item.
type QuarantineEntry struct {
	QuarantineItem
	ID         int64
	CreatedAt  time.Time
	ReplayedAt time.Time // zero until replayed
	DroppedAt  time.Time // zero until dropped
}

// QuarantineFilter selects quarantine entries for ListQuarantine. Dropped
// entries are never listed.
type QuarantineFilter struct {
	Source      string // only this source, when set
	Schema      string // only this schema, when set
	PendingOnly bool   // leave out the entries already replayed
	AfterID     int64  // only ids above this one (for paging)
	Limit       int    // at most this many (default 100)
}

const defaultQuarantineLimit = 100

// AddQuarantine stores q and returns its id.
func (t *Tx) AddQuarantine(ctx context.Context, q QuarantineItem) (int64, error) {
	if q.Source == "" {
		return 0, errors.New("add to quarantine: source is empty")
	}
	errs := q.Errors
	if errs == nil {
		errs = []QuarantineError{}
	}
	errJSON, err := json.Marshal(errs)
	if err != nil {
		return 0, fmt.Errorf("add to quarantine from source %q: encode errors: %w", q.Source, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO quarantine (source, record_id, schema, errors, raw, created_at)
VALUES (?1, ?2, ?3, ?4, coalesce(?5, x''), ?6)`,
		q.Source, nullString(q.RecordID), nullString(q.Schema), string(errJSON), q.Raw, t.s.stamp())
	if err != nil {
		return 0, fmt.Errorf("add to quarantine from source %q: %w", q.Source, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add to quarantine from source %q: %w", q.Source, err)
	}
	return id, nil
}

// MarkReplayed records that quarantine item id was replayed through the
// pipeline. It fails for an unknown or dropped item.
func (t *Tx) MarkReplayed(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE quarantine SET replayed_at = ?1 WHERE id = ?2 AND dropped_at IS NULL`, t.s.stamp(), id)
	if err != nil {
		return fmt.Errorf("mark quarantine item %d replayed: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mark quarantine item %d replayed: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var dropped sql.NullString
	err = t.tx.QueryRowContext(ctx, `SELECT dropped_at FROM quarantine WHERE id = ?1`, id).Scan(&dropped)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("mark quarantine item %d replayed: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("mark quarantine item %d replayed: %w", id, err)
	default:
		return fmt.Errorf("mark quarantine item %d replayed: it was dropped at %s and cannot be replayed", id, dropped.String)
	}
}

// SetQuarantineErrors replaces the errors (and the schema, when schema is
// not empty) of quarantine item id: a replay that still fails leaves the
// item in quarantine with the reasons it fails for now.
func (t *Tx) SetQuarantineErrors(ctx context.Context, id int64, schema string, errs []QuarantineError) error {
	if errs == nil {
		errs = []QuarantineError{}
	}
	errJSON, err := json.Marshal(errs)
	if err != nil {
		return fmt.Errorf("update quarantine item %d: encode errors: %w", id, err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE quarantine SET errors = ?1, schema = coalesce(?2, schema) WHERE id = ?3`,
		string(errJSON), nullString(schema), id)
	if err != nil {
		return fmt.Errorf("update quarantine item %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update quarantine item %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update quarantine item %d: %w", id, ErrNotFound)
	}
	return nil
}

// MarkDropped records that quarantine item id was dropped by an operator; it
// is no longer listed or counted. Dropping it again is a no-op.
func (t *Tx) MarkDropped(ctx context.Context, id int64) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE quarantine SET dropped_at = coalesce(dropped_at, ?1) WHERE id = ?2`, t.s.stamp(), id)
	if err != nil {
		return fmt.Errorf("drop quarantine item %d: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("drop quarantine item %d: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("drop quarantine item %d: %w", id, ErrNotFound)
	}
	return nil
}

const quarantineColumns = `id, source, record_id, schema, errors, raw, created_at, replayed_at, dropped_at`

func scanQuarantine(sc interface{ Scan(...any) error }) (QuarantineEntry, error) {
	var e QuarantineEntry
	var recordID, schema, replayed, dropped sql.NullString
	var errJSON, created string
	if err := sc.Scan(&e.ID, &e.Source, &recordID, &schema, &errJSON, &e.Raw, &created, &replayed, &dropped); err != nil {
		return QuarantineEntry{}, err
	}
	e.RecordID, e.Schema = recordID.String, schema.String
	if err := json.Unmarshal([]byte(errJSON), &e.Errors); err != nil {
		return QuarantineEntry{}, fmt.Errorf("decode errors of quarantine item %d: %w", e.ID, err)
	}
	var err error
	if e.CreatedAt, err = parseTime(created); err != nil {
		return QuarantineEntry{}, err
	}
	if e.ReplayedAt, err = parseNullTime(replayed); err != nil {
		return QuarantineEntry{}, err
	}
	if e.DroppedAt, err = parseNullTime(dropped); err != nil {
		return QuarantineEntry{}, err
	}
	return e, nil
}

// Quarantine reads quarantine item id, dropped or not; ok is false when there
// is none.
func (s *Store) Quarantine(ctx context.Context, id int64) (e QuarantineEntry, ok bool, err error) {
	e, err = scanQuarantine(s.r.QueryRowContext(ctx, `SELECT `+quarantineColumns+` FROM quarantine WHERE id = ?1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return QuarantineEntry{}, false, nil
	}
	if err != nil {
		return QuarantineEntry{}, false, fmt.Errorf("read quarantine item %d: %w", id, err)
	}
	return e, true, nil
}

// ListQuarantine lists the entries that were not dropped, oldest first.
func (s *Store) ListQuarantine(ctx context.Context, f QuarantineFilter) ([]QuarantineEntry, error) {
	where := []string{"dropped_at IS NULL", "id > ?1"}
	args := []any{f.AfterID}
	if f.Source != "" {
		args = append(args, f.Source)
		where = append(where, fmt.Sprintf("source = ?%d", len(args)))
	}
	if f.Schema != "" {
		args = append(args, f.Schema)
		where = append(where, fmt.Sprintf("schema = ?%d", len(args)))
	}
	if f.PendingOnly {
		where = append(where, "replayed_at IS NULL")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultQuarantineLimit
	}
	args = append(args, limit)
	q := fmt.Sprintf(`SELECT %s FROM quarantine WHERE %s ORDER BY id LIMIT ?%d`,
		quarantineColumns, strings.Join(where, " AND "), len(args))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []QuarantineEntry
	for rows.Next() {
		e, err := scanQuarantine(rows)
		if err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// QuarantineCount counts the entries awaiting attention: neither replayed
// nor dropped.
func (s *Store) QuarantineCount(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM quarantine WHERE dropped_at IS NULL AND replayed_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count quarantine: %w", err)
	}
	return n, nil
}
