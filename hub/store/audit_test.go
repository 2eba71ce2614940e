package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fillAudit writes n audit entries, each in its own transaction.
func fillAudit(t *testing.T, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		detail := map[string]any{"connector": fmt.Sprintf("c%d", i), "n": i}
		if err := s.Audit(ctx, "admin", "connector.add", detail); err != nil {
			t.Fatalf("Audit %d: %v", i, err)
		}
	}
}

func TestAuditChainVerifies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newTestClock()
	s := openTest(t, WithClock(clock.Now))
	if err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit of an empty log: %v", err)
	}
	fillAudit(t, s, 3)
	clock.Advance(time.Second)
	// Entries written with other work in one transaction chain the same way.
	err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.Audit(ctx, "pipeline", "batch.stored", struct {
			Source string `json:"source"`
			Rows   int    `json:"rows"`
		}{"comune-demo", 100}); err != nil {
			return err
		}
		return tx.Audit(ctx, "pipeline", "cursor.set", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit: %v", err)
	}

	var first []byte
	var detail string
	if err := s.r.QueryRow(`SELECT prev_hash FROM audit WHERE seq = 1`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(make([]byte, 32), first); diff != "" {
		t.Errorf("first prev_hash is not 32 zero bytes (-want +got):\n%s", diff)
	}
	if err := s.r.QueryRow(`SELECT detail FROM audit WHERE seq = 4`).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if want := `{"source":"comune-demo","rows":100}`; detail != want {
		t.Errorf("detail = %s, want %s", detail, want)
	}
}

func TestAuditTamperingIsDetected(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		tamper  func(db *sql.DB) error
		wantSeq int64
	}{
		"detail edited": {
			tamper: func(db *sql.DB) error {
				_, err := db.Exec(`UPDATE audit SET detail = '{"connector":"evil","n":3}' WHERE seq = 3`)
				return err
			},
			wantSeq: 3,
		},
		"actor edited": {
			tamper: func(db *sql.DB) error {
				_, err := db.Exec(`UPDATE audit SET actor = 'someone-else' WHERE seq = 1`)
				return err
			},
			wantSeq: 1,
		},
		"entry deleted": {
			tamper: func(db *sql.DB) error {
				_, err := db.Exec(`DELETE FROM audit WHERE seq = 2`)
				return err
			},
			wantSeq: 3,
		},
		"entry rewritten with a recomputed hash": {
			tamper: func(db *sql.DB) error {
				var prev []byte
				var at string
				if err := db.QueryRow(`SELECT prev_hash, at FROM audit WHERE seq = 2`).Scan(&prev, &at); err != nil {
					return err
				}
				h := auditHash(prev, 2, at, "admin", "connector.remove", `{}`)
				_, err := db.Exec(`UPDATE audit SET action = 'connector.remove', detail = '{}', hash = ? WHERE seq = 2`, h)
				return err
			},
			wantSeq: 3, // the next entry no longer chains to it
		},
		"sequence renumbered": {
			tamper: func(db *sql.DB) error {
				_, err := db.Exec(`UPDATE audit SET seq = 10 WHERE seq = 4`)
				return err
			},
			wantSeq: 10,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := testPath(t)
			s := openAt(t, path)
			fillAudit(t, s, 4)
			if err := tc.tamper(rawDB(t, path)); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			err := s.VerifyAudit(context.Background())
			var broken *AuditBrokenError
			if !errors.As(err, &broken) {
				t.Fatalf("VerifyAudit: got %v, want an *AuditBrokenError", err)
			}
			if broken.Seq != tc.wantSeq {
				t.Errorf("broken at seq %d, want %d (%v)", broken.Seq, tc.wantSeq, err)
			}
		})
	}
}

func TestAuditRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	tests := map[string]struct {
		actor, action string
		detail        any
	}{
		"no actor":             {"", "x", nil},
		"no action":            {"admin", "", nil},
		"detail not JSON-able": {"admin", "x", func() {}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := s.Audit(ctx, tc.actor, tc.action, tc.detail); err == nil {
				t.Errorf("Audit succeeded, want an error")
			}
		})
	}
}
