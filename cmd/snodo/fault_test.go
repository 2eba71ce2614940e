package main

// The fault suite (issue 8, item 1): each TestFault… injects one fault,
// with real processes where the fault is a process's, and states the
// property it proves. "go test -run TestFault ./..." runs them all; those
// that live beside the code they exercise:
//   - the hub killed mid-ingest: TestFaultHubKilledMidIngest (run_test.go);
//   - the hub killed mid-delivery, a target system down:
//     TestFaultReferralLoopEndToEnd (referral_loop_test.go), and down for
//     five simulated days: hub/referral TestFaultTargetDownForDays;
//   - a hung or crashing connector restarted with backoff:
//     hub/supervisor TestFaultHungConnectorIsKilledAndRestarted and
//     TestFaultCrashedConnectorResumesFromTheCommittedCursor;
//   - the uplink crashing after its POST, JetStream down: hub/federation
//     TestFaultUplinkCrashAfterPost and TestFaultJetStreamServerDown;
//   - the database busy during a backup: TestFaultDatabaseBusyDuringBackup
//     (backup_test.go) backs up while a writer commits batch after batch,
//     lets the writer go on after it, and compares every row of the backup
//     and of its restore with the source's snapshot, audit chain verified.
// Here: the hub killed mid-release, the region down for months,
// duplicated and reordered deliveries, a full disk.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
)

// outboxRow is an outbox message as the territory's database holds it.
type outboxRow struct {
	key       string
	payload   []byte
	created   string
	attempts  int
	next      time.Time
	delivered bool
	lastError string
}

// outboxRows reads every message of the envelopes' topic.
func outboxRows(t *testing.T, db *sql.DB) map[string]outboxRow {
	t.Helper()
	rows, err := db.Query(`SELECT dedup_key, payload, created_at, attempts, next_attempt_at, delivered_at IS NOT NULL, coalesce(last_error, '')
FROM outbox WHERE topic = ?1`, federation.EnvelopeTopic)
	if err != nil {
		t.Fatalf("read the outbox: %v", err)
	}
	defer rows.Close()
	out := map[string]outboxRow{}
	for rows.Next() {
		var r outboxRow
		var next string
		if err := rows.Scan(&r.key, &r.payload, &r.created, &r.attempts, &next, &r.delivered, &r.lastError); err != nil {
			t.Fatal(err)
		}
		if r.next, err = time.Parse(time.RFC3339Nano, next); err != nil {
			t.Fatalf("outbox next_attempt_at %q: %v", next, err)
		}
		out[r.key] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// startRegionOn runs "snodo region serve" as a process listening on addr
// and waits for its health check; the process is killed at the test's end.
func startRegionOn(t *testing.T, cfg, addr string) (base string, logs *lockedBuffer) {
	t.Helper()
	bin, err := snodoBin()
	if err != nil {
		t.Fatal(err)
	}
	logs = &lockedBuffer{}
	cmd := exec.Command(bin, "region", "serve", "--config", cfg, "--listen", addr)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	base = "http://" + addr
	waitUntil(t, "the region answers /healthz", func() bool {
		select {
		case <-done:
			t.Fatalf("snodo region serve exited:\n%s", logs.String())
		default:
		}
		res, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return base, logs
}

// enrolledTerritory makes a territory hub holding referrals of 2025, a
// region hub with the territory's key enrolled, and releases epochs (each
// "EPOCH" or "EPOCH/REVISION") with "snodo stats release".
func enrolledTerritory(t *testing.T, code string, releases ...string) (cfg, regionCfg string) {
	t.Helper()
	cfg, _, _ = federationTerritoryHub(t, code, 0, 40)
	regionCfg = regionHub(t)
	pub := filepath.Join(filepath.Dir(cfg), "keys", "signing.key.pub")
	if c, _, stderr := snodo(t, "", "region", "enrol", "--territory", code, "--key", pub, "--name", "Ambito "+code, "--config", regionCfg); c != 0 {
		t.Fatalf("enrol %s: exit %d: %s", code, c, stderr)
	}
	for _, r := range releases {
		epoch, rev, _ := strings.Cut(r, "/")
		args := []string{"stats", "release", "--epoch", epoch, "--config", cfg}
		if rev != "" {
			args = append(args, "--revision", rev)
		}
		if c, out, stderr := snodo(t, "", args...); c != 0 {
			t.Fatalf("release %s: exit %d: %s\n%s", r, c, stderr, out)
		}
	}
	return cfg, regionCfg
}

// TestFaultRegionDownForMonths proves that a release waits in the
// territory's outbox for as long as the region cannot be reached — here 90
// simulated days with nothing listening at the region's address — retried
// on a capped backoff (never more than store.RetryMax apart, so neither a
// retry storm nor an ever-growing silence), and that once the region
// listens again each envelope is delivered exactly once: stored once,
// byte for byte, accepted once in the intake log, never sent again.
func TestFaultRegionDownForMonths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	epochs := []string{"2025-Q1", "2025-Q2"}
	cfg, regionCfg := enrolledTerritory(t, "ATS-MESI", epochs...)
	dbPath := filepath.Join(filepath.Dir(cfg), "snodo.db")

	// The region's address: free now, and nothing listens there until the
	// region comes back.
	addr, err := freeAddr("")
	if err != nil {
		t.Fatal(err)
	}

	// The uplink as "snodo run" makes it, on a clock the test moves.
	start := time.Now().UTC()
	clock := &settableClock{t: start}
	st, err := store.Open(ctx, dbPath, store.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub, err := federation.NewHTTPPublisher("http://"+addr, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	up, err := federation.NewUplink(st, federation.UplinkConfig{Territory: "ATS-MESI", Publisher: pub, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queued := outboxRows(t, db)
	if len(queued) != len(epochs) {
		t.Fatalf("the outbox holds %d envelopes, want %d", len(queued), len(epochs))
	}

	// pass moves the clock to at, makes one uplink pass, and checks that
	// nothing was delivered, that every envelope due was tried once and
	// that its next attempt is within the backoff's bounds.
	passes := 0
	pass := func(at time.Time) {
		t.Helper()
		before := outboxRows(t, db)
		clock.Set(at)
		n, err := up.DeliverDue(ctx)
		if err != nil {
			t.Fatalf("pass at +%v: %v", at.Sub(start), err)
		}
		if n != 0 {
			t.Fatalf("pass at +%v: %d envelopes delivered with the region down", at.Sub(start), n)
		}
		passes++
		for k, r := range outboxRows(t, db) {
			b := before[k]
			if r.delivered || r.created != queued[k].created || !bytes.Equal(r.payload, queued[k].payload) {
				t.Fatalf("%s changed while waiting: delivered %v, queued at %s (was %s), payload kept %v",
					k, r.delivered, r.created, queued[k].created, bytes.Equal(r.payload, queued[k].payload))
			}
			if b.next.After(at) {
				if r.attempts != b.attempts {
					t.Fatalf("%s was tried at +%v before it was due", k, at.Sub(start))
				}
				continue
			}
			if r.attempts != b.attempts+1 {
				t.Fatalf("%s due at +%v: attempts %d → %d, want one more", k, at.Sub(start), b.attempts, r.attempts)
			}
			wait := r.next.Sub(at)
			lo := time.Duration(float64(min(store.RetryFirst<<min(b.attempts, 20), store.RetryMax)) * 0.8)
			if wait < lo-time.Millisecond || wait > store.RetryMax*12/10+time.Millisecond {
				t.Fatalf("%s after its attempt %d: next attempt in %v, want in [%v, %v]", k, r.attempts, wait, lo, store.RetryMax*12/10)
			}
			if !strings.Contains(r.lastError, "post envelope to the region") || !strings.Contains(r.lastError, "connection refused") {
				t.Fatalf("%s: last error %q, want the POST refused", k, r.lastError)
			}
		}
	}

	// The first simulated day, pass by pass at each next due time, as
	// "snodo run" (one pass every 15 s) would try them.
	day := start.Add(24 * time.Hour)
	for {
		next := day
		for _, r := range outboxRows(t, db) {
			if r.next.Before(next) {
				next = r.next
			}
		}
		if !next.Before(day) {
			break
		}
		if passes > 1000 {
			t.Fatalf("more than 1000 passes in a day: the backoff does not hold the retries back")
		}
		pass(next.Add(time.Millisecond))
	}
	// Within a day: the doubling from 1 s reaches the cap after ~10
	// attempts, then one attempt every RetryMax ±20 %.
	lo, hi := int(24*time.Hour/(store.RetryMax*12/10)), 12+int(24*time.Hour/(store.RetryMax*8/10))
	firstDay := outboxRows(t, db)
	for k, r := range firstDay {
		if r.attempts < lo || r.attempts > hi {
			t.Errorf("%s: %d attempts in the first day, want between %d and %d", k, r.attempts, lo, hi)
		}
	}
	// The other 89 days, a pass every 6 hours: each envelope is due at
	// every one of them and tried once.
	for at := day.Add(6 * time.Hour); !at.After(start.Add(90 * 24 * time.Hour)); at = at.Add(6 * time.Hour) {
		pass(at)
	}
	waited := outboxRows(t, db)
	for k, r := range waited {
		if want := firstDay[k].attempts + 89*4; r.attempts != want {
			t.Errorf("%s: %d attempts after 90 days, want %d", k, r.attempts, want)
		}
	}
	code, out, _ := snodo(t, "", "federate", "status", "--config", cfg)
	if code != 0 || !strings.Contains(out, "failed") || !strings.Contains(out, "connection refused") {
		t.Errorf("federate status after 90 days with the region down: exit %d\n%s", code, out)
	}
	for k, r := range waited {
		t.Logf("90 simulated days: %d passes, %s tried %d times", passes, k, r.attempts)
	}

	// The region listens again. The envelopes are due within RetryMax
	// (+20 %): one pass then delivers both, later passes send nothing.
	regionBase, regionLog := startRegionOn(t, regionCfg, addr)
	now := start.Add(90*24*time.Hour + store.RetryMax*12/10 + time.Second)
	clock.Set(now)
	if n, err := up.DeliverDue(ctx); err != nil || n != len(epochs) {
		t.Fatalf("the first pass with the region up delivered %d (%v), want %d\n%s", n, err, len(epochs), regionLog.String())
	}
	for i := range 5 {
		clock.Set(now.Add(time.Duration(i+1) * 24 * time.Hour))
		if n, err := up.DeliverDue(ctx); err != nil || n != 0 {
			t.Fatalf("a later pass delivered %d (%v), want nothing", n, err)
		}
	}
	held := regionEnvelopes(t, regionCfg)
	if len(held) != len(epochs) {
		t.Errorf("the region holds %d envelopes, want %d", len(held), len(epochs))
	}
	for k, r := range outboxRows(t, db) {
		if !r.delivered {
			t.Errorf("%s is not marked delivered", k)
		}
		var h struct {
			Territory, Epoch string
			Revision         int
		}
		if err := json.Unmarshal(r.payload, &h); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(held[fmt.Sprintf("%s/%s/%d", h.Territory, h.Epoch, h.Revision)], r.payload) {
			t.Errorf("%s: the region does not hold the bytes queued 90 days before", k)
		}
	}
	code, viewer, stderr := snodo(t, "", "region", "tokens", "create", "--name", "fault", "--config", regionCfg)
	if code != 0 {
		t.Fatalf("region tokens create: exit %d: %s", code, stderr)
	}
	entries := intakeLog(t, regionBase, strings.TrimSpace(viewer))
	if len(entries) != len(epochs) {
		t.Errorf("the intake log has %d entries, want one per envelope (%d): nothing sent twice", len(entries), len(epochs))
	}
	for _, e := range entries {
		if e.Outcome != "accepted" {
			t.Errorf("intake log: %s %s %q", e.key(), e.Outcome, e.Reason)
		}
	}
}

// TestFaultDuplicatedAndReorderedDeliveries proves that the region's
// intake does not depend on the order or the number of deliveries: a
// territory's envelopes posted to a real "snodo region serve" newest
// first (epochs and revisions in reverse), then all again, then all again
// from several clients at once, are each stored exactly once, byte for
// byte; the later revision of an epoch is the one the region uses, though
// it arrived first; and the intake log records every attempt — one
// "accepted" per envelope, "duplicate" for each repetition — in a chain
// that verifies.
func TestFaultDuplicatedAndReorderedDeliveries(t *testing.T) {
	t.Parallel()
	cfg, regionCfg := enrolledTerritory(t, "ATS-ORDINE", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q1/1")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(filepath.Dir(cfg), "snodo.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type sent struct {
		key   string // territory/epoch/revision
		bytes []byte
	}
	var envs []sent
	for _, r := range outboxRows(t, db) {
		var h struct {
			Territory, Epoch string
			Revision         int
		}
		if err := json.Unmarshal(r.payload, &h); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, sent{fmt.Sprintf("%s/%s/%d", h.Territory, h.Epoch, h.Revision), r.payload})
	}
	// Newest first: the keys sort by epoch then revision.
	slices.SortFunc(envs, func(a, b sent) int { return strings.Compare(b.key, a.key) })
	if len(envs) != 4 || envs[0].key != "ATS-ORDINE/2025-Q3/0" || envs[1].key != "ATS-ORDINE/2025-Q2/0" ||
		envs[2].key != "ATS-ORDINE/2025-Q1/1" || envs[3].key != "ATS-ORDINE/2025-Q1/0" {
		t.Fatalf("the territory queued %d envelopes, not the four releases expected", len(envs))
	}

	addr, err := freeAddr("")
	if err != nil {
		t.Fatal(err)
	}
	base, regionLog := startRegionOn(t, regionCfg, addr)
	post := func(body []byte) (int, string) {
		res, err := http.Post(base+federation.IntakePath, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var rc struct {
			Outcome string `json:"outcome"`
		}
		_ = json.Unmarshal(b, &rc)
		return res.StatusCode, rc.Outcome
	}

	posts := 0
	for round, want := range []struct {
		status  int
		outcome string
	}{{http.StatusCreated, "accepted"}, {http.StatusOK, "duplicate"}} {
		for _, e := range envs {
			status, outcome := post(e.bytes)
			posts++
			if status != want.status || outcome != want.outcome {
				t.Errorf("round %d, %s: %d %q, want %d %q", round+1, e.key, status, outcome, want.status, want.outcome)
			}
		}
	}
	// Four clients at once, each posting every envelope in its own order:
	// the same releases racing each other.
	const clients = 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	for c := range clients {
		wg.Go(func() {
			for i := range envs {
				e := envs[(i+c)%len(envs)]
				status, outcome := post(e.bytes)
				if status != http.StatusOK || outcome != "duplicate" {
					mu.Lock()
					t.Errorf("client %d, %s: %d %q, want 200 duplicate", c, e.key, status, outcome)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	posts += clients * len(envs)

	held := regionEnvelopes(t, regionCfg)
	if len(held) != len(envs) {
		t.Errorf("the region holds %d envelopes, want %d", len(held), len(envs))
	}
	for _, e := range envs {
		if !bytes.Equal(held[e.key], e.bytes) {
			t.Errorf("%s: the region does not hold the bytes sent", e.key)
		}
	}

	code, viewer, stderr := snodo(t, "", "region", "tokens", "create", "--name", "fault", "--config", regionCfg)
	if code != 0 {
		t.Fatalf("region tokens create: exit %d: %s", code, stderr)
	}
	viewer = strings.TrimSpace(viewer)
	entries := intakeLog(t, base, viewer)
	if len(entries) != posts {
		t.Errorf("the intake log has %d entries for %d posts", len(entries), posts)
	}
	outcomes := map[string]map[string]int{}
	for _, e := range entries {
		if outcomes[e.key()] == nil {
			outcomes[e.key()] = map[string]int{}
		}
		outcomes[e.key()][e.Outcome]++
	}
	for _, e := range envs {
		if got, want := outcomes[e.key], map[string]int{"accepted": 1, "duplicate": 1 + clients}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("intake log of %s: %v, want %v", e.key, got, want)
		}
	}
	if code, out, _ := snodo(t, "", "region", "log", "verify", "--config", regionCfg); code != 0 || out != fmt.Sprintf("ok: %d entries\n", posts) {
		t.Errorf("region log verify: exit %d %q, want ok: %d entries", code, out, posts)
	}

	// The region counts 2025-Q1 by its revision 1, which came before
	// revision 0.
	var cov struct {
		Territories []struct {
			Territory string `json:"territory"`
			Reported  bool   `json:"reported"`
			Revision  *int   `json:"revision"`
		} `json:"territories"`
	}
	for epoch, want := range map[string]int{"2025-Q1": 1, "2025-Q2": 0, "2025-Q3": 0} {
		if c := apiGet(t, base, viewer, "/api/v1/region/coverage?indicator=referral-acceptance&epoch="+epoch, &cov); c != http.StatusOK {
			t.Fatalf("coverage of %s: %d", epoch, c)
		}
		if len(cov.Territories) != 1 || !cov.Territories[0].Reported || cov.Territories[0].Revision == nil || *cov.Territories[0].Revision != want {
			t.Errorf("coverage of %s: %+v, want ATS-ORDINE reported with revision %d", epoch, cov.Territories, want)
		}
	}
	if t.Failed() {
		t.Logf("region log:\n%s", regionLog.String())
	}
}

// TestFaultDiskFull proves that a full disk under the hub's store loses
// nothing and corrupts nothing: "snodo ingest" fails with an error that
// says the disk is full and where; the database stays consistent
// (integrity_check ok, whole batches only: every record stored has its
// person) and nothing goes to quarantine, since the fault is not the
// records'; once space is freed the same ingest goes on from its cursor
// and every record of the source is stored exactly once.
func TestFaultDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root)")
	}
	const people = 3000
	csv, _ := peopleCSV(people, nil)
	cfg, _ := filesHub(t, peopleMapping, map[string]string{"persone.csv": csv})

	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): the disk-full fault needs one", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	dbPath := filepath.Join(mnt, "snodo.db")
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(text), "  path: snodo.db", "  path: "+dbPath, 1)
	if moved == string(text) {
		t.Fatal("snodo.yaml has no store path to move")
	}
	if err := os.WriteFile(cfg, []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	// The store, created on the small disk; then a filler leaves it room
	// for a part of the records only.
	if code, out, stderr := snodo(t, "", "status", "--config", cfg); code != 0 {
		t.Fatalf("status: exit %d\n%s%s", code, out, stderr)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &fs); err != nil {
		t.Fatal(err)
	}
	free := int64(fs.Bavail) * int64(fs.Bsize)
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, free-700<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, stderr := snodo(t, "", "ingest", "--once", "--json", "--config", cfg)
	if code != exitFindings {
		t.Fatalf("ingest on a full disk: exit %d, want %d\n%s\n%s", code, exitFindings, out, lastLines(stderr, 20))
	}
	var failed ingestOutput
	if err := json.Unmarshal([]byte(out), &failed); err != nil || len(failed.Runs) != 1 {
		t.Fatalf("ingest --json: %v\n%s", err, out)
	}
	run := failed.Runs[0]
	if want := "the disk is full: free space on " + mnt; run.Outcome != "failed" || !strings.Contains(run.Message, want) {
		t.Errorf("the failed ingest: %s %q, want it to say %q", run.Outcome, run.Message, want)
	}
	stored := sqlCount(t, dbPath, `SELECT count(*) FROM records`)
	if stored == 0 || stored >= people || stored != run.Stored {
		t.Fatalf("%d records in the store, %d reported stored, of %d: the filler left room for none or all, or the report is wrong", stored, run.Stored, people)
	}
	integrityOK(t, dbPath)
	if p := sqlCount(t, dbPath, `SELECT count(DISTINCT person_id) FROM records WHERE person_id IN (SELECT person_id FROM persons)`); p != stored {
		t.Errorf("%d records but %d of their people stored: half a batch", stored, p)
	}
	if q := sqlCount(t, dbPath, `SELECT count(*) FROM quarantine`); q != 0 || run.Quarantined != 0 {
		t.Errorf("%d items quarantined (%d reported): a full disk is not the records' fault", q, run.Quarantined)
	}
	t.Logf("on the full disk: %d records stored of %d", stored, people)

	// Space returns: the same ingest goes on where it stopped.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	runs := ingestJSON(t, 0, "--config", cfg)
	if len(runs) != 1 || runs[0].Outcome != "ok" {
		t.Fatalf("ingest after space returned: %+v", runs)
	}
	if got, want := runs[0].Stored, people-stored; got != want {
		t.Errorf("the resumed ingest stored %d records, want the %d not stored before", got, want)
	}
	integrityOK(t, dbPath)
	for q, want := range map[string]int64{
		`SELECT count(*) FROM records`:                                                     people,
		`SELECT count(DISTINCT record_id) FROM records`:                                    people,
		`SELECT count(DISTINCT person_id) FROM records`:                                    people,
		`SELECT count(*) FROM persons`:                                                     people,
		`SELECT count(*) FROM quarantine WHERE replayed_at IS NULL AND dropped_at IS NULL`: 0,
	} {
		if got := sqlCount(t, dbPath, q); got != want {
			t.Errorf("%s: %d, want %d", q, got, want)
		}
	}
}

// integrityOK runs SQLite's integrity check on the database at path.
func integrityOK(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s: %q, %v", filepath.Base(path), res, err)
	}
}

// lastLines is the end of a long text, for a test's log.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestFaultHubKilledMidRelease proves that "snodo stats release" killed
// with SIGKILL at any point leaves the territory's database whole and
// publishes nothing twice. After each kill the database passes
// integrity_check and holds at most one release of the epoch, charged to
// the budget exactly when it exists, and at most one envelope queued, only
// for a sealed release. Run again, the release completes: one release,
// one budget entry, one envelope queued, the one sealed in the release;
// and when the killed run had stored its release, the same cells (no
// fresh noise, no second charge) and the same envelope if it was sealed.
func TestFaultHubKilledMidRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("releases an epoch fifteen times")
	}
	t.Parallel()
	bin, err := snodoBin()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, _ := federationTerritoryHub(t, "ATS-KILL", 0, 300)
	pristine := filepath.Dir(cfg)
	const epoch = "2025"
	release := func(dir string) *exec.Cmd {
		return exec.Command(bin, "stats", "release", "--epoch", epoch, "--config", filepath.Join(dir, "snodo.yaml"))
	}

	// How long a whole release takes, from the process's start: the kills
	// land anywhere in that span.
	probe := copyHubDir(t, pristine)
	start := time.Now()
	if out, err := release(probe).CombinedOutput(); err != nil {
		t.Fatalf("an uninterrupted release: %v\n%s", err, out)
	}
	full := time.Since(start)
	if got := releaseStateOf(t, filepath.Join(probe, "snodo.db"), epoch); got.releases != 1 || !got.sealed || got.queued != 1 {
		t.Fatalf("an uninterrupted release left %+v", got)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; a whole release takes %v", seed, full.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(seed, 1))
	stages := map[string]int{}
	for round := range 15 {
		dir := copyHubDir(t, pristine)
		db := filepath.Join(dir, "snodo.db")
		cmd := release(dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(full))))
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		integrityOK(t, db)
		before := releaseStateOf(t, db, epoch)
		stages[before.stage()]++
		switch {
		case before.releases > 1:
			t.Fatalf("round %d: %d releases of %s after the kill", round, before.releases, epoch)
		case before.releases != before.charged:
			t.Fatalf("round %d: %d releases but %d budget entries: a release must be charged in its own transaction", round, before.releases, before.charged)
		case before.queued > 1 || before.queued == 1 && !before.sealed:
			t.Fatalf("round %d: %d envelopes queued, release sealed %v", round, before.queued, before.sealed)
		}

		if out, err := release(dir).CombinedOutput(); err != nil {
			t.Fatalf("round %d: the release run again after a kill (%s): %v\n%s", round, before.stage(), err, out)
		}
		integrityOK(t, db)
		after := releaseStateOf(t, db, epoch)
		if after.releases != 1 || after.charged != 1 || !after.sealed || after.queued != 1 || !after.queuedIsSealed {
			t.Fatalf("round %d: after the second run (killed at %s): %+v; want one release, charged once, sealed, its envelope queued once", round, before.stage(), after)
		}
		if before.releases == 1 && after.cells != before.cells {
			t.Errorf("round %d: the second run changed the stored release's cells: new noise on a release already made", round)
		}
		if before.sealed && !bytes.Equal(after.envelope, before.envelope) {
			t.Errorf("round %d: the second run sealed another envelope", round)
		}
	}
	t.Logf("where the kills left the release: %v", stages)
}

// releaseState is what a territory's database holds of one epoch's
// release.
type releaseState struct {
	releases, charged, queued int
	sealed, queuedIsSealed    bool
	cells                     string // the stored cells, in order
	envelope                  []byte
}

func (s releaseState) stage() string {
	switch {
	case s.queued > 0:
		return "queued"
	case s.sealed:
		return "sealed"
	case s.releases > 0:
		return "stored"
	}
	return "nothing"
}

func releaseStateOf(t *testing.T, path, epoch string) releaseState {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s releaseState
	for q, dst := range map[string]*int{
		`SELECT count(*) FROM releases WHERE epoch = ?1`:                                                              &s.releases,
		`SELECT count(*) FROM budget_ledger JOIN releases ON releases.id = budget_ledger.release_id WHERE epoch = ?1`: &s.charged,
		`SELECT count(*) FROM outbox WHERE topic = ?2`:                                                                &s.queued,
	} {
		if err := db.QueryRow(q, epoch, federation.EnvelopeTopic).Scan(dst); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if s.releases != 1 {
		return s
	}
	if err := db.QueryRow(`SELECT envelope FROM releases WHERE epoch = ?1`, epoch).Scan(&s.envelope); err != nil {
		t.Fatal(err)
	}
	s.sealed = s.envelope != nil
	if err := db.QueryRow(`SELECT coalesce(group_concat(indicator || ' ' || breakdown || ' ' || measure || '=' || coalesce(value, '-'), ';'), '')
FROM (SELECT c.* FROM release_cells c JOIN releases r ON r.id = c.release_id WHERE r.epoch = ?1 ORDER BY c.seq)`, epoch).Scan(&s.cells); err != nil {
		t.Fatal(err)
	}
	if s.queued == 1 {
		var payload []byte
		if err := db.QueryRow(`SELECT payload FROM outbox WHERE topic = ?1`, federation.EnvelopeTopic).Scan(&payload); err != nil {
			t.Fatal(err)
		}
		s.queuedIsSealed = bytes.Equal(payload, s.envelope)
	}
	return s
}

// copyHubDir copies a hub's folder (configuration, keys, database) to a
// new temporary folder, keeping the files' modes.
func copyHubDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "hub")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("copy the hub: %v: %s", err, out)
	}
	return dst
}
