package store

import (
	"context"
	"fmt"
)

// AuditHead returns the seq of the last audit entry, 0 when the log is
// empty. Read before VerifyAudit, it is a number of entries the
// verification covered.
func (s *Store) AuditHead(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read the audit log's last entry: %w", err)
	}
	return seq, nil
}

// SizeBytes is the size of the database: its pages, free ones included, as
// SQLite counts them (the write-ahead log not included).
func (s *Store) SizeBytes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the database size: %w", err)
	}
	return n, nil
}
