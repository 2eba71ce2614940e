package supervisor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// testConnector is the path of plugins/internal/testconnector, built once;
// testConnectorSum is its SHA-256.
var testConnector, testConnectorSum string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "supervisor-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testConnector = filepath.Join(dir, "testconnector")
	if out, err := exec.Command("go", "build", "-o", testConnector, "../../plugins/internal/testconnector").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test connector: %v\n%s", err, out)
		return 1
	}
	if testConnectorSum, err = host.Sum(testConnector); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// outcomes counts what UpsertRecord did, to tell a duplicate (Unchanged)
// from a new record (Inserted).
type outcomes struct {
	mu sync.Mutex
	n  map[store.Outcome]int
}

func (o *outcomes) get() map[store.Outcome]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

// storeSink stores a batch as the pipeline will: every record upserted and
// the cursor set in one transaction of the real store.
func storeSink(st *store.Store, out *outcomes) supervisor.Sink {
	return func(ctx context.Context, source string, b sdk.Batch) error {
		var seen []store.Outcome
		err := st.Write(ctx, func(tx *store.Tx) error {
			seen = seen[:0]
			for _, raw := range b.Records {
				var env struct {
					Schema     string    `json:"schema"`
					RecordID   string    `json:"record_id"`
					Territory  string    `json:"territory"`
					RecordedAt time.Time `json:"recorded_at"`
				}
				if err := json.Unmarshal(raw, &env); err != nil {
					return fmt.Errorf("record envelope: %w", err)
				}
				o, err := tx.UpsertRecord(ctx, store.Record{
					Schema: path.Base(path.Dir(env.Schema)), SchemaID: env.Schema, Source: source,
					RecordID: env.RecordID, Territory: env.Territory, RecordedAt: env.RecordedAt, Body: raw,
				})
				if err != nil {
					return err
				}
				seen = append(seen, o)
			}
			return tx.SetCursor(ctx, source, b.Cursor)
		})
		if err == nil {
			out.mu.Lock()
			if out.n == nil {
				out.n = map[store.Outcome]int{}
			}
			for _, o := range seen {
				out.n[o]++
			}
			out.mu.Unlock()
		}
		return err
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// history records every status passed to OnChange.
type history struct {
	mu   sync.Mutex
	seen []supervisor.Status
}

func (h *history) add(s supervisor.Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, s)
}

func (h *history) all() []supervisor.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]supervisor.Status(nil), h.seen...)
}

func (h *history) states() []supervisor.State {
	var states []supervisor.State
	for _, s := range h.all() {
		if len(states) == 0 || states[len(states)-1] != s.State {
			states = append(states, s.State)
		}
	}
	return states
}

// config is an instance of the test connector with short waits.
func config(settings string, h *history) supervisor.Config {
	return supervisor.Config{
		Name:          "odv",
		Host:          host.Config{Path: testConnector, SHA256: testConnectorSum, Logger: hclog.NewNullLogger()},
		Settings:      []byte(settings),
		IdlePause:     20 * time.Millisecond,
		MaxBatch:      50,
		StallTimeout:  10 * time.Second,
		CheckInterval: 50 * time.Millisecond,
		Backoff:       supervisor.Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, ResetAfter: time.Minute},
		OnChange:      h.add,
	}
}

// run starts Run in a goroutine; stop cancels it and returns its error.
func run(t *testing.T, s *supervisor.Supervisor) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return within 30 s of the cancellation")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after 30 s, for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gone says whether process pid has ended (and been reaped).
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// contains says whether want occurs in order (not necessarily adjacent) in
// got.
func contains(got []supervisor.State, want ...supervisor.State) bool {
	for _, s := range got {
		if len(want) > 0 && s == want[0] {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// TestFaultCrashedConnectorResumesFromTheCommittedCursor is issue 3's "done when": a
// connector killed during a read is restarted, and the read goes on from
// the committed cursor with no record lost and none stored twice.
func TestFaultCrashedConnectorResumesFromTheCommittedCursor(t *testing.T) {
	t.Parallel()
	const records = 500
	tests := map[string]struct {
		settings string
		// killAfter kills the process from outside, after the sink stored
		// this many batches (0: never).
		killAfter int
	}{
		"the connector crashes after every 3 batches": {
			settings: `{"source": "odv", "territory": "AB", "records": 500, "crash_after": 3}`,
		},
		"the process is killed from outside mid-stream": {
			// The pause keeps the stream going while the kill comes.
			settings:  `{"source": "odv", "territory": "AB", "records": 500, "pause_ms": 30}`,
			killAfter: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			var (
				out     outcomes
				h       history
				sup     *supervisor.Supervisor
				batches int
				killed  int
				pids    []int // the process of each stored batch
			)
			sink := storeSink(st, &out)
			s, err := supervisor.New(config(tc.settings, &h), st, func(ctx context.Context, source string, b sdk.Batch) error {
				if err := sink(ctx, source, b); err != nil {
					return err
				}
				pids = append(pids, sup.Status().Pid)
				if batches++; batches == tc.killAfter {
					killed = sup.Status().Pid
					if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sup = s
			stop := run(t, s)
			waitFor(t, "all records and a restart", func() bool {
				got := s.Status()
				return got.Records >= records && got.Restarts > 0 && got.State == supervisor.Running
			})
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}

			if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: records}, out.get()); diff != "" {
				t.Errorf("upsert outcomes (-want +got): a record lost or stored twice:\n%s", diff)
			}
			counts, err := st.CountBySchema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if counts["volunteer"] != records {
				t.Errorf("the store holds %d volunteer records, want %d", counts["volunteer"], records)
			}
			for _, id := range []string{"VOL-0000000", "VOL-0000149", "VOL-0000499"} {
				if _, ok, err := st.GetRecord(context.Background(), "odv", id); !ok || err != nil {
					t.Errorf("record %s: stored %v, %v", id, ok, err)
				}
			}
			cursor, _, err := st.Cursor(context.Background(), "odv")
			if err != nil || string(cursor) != "500" {
				t.Errorf("cursor %q, %v; want 500", cursor, err)
			}

			if pids[len(pids)-1] == pids[0] {
				t.Errorf("processes of the batches %v: want the read resumed by a later process", pids)
			}
			got := s.Status()
			if got.Restarts < 1 || got.Records != records || got.Batches != records/50 || got.LastSuccess.IsZero() {
				t.Errorf("status %+v: want a restart or more, %d records in %d batches, and a last success", got, records, records/50)
			}
			if states := h.states(); !contains(states, supervisor.Starting, supervisor.Running, supervisor.Recovering, supervisor.Starting, supervisor.Running, supervisor.Stopped) {
				t.Errorf("states %v: want running, then recovering, running again and stopped", states)
			}
			var reasons []string
			for _, st := range h.all() {
				if st.State == supervisor.Recovering {
					reasons = append(reasons, st.Reason)
				}
			}
			if len(reasons) == 0 || !strings.Contains(reasons[0], "the connector process exited; restarting in") {
				t.Errorf("reasons while recovering: %q", reasons)
			}
			if got.State != supervisor.Stopped || got.Pid != 0 {
				t.Errorf("after Run: state %s, pid %d", got.State, got.Pid)
			}
			if killed != 0 {
				waitFor(t, "the killed process to be reaped", func() bool { return gone(killed) })
			}
		})
	}
}

// TestFaultHungConnectorIsKilledAndRestarted: a connector that stops sending
// without exiting is found by the stall timeout, killed and restarted.
func TestFaultHungConnectorIsKilledAndRestarted(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	var (
		out outcomes
		h   history
	)
	cfg := config(`{"source": "odv", "territory": "AB", "records": 200, "hang_after": 2}`, &h)
	cfg.StallTimeout = 500 * time.Millisecond
	s, err := supervisor.New(cfg, st, storeSink(st, &out))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	var hungPid int
	waitFor(t, "a restart", func() bool {
		for _, st := range h.all() {
			if st.State == supervisor.Running && hungPid == 0 {
				hungPid = st.Pid
			}
		}
		return s.Status().Restarts > 0
	})
	waitFor(t, "all records", func() bool { return s.Status().Records >= 200 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: 200}, out.get()); diff != "" {
		t.Errorf("upsert outcomes (-want +got):\n%s", diff)
	}
	var reason string
	for _, st := range h.all() {
		if st.State == supervisor.Recovering {
			reason = st.Reason
			break
		}
	}
	if want := "no batch came within 500ms: killed the hung connector process; restarting in 10ms"; reason != want {
		t.Errorf("reason %q, want %q", reason, want)
	}
	if hungPid == 0 || !gone(hungPid) {
		t.Errorf("the hung process %d is still there", hungPid)
	}
	if got := s.Status(); got.Errors != 1 || got.Restarts != 1 || !strings.Contains(got.LastError, "no batch came within 500ms") {
		t.Errorf("status %+v: want one error, one restart", got)
	}
}

func TestBackoffPolicy(t *testing.T) {
	t.Parallel()
	b := supervisor.Backoff{} // the defaults: 1 s, 10 min, 5 min
	tests := map[string]struct {
		failures int
		healthy  time.Duration
		wait     time.Duration
		after    int
	}{
		"first failure":                   {failures: 0, wait: time.Second, after: 1},
		"second":                          {failures: 1, wait: 2 * time.Second, after: 2},
		"third":                           {failures: 2, wait: 4 * time.Second, after: 3},
		"tenth: 512 s":                    {failures: 9, wait: 512 * time.Second, after: 10},
		"eleventh: capped at 10 min":      {failures: 10, wait: 10 * time.Minute, after: 11},
		"many: still capped, no overflow": {failures: 1000, wait: 10 * time.Minute, after: 1001},
		"healthy for a while, not enough": {failures: 5, healthy: 4 * time.Minute, wait: 32 * time.Second, after: 6},
		"healthy for 5 min: reset":        {failures: 5, healthy: 5 * time.Minute, wait: time.Second, after: 1},
		"capped, then healthy: reset":     {failures: 30, healthy: time.Hour, wait: time.Second, after: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wait, after := b.Next(tc.failures, tc.healthy)
			if wait != tc.wait || after != tc.after {
				t.Errorf("Next(%d, %s) = %s, %d; want %s, %d", tc.failures, tc.healthy, wait, after, tc.wait, tc.after)
			}
		})
	}
	custom := supervisor.Backoff{Initial: 3 * time.Millisecond, Max: 10 * time.Millisecond, ResetAfter: time.Second}
	var waits []time.Duration
	n := 0
	for range 5 {
		var w time.Duration
		w, n = custom.Next(n, 0)
		waits = append(waits, w)
	}
	if diff := cmp.Diff([]time.Duration{3e6, 6e6, 10e6, 10e6, 10e6}, waits); diff != "" {
		t.Errorf("custom policy (-want +got):\n%s", diff)
	}
}

// TestBackoffDoublesCapsAndResets kills the process while it idles: the
// waits before the restarts double up to the cap, and go back to the
// initial wait after a healthy period.
func TestBackoffDoublesCapsAndResets(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	var (
		out outcomes
		h   history
	)
	cfg := config(`{"source": "odv", "territory": "AB", "records": 0}`, &h)
	cfg.Backoff = supervisor.Backoff{Initial: 20 * time.Millisecond, Max: 60 * time.Millisecond, ResetAfter: 1500 * time.Millisecond}
	s, err := supervisor.New(cfg, st, storeSink(st, &out))
	if err != nil {
		t.Fatal(err)
	}
	run(t, s)
	last := 0
	kill := func(healthyFor time.Duration) {
		t.Helper()
		var pid int
		waitFor(t, "a new process running", func() bool {
			got := s.Status()
			pid = got.Pid
			return got.State == supervisor.Running && pid != 0 && pid != last
		})
		time.Sleep(healthyFor)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		last = pid
		waitFor(t, "the restart", func() bool { return s.Status().State != supervisor.Running || s.Status().Pid != pid })
	}
	for range 4 {
		kill(0)
	}
	kill(1600 * time.Millisecond)
	waitFor(t, "the last restart", func() bool { return s.Status().Restarts == 5 })

	var waits []time.Duration
	for _, st := range h.all() {
		if st.State == supervisor.Recovering {
			waits = append(waits, st.Wait)
		}
	}
	want := []time.Duration{20e6, 40e6, 60e6, 60e6, 20e6}
	if diff := cmp.Diff(want, waits); diff != "" {
		t.Errorf("waits before the restarts (-want +got):\n%s", diff)
	}
}

// TestConfigErrorStopsWithoutRestarting: settings the connector rejects
// stop the instance with the connector's message; nothing is restarted.
func TestConfigErrorStopsWithoutRestarting(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	var (
		out outcomes
		h   history
	)
	s, err := supervisor.New(config(`{"source": "odv", "territory": "AB", "records": "many"}`, &h), st, storeSink(st, &out))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Run(ctx)
	if sdk.ClassOf(err) != sdk.ClassConfig || ctx.Err() != nil {
		t.Fatalf("Run: %v; want a config error before the deadline", err)
	}
	for _, want := range []string{`connector instance "odv" stopped`, "rejects its settings", "/records", "fix the settings"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	got := s.Status()
	if got.State != supervisor.Stopped || got.Restarts != 0 || got.Errors != 1 || got.Pid != 0 || !strings.Contains(got.Reason, "/records") {
		t.Errorf("status %+v", got)
	}
	if diff := cmp.Diff([]supervisor.State{supervisor.Starting, supervisor.Stopped}, h.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// TestTransientErrorsDegradeWithoutRestarting: an unreachable system keeps
// the same process, degraded, retried with backoff; the reason says why.
func TestTransientErrorsDegradeWithoutRestarting(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	var (
		out outcomes
		h   history
	)
	s, err := supervisor.New(config(`{"source": "odv", "territory": "AB", "records": 5, "unreachable": true}`, &h), st, storeSink(st, &out))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	waitFor(t, "three failures", func() bool { return s.Status().Errors >= 3 })
	got := s.Status()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got.State != supervisor.Degraded || got.Restarts != 0 ||
		!strings.Contains(got.Reason, "transient problem: the registry does not answer (as the settings ask); retrying in") ||
		got.LastError != "transient error: the registry does not answer (as the settings ask)" {
		t.Errorf("status %+v", got)
	}
	pids := map[int]bool{}
	for _, st := range h.all() {
		if st.Pid != 0 {
			pids[st.Pid] = true
		}
	}
	if len(pids) != 1 {
		t.Errorf("processes %v: want one, never restarted", pids)
	}
	if diff := cmp.Diff([]supervisor.State{supervisor.Starting, supervisor.Degraded, supervisor.Stopped}, h.states()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

func TestTamperedOrMissingBinaryIsRefused(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(testConnector)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "testconnector")
	if err := os.WriteFile(tampered, append(data, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path string
		says []string
	}{
		"tampered": {path: tampered, says: []string{"refusing to start", tampered, "SHA-256", testConnectorSum}},
		"missing":  {path: filepath.Join(t.TempDir(), "nothing"), says: []string{"cannot start", "no such file", "check the plugin path"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			var (
				out outcomes
				h   history
			)
			cfg := config(`{"source": "odv", "territory": "AB", "records": 5}`, &h)
			cfg.Host.Path = tc.path
			s, err := supervisor.New(cfg, st, storeSink(st, &out))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Run(context.Background())
			var ce *host.ChecksumError
			if name == "tampered" && !errors.As(err, &ce) {
				t.Errorf("Run: %v; want a *host.ChecksumError", err)
			}
			got := s.Status()
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) || !strings.Contains(got.Reason, want) {
					t.Errorf("error %q or reason %q does not say %q", err, got.Reason, want)
				}
			}
			if got.State != supervisor.Stopped || got.Restarts != 0 || got.Errors != 1 || got.LastError == "" {
				t.Errorf("status %+v", got)
			}
		})
	}
}

// TestGracefulStop cancels Run while a batch is being stored: that batch is
// finished, the read stops, the process goes, and no goroutine is left.
// It does not run in parallel, so that the goroutines it counts are its
// own.
func TestGracefulStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		out     outcomes
		h       history
		batches int
		pid     int
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sup *supervisor.Supervisor
	sink := storeSink(st, &out)
	sup, err = supervisor.New(config(`{"source": "odv", "territory": "AB", "records": 100000}`, &h), st, func(c context.Context, source string, b sdk.Batch) error {
		if batches++; batches == 3 {
			pid = sup.Status().Pid
			cancel()
			time.Sleep(50 * time.Millisecond) // Run's context has ended: the batch is stored all the same
		}
		return sink(c, source, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: 150}, out.get()); diff != "" {
		t.Errorf("upsert outcomes (-want +got):\n%s", diff)
	}
	cursor, _, err := st.Cursor(context.Background(), "odv")
	if err != nil || string(cursor) != "150" {
		t.Errorf("cursor %q, %v; want 150", cursor, err)
	}
	if got := sup.Status(); got.State != supervisor.Stopped || got.Pid != 0 || got.Records != 150 || got.Errors != 0 {
		t.Errorf("status %+v", got)
	}
	if pid == 0 || !gone(pid) {
		t.Errorf("the connector process %d is still there", pid)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnce(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		settings string
		records  int64
		err      string
	}{
		"reads everything and stops": {settings: `{"source": "odv", "territory": "AB", "records": 120}`, records: 120},
		"a crash is reported, not restarted": {
			settings: `{"source": "odv", "territory": "AB", "records": 120, "crash_after": 1}`,
			records:  50, err: "the connector process exited",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			var (
				out outcomes
				h   history
			)
			s, err := supervisor.New(config(tc.settings, &h), st, storeSink(st, &out))
			if err != nil {
				t.Fatal(err)
			}
			err = s.ReadOnce(context.Background())
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ReadOnce: %v; want %q", err, tc.err)
			}
			got := s.Status()
			// The crash may come before or after the first batch crossed.
			if got.State != supervisor.Stopped || got.Restarts != 0 || got.Pid != 0 || got.Records > tc.records || (tc.err == "" && got.Records != tc.records) {
				t.Errorf("status %+v", got)
			}
			if tc.err == "" {
				cursor, _, _ := st.Cursor(context.Background(), "odv")
				if string(cursor) != "120" {
					t.Errorf("cursor %q", cursor)
				}
				// Again: nothing new, nothing stored twice.
				if err := s.ReadOnce(context.Background()); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: 120}, out.get()); diff != "" {
					t.Errorf("upsert outcomes (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	sink := func(context.Context, string, sdk.Batch) error { return nil }
	good := config(`{}`, &history{})
	tests := map[string]struct {
		change  func(*supervisor.Config)
		cursors supervisor.Cursors
		sink    supervisor.Sink
		says    string
	}{
		"no name":        {change: func(c *supervisor.Config) { c.Name = "" }, cursors: st, sink: sink, says: "no name"},
		"no executable":  {change: func(c *supervisor.Config) { c.Host.Path = "" }, cursors: st, sink: sink, says: "Host.Path"},
		"no sink":        {change: func(*supervisor.Config) {}, cursors: st, says: "sink"},
		"no cursors":     {change: func(*supervisor.Config) {}, sink: sink, says: "cursors"},
		"negative stall": {change: func(c *supervisor.Config) { c.StallTimeout = -1 }, cursors: st, sink: sink, says: "negative"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tc.change(&cfg)
			_, err := supervisor.New(cfg, tc.cursors, tc.sink)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("New: %v; want an error saying %q", err, tc.says)
			}
		})
	}
}

// TestSinkDegradesTheInstance: a Sink that stores its batches but returns a
// *DegradedError (the pipeline's flood of quarantined records) shows the
// instance as degraded with the Sink's reason, reading goes on without a
// retry or a restart, and the first batch stored without one puts the
// instance back to running.
func TestSinkDegradesTheInstance(t *testing.T) {
	t.Parallel()
	const records = 300 // 6 batches of 50
	const reason = "40 of the last 100 records went to quarantine: check the mapping"
	tests := map[string]struct {
		degraded  func(batch int) bool // whether the Sink reports batch n (1-based) degraded
		readOnce  bool
		wantState supervisor.State
		wantIn    string // in the final reason
	}{
		"Run: batches 2 to 4 degraded, then clean again": {
			degraded:  func(n int) bool { return n >= 2 && n <= 4 },
			wantState: supervisor.Running,
		},
		"ReadOnce: the last batch degraded": {
			degraded:  func(n int) bool { return n == records/50 },
			readOnce:  true,
			wantState: supervisor.Stopped,
			wantIn:    "read once: done, but " + reason,
		},
		"ReadOnce: degraded, then clean": {
			degraded:  func(n int) bool { return n == 1 },
			readOnce:  true,
			wantState: supervisor.Stopped,
			wantIn:    "read once: done",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			var (
				out     outcomes
				h       history
				mu      sync.Mutex
				batches int
			)
			sink := storeSink(st, &out)
			s, err := supervisor.New(config(`{"source": "odv", "territory": "AB", "records": 300}`, &h), st,
				func(ctx context.Context, source string, b sdk.Batch) error {
					if err := sink(ctx, source, b); err != nil {
						return err
					}
					mu.Lock()
					batches++
					n := batches
					mu.Unlock()
					if tc.degraded(n) {
						return fmt.Errorf("stored: %w", &supervisor.DegradedError{Reason: reason})
					}
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if tc.readOnce {
				if err := s.ReadOnce(context.Background()); err != nil {
					t.Fatalf("ReadOnce: %v", err)
				}
			} else {
				stop := run(t, s)
				waitFor(t, "all records", func() bool { return s.Status().Records >= records })
				waitFor(t, "running again", func() bool { return s.State() == supervisor.Running })
				if got := s.Status(); got.State != tc.wantState {
					t.Errorf("state after the clean batches: %s (%s), want %s", got.State, got.Reason, tc.wantState)
				}
				if err := stop(); err != nil {
					t.Fatalf("Run: %v", err)
				}
			}

			if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: records}, out.get()); diff != "" {
				t.Errorf("upsert outcomes (-want +got): a degraded batch must count as stored, once:\n%s", diff)
			}
			got := s.Status()
			if got.Records != records || got.Errors != 0 || got.Restarts != 0 {
				t.Errorf("status %+v: want %d records, no error, no restart", got, records)
			}
			if tc.readOnce && (got.State != tc.wantState || !strings.HasPrefix(got.Reason, tc.wantIn) || (tc.wantIn == "read once: done" && got.Reason != tc.wantIn)) {
				t.Errorf("after ReadOnce: %s (%s), want %s (%s)", got.State, got.Reason, tc.wantState, tc.wantIn)
			}
			var degraded []string
			for _, st := range h.all() {
				if st.State == supervisor.Degraded {
					degraded = append(degraded, st.Reason)
				}
			}
			if len(degraded) == 0 || degraded[0] != reason {
				t.Errorf("reasons while degraded %q, want %q", degraded, reason)
			}
			if states := h.states(); !contains(states, supervisor.Running, supervisor.Degraded) {
				t.Errorf("states %v: want running, then degraded", states)
			}
			if !tc.readOnce {
				if states := h.states(); !contains(states, supervisor.Running, supervisor.Degraded, supervisor.Running) {
					t.Errorf("states %v: want running, degraded and running again", states)
				}
			}
		})
	}
}

// TestReadAhead: with ReadAhead the connector sends its next batch while
// the Sink stores the current one; a crash, a kill or a failing Sink still
// loses nothing and stores nothing twice.
func TestReadAhead(t *testing.T) {
	t.Parallel()
	const records = 500
	tests := map[string]struct {
		settings string
		// killAfter kills the process after the sink stored this many
		// batches; failAt makes the sink fail (without storing) at this
		// batch.
		killAfter, failAt int
	}{
		"the connector crashes after every 3 batches": {settings: `{"source": "odv", "territory": "AB", "records": 500, "crash_after": 3}`},
		"killed from outside mid-stream":              {settings: `{"source": "odv", "territory": "AB", "records": 500, "pause_ms": 20}`, killAfter: 4},
		"the sink fails once":                         {settings: `{"source": "odv", "territory": "AB", "records": 500}`, failAt: 5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := openStore(t)
			var (
				out     outcomes
				h       history
				sup     *supervisor.Supervisor
				mu      sync.Mutex
				batches int
			)
			sink := storeSink(st, &out)
			cfg := config(tc.settings, &h)
			cfg.ReadAhead = true
			s, err := supervisor.New(cfg, st, func(ctx context.Context, source string, b sdk.Batch) error {
				mu.Lock()
				batches++
				n := batches
				mu.Unlock()
				if n == tc.failAt {
					return errors.New("the disk is full")
				}
				if err := sink(ctx, source, b); err != nil {
					return err
				}
				if n == tc.killAfter {
					if err := syscall.Kill(sup.Status().Pid, syscall.SIGKILL); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sup = s
			stop := run(t, s)
			waitFor(t, "all records", func() bool { return s.Status().Records >= records })
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: records}, out.get()); diff != "" {
				t.Errorf("upsert outcomes (-want +got): a record lost or stored twice:\n%s", diff)
			}
			if c, _, err := st.Cursor(context.Background(), "odv"); err != nil || string(c) != "500" {
				t.Errorf("cursor %q, %v; want 500", c, err)
			}
			if got := s.Status(); got.Records != records || got.Errors == 0 {
				t.Errorf("status %+v: want %d records and the failure counted", got, records)
			}
		})
	}
	t.Run("ReadOnce reads to the end", func(t *testing.T) {
		t.Parallel()
		st := openStore(t)
		var out outcomes
		var h history
		cfg := config(`{"source": "odv", "territory": "AB", "records": 321}`, &h)
		cfg.ReadAhead = true
		s, err := supervisor.New(cfg, st, storeSink(st, &out))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReadOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[store.Outcome]int{store.Inserted: 321}, out.get()); diff != "" {
			t.Errorf("upsert outcomes (-want +got):\n%s", diff)
		}
	})
}

// TestWrite delivers through the running process from another goroutine,
// and says the connector is not running when no process is up.
func TestWrite(t *testing.T) {
	st := openStore(t)
	var out outcomes
	var h history
	sup, err := supervisor.New(config(`{"source": "odv", "territory": "AB", "records": 10}`, &h), st, storeSink(st, &out))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := sup.Write(ctx, volunteerSchemaID, "V-1", []byte(`{}`)); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Fatalf("Write before Run: %v, want ErrNotRunning", err)
	}
	stop := run(t, sup)
	waitFor(t, "the connector to run", func() bool { return sup.State() == supervisor.Running })
	id, err := sup.Write(ctx, volunteerSchemaID, "V-1", []byte(`{}`))
	if err != nil || id != "T-V-1" {
		t.Fatalf("Write: %q, %v; want the connector's target id T-V-1", id, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := sup.Write(ctx, volunteerSchemaID, "V-1", []byte(`{}`)); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Fatalf("Write after stop: %v, want ErrNotRunning", err)
	}
}

const volunteerSchemaID = "https://snodo-hub.github.io/schemas/volunteer/1.0.0"
