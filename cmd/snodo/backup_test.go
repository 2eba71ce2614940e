package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
)

// row is one table row, by column name.
type row = map[string]any

// dumpDatabase reads every row of every table of the database at path,
// in primary-key order, through a read-only connection.
func dumpDatabase(t *testing.T, path string) map[string][]row {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// One read transaction: one snapshot of every table.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	names, err := tx.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for names.Next() {
		var n string
		if err := names.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	names.Close()
	out := map[string][]row{}
	for _, table := range tables {
		out[table] = queryRows(t, tx, fmt.Sprintf(`SELECT * FROM "%s"`, table))
	}
	return out
}

// queryRows reads the rows of a query ordered by all its columns.
func queryRows(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string) []row {
	t.Helper()
	probe, err := q.Query(query + " LIMIT 0")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := probe.Columns()
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	order := make([]string, len(cols))
	for i := range cols {
		order[i] = strconv.Itoa(i + 1)
	}
	rows, err := q.Query(query + " ORDER BY " + strings.Join(order, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := row{}
		for i, c := range cols {
			r[c] = vals[i]
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// liveN is the number of the live write that made r, or 0.
func liveN(t *testing.T, table string, r row) int64 {
	switch table {
	case "records", "quarantine":
		id, _ := r["record_id"].(string)
		if n, ok := strings.CutPrefix(id, "live-"); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	case "audit":
		if r["action"] == "test.write" {
			var d struct{ N int64 }
			if err := json.Unmarshal([]byte(r["detail"].(string)), &d); err != nil {
				t.Fatal(err)
			}
			return d.N
		}
	}
	return 0
}

// diffTables compares two dumps, table by table and row by row, with each
// row written as text in column order (cmp on the values themselves is
// slow for thousands of rows).
func diffTables(want, got map[string][]row) string {
	text := func(d map[string][]row) map[string][]string {
		out := map[string][]string{}
		for table, rows := range d {
			lines := []string{}
			for _, r := range rows {
				cols := make([]string, 0, len(r))
				for c := range r {
					cols = append(cols, c)
				}
				sort.Strings(cols)
				var b strings.Builder
				for _, c := range cols {
					v := r[c]
					if bs, ok := v.([]byte); ok {
						v = "x'" + hex.EncodeToString(bs) + "'"
					}
					fmt.Fprintf(&b, "%s=%v ", c, v)
				}
				lines = append(lines, b.String())
			}
			sort.Strings(lines)
			out[table] = lines
		}
		return out
	}
	return cmp.Diff(text(want), text(got))
}

type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestFaultDatabaseBusyDuringBackup fills a hub's database, backs it up
// with "snodo backup" while a writer keeps committing batches (records,
// cursor, quarantine and audit together, as the pipeline does), restores
// the backup with "snodo restore" into a fresh set-up, and compares every
// row of every table with the source as it was at the backup's snapshot.
func TestFaultDatabaseBusyDuringBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	srcDir, dstDir := filepath.Join(root, "src"), filepath.Join(root, "dst")
	for _, dir := range []string{srcDir, dstDir} {
		if code, out, stderr := snodo(t, "", "init", dir, "--territory", "SDS-AB", "--name", "Ambito"); code != 0 {
			t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
		}
	}
	srcConfig, dstConfig := filepath.Join(srcDir, config.FileName), filepath.Join(dstDir, config.FileName)
	srcDB := filepath.Join(srcDir, config.DefaultStorePath)
	backup := filepath.Join(root, "backup.db")

	base := time.Now().UTC().Truncate(time.Second)
	clock := &settableClock{t: base}
	s, err := store.Open(ctx, srcDB, store.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Fill: records, persons, cursors, quarantine, outbox, audit.
	body := strings.Repeat("x", 1000)
	err = s.Write(ctx, func(tx *store.Tx) error {
		for i := range 3000 {
			if _, err := tx.UpsertRecord(ctx, store.Record{Schema: "volunteer", SchemaID: "https://snodo-hub.github.io/schemas/volunteer/1.0.0",
				Source: "odv", RecordID: fmt.Sprintf("VOL-%05d", i), Territory: "SDS-AB", RecordedAt: base,
				Body: []byte(fmt.Sprintf(`{"record_id":"VOL-%05d","pad":"%s"}`, i, body))}); err != nil {
				return err
			}
		}
		for i := range 50 {
			digest := []byte(fmt.Sprintf("digest-%02d-%s", i, strings.Repeat("0", 22)))
			if _, _, err := tx.ResolvePerson(ctx, digest, identity.KindCF, identity.NewPersonID()); err != nil {
				return err
			}
		}
		if err := tx.SetCursor(ctx, "odv", []byte(`{"offset":3000}`)); err != nil {
			return err
		}
		for i := range 5 {
			if _, err := tx.AddQuarantine(ctx, store.QuarantineItem{Source: "odv", RecordID: fmt.Sprintf("BAD-%d", i), Schema: "volunteer",
				Errors: []store.QuarantineError{{Pointer: "/person/identifiers/cf", Message: "check character"}}, Raw: []byte("sealed")}); err != nil {
				return err
			}
		}
		if _, _, err := tx.Enqueue(ctx, "referral", "ref-1", []byte(`{}`)); err != nil {
			return err
		}
		return tx.Audit(ctx, "test", "test.fill", map[string]int{"records": 3000})
	})
	if err != nil {
		t.Fatal(err)
	}

	// The writer: batch n stores record live-n, sets the cursor of "live"
	// to n, quarantines one record and audits, in one transaction; then it
	// notes the cursor row as committed.
	reader, err := sql.Open("sqlite", "file:"+srcDB+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var (
		committed atomic.Int64
		mu        sync.Mutex
		cursorAt  = map[int64][]row{}
		stop      = make(chan struct{})
		done      = make(chan error, 1)
	)
	go func() {
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			clock.Set(base.Add(time.Duration(n) * time.Millisecond))
			err := s.Write(ctx, func(tx *store.Tx) error {
				id := fmt.Sprintf("live-%d", n)
				if _, err := tx.UpsertRecord(ctx, store.Record{Schema: "volunteer", SchemaID: "https://snodo-hub.github.io/schemas/volunteer/1.0.0",
					Source: "live", RecordID: id, Territory: "SDS-AB", Body: []byte(`{"record_id":"` + id + `"}`)}); err != nil {
					return err
				}
				if err := tx.SetCursor(ctx, "live", []byte(strconv.FormatInt(n, 10))); err != nil {
					return err
				}
				if _, err := tx.AddQuarantine(ctx, store.QuarantineItem{Source: "live", RecordID: id, Raw: []byte("sealed")}); err != nil {
					return err
				}
				return tx.Audit(ctx, "writer", "test.write", map[string]int64{"n": n})
			})
			if err != nil {
				done <- err
				return
			}
			r := queryRows(t, reader, `SELECT * FROM cursors WHERE source = 'live'`)
			mu.Lock()
			cursorAt[n] = r
			mu.Unlock()
			committed.Store(n)
		}
	}()
	waitFor := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for committed.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the writer is stuck at %d", committed.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(20)
	first := committed.Load()

	code, out, stderr := snodo(t, "", "backup", backup, "--config", srcConfig)
	last := committed.Load()
	waitFor(last + 10) // writes go on after the backup
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("the writer failed: %v", err)
	}
	if code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "back up "+filepath.Join(srcDir, "keys")+"/ offline too") {
		t.Errorf("backup does not send the admin to back up the keys:\n%s", out)
	}
	if info, err := os.Stat(backup); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, %v", info, err)
	}

	// The snapshot the backup took: the fill and live writes 1..k.
	got := dumpDatabase(t, backup)
	var k int64
	for _, r := range got["cursors"] {
		if r["source"] == "live" {
			k, _ = strconv.ParseInt(string(r["cursor"].([]byte)), 10, 64)
		}
	}
	t.Logf("live writes committed: %d when the backup started, %d when it ended; the backup holds %d", first, last, k)
	if k < first || k > last+1 {
		t.Fatalf("the backup holds live write %d, outside [%d, %d]: not the snapshot of its time", k, first, last+1)
	}
	source := dumpDatabase(t, srcDB)
	want := map[string][]row{}
	for table, rows := range source {
		want[table] = []row{}
		for _, r := range rows {
			if table == "cursors" && r["source"] == "live" {
				continue
			}
			if liveN(t, table, r) <= k {
				want[table] = append(want[table], r)
			}
		}
	}
	mu.Lock()
	want["cursors"] = append(want["cursors"], cursorAt[k]...)
	mu.Unlock()
	if n := len(want["records"]); n != 3000+int(k) {
		t.Fatalf("expected snapshot has %d records, want %d", n, 3000+k)
	}
	if diff := diffTables(want, got); diff != "" {
		t.Fatalf("the backup differs from the source's snapshot at live write %d (-want +got):\n%s", k, diff)
	}

	// Restore into a fresh set-up; the hub there is stopped.
	code, out, stderr = snodo(t, "", "restore", backup, "--config", dstConfig, "--force")
	if code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "The database it replaced is kept as "+filepath.Join(dstDir, "snodo.db.before-restore-")) {
		t.Errorf("restore output:\n%s", out)
	}
	restored := dumpDatabase(t, filepath.Join(dstDir, config.DefaultStorePath))
	audit := restored["audit"]
	if len(audit) == 0 || audit[len(audit)-1]["action"] != "store.restore" {
		t.Fatalf("the restore is not in the audit log: %v", audit[len(audit)-1])
	}
	restored["audit"] = audit[:len(audit)-1]
	if diff := diffTables(want, restored); diff != "" {
		t.Fatalf("the restored database differs from the snapshot (-want +got):\n%s", diff)
	}
	dst, err := store.Open(ctx, filepath.Join(dstDir, config.DefaultStorePath))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.VerifyAudit(ctx); err != nil {
		t.Fatalf("restored audit chain: %v", err)
	}
}

func TestBackupAndRestoreRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "hub")
	if code, out, stderr := snodo(t, "", "init", dir, "--territory", "SDS-AB", "--name", "Ambito"); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, stderr)
	}
	cfg := filepath.Join(dir, config.FileName)
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, out, stderr := snodo(t, "", "backup", backup, "--config", cfg); code != 0 {
		t.Fatalf("backup: exit %d\n%s%s", code, out, stderr)
	}
	other := filepath.Join(t.TempDir(), "other")
	if code, _, stderr := snodo(t, "", "init", other, "--territory", "SDS-CD", "--name", "Altro"); code != 0 {
		t.Fatal(stderr)
	}
	notDB := writeFile(t, "notes.txt", strings.Repeat("not a database\n", 300))

	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"backup over a file":        {args: []string{"backup", backup, "--config", cfg}, code: exitFindings, want: "already exists: refusing to overwrite it"},
		"backup without config":     {args: []string{"backup", backup + "2", "--config", filepath.Join(t.TempDir(), "snodo.yaml")}, code: exitUsage, want: "no configuration"},
		"restore without force":     {args: []string{"restore", backup, "--config", cfg}, code: exitFindings, want: "pass --force to replace it"},
		"restore not a database":    {args: []string{"restore", notDB, "--config", cfg, "--force"}, code: exitFindings, want: "is not a Snodo database"},
		"restore another territory": {args: []string{"restore", backup, "--config", filepath.Join(other, config.FileName), "--force"}, code: exitUsage, want: "belongs to territory SDS-AB"},
		"restore a missing file":    {args: []string{"restore", backup + ".nope", "--config", cfg, "--force"}, code: exitUsage, want: "no such file"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := snodo(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d; stderr %q, want %q", code, tc.code, stderr, tc.want)
			}
		})
	}

	// While a hub has the database open: refused, even with --force.
	s, err := store.Open(ctx, filepath.Join(dir, config.DefaultStorePath))
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := snodo(t, "", "restore", backup, "--config", cfg, "--force")
	s.Close()
	if code != exitFindings || !strings.Contains(stderr, "is in use, most likely by a running hub: stop it first") {
		t.Fatalf("restore while in use: exit %d, %s", code, stderr)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "before-restore") || strings.HasPrefix(e.Name(), ".snodo-restore") {
			t.Errorf("a refused restore left %s", e.Name())
		}
	}
}
