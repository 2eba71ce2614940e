package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SetCursor records the connector cursor of source. Call it in the same
// transaction as the records the cursor covers, so that both commit or
// neither does.
func (t *Tx) SetCursor(ctx context.Context, source string, cursor []byte) error {
	if source == "" {
		return errors.New("set cursor: source is empty")
	}
	if _, err := t.stmt(ctx, stmtSetCursor).ExecContext(ctx, source, cursor, t.s.stamp()); err != nil {
		return fmt.Errorf("set cursor of source %q: %w", source, err)
	}
	return nil
}

// Cursor reads the last committed cursor of source; ok is false when the
// source has never stored one.
func (s *Store) Cursor(ctx context.Context, source string) (cursor []byte, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT cursor FROM cursors WHERE source = ?1`, source).Scan(&cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read cursor of source %q: %w", source, err)
	}
	if cursor == nil {
		cursor = []byte{}
	}
	return cursor, true, nil
}
