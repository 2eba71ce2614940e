package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KnownVersion is the schema version the migrations embedded in this binary
// lead to: a current database has exactly this version.
func KnownVersion() int {
	migs, err := loadMigrations(embeddedMigrations)
	if err != nil || len(migs) == 0 {
		return 0 // the package tests keep the embedded migrations loadable
	}
	return migs[len(migs)-1].version
}

// snodoTables are the tables every Snodo database has (migration 0001).
var snodoTables = []string{"records", "persons", "person_identifiers", "cursors", "quarantine", "outbox", "audit"}

// Inspection is what Inspect found in a database file. It reports; callers
// judge (see Problems).
type Inspection struct {
	Path string
	Size int64 // bytes of the database file itself (not its WAL)
	// Version is the database's schema version (PRAGMA user_version);
	// Known is this binary's (KnownVersion).
	Version, Known int
	// Integrity lists what PRAGMA integrity_check found wrong (at most 20
	// lines); it is empty when the check answered "ok".
	Integrity []string
	// Audit is nil when the audit log's hash chain verifies, else why not
	// (an *AuditBrokenError when an entry is broken).
	Audit        error
	AuditEntries int64
	Records      int64
	// Newest is the latest time stored in the database (records, cursors,
	// quarantine, outbox, persons, audit); zero in an empty database.
	Newest time.Time
	// Territory is the territory code "snodo init" recorded in the audit
	// log, or "" when the log has no such entry.
	Territory string
}

// Problems says what is wrong with the database for this binary: a schema
// newer than it knows, integrity problems, a broken audit chain. Nil means
// none. An older schema is not a problem: Open migrates it.
func (i *Inspection) Problems() []string {
	var p []string
	if i.Version > i.Known {
		p = append(p, (&TooNewError{Have: i.Version, Know: i.Known}).Error())
	}
	if len(i.Integrity) > 0 {
		p = append(p, "integrity check failed: "+strings.Join(i.Integrity, "; "))
	}
	if i.Audit != nil {
		p = append(p, i.Audit.Error())
	}
	return p
}

// NotSnodoError says that a file is not a Snodo database.
type NotSnodoError struct {
	Path   string
	Reason string
}

func (e *NotSnodoError) Error() string {
	return fmt.Sprintf("%s is not a Snodo database: %s", e.Path, e.Reason)
}

// UnsoundError says that a database file has problems (see
// Inspection.Problems) and was not used.
type UnsoundError struct {
	Path     string
	Problems []string
	Hint     string // what to do
}

func (e *UnsoundError) Error() string {
	return fmt.Sprintf("%s is not sound: %s: %s", e.Path, strings.Join(e.Problems, "; "), e.Hint)
}

// Inspect opens the database file at path read-only — it never creates,
// migrates or changes it, and a running hub may keep writing — and reports
// its schema version, PRAGMA integrity_check, whether the audit chain
// verifies, its newest stored time and the territory it was set up for.
// It fails with a *NotSnodoError for a file that is not a SQLite database
// holding Snodo's tables.
func Inspect(ctx context.Context, path string) (*Inspection, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("inspect database: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, &NotSnodoError{Path: abs, Reason: "it is not a regular file"}
	}
	db, err := openReadOnly(abs)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	in := &Inspection{Path: abs, Size: info.Size(), Known: KnownVersion()}
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&in.Version); err != nil {
		if strings.Contains(err.Error(), "not a database") {
			return nil, &NotSnodoError{Path: abs, Reason: "it is not a SQLite database file"}
		}
		return nil, fmt.Errorf("inspect database %s: %w", abs, err)
	}
	if missing, err := missingTables(ctx, db); err != nil {
		return nil, fmt.Errorf("inspect database %s: %w", abs, err)
	} else if len(missing) > 0 {
		return nil, &NotSnodoError{Path: abs, Reason: "it lacks the tables " + strings.Join(missing, ", ")}
	}
	if in.Integrity, err = integrityCheck(ctx, db); err != nil {
		return nil, fmt.Errorf("inspect database %s: integrity check: %w", abs, err)
	}
	// VerifyAudit reads through s.r alone: a Store holding only this
	// read-only connection is enough, and cannot write.
	in.Audit = (&Store{r: db}).VerifyAudit(ctx)
	var newest sql.NullString
	var territory sql.NullString
	err = db.QueryRowContext(ctx, `SELECT
    (SELECT count(*) FROM audit),
    (SELECT count(*) FROM records),
    (SELECT max(t) FROM (
        SELECT max(updated_at) AS t FROM records
        UNION ALL SELECT max(updated_at) FROM cursors
        UNION ALL SELECT max(max(created_at, coalesce(replayed_at, ''), coalesce(dropped_at, ''))) FROM quarantine
        UNION ALL SELECT max(max(created_at, coalesce(delivered_at, ''))) FROM outbox
        UNION ALL SELECT max(created_at) FROM persons
        UNION ALL SELECT max(at) FROM audit)),
    (SELECT detail FROM audit WHERE action = 'territory.init' ORDER BY seq LIMIT 1)`).Scan(
		&in.AuditEntries, &in.Records, &newest, &territory)
	if err != nil {
		return nil, fmt.Errorf("inspect database %s: %w", abs, err)
	}
	if newest.Valid && newest.String != "" {
		if in.Newest, err = parseTime(newest.String); err != nil {
			return nil, fmt.Errorf("inspect database %s: %w", abs, err)
		}
	}
	if territory.Valid {
		var d struct {
			Territory string `json:"territory"`
		}
		if json.Unmarshal([]byte(territory.String), &d) == nil {
			in.Territory = d.Territory
		}
	}
	return in, nil
}

// openReadOnly opens one read-only connection to the database at abs.
func openReadOnly(abs string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{
		"mode":    {"ro"},
		"_pragma": {fmt.Sprintf("busy_timeout(%d)", defaultBusyTimeout.Milliseconds())},
	}))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func missingTables(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []string
	for _, t := range snodoTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// integrityCheck runs PRAGMA integrity_check and returns its findings, or
// nil when it answers "ok".
func integrityCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			found = append(found, line)
		}
	}
	return found, rows.Err()
}

// IntegrityCheck runs PRAGMA integrity_check on a read connection and
// returns its findings, or nil when the database is sound.
func (s *Store) IntegrityCheck(ctx context.Context) ([]string, error) {
	found, err := integrityCheck(ctx, s.r)
	if err != nil {
		return nil, fmt.Errorf("integrity check: %w", err)
	}
	return found, nil
}

// BackupInfo describes a backup written by Backup or BackupFile.
type BackupInfo struct {
	Path    string
	Size    int64
	Version int       // schema version of the copy
	At      time.Time // when the copy's snapshot was taken (its start)
	Records int64
}

// Backup writes a consistent copy of the database to dest while the store
// stays in use: SQLite's VACUUM INTO, run on a read connection, copies one
// snapshot and neither waits for nor blocks the writer. The copy is written
// beside dest under a temporary name, checked (integrity and audit chain),
// made durable and only then given its name, with mode 0600; an existing
// dest is never overwritten. The keys are not part of the database: back
// them up on their own.
func (s *Store) Backup(ctx context.Context, dest string) (*BackupInfo, error) {
	return vacuumInto(ctx, s.r, dest, s.now())
}

// BackupFile is Backup for a database that this process has not opened,
// such as the one a running hub uses: it reads it through a read-only
// connection and never migrates or changes it.
func BackupFile(ctx context.Context, database, dest string) (*BackupInfo, error) {
	abs, err := filepath.Abs(database)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("back up %s: %w", database, err)
	}
	db, err := openReadOnly(abs)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&n); err != nil {
		return nil, fmt.Errorf("back up %s: %w", abs, err)
	}
	return vacuumInto(ctx, db, dest, time.Now())
}

// ExistsError refuses to overwrite a file.
type ExistsError struct{ Path, Hint string }

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already exists: %s", e.Path, e.Hint)
}

func vacuumInto(ctx context.Context, db *sql.DB, dest string, now time.Time) (*BackupInfo, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return nil, err
	}
	exists := &ExistsError{Path: abs, Hint: "refusing to overwrite it; give a new file name (for example with the date in it)"}
	if _, err := os.Lstat(abs); err == nil {
		return nil, exists
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("back up to %s: %w", abs, err)
	}
	dir := filepath.Dir(abs)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("back up to %s: %w (check that the folder exists and is writable)", abs, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // a no-op once linked and removed
	// SQLite writes into the existing empty file, which keeps this mode.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("back up to %s: %w", abs, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("back up to %s: %w", abs, err)
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?1", tmpName); err != nil {
		return nil, fmt.Errorf("back up to %s: copy the database: %w", abs, err)
	}
	if err := syncFile(tmpName); err != nil {
		return nil, fmt.Errorf("back up to %s: %w", abs, err)
	}
	in, err := Inspect(ctx, tmpName)
	if err != nil {
		return nil, fmt.Errorf("back up to %s: check the copy: %w", abs, err)
	}
	if p := in.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("back up to %s: %w", abs, &UnsoundError{Path: "the copy", Problems: p, Hint: "it was not kept; check the database with \"snodo doctor\""})
	}
	// A hard link gives the copy its name only if the name is still free.
	if err := os.Link(tmpName, abs); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, exists
		}
		// File systems without hard links: check, then rename.
		if _, serr := os.Lstat(abs); serr == nil {
			return nil, exists
		}
		if err := os.Rename(tmpName, abs); err != nil {
			return nil, fmt.Errorf("back up to %s: %w", abs, err)
		}
	}
	if err := os.Remove(tmpName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("back up to %s: remove the temporary copy: %w", abs, err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("back up to %s: %w", abs, err)
	}
	return &BackupInfo{Path: abs, Size: in.Size, Version: in.Version, At: now.UTC(), Records: in.Records}, nil
}

// InUseError says that another connection — most likely a running hub —
// has the database open.
type InUseError struct{ Path string }

func (e *InUseError) Error() string {
	return fmt.Sprintf("%s is in use, most likely by a running hub: stop it first (systemctl stop snodo, or Ctrl-C on \"snodo run\")", e.Path)
}

// CheckNotInUse fails with an *InUseError when another connection, in this
// process or another, has the database at path open. It asks SQLite for an
// exclusive lock without waiting: while a hub runs, each of its connections
// holds a shared lock on the file. (A hub that starts right after the check
// is not seen.)
func CheckNotInUse(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {"busy_timeout(0)", "locking_mode(EXCLUSIVE)"},
	}))
	if err != nil {
		return fmt.Errorf("open %s: %w", abs, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return lockError(abs, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		return lockError(abs, err)
	}
	var n int
	err = conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n)
	if _, rerr := conn.ExecContext(ctx, "ROLLBACK"); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return lockError(abs, err)
	}
	return nil
}

func lockError(abs string, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked") {
		return &InUseError{Path: abs}
	}
	return fmt.Errorf("check whether %s is in use: %w", abs, err)
}

// RestoreOptions configures Restore.
type RestoreOptions struct {
	// Force replaces an existing database (which is kept aside). Without it
	// Restore only fills a place where there is no database.
	Force bool
	// Territory, when set, is the territory the set-up is configured for:
	// a backup made for another territory is refused.
	Territory string
	// Now is the clock that names the kept database (default time.Now).
	Now func() time.Time
	// Actor is the audit log's actor of the restore (default "snodo restore").
	Actor string
}

// Restored says what Restore did.
type Restored struct {
	Database string // the database restored
	// Previous is where the database it replaced was kept, with its WAL
	// if it had one; "" when there was none.
	Previous string
	// Backup is the inspection of the backup restored.
	Backup *Inspection
	// Version is the schema version after Open migrated the restored copy.
	Version int
}

// Restore replaces the database at database by the backup file. It checks
// the backup first — a Snodo database, no newer than this binary, passing
// the integrity check and with an audit chain that verifies, and for the
// configured territory — and refuses while the database is in use (an
// *InUseError) or, without Force, when one exists (an *ExistsError). The
// database it replaces is renamed DATABASE.before-restore-TIME (its WAL
// along with it), never deleted. The backup is copied in under a temporary
// name, made durable and renamed into place; then the store is opened
// (applying newer migrations), the audit chain verified and the restore
// recorded in the audit log.
func Restore(ctx context.Context, backup, database string, opts RestoreOptions) (*Restored, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Actor == "" {
		opts.Actor = "snodo restore"
	}
	in, err := Inspect(ctx, backup)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if in.Version < 1 {
		return nil, fmt.Errorf("restore: the backup %s has schema version %d: it is not a database written by snodo", in.Path, in.Version)
	}
	if p := in.Problems(); len(p) > 0 {
		return nil, fmt.Errorf("restore: %w", &UnsoundError{Path: in.Path, Problems: p, Hint: "it cannot be restored; use another backup (or a newer snodo, for a newer schema)"})
	}
	if opts.Territory != "" && in.Territory != "" && in.Territory != opts.Territory {
		return nil, fmt.Errorf("restore: the backup %s belongs to territory %s, but this set-up is configured for %s: restore it into that territory's set-up", in.Path, in.Territory, opts.Territory)
	}
	abs, err := filepath.Abs(database)
	if err != nil {
		return nil, err
	}
	if abs == in.Path {
		return nil, fmt.Errorf("restore: %s is the database itself: give a backup file", in.Path)
	}
	_, err = os.Lstat(abs)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore: %w", err)
	}
	res := &Restored{Database: abs, Backup: in}
	if exists {
		if err := CheckNotInUse(ctx, abs); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
		res.Previous = abs + ".before-restore-" + opts.Now().UTC().Format("20060102T150405Z")
		if !opts.Force {
			return nil, &ExistsError{Path: abs, Hint: fmt.Sprintf("pass --force to replace it by the backup (it will be kept as %s)", res.Previous)}
		}
		for _, p := range []string{res.Previous, res.Previous + "-wal", res.Previous + "-journal"} {
			if _, err := os.Lstat(p); err == nil {
				return nil, &ExistsError{Path: p, Hint: "a restore was done a moment ago: wait a second and try again"}
			}
		}
	} else {
		// SQLite would apply a WAL left without its database to the
		// restored one, and damage it.
		for _, suffix := range []string{"-wal", "-journal"} {
			if _, err := os.Lstat(abs + suffix); err == nil {
				return nil, fmt.Errorf("restore: %s%s is left over from a database that is no longer there: move it out of the folder first", abs, suffix)
			}
		}
	}

	tmp, err := copyIn(in.Path, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if exists {
		// The database goes aside with its WAL and rollback journal, which
		// may hold its last transactions: renamed together they still make
		// one database. The shared-memory index is rebuilt from the WAL.
		if err := os.Rename(abs, res.Previous); err != nil {
			return nil, fmt.Errorf("restore: keep the current database: %w", err)
		}
		for _, suffix := range []string{"-wal", "-journal"} {
			if err := os.Rename(abs+suffix, res.Previous+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("restore: keep the current database's %s file: %w (the database itself is now %s)", suffix, err, res.Previous)
			}
		}
	}
	if err := os.Remove(abs + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("restore: remove the old shared-memory file: %w", err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return nil, fmt.Errorf("restore: put the backup in place: %w", err)
	}
	if err := syncDir(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}

	s, err := Open(ctx, abs)
	if err != nil {
		return nil, fmt.Errorf("restore: open the restored database: %w", err)
	}
	res.Version = s.Version()
	err = s.VerifyAudit(ctx)
	if err == nil {
		detail := map[string]any{"backup": filepath.Base(in.Path), "backup_version": in.Version}
		if res.Previous != "" {
			detail["previous"] = filepath.Base(res.Previous)
		}
		err = s.Audit(ctx, opts.Actor, "store.restore", detail)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("restore: the restored database: %w", err)
	}
	return res, nil
}

// copyIn copies file into dir under a temporary name, mode 0600, durably.
func copyIn(file, dir string) (string, error) {
	src, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp(dir, ".snodo-restore-*")
	if err != nil {
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	name := dst.Name()
	_, err = io.Copy(dst, src)
	if err == nil {
		err = dst.Chmod(0o600)
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	return name, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
