package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/store/storetest"
)

func TestRetentionRunDeletesOnlyOldRecordsOfConfiguredSchemas(t *testing.T) {
	t.Parallel()
	// Person 0's record is three years old; person 1's last month.
	cfg, cfs := twoPeopleHub(t, time.Now().AddDate(-3, 0, 0))
	db := openHubDB(t, cfg)
	key := hubKey(t, cfg)
	a, _ := personOf(t, db, digestOf(t, key, cfs[0]))
	b, _ := personOf(t, db, digestOf(t, key, cfs[1]))

	code, out, stderr := snodo(t, "", "retention", "run", "--config", cfg)
	if code != 0 || !strings.Contains(stderr, "no retention is configured") {
		t.Fatalf("without a retention section: exit %d\n%s%s", code, out, stderr)
	}

	// A retention for another schema deletes nothing.
	appendTo(t, cfg, "\nretention:\n  referral: 1\n")
	code, out, stderr = snodo(t, "", "retention", "run", "--json", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"referral": 0`) {
		t.Fatalf("retention of referrals: exit %d\n%s%s", code, out, stderr)
	}
	if data, err := os.ReadFile(cfg); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(cfg, []byte(strings.Replace(string(data), "  referral: 1\n", "  referral: 1\n  person: 24\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	var res struct {
		DryRun  bool                  `json:"dry_run"`
		Deleted store.RetentionResult `json:"deleted"`
	}
	code, out, stderr = snodo(t, "", "retention", "run", "--dry-run", "--json", "--config", cfg)
	if code != 0 {
		t.Fatalf("dry run: exit %d %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.Deleted.Records["person"] != 1 || res.Deleted.Persons != 1 || res.Deleted.Identifiers != 1 {
		t.Errorf("dry run %+v: want 1 person record and 1 person of the keyed index", res)
	}
	if _, ok := personOf(t, db, digestOf(t, key, cfs[0])); !ok {
		t.Fatal("the dry run deleted the old person")
	}

	code, out, stderr = snodo(t, "", "retention", "run", "--config", cfg)
	if code != 0 || !strings.Contains(out, "person                      1 records older than 24 months") {
		t.Fatalf("retention run: exit %d\n%s%s", code, out, stderr)
	}
	if _, ok := personOf(t, db, digestOf(t, key, cfs[0])); ok {
		t.Error("the person with no record left is still in the keyed index")
	}
	if left := storetest.RowsHolding(t, db, []byte(a)); len(left) != 0 {
		t.Errorf("the old person is still in %v", left)
	}
	if id, ok := personOf(t, db, digestOf(t, key, cfs[1])); !ok || id != b {
		t.Error("the recent person left the keyed index")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM records WHERE person_id = ?`, b).Scan(&n); err != nil || n != 1 {
		t.Errorf("the recent person has %d records (%v), want 1", n, err)
	}
	// Quarantine items are not records of a schema: retention leaves them.
	if items := quarantineJSON(t, cfg); len(items) != 2 {
		t.Errorf("%d quarantine items after retention, want 2", len(items))
	}
	entries := auditEntries(t, db)
	if last := entries[len(entries)-1]; !strings.HasPrefix(last, "retention.run ") || !strings.Contains(last, `"person":1`) {
		t.Errorf("last audit entry %q, want the retention run with its counts", last)
	}
	// The log and the audit log give counts, never ids or identifiers.
	for _, text := range append(entries, stderr) {
		if strings.Contains(text, a) || strings.Contains(text, b) {
			t.Errorf("a person id is in %q", text)
		}
	}
	noCodeAnywhere(t, cfg, cfs[:], append(entries, out, stderr)...)
}

// countingHandler counts the log lines with one message.
type countingHandler struct {
	slog.Handler
	msg  string
	mu   sync.Mutex
	n    int
	done chan struct{}
	want int
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.mu.Lock()
		h.n++
		if h.n == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// TestRetentionLoopRunsAtStartAndAgain checks the loop "snodo run" starts:
// it applies the retention at once and then every interval, each run
// audited, and stops with its context.
func TestRetentionLoopRunsAtStartAndAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir+"/snodo.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &countingHandler{Handler: slog.DiscardHandler, msg: "retention applied", done: make(chan struct{}), want: 3}
	hub := &pipelineHub{cfg: &config.Config{Retention: map[string]int{"person": 12}}, st: st, log: slog.New(h)}
	loopCtx, stop := context.WithCancel(ctx)
	finished := make(chan struct{})
	go func() { retentionLoop(loopCtx, hub, time.Millisecond); close(finished) }()
	select {
	case <-h.done: // three runs, one line each (one schema)
	case <-time.After(time.Minute):
		stop()
		t.Fatal("the loop did not apply the retention three times in a minute")
	}
	stop()
	<-finished
	runs, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if runs < 3 {
		t.Errorf("%d audit entries after three runs, want one per run", runs)
	}
	if n := sqlCount(t, dir+"/snodo.db", `SELECT count(*) FROM audit WHERE actor = '`+retentionActor+`'`); n != int64(runs) {
		t.Errorf("%d of %d audit entries name %q: the daily runs are not anyone's command", n, runs, retentionActor)
	}
	// Without a retention section the loop returns at once, although its
	// context does not end.
	empty := &pipelineHub{cfg: &config.Config{}, st: st, log: slog.New(slog.DiscardHandler)}
	returned := make(chan struct{})
	go func() { retentionLoop(context.Background(), empty, time.Millisecond); close(returned) }()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("retentionLoop without a retention section did not return")
	}
}
