package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Tx is one write transaction. It is valid only inside the function given to
// Write and is not safe for concurrent use.
type Tx struct {
	s     *Store
	tx    *sql.Tx
	stmts [numStmts]*sql.Stmt // this transaction's views of s.stmts
}

// Write runs fn in one write transaction (BEGIN IMMEDIATE on the single writer
// connection) and commits it if fn returns nil; otherwise, or if fn panics,
// it rolls back and returns fn's error. Writes are serialised: a Write waits
// for the one in progress. Do not call Write (or a *Store method that writes)
// from inside fn: it would wait for itself.
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	tx := &Tx{s: s, tx: sqlTx}
	committed := false
	defer func() {
		if !committed {
			if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) && err != nil {
				err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
		}
	}()
	if err := fn(tx); err != nil {
		return s.diskFull(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return s.diskFull(fmt.Errorf("commit write transaction: %w", err))
	}
	committed = true
	return nil
}

// diskFull says what SQLite's "database or disk is full" means for an
// admin — the disk, and where — keeping err in the chain (IsDiskFull).
// Other errors, and one said already (a nested write), are returned as
// they are.
func (s *Store) diskFull(err error) error {
	var said *diskFullError
	if !IsDiskFull(err) || errors.As(err, &said) {
		return err
	}
	return &diskFullError{dir: s.dir, err: err}
}

// diskFullError is SQLite's SQLITE_FULL with the folder to free space in.
type diskFullError struct {
	dir string
	err error
}

func (e *diskFullError) Error() string {
	return fmt.Sprintf("the disk is full: free space on %s (the transaction was rolled back; nothing is half-written): %v", e.dir, e.err)
}

func (e *diskFullError) Unwrap() error { return e.err }

// IsDiskFull says whether err, or an error it wraps, is SQLite's
// SQLITE_FULL: the disk (or the database's size limit) is full.
func IsDiskFull(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_FULL
}

// stmt returns the transaction's view of a statement prepared on the writer
// connection, creating it on first use. database/sql reuses the statement
// already prepared on the connection, so nothing is re-parsed.
func (t *Tx) stmt(ctx context.Context, id stmtID) *sql.Stmt {
	if t.stmts[id] == nil {
		t.stmts[id] = t.tx.StmtContext(ctx, t.s.stmts[id])
	}
	return t.stmts[id]
}

type stmtID int

const (
	stmtFindRecord stmtID = iota
	stmtInsertRecord
	stmtUpdateRecord
	stmtSetCursor
	stmtFindPerson
	stmtInsertPerson
	stmtInsertIdentifier
	stmtPersonExists
	stmtEnqueue
	stmtAuditHead
	stmtAuditInsert
	numStmts
)

// stmtSQL holds the hot statements, prepared once at Open.
var stmtSQL = [numStmts]string{
	stmtFindRecord: `SELECT content_hash FROM records WHERE source = ?1 AND record_id = ?2`,
	stmtInsertRecord: `INSERT INTO records
    (schema, schema_id, source, record_id, territory, content_hash, body, recorded_at, first_stored_at, updated_at, person_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)`,
	stmtUpdateRecord: `UPDATE records SET
    schema = ?1, schema_id = ?2, territory = ?5, content_hash = ?6, body = ?7, recorded_at = ?8,
    updated_at = ?9, person_id = ?10, version = version + 1
WHERE source = ?3 AND record_id = ?4`,
	stmtSetCursor: `INSERT INTO cursors (source, cursor, updated_at) VALUES (?1, coalesce(?2, x''), ?3)
ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
	stmtFindPerson:       `SELECT person_id FROM person_identifiers WHERE digest = ?1`,
	stmtInsertPerson:     `INSERT INTO persons (person_id, created_at) VALUES (?1, ?2)`,
	stmtInsertIdentifier: `INSERT INTO person_identifiers (digest, kind, person_id, linked_at) VALUES (?1, ?2, ?3, ?4)`,
	stmtPersonExists:     `SELECT 1 FROM persons WHERE person_id = ?1`,
	stmtEnqueue: `INSERT INTO outbox (topic, dedup_key, payload, created_at, next_attempt_at) VALUES (?1, ?2, coalesce(?3, x''), ?4, ?4)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id`,
	stmtAuditHead:   `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`,
	stmtAuditInsert: `INSERT INTO audit (seq, at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)`,
}
