package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// AuditBrokenError is returned by VerifyAudit for the first audit entry that
// does not chain to the one before it.
type AuditBrokenError struct {
	Seq    int64  // the first entry found broken
	Reason string // what is wrong with it
}

func (e *AuditBrokenError) Error() string {
	return fmt.Sprintf("audit log broken at seq %d: %s: the log was changed outside snodo; keep this database for investigation and restore a backup", e.Seq, e.Reason)
}

// Audit appends an entry to the hash-chained audit log. detail is stored as
// its JSON encoding and must not hold personal identifiers.
func (t *Tx) Audit(ctx context.Context, actor, action string, detail any) error {
	if actor == "" || action == "" {
		return fmt.Errorf("audit %q by %q: actor and action are required", action, actor)
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %q by %q: encode detail: %w", action, actor, err)
	}
	var seq int64
	prev := make([]byte, sha256.Size)
	err = t.stmt(ctx, stmtAuditHead).QueryRowContext(ctx).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit %q by %q: read the chain head: %w", action, actor, err)
	}
	seq++
	at := t.s.stamp()
	h := auditHash(prev, seq, at, actor, action, string(d))
	if _, err := t.stmt(ctx, stmtAuditInsert).ExecContext(ctx, seq, at, actor, action, string(d), prev, h); err != nil {
		return fmt.Errorf("audit %q by %q: %w", action, actor, err)
	}
	return nil
}

// auditHash is SHA-256(prev || canonical(seq, at, actor, action, detail)),
// where canonical is seq as 8 bytes big-endian followed by each string as its
// length (4 bytes big-endian) and its UTF-8 bytes.
func auditHash(prev []byte, seq int64, at, actor, action, detail string) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	for _, f := range []string{at, actor, action, detail} {
		binary.BigEndian.PutUint32(n[:4], uint32(len(f)))
		h.Write(n[:4])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// Audit appends one entry in its own transaction.
func (s *Store) Audit(ctx context.Context, actor, action string, detail any) error {
	return s.Write(ctx, func(tx *Tx) error { return tx.Audit(ctx, actor, action, detail) })
}

// VerifyAudit walks the audit log from the first entry and checks that the
// sequence has no gaps and that every entry's prev_hash and hash are right.
// It returns an *AuditBrokenError naming the first broken entry. It cannot
// see entries removed from the end of the log.
func (s *Store) VerifyAudit(ctx context.Context) error {
	// One read transaction: a consistent snapshot while writes go on.
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT seq, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("verify audit log: %w", err)
	}
	defer rows.Close()
	want := make([]byte, sha256.Size)
	var last int64
	for rows.Next() {
		var seq int64
		var at, actor, action, detail string
		var prev, hash []byte
		if err := rows.Scan(&seq, &at, &actor, &action, &detail, &prev, &hash); err != nil {
			return fmt.Errorf("verify audit log after seq %d: %w", last, err)
		}
		switch {
		case seq != last+1:
			return &AuditBrokenError{Seq: seq, Reason: fmt.Sprintf("expected seq %d next: entries are missing", last+1)}
		case !bytes.Equal(prev, want):
			return &AuditBrokenError{Seq: seq, Reason: "prev_hash differs from the hash of the entry before"}
		}
		got := auditHash(prev, seq, at, actor, action, detail)
		if !bytes.Equal(got, hash) {
			return &AuditBrokenError{Seq: seq, Reason: "hash does not match the entry's content"}
		}
		want, last = hash, seq
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("verify audit log after seq %d: %w", last, err)
	}
	return nil
}
