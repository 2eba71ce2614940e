package pipeline_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// peerReport is the JSON line docs/bench/peer/ingest.mjs prints.
type peerReport struct {
	Records     int     `json:"records"`
	Seconds     float64 `json:"seconds"`
	CPUUser     float64 `json:"cpu_user_s"`
	CPUSystem   float64 `json:"cpu_system_s"`
	PeakRSSKiB  int64   `json:"peak_rss_kib"`
	Inserted    int     `json:"inserted"`
	Quarantined int     `json:"quarantined"`
}

// peer runs docs/bench/peer/ingest.mjs, the Node.js peer (ajv and
// better-sqlite3) that does the pipeline's work on the same records.
type peer struct {
	node, script, schemas string
	// index runs it with --person-index: the hub's keyed person index
	// too, instead of each identifier's digest as the pseudonym.
	index bool
}

// run ingests the JSON-lines file records into a new SQLite file db and
// returns the peer's report and the process's own accounting.
func (p peer) run(tb testing.TB, records, db string) (peerReport, *os.ProcessState) {
	tb.Helper()
	args := []string{p.script, records, db, "--source", source, "--territory", territory, "--schemas", p.schemas, "--batch", "500"}
	if p.index {
		args = append(args, "--person-index")
	}
	cmd := exec.Command(p.node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("node %s: %v\n%s", filepath.Base(p.script), err, stderr.Bytes())
	}
	var rep peerReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		tb.Fatalf("the peer's report %q: %v", stdout.Bytes(), err)
	}
	return rep, cmd.ProcessState
}

// newPeer finds the peer named by SNODO_PEER, or skips.
func newPeer(b *testing.B) peer {
	const how = "set SNODO_PEER to docs/bench/peer with its node_modules installed (npm ci there), or run docs/bench/peer-compare.sh"
	dir := os.Getenv("SNODO_PEER")
	if dir == "" {
		b.Skip("the Node.js peer is not set up: " + how)
	}
	for _, need := range []string{"ingest.mjs", "node_modules/ajv", "node_modules/ajv-formats", "node_modules/better-sqlite3"} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			b.Skipf("SNODO_PEER=%s has no %s: %s", dir, need, how)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not on PATH: install Node.js 20 or later")
	}
	script, err := filepath.Abs(filepath.Join(dir, "ingest.mjs"))
	if err != nil {
		b.Fatal(err)
	}
	return peer{node: node, script: script, schemas: filepath.Join(repoRoot, "schemas")}
}

// writeJSONLines writes one record per line: the bytes Sink is handed.
func writeJSONLines(tb testing.TB, path string, recs [][]byte) {
	tb.Helper()
	var buf bytes.Buffer
	for _, r := range recs {
		if bytes.IndexByte(r, '\n') >= 0 {
			tb.Fatal("a record holds a new line: it cannot be one JSON line")
		}
		buf.Write(r)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// countRows counts the rows of table in the SQLite file path, read with
// the modernc driver the store registers.
func countRows(tb testing.TB, path, table string) int {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s of %s: %v", table, filepath.Base(path), err)
	}
	return n
}

// quarantinedIDs lists the record ids in the quarantine table of the SQLite
// file path, sorted ("" for none).
func quarantinedIDs(tb testing.TB, path string) []string {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT coalesce(record_id, '') FROM quarantine")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux 4.0
// and later), so that the next peakRSS("self") is the peak since now.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// checkPeerAgrees hands the hub and the peer the same few records, valid
// and not, and fails unless both quarantine exactly the same ones: the
// peer's figures are only comparable if it really checks what the hub
// checks.
func checkPeerAgrees(b *testing.B, pr peer, dir string) {
	b.Helper()
	recs := [][]byte{
		person("OK-1", map[string]string{"cf": cfB}),
		person("OK-2", map[string]string{"cf": " lmrysf88m12z330w "}), // normalised first
		person("OK-3", map[string]string{"cf-provisional": provisional}),
		person("BAD-CF", map[string]string{"cf": badCF}),
		person("BAD-COMUNE", map[string]string{"cf": cfC}, func(r record) { r["residence_comune"] = "999999" }),
		person("BAD-FIELD", map[string]string{"cf": cfC}, func(r record) { r["nickname"] = "x" }),
		person("BAD-RULE", map[string]string{"cf": cfC}, func(r record) {
			r["citizenship"] = "IT"
			r["permit"] = map[string]any{"status": "valid"}
		}),
		person("BAD-SCHEMA", map[string]string{"cf": cfC}, func(r record) {
			r["schema"] = "https://snodo-hub.github.io/schemas/person/9.9.9"
		}),
		person("BAD-TERRITORY", map[string]string{"cf": cfC}, func(r record) { r["territory"] = "ELSEWHERE" }),
		person("BAD-EXTENSION", map[string]string{"cf": cfC}, func(r record) {
			r["extensions"] = map[string]any{"note": "see " + strings.ToLower(cfA) + ", done"}
		}),
		// A record id shaped like a codice fiscale: quarantined without
		// its record id on both sides.
		person(cfA, map[string]string{"cf": cfC}),
	}
	want := []string{""}
	for _, r := range recs {
		var env struct {
			RecordID string `json:"record_id"`
		}
		if err := json.Unmarshal(r, &env); err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(env.RecordID, "BAD-") {
			want = append(want, env.RecordID)
		}
	}
	slices.Sort(want)

	key, err := identity.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hubDB := filepath.Join(dir, "agree-hub.db")
	st, err := store.Open(ctx, hubDB)
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.New(ctx, pipeline.Config{Store: st, Registry: reg, Key: key, Territory: territory})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Sink(ctx, source, sdk.Batch{Records: recs, Cursor: []byte("1")}); err != nil {
		b.Fatal(err)
	}
	p.Close()
	st.Close()
	if got := quarantinedIDs(b, hubDB); !slices.Equal(got, want) {
		b.Fatalf("the hub quarantined %q, want %q", got, want)
	}

	file := filepath.Join(dir, "agree.jsonl")
	writeJSONLines(b, file, recs)
	peerDB := filepath.Join(dir, "agree-peer.db")
	rep, _ := pr.run(b, file, peerDB)
	if got := quarantinedIDs(b, peerDB); !slices.Equal(got, want) || rep.Quarantined != len(want) {
		b.Fatalf("the peer quarantined %q (reported %d), want %q as the hub", got, rep.Quarantined, want)
	}
	if n := countRows(b, peerDB, "records"); n != len(recs)-len(want) {
		b.Fatalf("the peer stored %d records, want %d", n, len(recs)-len(want))
	}
}

// BenchmarkPeer compares the pipeline with a peer doing the same work on
// the same machine (issue 8): docs/bench/peer/ingest.mjs, Node.js with ajv
// (JSON Schema 2020-12) and better-sqlite3, which validates the same
// records against the same schemas, pseudonymises their identifiers with
// HMAC-SHA256 and upserts them into SQLite with the hub's pragmas, one
// transaction per batch of 500; in peer=keyed-index it also keeps the
// hub's keyed person index (digest → random person id, in the same
// transaction). The records are BenchmarkSink's: 20,000
// person records of about 1 KB, each a new person. Each iteration runs
// both on a fresh database, alternating which goes first; the hub runs as
// BenchmarkSink does (GOGC 400, Workers = GOMAXPROCS).
//
// Throughput and CPU cover the ingest alone on both sides: from the first
// batch to the last commit, without opening the store, compiling the
// schemas or reading the file (the peer measures its own window). Peak
// RSS: the peer's is its whole process (VmHWM); the hub's is this test
// process's VmHWM during the hub's run, which also holds the 20,000
// records the benchmark hands to Sink.
//
// Skipped unless SNODO_PEER names docs/bench/peer with its node_modules:
//
//	docs/bench/peer-compare.sh
//	SNODO_PEER=$PWD/docs/bench/peer go test -run xxx -bench Peer -benchtime 3x -count 3 ./hub/pipeline
func BenchmarkPeer(b *testing.B) {
	pr := newPeer(b)
	for _, index := range []bool{false, true} {
		name := "peer=digest"
		if index {
			name = "peer=keyed-index"
		}
		pr.index = index
		b.Run(name, func(b *testing.B) { benchmarkPeer(b, pr) })
	}
}

func benchmarkPeer(b *testing.B, pr peer) {
	const rows, batch = 20000, 500
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	dir := b.TempDir()
	checkPeerAgrees(b, pr, dir)

	recs := sinkRecords(rows)
	file := filepath.Join(dir, "records.jsonl")
	writeJSONLines(b, file, recs)
	key, err := identity.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	var hubElapsed, hubCPU time.Duration
	var hubPeak int64
	hubPeakSince := "the hub's run"
	runHub := func(path string) {
		st, err := store.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		p, err := pipeline.New(ctx, pipeline.Config{Store: st, Registry: reg, Key: key, Territory: territory})
		if err != nil {
			b.Fatal(err)
		}
		if !resetPeakRSS() {
			hubPeakSince = "the test process's start (clear_refs is not writable)"
		}
		start, startCPU := time.Now(), cpuTime("self")
		for j := 0; j < rows; j += batch {
			if err := p.Sink(ctx, source, sdk.Batch{Records: recs[j : j+batch], Cursor: []byte(strconv.Itoa(j + batch))}); err != nil {
				b.Fatal(err)
			}
		}
		hubElapsed += time.Since(start)
		hubCPU += cpuTime("self") - startCPU
		hubPeak = max(hubPeak, peakRSS("self"))
		if s := p.Stats().Sources[source]; s.Inserted != rows || s.Quarantined != 0 {
			b.Fatalf("hub stats %+v: want %d inserted, none quarantined", s, rows)
		}
		p.Close()
		st.Close()
		if n := countRows(b, path, "records"); n != rows {
			b.Fatalf("the hub's database holds %d records, want %d", n, rows)
		}
		if n := countRows(b, path, "persons"); n != rows {
			b.Fatalf("the hub's database holds %d persons, want %d", n, rows)
		}
	}

	var peerSeconds, peerCPU, peerProcCPU float64
	var peerPeakKiB int64
	runPeer := func(path string) {
		rep, ps := pr.run(b, file, path)
		if rep.Records != rows || rep.Inserted != rows || rep.Quarantined != 0 {
			b.Fatalf("the peer's report %+v: want %d records inserted, none quarantined", rep, rows)
		}
		if n := countRows(b, path, "records"); n != rows {
			b.Fatalf("the peer's database holds %d records, want %d", n, rows)
		}
		if pr.index {
			if n := countRows(b, path, "persons"); n != rows {
				b.Fatalf("the peer's database holds %d persons, want %d", n, rows)
			}
		}
		peerSeconds += rep.Seconds
		peerCPU += rep.CPUUser + rep.CPUSystem
		peerProcCPU += (ps.UserTime() + ps.SystemTime()).Seconds()
		// The peer's own VmHWM, not ProcessState's ru_maxrss: Linux carries
		// ru_maxrss across fork and exec, so the child's would be at least
		// this test process's size.
		peerPeakKiB = max(peerPeakKiB, rep.PeakRSSKiB)
	}

	n := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		iter := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(iter, 0o700); err != nil {
			b.Fatal(err)
		}
		hubDB, peerDB := filepath.Join(iter, "hub.db"), filepath.Join(iter, "peer.db")
		b.StartTimer()
		// Alternate which goes first, so that neither always runs on a
		// cooler machine or a warmer page cache.
		if i%2 == 0 {
			runHub(hubDB)
			runPeer(peerDB)
		} else {
			runPeer(peerDB)
			runHub(hubDB)
		}
		b.StopTimer()
		n += rows
		if err := os.RemoveAll(iter); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	if hubPeakSince != "the hub's run" {
		b.Logf("hub-peak-RSS-MB is the peak since %s", hubPeakSince)
	}
	records := float64(n)
	hubRate, peerRate := records/hubElapsed.Seconds(), records/peerSeconds
	hubCPUPer, peerCPUPer := float64(hubCPU.Microseconds())/records, peerCPU*1e6/records
	b.ReportMetric(hubRate, "hub-records/s")
	b.ReportMetric(peerRate, "peer-records/s")
	b.ReportMetric(hubRate/peerRate, "ratio-records/s")
	b.ReportMetric(hubCPUPer, "hub-CPU-µs/record")
	b.ReportMetric(peerCPUPer, "peer-CPU-µs/record")
	b.ReportMetric(hubCPUPer/peerCPUPer, "ratio-CPU/record")
	b.ReportMetric(peerProcCPU*1e6/records, "peer-process-CPU-µs/record")
	b.ReportMetric(float64(hubPeak)/(1<<20), "hub-peak-RSS-MB")
	b.ReportMetric(float64(peerPeakKiB)/1024, "peer-peak-RSS-MB")
	b.ReportMetric(float64(len(recs[0])), "bytes/record")
}
