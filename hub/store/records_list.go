package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DefaultRecordLimit is how many records ListRecords and PersonTimeline
// return when the caller gives no limit.
const DefaultRecordLimit = 100

// recordColumns are the columns scanRecord reads, in its order.
const recordColumns = `id, schema, schema_id, source, record_id, territory, content_hash, body,
    recorded_at, first_stored_at, updated_at, version, person_id`

func scanRecord(sc interface{ Scan(...any) error }) (StoredRecord, error) {
	var rec StoredRecord
	var recordedAt, personID sql.NullString
	var first, updated string
	err := sc.Scan(&rec.ID, &rec.Schema, &rec.SchemaID, &rec.Source, &rec.RecordID, &rec.Territory, &rec.ContentHash, &rec.Body,
		&recordedAt, &first, &updated, &rec.Version, &personID)
	if err != nil {
		return StoredRecord{}, err
	}
	rec.PersonID = personID.String
	if rec.RecordedAt, err = parseNullTime(recordedAt); err == nil {
		if rec.FirstStoredAt, err = parseTime(first); err == nil {
			rec.UpdatedAt, err = parseTime(updated)
		}
	}
	if err != nil {
		return StoredRecord{}, err
	}
	return rec, nil
}

func scanRecords(rows *sql.Rows) ([]StoredRecord, error) {
	defer rows.Close()
	var out []StoredRecord
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// ListRecords lists the records of one schema (short name) in the order they
// were first stored: at most limit of them (DefaultRecordLimit when limit is
// 0 or less) whose ID is above afterID. To page, pass the last ID of a page
// as the next afterID; records stored meanwhile appear on later pages and
// none is listed twice.
func (s *Store) ListRecords(ctx context.Context, schema string, afterID int64, limit int) ([]StoredRecord, error) {
	if limit <= 0 {
		limit = DefaultRecordLimit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM records
WHERE schema = ?1 AND id > ?2 ORDER BY id LIMIT ?3`, schema, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s records: %w", schema, err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("list %s records: %w", schema, err)
	}
	return out, nil
}

// TimelinePos is a position in a person's timeline, which runs by
// recorded_at, then by ID; records without a recorded_at come last. The zero
// TimelinePos is the start.
type TimelinePos struct {
	RecordedAt time.Time // the zero time with Undated false: the start
	Undated    bool      // a record without recorded_at
	ID         int64
}

// PosOf is the position of rec in its person's timeline: give it to
// PersonTimeline to continue after rec.
func PosOf(rec StoredRecord) TimelinePos {
	return TimelinePos{RecordedAt: rec.RecordedAt, Undated: rec.RecordedAt.IsZero(), ID: rec.ID}
}

// undatedKey sorts after every stored time.
const undatedKey = "~"

func (p TimelinePos) key() string {
	switch {
	case p.Undated:
		return undatedKey
	case p.RecordedAt.IsZero():
		return ""
	}
	return formatTime(p.RecordedAt)
}

// PersonTimeline lists the records about one person (records.person_id,
// filled by the pipeline when it pseudonymises a record) by recorded_at,
// then by ID: at most limit of them (DefaultRecordLimit when limit is 0 or
// less) after the position after. To page, pass PosOf the last record of a
// page.
func (s *Store) PersonTimeline(ctx context.Context, personID string, after TimelinePos, limit int) ([]StoredRecord, error) {
	if limit <= 0 {
		limit = DefaultRecordLimit
	}
	// The person's records are few: the person_id index finds them, and
	// sorting them costs nothing.
	rows, err := s.r.QueryContext(ctx, `SELECT `+recordColumns+` FROM records
WHERE person_id = ?1 AND (coalesce(recorded_at, '`+undatedKey+`'), id) > (?2, ?3)
ORDER BY coalesce(recorded_at, '`+undatedKey+`'), id LIMIT ?4`, personID, after.key(), after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("read a person's timeline: %w", err)
	}
	out, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("read a person's timeline: %w", err)
	}
	return out, nil
}
