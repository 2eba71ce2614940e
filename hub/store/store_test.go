package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testClock is a settable clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func testPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "snodo.db")
}

func openAt(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openTest(t testing.TB, opts ...Option) *Store {
	t.Helper()
	return openAt(t, testPath(t), opts...)
}

// rawDB opens the file with no help from the store, as an intruder (or the
// sqlite3 shell) would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func pragma(t testing.TB, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenAppliesMigrations(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	s := openAt(t, path)
	migs, err := loadMigrations(embeddedMigrations)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Version(), len(migs); got != want {
		t.Errorf("Version() = %d, want %d", got, want)
	}
	if got := pragma(t, s.w, "user_version"); got != fmt.Sprint(s.Version()) {
		t.Errorf("user_version = %s, want %d", got, s.Version())
	}
	rows, err := s.r.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	want := []string{"api_tokens", "audit", "budget_ledger", "connector_runs", "cursors", "delivery_envelopes", "outbox", "person_identifiers", "persons", "quarantine", "records", "referral_events", "referrals", "region_cells", "region_enrolment_tokens", "region_envelopes", "region_intake_log", "region_keys", "region_territories", "release_cells", "releases"}
	if diff := cmp.Diff(want, tables); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}

	// Reopening applies nothing and keeps the version.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	if s2.Version() != len(migs) {
		t.Errorf("after reopen Version() = %d, want %d", s2.Version(), len(migs))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := testPath(t)
	s := openAt(t, path)
	know := s.Version()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, path).Exec(fmt.Sprintf("PRAGMA user_version = %d", know+1)); err != nil {
		t.Fatal(err)
	}

	_, err := Open(context.Background(), path)
	var tooNew *TooNewError
	if !errors.As(err, &tooNew) {
		t.Fatalf("Open of a newer database: got %v, want a *TooNewError", err)
	}
	if diff := cmp.Diff(TooNewError{Have: know + 1, Know: know}, *tooNew); diff != "" {
		t.Errorf("TooNewError (-want +got):\n%s", diff)
	}
}

func TestTooNewErrorMessage(t *testing.T) {
	t.Parallel()
	err := &TooNewError{Have: 5, Know: 4}
	want := "database schema version 5 is newer than this snodo binary understands (4): upgrade snodo, or restore a backup made by this version"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestMigrationsUpgradeAndRollBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testPath(t)
	// v1 is the schema this binary ships (the store's statements need all
	// of it); v2 adds one migration, v3 one more that fails.
	shipped, err := loadMigrations(embeddedMigrations)
	if err != nil {
		t.Fatal(err)
	}
	n := len(shipped)
	v1 := fstest.MapFS{}
	for _, m := range shipped {
		v1["migrations/"+m.name] = &fstest.MapFile{Data: []byte(m.sql)}
	}
	nameB := fmt.Sprintf("migrations/%04d_b.sql", n+1)
	nameC := fmt.Sprintf("%04d_c.sql", n+2)
	v2 := maps.Clone(v1)
	v2[nameB] = &fstest.MapFile{Data: []byte("CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1);")}
	v3 := maps.Clone(v2)
	// Creates c, then fails: c must not survive.
	v3["migrations/"+nameC] = &fstest.MapFile{Data: []byte("CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1);")}

	s, err := Open(ctx, path, withMigrations(v1))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != n {
		t.Errorf("v1: Version() = %d, want %d", s.Version(), n)
	}
	s.Close()

	s, err = Open(ctx, path, withMigrations(v2))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != n+1 {
		t.Errorf("v2: Version() = %d, want %d", s.Version(), n+1)
	}
	s.Close()

	if _, err = Open(ctx, path, withMigrations(v3)); err == nil || !strings.Contains(err.Error(), nameC) {
		t.Fatalf("v3 with a failing migration: got %v, want an error naming %s", err, nameC)
	}
	db := rawDB(t, path)
	if got := pragma(t, db, "user_version"); got != fmt.Sprint(n+1) {
		t.Errorf("after the failed migration user_version = %s, want %d", got, n+1)
	}
	var count int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'c'`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 0 {
		t.Errorf("table c of the failed migration exists")
	}
}

func TestLoadMigrationsRejects(t *testing.T) {
	t.Parallel()
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := map[string]struct {
		fsys fstest.MapFS
		want string
	}{
		"gap": {
			fsys: fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql},
			want: "expected number 0002",
		},
		"duplicate number": {
			fsys: fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql},
			want: "expected number 0002",
		},
		"not starting at one": {
			fsys: fstest.MapFS{"migrations/0002_b.sql": sql},
			want: "expected number 0001",
		},
		"bad name": {
			fsys: fstest.MapFS{"migrations/1_a.sql": sql},
			want: "NNNN_lower_case_name.sql",
		},
		"stray file": {
			fsys: fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/README": sql},
			want: "NNNN_lower_case_name.sql",
		},
		"none": {
			fsys: fstest.MapFS{"migrations": &fstest.MapFile{Mode: fs.ModeDir | 0o755}},
			want: "no migrations found",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := loadMigrations(tc.fsys)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("loadMigrations: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConnectionSettings(t *testing.T) {
	t.Parallel()
	s := openTest(t, WithBusyTimeout(1500*time.Millisecond))
	tests := map[string]struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		"writer journal mode": {s.w, "journal_mode", "wal"},
		"reader journal mode": {s.r, "journal_mode", "wal"},
		"writer foreign keys": {s.w, "foreign_keys", "1"},
		"writer synchronous":  {s.w, "synchronous", "1"}, // NORMAL
		"writer busy timeout": {s.w, "busy_timeout", "1500"},
		"reader busy timeout": {s.r, "busy_timeout", "1500"},
		"integrity check":     {s.w, "integrity_check", "ok"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := pragma(t, tc.db, tc.pragma); got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}
	t.Run("default busy timeout", func(t *testing.T) {
		t.Parallel()
		if got := pragma(t, openTest(t).w, "busy_timeout"); got != "5000" {
			t.Errorf("default busy_timeout = %s, want 5000", got)
		}
	})
	t.Run("reader cannot write", func(t *testing.T) {
		t.Parallel()
		_, err := s.r.Exec(`INSERT INTO cursors (source, cursor, updated_at) VALUES ('x', x'00', 'now')`)
		if err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("write through the read pool: got %v, want a read-only error", err)
		}
	})
}

func TestOpenRejectsBadArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := map[string]struct {
		path string
		opts []Option
		want string
	}{
		"empty path":          {"", nil, "give the path of a database file"},
		"memory":              {":memory:", nil, "in-memory"},
		"uri":                 {"file:x.db?mode=ro", nil, "URIs are not supported"},
		"missing directory":   {filepath.Join(dir, "no", "such", "x.db"), nil, "check that the directory exists"},
		"nil clock":           {filepath.Join(dir, "a.db"), []Option{WithClock(nil)}, "nil clock"},
		"no readers":          {filepath.Join(dir, "b.db"), []Option{WithReadConns(0)}, "at least 1"},
		"negative busy limit": {filepath.Join(dir, "c.db"), []Option{WithBusyTimeout(-time.Second)}, "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(context.Background(), tc.path, tc.opts...)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a dir?#%", "snodo & co.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	if err := s.Write(context.Background(), func(tx *Tx) error {
		return tx.SetCursor(context.Background(), "src", []byte("c1"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Cursor(context.Background(), "src"); err != nil || !ok {
		t.Fatalf("Cursor: ok %v, err %v", ok, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at the path given: %v", err)
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO person_identifiers (digest, kind, person_id, linked_at) VALUES (x'01', 'cf', 'nobody', 'now')`)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("identifier of an unknown person: got %v, want a FOREIGN KEY error", err)
	}
}

func TestFilesArePrivate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := testPath(t)
	s := openAt(t, path)
	if err := s.Write(ctx, func(tx *Tx) error { return tx.SetCursor(ctx, "src", []byte("c")) }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), got)
		}
	}
}

func TestTimesSortAsText(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 1, 1, 10, 0, 5, 0, time.FixedZone("CET", 3600))
	times := []time.Time{base, base.Add(100 * time.Millisecond), base.Add(time.Second), base.Add(time.Second + 1)}
	for i := 1; i < len(times); i++ {
		a, b := formatTime(times[i-1]), formatTime(times[i])
		if !(a < b) {
			t.Errorf("%s does not sort before %s", a, b)
		}
	}
	if got, want := formatTime(base), "2025-01-01T09:00:05.000000000Z"; got != want {
		t.Errorf("formatTime = %s, want %s", got, want)
	}
	got, err := parseTime(formatTime(times[3]))
	if err != nil || !got.Equal(times[3]) {
		t.Errorf("parseTime(formatTime(t)) = %v, %v; want %v", got, err, times[3])
	}
}
