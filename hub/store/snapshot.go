package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Querier reads from the store inside a Snapshot. Its methods are those of
// *sql.Tx; statements that write fail (the connection is read-only).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Snapshot runs fn in one read-only transaction on the read pool, so that
// everything fn reads comes from the same committed state of the database
// (a WAL snapshot, taken at fn's first read), whatever writers do meanwhile.
// It never blocks the writer. The transaction ends when fn returns; fn must
// not keep q or rows read from it.
func (s *Store) Snapshot(ctx context.Context, fn func(q Querier) error) (err error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read snapshot: %w", err)
	}
	defer func() {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) && err == nil {
			err = fmt.Errorf("end read snapshot: %w", rerr)
		}
	}()
	return fn(tx)
}
