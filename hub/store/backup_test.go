package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/store"
)

var backupClock = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// filledStore opens a new store at dir/snodo.db holding a record, a
// cursor, a quarantine item, an outbox message and audit entries, the
// first of them the set-up of territory.
func filledStore(t *testing.T, dir, territory string) (*store.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "snodo.db")
	s, err := store.Open(ctx, path, store.WithClock(func() time.Time { return backupClock }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.Write(ctx, func(tx *store.Tx) error {
		if err := tx.Audit(ctx, "snodo init", "territory.init", map[string]string{"territory": territory}); err != nil {
			return err
		}
		if _, err := tx.UpsertRecord(ctx, store.Record{Schema: "volunteer", SchemaID: "https://snodo-hub.github.io/schemas/volunteer/1.0.0",
			Source: "odv", RecordID: "VOL-1", Territory: territory, Body: []byte(`{"record_id":"VOL-1"}`)}); err != nil {
			return err
		}
		if err := tx.SetCursor(ctx, "odv", []byte("c1")); err != nil {
			return err
		}
		if _, err := tx.AddQuarantine(ctx, store.QuarantineItem{Source: "odv", RecordID: "VOL-2", Raw: []byte("sealed"),
			Errors: []store.QuarantineError{{Pointer: "/person", Message: "invalid"}}}); err != nil {
			return err
		}
		if _, _, err := tx.Enqueue(ctx, "referral", "k1", []byte("{}")); err != nil {
			return err
		}
		return tx.Audit(ctx, "test", "test.fill", nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// rawExec changes a database behind the store's back.
func rawExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := filledStore(t, t.TempDir(), "SDS-AB")
	in, err := store.Inspect(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	got := *in
	got.Size = 0
	want := store.Inspection{Path: path, Version: store.KnownVersion(), Known: store.KnownVersion(),
		AuditEntries: 2, Records: 1, Newest: backupClock, Territory: "SDS-AB"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Inspect (-want +got):\n%s", diff)
	}
	if in.Size == 0 || in.Problems() != nil {
		t.Errorf("size %d, problems %v", in.Size, in.Problems())
	}
	if store.KnownVersion() != s.Version() {
		t.Errorf("KnownVersion %d, an open store is at %d", store.KnownVersion(), s.Version())
	}
	found, err := s.IntegrityCheck(ctx)
	if err != nil || found != nil {
		t.Errorf("IntegrityCheck: %v %v", found, err)
	}
}

func TestInspectFindsProblems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := map[string]struct {
		spoil    func(t *testing.T, path string)
		problem  string // in Problems
		notSnodo bool   // Inspect fails with *NotSnodoError
	}{
		"audit entry changed": {
			spoil:   func(t *testing.T, p string) { rawExec(t, p, `UPDATE audit SET actor = 'mallory' WHERE seq = 1`) },
			problem: "audit log broken at seq 1",
		},
		"newer schema": {
			spoil: func(t *testing.T, p string) {
				rawExec(t, p, fmt.Sprintf("PRAGMA user_version = %d", store.KnownVersion()+1))
			},
			problem: "newer than this snodo binary understands",
		},
		"not a database": {
			spoil: func(t *testing.T, p string) {
				if err := os.WriteFile(p, []byte("version: 1\nterritory: {}\n"+strings.Repeat("x", 5000)), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			notSnodo: true,
		},
		"another SQLite database": {
			spoil: func(t *testing.T, p string) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				rawExec(t, p, `CREATE TABLE notes (x)`)
			},
			notSnodo: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, path := filledStore(t, t.TempDir(), "SDS-AB")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, path)
			in, err := store.Inspect(ctx, path)
			var ns *store.NotSnodoError
			if tc.notSnodo {
				if !errors.As(err, &ns) {
					t.Fatalf("got %v, %v; want a *NotSnodoError", in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(in.Problems(), "\n"); !strings.Contains(p, tc.problem) {
				t.Errorf("problems %q, want %q", p, tc.problem)
			}
			// Such a database is not restored.
			_, err = store.Restore(ctx, path, filepath.Join(t.TempDir(), "snodo.db"), store.RestoreOptions{})
			var unsound *store.UnsoundError
			if !errors.As(err, &unsound) {
				t.Errorf("Restore: got %v, want an *UnsoundError", err)
			}
		})
	}
}

func TestInspectFindsCorruption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := filledStore(t, t.TempDir(), "SDS-AB")
	err := s.Write(ctx, func(tx *store.Tx) error {
		for i := range 2000 {
			if _, err := tx.UpsertRecord(ctx, store.Record{Schema: "volunteer", SchemaID: "v", Source: "odv",
				RecordID: fmt.Sprintf("VOL-%05d", i), Territory: "SDS-AB", Body: []byte(strings.Repeat("x", 200))}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the middle of the file, away from the header.
	for i := len(data) / 2; i < len(data)/2+3000; i++ {
		data[i] = 0x5a
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := store.Inspect(ctx, path)
	if err == nil && len(in.Integrity) == 0 {
		t.Fatal("a scribbled-over database passed the inspection")
	}
	if _, err := store.Restore(ctx, path, filepath.Join(t.TempDir(), "snodo.db"), store.RestoreOptions{}); err == nil {
		t.Fatal("a scribbled-over database was restored")
	}
}

func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, path := filledStore(t, dir, "SDS-AB")
	out := t.TempDir()

	// Through the open store, and through a file another process uses.
	viaStore, err := s.Backup(ctx, filepath.Join(out, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := store.BackupFile(ctx, path, filepath.Join(out, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range []*store.BackupInfo{viaStore, viaFile} {
		if info.Records != 1 || info.Version != store.KnownVersion() || info.Size == 0 {
			t.Errorf("backup info %+v", info)
		}
		st, err := os.Stat(info.Path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", info.Path, st.Mode().Perm())
		}
		in, err := store.Inspect(ctx, info.Path)
		if err != nil || in.Problems() != nil || in.Territory != "SDS-AB" || in.AuditEntries != 2 {
			t.Errorf("inspect %s: %+v, %v", info.Path, in, err)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"a.db", "b.db"}, names); diff != "" {
		t.Errorf("files left in the backup folder (-want +got):\n%s", diff)
	}

	// Never over an existing file, and never from a database that is not there.
	before, _ := os.ReadFile(filepath.Join(out, "a.db"))
	var exists *store.ExistsError
	if _, err := s.Backup(ctx, filepath.Join(out, "a.db")); !errors.As(err, &exists) {
		t.Errorf("backup over an existing file: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, "a.db")); string(after) != string(before) {
		t.Error("an existing backup was changed")
	}
	if _, err := store.BackupFile(ctx, filepath.Join(dir, "nope.db"), filepath.Join(out, "c.db")); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("backup created the missing database")
	}
	if _, err := s.Backup(ctx, filepath.Join(out, "no", "such", "folder.db")); err == nil {
		t.Error("backup into a missing folder succeeded")
	}
}

func TestCheckNotInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := filledStore(t, t.TempDir(), "SDS-AB")
	var inUse *store.InUseError
	if err := store.CheckNotInUse(ctx, path); !errors.As(err, &inUse) {
		t.Fatalf("open store: got %v, want an *InUseError", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A reader alone, such as a backup in progress, counts as well.
	reader, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.Ping(); err != nil {
		t.Fatal(err)
	}
	if err := store.CheckNotInUse(ctx, path); !errors.As(err, &inUse) {
		t.Errorf("open reader: got %v, want an *InUseError", err)
	}
	reader.Close()
	if err := store.CheckNotInUse(ctx, path); err != nil {
		t.Fatalf("closed store: %v", err)
	}
	in, err := store.Inspect(ctx, path)
	if err != nil || in.Records != 1 {
		t.Fatalf("the check changed the database: %+v %v", in, err)
	}
}

func TestRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, _ := filledStore(t, t.TempDir(), "SDS-AB")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := src.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC) }

	t.Run("into an empty place", func(t *testing.T) {
		t.Parallel()
		target := filepath.Join(t.TempDir(), "snodo.db")
		res, err := store.Restore(ctx, backup, target, store.RestoreOptions{Territory: "SDS-AB", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if res.Previous != "" || res.Version != store.KnownVersion() || res.Backup.Records != 1 {
			t.Errorf("restored %+v", res)
		}
		in, err := store.Inspect(ctx, target)
		if err != nil || in.Problems() != nil || in.Records != 1 || in.AuditEntries != 3 {
			t.Fatalf("restored database: %+v %v", in, err)
		}
		st, _ := os.Stat(target)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("restored database has mode %v", st.Mode().Perm())
		}
	})

	t.Run("over a database", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		old, target := filledStore(t, dir, "SDS-AB")
		if err := old.Write(ctx, func(tx *store.Tx) error { return tx.SetCursor(ctx, "later", []byte("x")) }); err != nil {
			t.Fatal(err)
		}
		// In use: refused, even with Force.
		var inUse *store.InUseError
		if _, err := store.Restore(ctx, backup, target, store.RestoreOptions{Force: true, Now: now}); !errors.As(err, &inUse) {
			t.Fatalf("in use: got %v", err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		// Without Force: refused, nothing touched.
		var exists *store.ExistsError
		if _, err := store.Restore(ctx, backup, target, store.RestoreOptions{Now: now}); !errors.As(err, &exists) {
			t.Fatalf("without force: got %v", err)
		}
		res, err := store.Restore(ctx, backup, target, store.RestoreOptions{Force: true, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if want := target + ".before-restore-20260401T100000Z"; res.Previous != want {
			t.Errorf("previous %q, want %q", res.Previous, want)
		}
		// The database replaced is kept whole: it has the later cursor.
		prev, err := store.Open(ctx, res.Previous)
		if err != nil {
			t.Fatal(err)
		}
		defer prev.Close()
		if _, ok, err := prev.Cursor(ctx, "later"); !ok || err != nil {
			t.Errorf("the kept database lost its last write: %v %v", ok, err)
		}
		restored, err := store.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer restored.Close()
		if _, ok, _ := restored.Cursor(ctx, "later"); ok {
			t.Error("the restored database has a write made after the backup")
		}
		if err := restored.VerifyAudit(ctx); err != nil {
			t.Error(err)
		}
		// At once again: the name for the kept database is taken.
		restored.Close()
		if _, err := store.Restore(ctx, backup, target, store.RestoreOptions{Force: true, Now: now}); !errors.As(err, &exists) {
			t.Errorf("second restore in the same second: %v", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target := filepath.Join(dir, "snodo.db")
		if err := os.WriteFile(target+"-wal", []byte("stale"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Restore(ctx, backup, target, store.RestoreOptions{}); err == nil || !strings.Contains(err.Error(), "left over") {
			t.Errorf("stale WAL: %v", err)
		}
		if _, err := store.Restore(ctx, backup, filepath.Join(t.TempDir(), "snodo.db"), store.RestoreOptions{Territory: "SDS-CD"}); err == nil || !strings.Contains(err.Error(), "belongs to territory SDS-AB") {
			t.Errorf("other territory: %v", err)
		}
		if _, err := store.Restore(ctx, backup, backup, store.RestoreOptions{Force: true}); err == nil {
			t.Error("restored a backup onto itself")
		}
		if _, err := os.Stat(target); err == nil {
			t.Error("a refused restore left a database")
		}
	})
}
