package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// loadMigrations reads migrations/NNNN_name.sql from fsys. The numbers must
// run 1, 2, 3, … without gaps or duplicates.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q: name it NNNN_lower_case_name.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		migs = append(migs, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	for i, m := range migs {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %04d: migrations are numbered 0001, 0002, … without gaps or duplicates", m.name, i+1)
		}
	}
	if len(migs) == 0 {
		return nil, fmt.Errorf("no migrations found")
	}
	return migs, nil
}

// migrate applies the migrations newer than the database's user_version, each
// in its own transaction together with the user_version bump, and returns the
// resulting version. The version is read inside the first transaction, which
// holds the write lock, so two processes opening the same file cannot apply a
// migration twice.
func migrate(ctx context.Context, db *sql.DB, migs []migration) (int, error) {
	know := migs[len(migs)-1].version
	for {
		done, version, err := migrateOne(ctx, db, migs, know)
		if err != nil || done {
			return version, err
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB, migs []migration, know int) (done bool, version int, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()

	var have int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return false, 0, fmt.Errorf("read schema version: %w", err)
	}
	if have > know {
		return false, have, &TooNewError{Have: have, Know: know}
	}
	if have == know {
		return true, have, nil
	}
	m := migs[have] // migs[i].version == i+1
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, have, fmt.Errorf("apply migration %s to schema version %d: %w", m.name, have, err)
	}
	// PRAGMA takes no parameters; m.version is an int we parsed.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return false, have, fmt.Errorf("record schema version %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return false, have, fmt.Errorf("commit migration %s: %w", m.name, err)
	}
	return false, m.version, nil
}
