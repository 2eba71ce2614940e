package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestListRecordsPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	var want []string
	for i := range 25 {
		r := testRecord(fmt.Sprintf("r%02d", i), fmt.Sprintf(`{"n":%d}`, i))
		if i%3 == 0 {
			r.Schema = "household" // interleaved: must not show up
		} else {
			want = append(want, r.RecordID)
		}
		upsert(t, s, r)
	}
	var got []string
	var after int64
	for page := 0; ; page++ {
		recs, err := s.ListRecords(ctx, "referral", after, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		if len(recs) > 4 {
			t.Fatalf("page %d has %d records, want at most 4", page, len(recs))
		}
		for _, r := range recs {
			got = append(got, r.RecordID)
		}
		after = recs[len(recs)-1].ID
		if page == 1 { // stored meanwhile: comes at the end, once
			upsert(t, s, testRecord("late", `{"late":true}`))
			want = append(want, "late")
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records over pages (-want +got):\n%s", diff)
	}
	if recs, err := s.ListRecords(ctx, "referral", 0, 0); err != nil || len(recs) != len(want) {
		t.Errorf("default limit: %d records, %v; want %d", len(recs), err, len(want))
	}
}

func TestPersonTimeline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	day := func(d int) time.Time { return time.Date(2025, 1, d, 9, 0, 0, 0, time.UTC) }
	const anna, bruno = "01J0000000000000000000ANNA", "01J000000000000000000BRUNO"
	for _, r := range []struct {
		id, person string
		at         time.Time
	}{
		{"a-late", anna, day(20)},
		{"b-1", bruno, day(2)},
		{"a-undated-1", anna, time.Time{}},
		{"a-early", anna, day(3)},
		{"a-undated-2", anna, time.Time{}},
		{"a-mid", anna, day(10)},
		{"a-mid-2", anna, day(10)}, // same time: storage order
		{"nobody", "", day(1)},
	} {
		rec := testRecord(r.id, fmt.Sprintf(`{"id":%q}`, r.id))
		rec.PersonID, rec.RecordedAt = r.person, r.at
		upsert(t, s, rec)
	}
	want := []string{"a-early", "a-mid", "a-mid-2", "a-late", "a-undated-1", "a-undated-2"}
	for _, limit := range []int{1, 2, 4, 100} {
		var got []string
		var after TimelinePos
		for {
			recs, err := s.PersonTimeline(ctx, anna, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if r.PersonID != anna {
					t.Errorf("record %s has person %q", r.RecordID, r.PersonID)
				}
				got = append(got, r.RecordID)
			}
			after = PosOf(recs[len(recs)-1])
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: timeline (-want +got):\n%s", limit, diff)
		}
	}
	if recs, err := s.PersonTimeline(ctx, "01J0000000000000000000NONE", TimelinePos{}, 0); err != nil || len(recs) != 0 {
		t.Errorf("unknown person: %d records, %v", len(recs), err)
	}
}

func TestAuditHeadAndSize(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if n, err := s.AuditHead(ctx); err != nil || n != 0 {
		t.Errorf("AuditHead of an empty log = %d, %v", n, err)
	}
	fillAudit(t, s, 3)
	if n, err := s.AuditHead(ctx); err != nil || n != 3 {
		t.Errorf("AuditHead = %d, %v; want 3", n, err)
	}
	n, err := s.SizeBytes(ctx)
	if err != nil || n < 4096 {
		t.Errorf("SizeBytes = %d, %v; want at least a page", n, err)
	}
}
