package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Run is one read of a connector instance: what came in and how it ended.
type Run struct {
	Connector   string
	StartedAt   time.Time
	FinishedAt  time.Time
	Outcome     string // ok, degraded, failed or interrupted
	Records     int64  // records read
	Stored      int64  // inserted or updated
	Unchanged   int64  // the same content as already stored
	Quarantined int64
	Message     string // why, when the outcome is not ok; never personal data
}

// RecordRun stores one connector run.
func (t *Tx) RecordRun(ctx context.Context, r Run) error {
	if r.Connector == "" || r.Outcome == "" {
		return errors.New("record connector run: connector and outcome are required")
	}
	if r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
		return fmt.Errorf("record run of connector %q: give when it started and finished", r.Connector)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO connector_runs
    (connector, started_at, finished_at, outcome, records, stored, unchanged, quarantined, message)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)`,
		r.Connector, formatTime(r.StartedAt), formatTime(r.FinishedAt), r.Outcome,
		r.Records, r.Stored, r.Unchanged, r.Quarantined, nullString(r.Message))
	if err != nil {
		return fmt.Errorf("record run of connector %q: %w", r.Connector, err)
	}
	return nil
}

// LastRuns returns the last run of every connector that has one, by name.
func (s *Store) LastRuns(ctx context.Context) (map[string]Run, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT connector, started_at, finished_at, outcome, records, stored, unchanged, quarantined, message
FROM connector_runs WHERE id IN (SELECT max(id) FROM connector_runs GROUP BY connector)`)
	if err != nil {
		return nil, fmt.Errorf("read the last connector runs: %w", err)
	}
	defer rows.Close()
	out := map[string]Run{}
	for rows.Next() {
		var r Run
		var started, finished string
		var msg sql.NullString
		if err := rows.Scan(&r.Connector, &started, &finished, &r.Outcome, &r.Records, &r.Stored, &r.Unchanged, &r.Quarantined, &msg); err != nil {
			return nil, fmt.Errorf("read the last connector runs: %w", err)
		}
		r.Message = msg.String
		if r.StartedAt, err = parseTime(started); err == nil {
			r.FinishedAt, err = parseTime(finished)
		}
		if err != nil {
			return nil, fmt.Errorf("read the last connector runs: %w", err)
		}
		out[r.Connector] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the last connector runs: %w", err)
	}
	return out, nil
}
