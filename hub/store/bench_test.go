package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/identity"
)

// benchBody writes a ~1 KB canonical-looking JSON body for record n into buf.
func benchBody(buf []byte, n int, variant string) []byte {
	buf = append(buf[:0], `{"authored_on":"2025-02-01T08:00:00Z","category":{"code":"housing-instability","system":"gravity"},"id":"`...)
	buf = fmt.Appendf(buf, "R%012d", n)
	buf = append(buf, `","note":"`...)
	buf = append(buf, variant...)
	buf = append(buf, strings.Repeat("x", 1024-len(buf)-2)...)
	return append(buf, `"}`...)
}

func benchRecord(n int, body []byte) Record {
	r := testRecord(fmt.Sprintf("R%012d", n), "")
	r.Body = body
	return r
}

func BenchmarkUpsertBatch(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b)
			buf := make([]byte, 0, 1100)
			next := 0
			b.SetBytes(int64(size) * 1024)
			for b.Loop() {
				err := s.Write(ctx, func(tx *Tx) error {
					for range size {
						next++
						buf = benchBody(buf, next, "")
						out, err := tx.UpsertRecord(ctx, benchRecord(next, buf))
						if err != nil {
							return err
						}
						if out != Inserted {
							return fmt.Errorf("record %d: %v", next, out)
						}
					}
					return tx.SetCursor(ctx, "comune-demo", fmt.Appendf(nil, "%d", next))
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkUpsertUnchanged re-delivers 1,000 stored records with the same
// content, 1,000 per transaction: the skip path of UpsertRecord.
func BenchmarkUpsertUnchanged(b *testing.B) {
	ctx := context.Background()
	const size = 1000
	s := openTest(b)
	buf := make([]byte, 0, 1100)
	upsertAll := func(want Outcome) error {
		return s.Write(ctx, func(tx *Tx) error {
			for n := range size {
				buf = benchBody(buf, n, "")
				out, err := tx.UpsertRecord(ctx, benchRecord(n, buf))
				if err != nil {
					return err
				}
				if out != want {
					return fmt.Errorf("record %d: %v, want %v", n, out, want)
				}
			}
			return nil
		})
	}
	if err := upsertAll(Inserted); err != nil {
		b.Fatal(err)
	}
	rows := 0
	for b.Loop() {
		if err := upsertAll(Unchanged); err != nil {
			b.Fatal(err)
		}
		rows += size
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkUpsertChanged stores new content for existing records, 1,000 per
// transaction, for comparison with inserts and unchanged re-deliveries.
func BenchmarkUpsertChanged(b *testing.B) {
	ctx := context.Background()
	const size = 1000
	s := openTest(b)
	buf := make([]byte, 0, 1100)
	round := 0
	upsertAll := func() error {
		round++
		variant := fmt.Sprint(round)
		return s.Write(ctx, func(tx *Tx) error {
			for n := range size {
				buf = benchBody(buf, n, variant)
				if _, err := tx.UpsertRecord(ctx, benchRecord(n, buf)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := upsertAll(); err != nil {
		b.Fatal(err)
	}
	rows := 0
	for b.Loop() {
		if err := upsertAll(); err != nil {
			b.Fatal(err)
		}
		rows += size
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkResolvePerson(b *testing.B) {
	ctx := context.Background()
	key := []byte("benchmark key, not a secret ....")
	mac := func(n int) []byte {
		h := hmac.New(sha256.New, key)
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(n))
		h.Write(v[:])
		return h.Sum(nil)
	}

	// A new person per call, each call its own transaction (Store method).
	b.Run("new/own-tx", func(b *testing.B) {
		s := openTest(b)
		n := 0
		for b.Loop() {
			n++
			if _, _, err := s.ResolvePerson(ctx, mac(n), identity.KindCF, identity.NewPersonID()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resolves/s")
	})
	// A known person per call, each call its own transaction.
	b.Run("existing/own-tx", func(b *testing.B) {
		s := openTest(b)
		const known = 10000
		if err := s.Write(ctx, func(tx *Tx) error {
			for n := range known {
				if _, _, err := tx.ResolvePerson(ctx, mac(n), identity.KindCF, identity.NewPersonID()); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		n := 0
		for b.Loop() {
			n++
			if _, created, err := s.ResolvePerson(ctx, mac(n%known), identity.KindCF, identity.NewPersonID()); err != nil || created {
				b.Fatalf("created %v, err %v", created, err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resolves/s")
	})
	// New persons inside a pipeline batch of 1,000 (Tx method).
	b.Run("new/batch=1000", func(b *testing.B) {
		s := openTest(b)
		n := 0
		for b.Loop() {
			if err := s.Write(ctx, func(tx *Tx) error {
				for range 1000 {
					n++
					if _, _, err := tx.ResolvePerson(ctx, mac(n), identity.KindCF, identity.NewPersonID()); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "resolves/s")
	})
}
