package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func enqueue(t *testing.T, s *Store, topic, key, payload string) (int64, bool) {
	t.Helper()
	var id int64
	var created bool
	err := s.Write(context.Background(), func(tx *Tx) error {
		var err error
		id, created, err = tx.Enqueue(context.Background(), topic, key, []byte(payload))
		return err
	})
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	return id, created
}

func pendingIDs(t *testing.T, s *Store, topic string) []int64 {
	t.Helper()
	msgs, err := s.Pending(context.Background(), topic, 0)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	ids := []int64{}
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestOutboxDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)

	id1, created := enqueue(t, s, "referral.deliver", "ref-1/v1", "payload 1")
	if !created {
		t.Errorf("first Enqueue: created false")
	}
	again, created := enqueue(t, s, "referral.deliver", "ref-1/v1", "payload 1 bis")
	if created || again != id1 {
		t.Errorf("Enqueue with the same key = (%d, %v), want (%d, false)", again, created, id1)
	}
	id2, created := enqueue(t, s, "referral.deliver", "ref-2/v1", "payload 2")
	if !created || id2 == id1 {
		t.Errorf("Enqueue with another key = (%d, %v), want a new id", id2, created)
	}
	msgs, err := s.Pending(ctx, "referral.deliver", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || string(msgs[0].Payload) != "payload 1" {
		t.Errorf("Pending = %+v, want two messages, the first with its original payload", msgs)
	}

	// A key is unique across topics.
	err = s.Write(ctx, func(tx *Tx) error {
		_, _, err := tx.Enqueue(ctx, "federation.uplink", "ref-1/v1", []byte("x"))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "already used on topic") {
		t.Errorf("same key on another topic: got %v, want an error", err)
	}

	// Delivered messages still deduplicate.
	if err := s.MarkDelivered(ctx, id1); err != nil {
		t.Fatal(err)
	}
	if again, created := enqueue(t, s, "referral.deliver", "ref-1/v1", "late duplicate"); created || again != id1 {
		t.Errorf("Enqueue of a delivered key = (%d, %v), want (%d, false)", again, created, id1)
	}
	if diff := cmp.Diff([]int64{id2}, pendingIDs(t, s, "referral.deliver")); diff != "" {
		t.Errorf("pending after delivery (-want +got):\n%s", diff)
	}
}

func TestOutboxRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	created := clock.Now()

	id, _ := enqueue(t, s, "uplink", "env-1", "envelope")
	other, _ := enqueue(t, s, "other", "env-2", "elsewhere")
	if diff := cmp.Diff([]int64{id}, pendingIDs(t, s, "uplink")); diff != "" {
		t.Errorf("pending of topic uplink (-want +got):\n%s", diff)
	}

	next := clock.Now().Add(30 * time.Second)
	if err := s.MarkFailed(ctx, id, errors.New("region hub: 503 Service Unavailable"), next); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, s, "uplink"); len(got) != 0 {
		t.Errorf("pending before the retry time: %v, want none", got)
	}
	clock.Advance(30 * time.Second)
	msgs, err := s.Pending(ctx, "uplink", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutboxMessage{{
		ID: id, Topic: "uplink", DedupKey: "env-1", Payload: []byte("envelope"), CreatedAt: created,
		Attempts: 1, NextAttemptAt: next, LastError: "region hub: 503 Service Unavailable",
	}}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("pending at the retry time (-want +got):\n%s", diff)
	}

	if err := s.MarkDelivered(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkDelivered(ctx, id); err != nil {
		t.Errorf("MarkDelivered twice: %v, want a no-op", err)
	}
	if got := pendingIDs(t, s, "uplink"); len(got) != 0 {
		t.Errorf("pending after delivery: %v, want none", got)
	}
	if err := s.MarkFailed(ctx, id, errors.New("late"), next); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkFailed after delivery: %v, want ErrNotFound", err)
	}
	if err := s.MarkDelivered(ctx, other+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDelivered of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestPendingOrderAndLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	var ids []int64
	for _, k := range []string{"a", "b", "c", "d"} {
		id, _ := enqueue(t, s, "t", k, k)
		ids = append(ids, id)
		clock.Advance(time.Millisecond)
	}
	// a fails and is due again after d: the order follows the due time.
	if err := s.MarkFailed(ctx, ids[0], errors.New("x"), clock.Now()); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Pending(ctx, "t", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, m := range msgs {
		got = append(got, m.ID)
	}
	if diff := cmp.Diff([]int64{ids[1], ids[2], ids[3]}, got); diff != "" {
		t.Errorf("Pending(limit 3) (-want +got):\n%s", diff)
	}
}

// TestRetryAfter: 1 s after the first failure, doubling, never above
// 10 min, each within ±20 %.
func TestRetryAfter(t *testing.T) {
	for attempts, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 9: 512 * time.Second, 10: RetryMax, 1000: RetryMax} {
		for range 200 {
			got := RetryAfter(attempts)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("RetryAfter(%d) = %v, want %v ±20 %%", attempts, got, want)
			}
		}
	}
}
