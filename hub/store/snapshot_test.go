package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// A snapshot keeps seeing the state of its first read while a writer
// commits, and refuses to write.
func TestSnapshotIsConsistentAndReadOnly(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(id string) {
		t.Helper()
		err := s.Write(ctx, func(tx *Tx) error {
			_, err := tx.UpsertRecord(ctx, Record{Schema: "person", SchemaID: "https://snodo-hub.github.io/schemas/person/1.0.0",
				Source: "src", RecordID: id, Territory: "T1", RecordedAt: time.Unix(0, 0), Body: []byte(`{}`)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(q Querier) int {
		t.Helper()
		var n int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM records`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	put("a")
	err = s.Snapshot(ctx, func(q Querier) error {
		if n := count(q); n != 1 {
			t.Errorf("first read: %d records, want 1", n)
		}
		put("b")
		if n := count(q); n != 1 {
			t.Errorf("after a concurrent commit: %d records, want still 1", n)
		}
		if _, err := q.QueryContext(ctx, `DELETE FROM records`); err == nil {
			t.Error("a snapshot wrote")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Snapshot(ctx, func(q Querier) error {
		if n := count(q); n != 2 {
			t.Errorf("new snapshot: %d records, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
