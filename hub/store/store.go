package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// timeFormat is RFC 3339 in UTC with a fixed nine-digit fraction, so that
// stored times compare correctly as text (time.RFC3339Nano trims zeros and
// does not).
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

const (
	defaultBusyTimeout = 5 * time.Second
	defaultReadConns   = 4
)

// Store is the hub's SQLite database: one writer connection, serialising every
// write transaction, and a pool of read-only connections that read from WAL
// snapshots without waiting for the writer. It is safe for concurrent use.
type Store struct {
	w       *sql.DB // one connection, BEGIN IMMEDIATE
	r       *sql.DB // read-only pool
	now     func() time.Time
	dir     string // the database's folder, named when its disk is full
	version int
	stmts   [numStmts]*sql.Stmt // prepared once on the writer connection
}

// Option configures Open.
type Option func(*config)

type config struct {
	now         func() time.Time
	busyTimeout time.Duration
	readConns   int
	migrations  fs.FS
}

// WithClock sets the clock used for every stored time (default time.Now).
// Times are stored in UTC whatever the clock's location.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithBusyTimeout sets how long a connection waits for a lock held by another
// process before failing with SQLITE_BUSY (default 5 s).
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithReadConns sets the size of the read-only connection pool (default 4).
func WithReadConns(n int) Option {
	return func(c *config) { c.readConns = n }
}

// withMigrations replaces the embedded migrations; tests use it to check
// upgrade and failure paths.
func withMigrations(fsys fs.FS) Option {
	return func(c *config) { c.migrations = fsys }
}

// TooNewError is returned by Open when the database was written by a newer
// snodo binary than this one: its schema version is higher than the highest
// migration this binary knows.
type TooNewError struct {
	Have int // the database's schema version (PRAGMA user_version)
	Know int // the highest migration this binary knows
}

func (e *TooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this snodo binary understands (%d): upgrade snodo, or restore a backup made by this version", e.Have, e.Know)
}

// Open opens (creating it with mode 0600 when missing) the database at path,
// applies the pending migrations and returns the store. It refuses a database
// whose schema is newer than this binary with a *TooNewError.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{
		now:         time.Now,
		busyTimeout: defaultBusyTimeout,
		readConns:   defaultReadConns,
		migrations:  embeddedMigrations,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.now == nil {
		return nil, errors.New("open store: WithClock was given a nil clock")
	}
	if cfg.busyTimeout < 0 {
		return nil, fmt.Errorf("open store: busy timeout %v is negative", cfg.busyTimeout)
	}
	if cfg.readConns < 1 {
		return nil, fmt.Errorf("open store: read pool size %d: give at least 1", cfg.readConns)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open store %q: give the path of a database file (in-memory databases and URIs are not supported)", path)
	}
	migs, err := loadMigrations(cfg.migrations)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Create the file ourselves so that it is private from the start: it holds
	// pseudonymised personal data. SQLite gives the -wal and -shm files the
	// same permissions as the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w (check that the directory exists and is writable)", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}

	s := &Store{now: cfg.now, dir: filepath.Dir(abs)}
	busy := cfg.busyTimeout.Milliseconds()

	s.w, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busy),
			"journal_mode(WAL)",
			"foreign_keys(1)",
			"synchronous(NORMAL)",
			// Deleted rows are overwritten with zeros, not left in free
			// pages: an erased person must not stay in the file's bytes.
			"secure_delete(1)",
		},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	fail := func(err error) (*Store, error) {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}

	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fail(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(fmt.Errorf("journal mode is %q, not WAL: put the database on a local file system that supports shared memory", mode))
	}
	if s.version, err = migrate(ctx, s.w, migs); err != nil {
		return fail(err)
	}

	s.r, err = sql.Open("sqlite", dsn(abs, url.Values{
		"mode":    {"ro"},
		"_pragma": {fmt.Sprintf("busy_timeout(%d)", busy)},
	}))
	if err != nil {
		return fail(err)
	}
	s.r.SetMaxOpenConns(cfg.readConns)
	s.r.SetMaxIdleConns(cfg.readConns)
	if err := s.r.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("read pool: %w", err))
	}

	for i, q := range stmtSQL {
		if s.stmts[i], err = s.w.PrepareContext(ctx, q); err != nil {
			return fail(fmt.Errorf("prepare statement %d: %w", i, err))
		}
	}
	return s, nil
}

// dsn builds a modernc.org/sqlite URI for the absolute path abs. The "file:"
// prefix makes the driver hand the whole URI to SQLite, which applies its own
// parameters (mode) and ignores the driver's (_pragma, _txlock).
func dsn(abs string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close closes both connection pools. Transactions in flight are rolled back.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.stmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Version reports the database's schema version: the number of the last
// migration applied.
func (s *Store) Version() int { return s.version }

// stamp is the current time in the stored format.
func (s *Store) stamp() string { return formatTime(s.now()) }

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", v, err)
	}
	return t, nil
}

// parseNullTime returns the zero time for NULL.
func parseNullTime(v sql.NullString) (time.Time, error) {
	if !v.Valid {
		return time.Time{}, nil
	}
	return parseTime(v.String)
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// nullString stores the empty string as NULL.
func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// ErrNotFound is wrapped by the errors of operations on a row that does not
// exist (a quarantine item, an outbox message).
var ErrNotFound = errors.New("not found")
