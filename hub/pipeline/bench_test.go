package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/sdk"
)

// benchMapping maps the benchmark's export to person records of about
// 1 KB: every person field, and source-specific codes under extensions.
const benchMapping = `version: 1
files:
  - pattern: "persone_*.csv"
    schema: person
    delimiter: ";"
    record_id: id
    recorded_at: {column: aggiornato, format: "dd/mm/yyyy HH:MI"}
    fields:
      - {column: cf, to: /person/identifiers}
      - {column: nascita, to: /birth_year, type: year, format: dd/mm/yyyy}
      - {column: sesso, to: /sex, codes: {M: M, F: F}, default: U}
      - {column: cittadinanza, to: /citizenship, codes: {Italia: IT, Marocco: Z330, Nigeria: Z335, Albania: Z100}, unknown: omit}
      - {column: comune, to: /residence_comune}
      - {column: lingue, to: /languages, split: ","}
      - {column: permesso_stato, to: /permit/status, codes: {valido: valid, scaduto: expired}}
      - {column: permesso_motivo, to: /permit/reason, codes: {lavoro: work, famiglia: family, asilo: refugee}, default: other}
      - {column: permesso_scadenza, to: /permit/expiry_month, type: year-month, format: dd/mm/yyyy}
      - {column: uscita, to: /reception_exit/system, codes: {SAI: SAI, CAS: CAS}}
      - {column: data_uscita, to: /reception_exit/date, format: dd/mm/yyyy}
      - {column: nucleo, to: /household/record_id}
      - {column: servizi, to: /extensions/servizi_attivi}
      - {column: prese_in_carico, to: /extensions/prese_in_carico}
      - {column: sportello, to: /extensions/sportello}
      - {column: operatore, to: /extensions/operatore_riferimento}
      - {column: progetto, to: /extensions/progetto}
`

// writeBenchExport writes n people to dir/persone_bench.csv.
func writeBenchExport(tb testing.TB, dir string, n int) {
	tb.Helper()
	f, err := os.Create(filepath.Join(dir, "persone_bench.csv"))
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("id;cf;nascita;sesso;cittadinanza;comune;lingue;permesso_stato;permesso_motivo;permesso_scadenza;uscita;data_uscita;nucleo;aggiornato;servizi;prese_in_carico;sportello;operatore;progetto\n")
	countries := []string{"Marocco", "Nigeria", "Albania", "Marocco"} // Italians hold no permit
	for i := range n {
		servizi := make([]string, 12)
		for j := range servizi {
			servizi[j] = fmt.Sprintf("SRV-%03d-%04d", (i+j)%500, j*37+i%100)
		}
		prese := make([]string, 8)
		for j := range prese {
			prese[j] = fmt.Sprintf("PIC-2025-%06d", i*8+j)
		}
		fmt.Fprintf(w, "ANAG-%07d;%s;%02d/%02d/%d;%s;%s;048017;it,fr,ar;valido;lavoro;30/09/2027;SAI;31/03/2024;NUC-%07d;14/03/2025 10:22;%s;%s;SPORTELLO-SOCIALE-NORD-OVEST-%02d;OP-%05d;FAMI-PROG-2024-CASA-LAVORO-AUTONOMIA-%03d\n",
			i, validCF(i), 1+i%28, 1+i%12, 1950+i%55, "MF"[i%2:i%2+1], countries[i%4],
			i/3, strings.Join(servizi, ","), strings.Join(prese, ","), i%20, i%300, i%40)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// peakRSS reads the peak resident set (VmHWM) of process pid ("self" for
// this one), in bytes; 0 when it cannot be read.
func peakRSS(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(string(rest)), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// cpuTime reads the user + system CPU time of process pid from
// /proc/PID/stat (clock ticks of 10 ms).
func cpuTime(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// BenchmarkIngestEndToEnd is issue 4's benchmark: the file connector, as a
// real process, reads an export of 20,000 rows that become person records
// of about 1 KB; the supervisor hands every batch to the pipeline, which
// decodes, validates, pseudonymises and stores them with the cursor on a
// real SQLite file. Each iteration ingests the whole export into a fresh
// database. GOGC is 400, as the snodo binary runs.
//
//	go test -run xxx -bench IngestEndToEnd -benchtime 3x -count 5 ./hub/pipeline
func BenchmarkIngestEndToEnd(b *testing.B) {
	// The supervisor's ReadAhead (on in "snodo ingest") lets the connector
	// send its next batch while the pipeline stores the current one.
	for _, ahead := range []bool{true, false} {
		b.Run(fmt.Sprintf("read-ahead=%v", ahead), func(b *testing.B) { benchmarkIngest(b, ahead) })
	}
}

func benchmarkIngest(b *testing.B, readAhead bool) {
	const rows = 20000
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	dir := b.TempDir()
	exports := filepath.Join(dir, "exports")
	if err := os.Mkdir(exports, 0o700); err != nil {
		b.Fatal(err)
	}
	writeBenchExport(b, exports, rows)
	if err := os.WriteFile(filepath.Join(dir, "mapping.yaml"), []byte(benchMapping), 0o600); err != nil {
		b.Fatal(err)
	}
	settings := []byte(`{"source": "anagrafe", "territory": "SDS-TEST", "folder": "exports", "mapping": "mapping.yaml"}`)
	key, err := identity.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	var records, recordBytes atomic.Int64
	var connectorPeak, connectorCPU atomic.Int64
	var elapsed, hubCPU time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		st, err := store.Open(ctx, filepath.Join(dir, fmt.Sprintf("snodo-%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		p, err := pipeline.New(ctx, pipeline.Config{Store: st, Registry: reg, Key: key, Territory: territory})
		if err != nil {
			b.Fatal(err)
		}
		var sup *supervisor.Supervisor
		sink := func(ctx context.Context, src string, batch sdk.Batch) error {
			for _, r := range batch.Records {
				recordBytes.Add(int64(len(r)))
			}
			records.Add(int64(len(batch.Records)))
			return p.Sink(ctx, src, batch)
		}
		sup, err = supervisor.New(supervisor.Config{
			Name:        source,
			Host:        host.Config{Path: filesConnector, SHA256: filesConnectorSum, Logger: hclog.NewNullLogger()},
			Settings:    settings,
			SettingsDir: dir,
			ReadAhead:   readAhead,
		}, st, sink)
		if err != nil {
			b.Fatal(err)
		}
		// Sample the connector's peak memory while it runs.
		done := make(chan struct{})
		cpu := map[int]time.Duration{} // the last CPU time seen of each connector process
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				if pid := sup.Status().Pid; pid != 0 {
					if m := peakRSS(strconv.Itoa(pid)); m > connectorPeak.Load() {
						connectorPeak.Store(m)
					}
					if c := cpuTime(strconv.Itoa(pid)); c > 0 {
						cpu[pid] = c
					}
				}
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		start, startCPU := time.Now(), cpuTime("self")
		b.StartTimer()
		if err := sup.ReadOnce(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		elapsed += time.Since(start)
		hubCPU += cpuTime("self") - startCPU
		close(done)
		wg.Wait()
		for _, c := range cpu {
			connectorCPU.Add(int64(c))
		}
		s := p.Stats().Sources[source]
		if s.Inserted != rows || s.Quarantined != 0 {
			b.Fatalf("stats %+v: want %d inserted, none quarantined", s, rows)
		}
		p.Close()
		st.Close()
		b.StartTimer()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(records.Load())/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(recordBytes.Load())/float64(records.Load()), "bytes/record")
	b.ReportMetric(float64(peakRSS("self"))/(1<<20), "hub-peak-RSS-MB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "hub-Sys-MB")
	b.ReportMetric(float64(connectorPeak.Load())/(1<<20), "connector-peak-RSS-MB")
	n := float64(records.Load())
	b.ReportMetric(float64(hubCPU.Microseconds())/n, "hub-CPU-µs/record")
	b.ReportMetric(float64(time.Duration(connectorCPU.Load()).Microseconds())/n, "connector-CPU-µs/record")
}

// BenchmarkSink is the pipeline alone, without a connector process: 20,000
// person records of about 1 KB (each a new person) handed to Sink in
// batches of 500, on a fresh SQLite file per iteration. GOGC is 400.
//
//	go test -run xxx -bench Sink -benchtime 3x ./hub/pipeline
func BenchmarkSink(b *testing.B) {
	const rows, batch = 20000, 500
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	recs := sinkRecords(rows)
	key, err := identity.NewKey()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var elapsed, cpu time.Duration
	n := 0
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		st, err := store.Open(ctx, filepath.Join(b.TempDir(), "snodo.db"))
		if err != nil {
			b.Fatal(err)
		}
		p, err := pipeline.New(ctx, pipeline.Config{Store: st, Registry: reg, Key: key, Territory: territory})
		if err != nil {
			b.Fatal(err)
		}
		start, startCPU := time.Now(), cpuTime("self")
		b.StartTimer()
		for j := 0; j < rows; j += batch {
			if err := p.Sink(ctx, source, sdk.Batch{Records: recs[j : j+batch], Cursor: []byte(strconv.Itoa(j + batch))}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		elapsed += time.Since(start)
		cpu += cpuTime("self") - startCPU
		n += rows
		if s := p.Stats().Sources[source]; s.Inserted != rows {
			b.Fatalf("stats %+v", s)
		}
		p.Close()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(recs[0])), "bytes/record")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "CPU-µs/record")
}

// sinkRecords makes the records of BenchmarkSink (and BenchmarkPeer): n
// person records of about 1 KB, each a new person with a valid codice
// fiscale.
func sinkRecords(n int) [][]byte {
	recs := make([][]byte, n)
	for i := range recs {
		recs[i] = person(fmt.Sprintf("ANAG-%07d", i), map[string]string{"cf": validCF(i)}, func(r record) {
			r["languages"] = []string{"it", "fr", "ar"}
			r["citizenship"] = "Z330"
			r["residence_comune"] = "048017"
			r["permit"] = map[string]any{"status": "valid", "expiry_month": "2027-09",
				"reason": map[string]string{"system": "https://snodo-hub.github.io/codes/permit-reason", "code": "work"}}
			r["household"] = map[string]string{"record_id": fmt.Sprintf("NUC-%07d", i/3)}
			r["extensions"] = map[string]any{"servizi_attivi": strings.Repeat(fmt.Sprintf("SRV-%03d-%04d,", i%500, i%1000), 36)}
		})
	}
	return recs
}
