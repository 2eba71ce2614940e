package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testRecord(id string, body string) Record {
	return Record{
		Schema:     "referral",
		SchemaID:   "https://schemas.snodo.example/v1/referral.json",
		Source:     "comune-demo",
		RecordID:   id,
		Territory:  "ATS-01",
		RecordedAt: time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC),
		Body:       []byte(body),
	}
}

func upsert(t *testing.T, s *Store, r Record) Outcome {
	t.Helper()
	var out Outcome
	err := s.Write(context.Background(), func(tx *Tx) error {
		var err error
		out, err = tx.UpsertRecord(context.Background(), r)
		return err
	})
	if err != nil {
		t.Fatalf("UpsertRecord: %v", err)
	}
	return out
}

func TestUpsertRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	first := clock.Now()

	r := testRecord("R-1", `{"status":"requested"}`)
	if got := upsert(t, s, r); got != Inserted {
		t.Errorf("first upsert: %v, want inserted", got)
	}
	clock.Advance(time.Minute)
	if got := upsert(t, s, r); got != Unchanged {
		t.Errorf("same content again: %v, want unchanged", got)
	}
	got, ok, err := s.GetRecord(ctx, r.Source, r.RecordID)
	if err != nil || !ok {
		t.Fatalf("GetRecord: ok %v, err %v", ok, err)
	}
	sum := sha256.Sum256(r.Body)
	want := StoredRecord{Record: r, ID: got.ID, ContentHash: sum[:], FirstStoredAt: first, UpdatedAt: first, Version: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after an unchanged upsert (-want +got):\n%s", diff)
	}

	clock.Advance(time.Minute)
	changed := r
	changed.Body = []byte(`{"status":"accepted"}`)
	changed.RecordedAt = time.Time{} // stored as NULL
	if got := upsert(t, s, changed); got != Updated {
		t.Errorf("changed content: %v, want updated", got)
	}
	clock.Advance(time.Minute)
	if got := upsert(t, s, changed); got != Unchanged {
		t.Errorf("changed content again: %v, want unchanged", got)
	}
	got, _, err = s.GetRecord(ctx, r.Source, r.RecordID)
	if err != nil {
		t.Fatal(err)
	}
	sum = sha256.Sum256(changed.Body)
	want = StoredRecord{Record: changed, ID: want.ID, ContentHash: sum[:], FirstStoredAt: first, UpdatedAt: first.Add(2 * time.Minute), Version: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after an update (-want +got):\n%s", diff)
	}

	// Going back to the first content is a change too.
	if got := upsert(t, s, r); got != Updated {
		t.Errorf("back to the first content: %v, want updated", got)
	}
	got, _, _ = s.GetRecord(ctx, r.Source, r.RecordID)
	if got.Version != 3 {
		t.Errorf("version after two changes = %d, want 3", got.Version)
	}

	// The same record id from another source is another record.
	other := r
	other.Source = "sds-demo"
	if got := upsert(t, s, other); got != Inserted {
		t.Errorf("same record id, other source: %v, want inserted", got)
	}
	if _, ok, _ := s.GetRecord(ctx, "nowhere", r.RecordID); ok {
		t.Errorf("GetRecord of an unknown source found a record")
	}
}

func TestUpsertRecordRefusesIncompleteRecords(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	tests := map[string]struct {
		edit func(*Record)
		want string
	}{
		"no source":    {func(r *Record) { r.Source = "" }, "Source is empty"},
		"no record id": {func(r *Record) { r.RecordID = "" }, "RecordID is empty"},
		"no schema":    {func(r *Record) { r.Schema = "" }, "Schema is empty"},
		"no schema id": {func(r *Record) { r.SchemaID = "" }, "SchemaID is empty"},
		"no territory": {func(r *Record) { r.Territory = "" }, "Territory is empty"},
		"no body":      {func(r *Record) { r.Body = nil }, "Body is empty"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := testRecord("R-"+name, `{}`)
			tc.edit(&r)
			err := s.Write(context.Background(), func(tx *Tx) error {
				_, err := tx.UpsertRecord(context.Background(), r)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRecordsAndCursorCommitTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	errRefused := errors.New("batch refused")

	batch := func(cursor string, ids ...string) func(tx *Tx) error {
		return func(tx *Tx) error {
			for _, id := range ids {
				if _, err := tx.UpsertRecord(ctx, testRecord(id, `{"n":"`+id+`"}`)); err != nil {
					return err
				}
			}
			return tx.SetCursor(ctx, "comune-demo", []byte(cursor))
		}
	}

	// Committed batch: records and cursor visible.
	if err := s.Write(ctx, batch("c1", "A", "B")); err != nil {
		t.Fatal(err)
	}
	// A batch whose function fails after writing: nothing of it is visible.
	err := s.Write(ctx, func(tx *Tx) error {
		if err := batch("c2", "C", "D")(tx); err != nil {
			return err
		}
		return errRefused
	})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Write returned %v, want the function's error", err)
	}
	// A batch whose function panics: rolled back too, panic passed on.
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the panic of the function", r)
			}
		}()
		_ = s.Write(ctx, func(tx *Tx) error {
			if err := batch("c3", "E")(tx); err != nil {
				return err
			}
			panic("boom")
		})
	}()

	cursor, ok, err := s.Cursor(ctx, "comune-demo")
	if err != nil || !ok || string(cursor) != "c1" {
		t.Errorf("Cursor = %q, %v, %v; want c1 from the committed batch", cursor, ok, err)
	}
	for id, want := range map[string]bool{"A": true, "B": true, "C": false, "D": false, "E": false} {
		if _, ok, err := s.GetRecord(ctx, "comune-demo", id); err != nil || ok != want {
			t.Errorf("record %s: found %v (err %v), want %v", id, ok, err, want)
		}
	}
	counts, err := s.CountBySchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"referral": 2}, counts); diff != "" {
		t.Errorf("CountBySchema (-want +got):\n%s", diff)
	}
	// The writer connection is usable after the rollbacks.
	if err := s.Write(ctx, batch("c4", "F")); err != nil {
		t.Fatalf("write after rollbacks: %v", err)
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if _, ok, err := s.Cursor(ctx, "never"); ok || err != nil {
		t.Errorf("Cursor of an unknown source: ok %v, err %v; want not found", ok, err)
	}
	tests := map[string][]byte{
		"empty":  {},
		"nil":    nil,
		"binary": {0, 1, 2, 255},
	}
	for name, cursor := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			source := "src-" + name
			for _, c := range [][]byte{[]byte("first"), cursor} {
				if err := s.Write(ctx, func(tx *Tx) error { return tx.SetCursor(ctx, source, c) }); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := s.Cursor(ctx, source)
			if err != nil || !ok {
				t.Fatalf("Cursor: ok %v, err %v", ok, err)
			}
			want := cursor
			if want == nil {
				want = []byte{}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Cursor (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCountBySchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	err := s.Write(ctx, func(tx *Tx) error {
		for i, schema := range []string{"referral", "referral", "person", "household", "referral"} {
			r := testRecord(fmt.Sprint(i), `{}`)
			r.Schema = schema
			if _, err := tx.UpsertRecord(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.CountBySchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{"referral": 3, "person": 1, "household": 1}, got); diff != "" {
		t.Errorf("CountBySchema (-want +got):\n%s", diff)
	}
}

// Readers on the read pool keep working while the writer commits, never see
// half a batch, and never see counts go backwards.
func TestConcurrentReadersWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	const batches, perBatch, readers = 40, 25, 4

	done := make(chan struct{})
	errs := make(chan error, readers+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for b := 0; b < batches; b++ {
			err := s.Write(ctx, func(tx *Tx) error {
				for i := 0; i < perBatch; i++ {
					id := fmt.Sprintf("R-%03d-%03d", b, i)
					if _, err := tx.UpsertRecord(ctx, testRecord(id, `{"id":"`+id+`"}`)); err != nil {
						return err
					}
				}
				return tx.SetCursor(ctx, "comune-demo", []byte(fmt.Sprint(b)))
			})
			if err != nil {
				errs <- fmt.Errorf("batch %d: %w", b, err)
				return
			}
		}
	}()
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
			reads := 0
			for {
				select {
				case <-done:
					if reads == 0 {
						errs <- errors.New("reader never ran")
					}
					return
				default:
				}
				counts, err := s.CountBySchema(ctx)
				if err != nil {
					errs <- err
					return
				}
				n := counts["referral"]
				if n%perBatch != 0 {
					errs <- fmt.Errorf("reader saw %d records: half a batch", n)
					return
				}
				if n < last {
					errs <- fmt.Errorf("reader saw %d records after %d", n, last)
					return
				}
				last = n
				if _, _, err := s.GetRecord(ctx, "comune-demo", "R-000-000"); err != nil {
					errs <- err
					return
				}
				reads++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts, err := s.CountBySchema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["referral"] != batches*perBatch {
		t.Errorf("final count %d, want %d", counts["referral"], batches*perBatch)
	}
}

// Many goroutines writing at once are serialised by the one writer, none
// failing with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				id := fmt.Sprintf("W%d-%d", w, i)
				err := s.Write(ctx, func(tx *Tx) error {
					_, err := tx.UpsertRecord(ctx, testRecord(id, `{}`))
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts, _ := s.CountBySchema(ctx)
	if counts["referral"] != writers*each {
		t.Errorf("count %d, want %d", counts["referral"], writers*each)
	}
}
