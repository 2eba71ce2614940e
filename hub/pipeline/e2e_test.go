package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// waitFor polls cond until it holds or 60 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting, after 60 s, for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKilledConnectorLosesNothing: the connector process is killed twice
// in the middle of an ingest through the real pipeline; after the
// restarts the store holds every record of the source once.
func TestKilledConnectorLosesNothing(t *testing.T) {
	t.Parallel()
	const records = 3000
	e := newEnv(t)
	var (
		mu      sync.Mutex
		batches int
		killed  []int
		sup     *supervisor.Supervisor
	)
	sink := func(ctx context.Context, src string, b sdk.Batch) error {
		err := e.p.Sink(ctx, src, b)
		mu.Lock()
		defer mu.Unlock()
		if batches++; batches == 5 || batches == 15 {
			pid := sup.Status().Pid
			killed = append(killed, pid)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill the connector: %v", err)
			}
		}
		return err
	}
	var err error
	sup, err = supervisor.New(supervisor.Config{
		Name:          "odv",
		Host:          host.Config{Path: testConnector, SHA256: testConnectorSum, Logger: hclog.NewNullLogger()},
		Settings:      []byte(`{"source": "odv", "territory": "SDS-TEST", "records": 3000, "size": 1024, "pause_ms": 5}`),
		MaxBatch:      100,
		IdlePause:     20 * time.Millisecond,
		StallTimeout:  20 * time.Second,
		CheckInterval: 50 * time.Millisecond,
		Backoff:       supervisor.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}, e.st, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	waitFor(t, "every record and two restarts", func() bool {
		s := sup.Status()
		return s.Records >= records && s.Restarts >= 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	counts, err := e.st.CountBySchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts["volunteer"] != records {
		t.Errorf("the store holds %d records, want %d", counts["volunteer"], records)
	}
	st := e.p.Stats().Sources["odv"]
	if st.Inserted != records || st.Unchanged != 0 || st.Updated != 0 || st.Quarantined != 0 {
		t.Errorf("outcomes %+v: want %d inserted, none twice, none quarantined", st, records)
	}
	if c, _, _ := e.st.Cursor(context.Background(), "odv"); string(c) != "3000" {
		t.Errorf("cursor %q, want 3000", c)
	}
	if len(killed) != 2 {
		t.Errorf("killed %v, want two processes", killed)
	}
}

// exampleIdentifiers reads every identifier of the files connector's
// sample exports: the codice_fiscale column of the people and the
// intestatario of the households, as written there.
func exampleIdentifiers(t *testing.T, dir string) []string {
	t.Helper()
	var ids []string
	f, err := os.Open(filepath.Join(dir, "persone_2025-03.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		cells := strings.Split(sc.Text(), ";")
		if line > 0 && len(cells) > 1 && cells[1] != "" {
			ids = append(ids, cells[1])
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "nuclei.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		var row struct {
			Intestatario struct{ Codice string } `json:"intestatario"`
		}
		if json.Unmarshal([]byte(line), &row) == nil && row.Intestatario.Codice != "" {
			ids = append(ids, row.Intestatario.Codice)
		}
	}
	if len(ids) < 10 {
		t.Fatalf("found only %d identifiers in the sample exports", len(ids))
	}
	return ids
}

// TestExampleIngestLeaksNoIdentifier runs the files connector over its
// sample exports (which hold an invalid codice fiscale) through the
// pipeline, with every log line at debug level captured, and looks for
// every identifier of the input in the logs, the connector's log, the
// quarantine's errors and the database file: none may be there.
func TestExampleIngestLeaksNoIdentifier(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.pipeline("SDS-FI-NORDOVEST")
	connectorDir := filepath.Join(repoRoot, "connectors", "files")
	ids := exampleIdentifiers(t, filepath.Join(connectorDir, "testdata", "example"))

	var connectorLog lockedBuffer
	sup, err := supervisor.New(supervisor.Config{
		Name: "anagrafe-sociale",
		Host: host.Config{Path: filesConnector, SHA256: filesConnectorSum,
			Logger: hclog.New(&hclog.LoggerOptions{Output: &connectorLog, Level: hclog.Trace, JSONFormat: true})},
		Settings:    []byte(`{"source": "anagrafe-sociale", "territory": "SDS-FI-NORDOVEST", "folder": "testdata/example", "mapping": "mapping.example.yaml"}`),
		SettingsDir: connectorDir,
	}, e.st, p.Sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.ReadOnce(context.Background()); err != nil {
		t.Fatalf("ReadOnce: %v", err)
	}

	counts, err := e.st.CountBySchema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := e.quarantine()
	if counts["person"] < 5 || counts["household"] < 3 || counts["volunteer"] < 1 {
		t.Errorf("stored %v: want people, households and volunteers", counts)
	}
	var invalidCF bool
	for _, it := range q {
		for _, p := range it.Errors {
			invalidCF = invalidCF || (it.RecordID == "ANAG-2024-000738" && p.Pointer == "/person/identifiers/cf")
		}
	}
	if !invalidCF {
		t.Errorf("the invalid codice fiscale of ANAG-2024-000738 is not in quarantine: %s", errorsText(q))
	}
	if err := e.st.Close(); err != nil { // checkpoint the WAL into the file
		t.Fatal(err)
	}
	db, err := os.ReadFile(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.logs.Bytes()) == 0 || len(connectorLog.Bytes()) == 0 {
		t.Fatalf("nothing was logged: the scan would prove nothing")
	}
	for what, data := range map[string][]byte{
		"the hub's log":         e.logs.Bytes(),
		"the connector's log":   connectorLog.Bytes(),
		"the quarantine errors": errorsText(q),
		"the database file":     db,
	} {
		assertNoIdentifiers(t, what, data, ids)
	}
	if _, err := os.Stat(e.path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		if wal, _ := os.ReadFile(e.path + "-wal"); len(wal) > 0 {
			assertNoIdentifiers(t, "the WAL", wal, ids)
		}
	}
}
