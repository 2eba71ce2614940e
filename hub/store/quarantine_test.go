package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func addQuarantine(t *testing.T, s *Store, q QuarantineItem) int64 {
	t.Helper()
	var id int64
	err := s.Write(context.Background(), func(tx *Tx) error {
		var err error
		id, err = tx.AddQuarantine(context.Background(), q)
		return err
	})
	if err != nil {
		t.Fatalf("AddQuarantine: %v", err)
	}
	return id
}

func TestQuarantine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	created := clock.Now()

	bad := QuarantineItem{
		Source:   "comune-demo",
		RecordID: "R-9",
		Schema:   "referral",
		Errors: []QuarantineError{
			{Pointer: "/priority", Message: `value must be one of "routine", "urgent", "asap", "stat"`},
			{Pointer: "/person", Message: "codice fiscale: position 16: wrong check letter"},
		},
		Raw: []byte{0xde, 0xad, 0xbe, 0xef},
	}
	unparsable := QuarantineItem{Source: "comune-demo", Raw: []byte("ciphertext")} // no id, schema or errors
	fromSdS := QuarantineItem{Source: "sds-demo", RecordID: "P-1", Schema: "person", Errors: []QuarantineError{{Pointer: "", Message: "x"}}, Raw: []byte("c")}

	id1 := addQuarantine(t, s, bad)
	id2 := addQuarantine(t, s, unparsable)
	id3 := addQuarantine(t, s, fromSdS)

	got, ok, err := s.Quarantine(ctx, id1)
	if err != nil || !ok {
		t.Fatalf("Quarantine(%d): ok %v, err %v", id1, ok, err)
	}
	if diff := cmp.Diff(QuarantineEntry{QuarantineItem: bad, ID: id1, CreatedAt: created}, got); diff != "" {
		t.Errorf("Quarantine (-want +got):\n%s", diff)
	}
	got, _, _ = s.Quarantine(ctx, id2)
	wantUnparsable := QuarantineEntry{QuarantineItem: unparsable, ID: id2, CreatedAt: created}
	wantUnparsable.Errors = []QuarantineError{}
	if diff := cmp.Diff(wantUnparsable, got); diff != "" {
		t.Errorf("Quarantine of an item without id, schema or errors (-want +got):\n%s", diff)
	}
	if _, ok, err := s.Quarantine(ctx, 999); ok || err != nil {
		t.Errorf("Quarantine(999): ok %v, err %v; want not found", ok, err)
	}

	clock.Advance(time.Hour)
	replayed := clock.Now()
	err = s.Write(ctx, func(tx *Tx) error {
		if err := tx.MarkReplayed(ctx, id1); err != nil {
			return err
		}
		return tx.MarkDropped(ctx, id2)
	})
	if err != nil {
		t.Fatal(err)
	}

	ids := func(f QuarantineFilter) []int64 {
		t.Helper()
		es, err := s.ListQuarantine(ctx, f)
		if err != nil {
			t.Fatalf("ListQuarantine(%+v): %v", f, err)
		}
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	tests := map[string]struct {
		filter QuarantineFilter
		want   []int64
	}{
		"all not dropped": {QuarantineFilter{}, []int64{id1, id3}},
		"pending only":    {QuarantineFilter{PendingOnly: true}, []int64{id3}},
		"by source":       {QuarantineFilter{Source: "comune-demo"}, []int64{id1}},
		"by schema":       {QuarantineFilter{Schema: "person"}, []int64{id3}},
		"source and schema mismatch": {
			QuarantineFilter{Source: "comune-demo", Schema: "person"}, []int64{},
		},
		"first page": {QuarantineFilter{Limit: 1}, []int64{id1}},
		"next page":  {QuarantineFilter{AfterID: id1, Limit: 1}, []int64{id3}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ids(tc.filter)); diff != "" {
				t.Errorf("ListQuarantine (-want +got):\n%s", diff)
			}
		})
	}

	got, _, _ = s.Quarantine(ctx, id1)
	if !got.ReplayedAt.Equal(replayed) || !got.DroppedAt.IsZero() {
		t.Errorf("replayed item: ReplayedAt %v DroppedAt %v", got.ReplayedAt, got.DroppedAt)
	}
	got, _, _ = s.Quarantine(ctx, id2)
	if !got.DroppedAt.Equal(replayed) {
		t.Errorf("dropped item: DroppedAt %v, want %v", got.DroppedAt, replayed)
	}
	n, err := s.QuarantineCount(ctx)
	if err != nil || n != 1 {
		t.Errorf("QuarantineCount = %d, %v; want 1 (neither replayed nor dropped)", n, err)
	}

	mark := func(f func(tx *Tx) error) error { return s.Write(ctx, f) }
	if err := mark(func(tx *Tx) error { return tx.MarkReplayed(ctx, id2) }); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Errorf("replaying a dropped item: %v, want an error", err)
	}
	if err := mark(func(tx *Tx) error { return tx.MarkDropped(ctx, id2) }); err != nil {
		t.Errorf("dropping twice: %v, want a no-op", err)
	}
	if err := mark(func(tx *Tx) error { return tx.MarkReplayed(ctx, 999) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("replaying an unknown item: %v, want ErrNotFound", err)
	}
	if err := mark(func(tx *Tx) error { return tx.MarkDropped(ctx, 999) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("dropping an unknown item: %v, want ErrNotFound", err)
	}
	if err := mark(func(tx *Tx) error { _, err := tx.AddQuarantine(ctx, QuarantineItem{Raw: []byte("x")}); return err }); err == nil {
		t.Errorf("AddQuarantine without a source succeeded")
	}
}
