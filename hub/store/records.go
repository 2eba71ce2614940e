package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Record is one record of the shared data contract, as the pipeline stores it.
type Record struct {
	Schema     string    // schema short name, e.g. "referral"
	SchemaID   string    // the schema's full $id
	Source     string    // connector instance
	RecordID   string    // stable id in the source, unique per source
	Territory  string    // territory code
	RecordedAt time.Time // zero is stored as NULL
	Body       []byte    // canonical JSON; hashed as given, never re-encoded
	// PersonID is the pseudonymous id of the person the record is mainly
	// about (for a person's timeline); empty is stored as NULL. It is not
	// part of the content hash: the body holds the person ids it refers to.
	PersonID string
}

// StoredRecord is a Record as stored, with its bookkeeping.
type StoredRecord struct {
	Record
	ID            int64
	ContentHash   []byte // SHA-256 of Body
	FirstStoredAt time.Time
	UpdatedAt     time.Time
	Version       int64 // 1 when first stored, +1 on every change of content
}

// Outcome says what UpsertRecord did.
type Outcome int

const (
	// Inserted: the record was new.
	Inserted Outcome = iota + 1
	// Updated: the record existed with other content; its version went up.
	Updated
	// Unchanged: the record existed with the same content; nothing was written.
	Unchanged
)

func (o Outcome) String() string {
	switch o {
	case Inserted:
		return "inserted"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// UpsertRecord stores r, idempotently by (Source, RecordID). The SHA-256 of
// r.Body decides: a new record is inserted (version 1); a record whose stored
// hash equals it is left alone (Unchanged, nothing written, not even
// updated_at); otherwise body, hash, envelope fields and updated_at are
// replaced and the version goes up by one.
func (t *Tx) UpsertRecord(ctx context.Context, r Record) (Outcome, error) {
	if err := r.validate(); err != nil {
		return 0, err
	}
	sum := sha256.Sum256(r.Body)
	// The lookup reads only the stored hash, so a re-delivery of unchanged
	// content costs one index search and never binds the body. The write
	// transaction holds the database's write lock: nothing can come between
	// the lookup and the write.
	var stored []byte
	out := Inserted
	err := t.stmt(ctx, stmtFindRecord).QueryRowContext(ctx, r.Source, r.RecordID).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return 0, r.wrap(err)
	case bytes.Equal(stored, sum[:]):
		return Unchanged, nil
	default:
		out = Updated
	}
	write := stmtInsertRecord
	if out == Updated {
		write = stmtUpdateRecord
	}
	if _, err := t.stmt(ctx, write).ExecContext(ctx,
		r.Schema, r.SchemaID, r.Source, r.RecordID, r.Territory,
		sum[:], r.Body, nullTime(r.RecordedAt), t.s.stamp(), nullString(r.PersonID),
	); err != nil {
		return 0, r.wrap(err)
	}
	return out, nil
}

// wrap gives an error the record's context. The record id stays out of the
// message: the caller knows it, and a badly designed source might use a
// personal code as its key.
func (r *Record) wrap(err error) error {
	return fmt.Errorf("upsert %s record from source %q: %w", r.Schema, r.Source, err)
}

func (r *Record) validate() error {
	var missing string
	switch {
	case r.Source == "":
		missing = "Source"
	case r.RecordID == "":
		missing = "RecordID"
	case r.Schema == "":
		missing = "Schema"
	case r.SchemaID == "":
		missing = "SchemaID"
	case r.Territory == "":
		missing = "Territory"
	case len(r.Body) == 0:
		missing = "Body"
	default:
		return nil
	}
	return fmt.Errorf("upsert record from source %q: %s is empty: the pipeline must fill the whole envelope", r.Source, missing)
}

// GetRecord reads the record (source, recordID); ok is false when there is none.
func (s *Store) GetRecord(ctx context.Context, source, recordID string) (rec StoredRecord, ok bool, err error) {
	var recordedAt, personID sql.NullString
	var first, updated string
	err = s.r.QueryRowContext(ctx, `SELECT id, schema, schema_id, source, record_id, territory, content_hash, body,
    recorded_at, first_stored_at, updated_at, version, person_id
FROM records WHERE source = ?1 AND record_id = ?2`, source, recordID).Scan(
		&rec.ID, &rec.Schema, &rec.SchemaID, &rec.Source, &rec.RecordID, &rec.Territory, &rec.ContentHash, &rec.Body,
		&recordedAt, &first, &updated, &rec.Version, &personID)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredRecord{}, false, nil
	}
	if err != nil {
		return StoredRecord{}, false, fmt.Errorf("read record from source %q: %w", source, err)
	}
	rec.PersonID = personID.String
	if rec.RecordedAt, err = parseNullTime(recordedAt); err == nil {
		if rec.FirstStoredAt, err = parseTime(first); err == nil {
			rec.UpdatedAt, err = parseTime(updated)
		}
	}
	if err != nil {
		return StoredRecord{}, false, fmt.Errorf("read record from source %q: %w", source, err)
	}
	return rec, true, nil
}

// CountBySchema counts the stored records of each schema (short name).
func (s *Store) CountBySchema(ctx context.Context) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT schema, count(*) FROM records GROUP BY schema`)
	if err != nil {
		return nil, fmt.Errorf("count records by schema: %w", err)
	}
	defer rows.Close()
	counts := make(map[string]int64)
	for rows.Next() {
		var schema string
		var n int64
		if err := rows.Scan(&schema, &n); err != nil {
			return nil, fmt.Errorf("count records by schema: %w", err)
		}
		counts[schema] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count records by schema: %w", err)
	}
	return counts, nil
}
