package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	exregion "github.com/snodo-hub/snodo/examples/region"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/region"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/hub/territory"
	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// demoOptions are the demo's flags.
type demoOptions struct {
	dir        string
	seed       int64
	households int // at most this many households per territory
	headless   bool
	asJSON     bool
	listen     string
}

// demoDefaultHouseholds caps a territory's households (one per 1,000
// residents): above every Tuscan territory (Firenze has about a thousand),
// so that per-capita rates stay meaningful; the whole demo is then about
// 3,700 households and runs in well under three minutes on two cores.
const demoDefaultHouseholds = 1200

func newDemoCmd() *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR] [--seed N] [--headless [--json]] [--listen ADDR]",
		Short: "Build a demo region (Tuscany, one territory per province), release and federate, and serve it",
		Long: `Demo builds a whole demo region with no set-up: Tuscany, with one territory
per province formed from its real municipalities and populations. Under DIR
(default a new temporary folder) each territory gets its own hub
(DIR/territories/<code>/: snodo.yaml, keys, store) and the region its own
(DIR/region/), with every territory's key enrolled.

Each territory's store is filled with 24 months of activity (2024 and 2025)
by a seeded generator sized to its population — people, households,
referrals answered over time, pathways, assessments, housing placements,
employment activities — read through the real pipeline: records checked,
identifiers pseudonymised, mistyped codes quarantined. Each territory then
releases the eight quarters and the two years through the real statistics,
disclosure control and signing, and delivers the envelopes to the region
over HTTP on a loopback port.

With --headless it stops there (--json prints a summary); otherwise it serves
the region at --listen until Ctrl-C.`,
		Example: `  snodo demo
  snodo demo --headless --json --dir /tmp/demo --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.asJSON && !o.headless {
				return usageError("--json goes with --headless: the summary is printed when the demo ends")
			}
			if o.households < 1 {
				return usageError("--households must be at least 1")
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	cmd.Flags().StringVar(&o.dir, "dir", "", "where to build the demo (default: a new temporary folder)")
	cmd.Flags().Int64Var(&o.seed, "seed", 1, "the generator's seed: the same seed makes the same data")
	cmd.Flags().IntVar(&o.households, "households", demoDefaultHouseholds, "at most this many households per territory (one per 1,000 residents)")
	cmd.Flags().BoolVar(&o.headless, "headless", false, "build, release and federate, then exit instead of serving")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "with --headless, print a JSON summary")
	cmd.Flags().StringVar(&o.listen, "listen", "127.0.0.1:8080", "where to serve the region")
	return cmd
}

// demoSummary is what --json prints. It holds counts and codes only.
type demoSummary struct {
	Territories []demoTerritorySummary `json:"territories"`
	Region      demoRegionSummary      `json:"region"`
}

type demoTerritorySummary struct {
	Code          string           `json:"code"`
	Name          string           `json:"name"`
	Live          bool             `json:"live"`
	Records       int64            `json:"records"`
	Persons       int64            `json:"persons"`
	Referrals     map[string]int64 `json:"referrals"`
	Quarantine    int64            `json:"quarantine"`
	EnvelopesSent int              `json:"envelopes_sent"`
	// Loop is what a live territory's referral loop did.
	Loop *demoLiveSummary `json:"live_loop,omitempty"`
}

type demoRegionSummary struct {
	EnvelopesReceived int `json:"envelopes_received"`
	Territories       int `json:"territories"`
	Indicators        int `json:"indicators"`
}

// demoRegion is the region hub of the demo, its API on a loopback port.
type demoRegion struct {
	cfg     *regionConfig
	st      *store.Store
	handler *region.Handler
	srv     *http.Server
	base    string
}

func runDemo(ctx context.Context, stdout, stderr io.Writer, o demoOptions) error {
	file, err := compare.LoadTerritoriesFile(bytes.NewReader(exregion.Territories))
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if o.dir == "" {
		if o.dir, err = os.MkdirTemp("", "snodo-demo-"); err != nil {
			return usageError("create the demo's folder: %v", err)
		}
	}
	fmt.Fprintf(stderr, "Demo %s: %d territori in %s\n", file.Region.Name, len(file.Territories), o.dir)
	log := logging.New(stderr, "error", logging.FormatText)
	reg, err := startDemoRegion(ctx, filepath.Join(o.dir, "region"), file, log, stderr)
	if err != nil {
		return err
	}
	defer reg.st.Close()
	contract, err := registry()
	if err != nil {
		return err
	}
	// The live territories' connectors are built first: without a Go
	// toolchain and Snodo's source the demo goes on with every territory
	// filled by the generator.
	bins, err := buildDemoConnectors(ctx, o.dir)
	if err != nil {
		fmt.Fprintf(stderr, "Territori dal vivo spenti: %v.\n  I connettori si compilano con Go dal sorgente di Snodo: esegui la demo dalla cartella del progetto (go run ./cmd/snodo demo).\n", err)
	}
	var sum demoSummary
	var lts []*liveTerritory
	defer func() {
		for _, lt := range lts {
			lt.stop()
		}
	}()
	for i, t := range file.Territories {
		pop := demoPopulation(t, o.seed, i, o.households)
		ts, err := buildDemoTerritory(ctx, o, t, i, pop, contract, reg, log, stderr)
		if err != nil {
			_ = reg.srv.Close()
			return &exitError{code: exitUsage, err: fmt.Errorf("territory %s: %w", t.Code, err)}
		}
		sum.Territories = append(sum.Territories, ts)
		if m, ok := liveModelOf(t.Code); ok && bins != nil {
			lt, err := startLive(ctx, o.dir, m, t, pop, bins, o.seed+int64(i), o.hubListen(len(lts)))
			if lt != nil {
				lts = append(lts, lt)
			}
			if err != nil {
				_ = reg.srv.Close()
				return &exitError{code: exitUsage, err: fmt.Errorf("territory %s, live: %w", t.Code, err)}
			}
			fmt.Fprintf(stderr, "Territorio %s dal vivo (%s): hub su %s\n", t.Code, m.model, lt.base)
		}
	}
	if err := reg.srv.Shutdown(ctx); err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("stop the region's intake: %w", err)}
	}
	if sum.Region, err = reg.summary(ctx); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	fmt.Fprintf(stderr, "Regione: %s buste ricevute da %d territori, %d indicatori\n",
		thousands(int64(sum.Region.EnvelopesReceived)), sum.Region.Territories, sum.Region.Indicators)
	if len(lts) > 0 {
		if err := runLive(ctx, lts, stderr); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		if o.headless {
			for _, lt := range lts {
				lt.stop()
			}
		}
		if err := liveSummaries(ctx, o.dir, lts, sum.Territories, o.headless); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	if o.headless {
		if o.asJSON {
			return writeJSON(stdout, sum)
		}
		return nil
	}
	// The live loop stops with the server, also when the server cannot
	// start (a busy port): driving.Wait would otherwise wait for ever.
	var driving sync.WaitGroup
	defer driving.Wait()
	liveCtx, stopLive := context.WithCancel(ctx)
	defer stopLive()
	keepLive(liveCtx, lts, 5*time.Second, &driving, stderr)
	printLive(stdout, lts)
	return reg.serve(ctx, o.listen, stdout, log)
}

// hubListen is where the nth live territory's hub listens: the ports
// after the demo's own when serving (8081, 8082, 8083 by default), any
// free port when headless.
func (o demoOptions) hubListen(nth int) string {
	if o.headless {
		return ""
	}
	host, port, err := net.SplitHostPort(o.listen)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || p == 0 {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1+nth))
}

// liveSummaries counts the live territories' stores again, after their
// live phase, and adds what their loop did.
func liveSummaries(ctx context.Context, dir string, lts []*liveTerritory, sums []demoTerritorySummary, headless bool) error {
	for _, lt := range lts {
		for i := range sums {
			s := &sums[i]
			if s.Code != lt.t.Code {
				continue
			}
			st, err := store.Open(ctx, filepath.Join(dir, "territories", s.Code, "snodo.db"))
			if err != nil {
				return err
			}
			err = s.count(ctx, st)
			st.Close()
			if err != nil {
				return err
			}
			s.Live, s.Loop = true, lt.summary()
			if headless {
				s.Loop.API = "" // stopped
			}
		}
	}
	return nil
}

// printLive says where the live territories' hubs answer, with their
// tokens (shown once, as "snodo tokens create" does).
func printLive(stdout io.Writer, lts []*liveTerritory) {
	if len(lts) == 0 {
		return
	}
	fmt.Fprintln(stdout, "Live territories (snodo run; each hub's dashboard shows what it has published, with a viewer token):")
	for _, lt := range lts {
		fmt.Fprintf(stdout, "  %s %-14s %s/\n", lt.t.Code, lt.t.Name, lt.base)
		fmt.Fprintf(stdout, "      viewer token    %s\n", lt.viewer)
		fmt.Fprintf(stdout, "      operator token  %s   (e.g. %s/api/v1/referrals)\n", lt.oper, lt.base)
	}
}

// startDemoRegion sets the region up as "snodo region init" does and
// serves its API (intake and comparisons of the territories file
// included) on a loopback port.
func startDemoRegion(ctx context.Context, dir string, file *compare.TerritoriesFile, log *slog.Logger, stderr io.Writer) (*demoRegion, error) {
	if code := run(ctx, []string{"region", "init", dir, "--name", "Regione " + file.Region.Name}, nil, io.Discard, stderr); code != exitOK {
		return nil, &exitError{code: code, err: fmt.Errorf("set up the region in %s", dir)}
	}
	cfg, st, err := openRegionStore(ctx, filepath.Join(dir, regionConfigName))
	if err != nil {
		return nil, err
	}
	// Open: on loopback the demo's dashboard and API need no token.
	h, err := region.NewHandler(region.Config{Store: st, Log: log, Open: true, Territories: file})
	if err != nil {
		st.Close()
		return nil, &exitError{code: exitUsage, err: err}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, usageError("the region's intake cannot listen on loopback: %v", err)
	}
	r := &demoRegion{cfg: cfg, st: st, handler: h, base: "http://" + ln.Addr().String(),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// summary counts what the region holds: envelopes, the territories that
// sent them and the indicators they cover.
func (r *demoRegion) summary(ctx context.Context) (demoRegionSummary, error) {
	var s demoRegionSummary
	views, err := region.Territories(ctx, r.st)
	if err != nil {
		return s, err
	}
	for _, v := range views {
		s.EnvelopesReceived += v.Envelopes
		if v.Envelopes > 0 {
			s.Territories++
		}
	}
	n, err := storeCount(ctx, r.st, `SELECT count(DISTINCT indicator) FROM region_cells`)
	s.Indicators = int(n)
	return s, err
}

// serve answers the region's API and the dashboard at listen until ctx
// ends.
func (r *demoRegion) serve(ctx context.Context, listen string, stdout io.Writer, log *slog.Logger) error {
	mux, err := regionMux(r.handler, "Regione Toscana")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return usageError("the demo cannot serve on %s: %v (pass --listen ADDR)", listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Demo region served at %s (open on loopback: no token needed)\n", base)
	fmt.Fprintf(stdout, "  dashboard  %s/\n", base)
	fmt.Fprintf(stdout, "  API        %s/api/v1/compare/meta\n", base)
	fmt.Fprintf(stdout, "  OpenAPI    %s/api/openapi.json\n", base)
	fmt.Fprintf(stdout, "  region     %s/api/v1/region/territories\n", base)
	fmt.Fprintln(stdout, "Ctrl-C to stop.")
	select {
	case <-ctx.Done():
	case err := <-done:
		return &exitError{code: exitUsage, err: fmt.Errorf("the demo's server stopped: %w", err)}
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(stop)
}

// buildDemoTerritory sets a territory up as "snodo init" does, enrols its key
// in the region, ingests its generated activity through the pipeline,
// releases every epoch and delivers the envelopes to the region.
func buildDemoTerritory(ctx context.Context, o demoOptions, t compare.Territory, nth int, pop *population.Population, contract *schemas.Registry, reg *demoRegion, log *slog.Logger, stderr io.Writer) (demoTerritorySummary, error) {
	s := demoTerritorySummary{Code: t.Code, Name: t.Name}
	setup, err := territory.Init(ctx, filepath.Join(o.dir, "territories", t.Code), t.Code, t.Name)
	if err != nil {
		return s, err
	}
	if err := withFigures(setup.Config, t); err != nil {
		return s, err
	}
	cfg, err := loadConfig(setup.Config)
	if err != nil {
		return s, err
	}
	ter, err := territoryOf(cfg, true)
	if err != nil {
		return s, err
	}
	if _, err := region.EnrolKey(ctx, reg.st, "snodo demo", t.Code, t.Name, ter.SigningKey.Public().(ed25519.PublicKey)); err != nil {
		return s, fmt.Errorf("enrol its key: %w", err)
	}
	st, err := store.Open(ctx, setup.Database)
	if err != nil {
		return s, err
	}
	defer st.Close()
	if err := demoIngest(ctx, cfg.Path(cfg.Keys.Pseudonymisation), t, generateDemoActivity(t, pop, o.seed, nth), st, contract, log); err != nil {
		return s, err
	}
	for _, e := range demoEpochs {
		if _, err := federation.Release(ctx, st, ter, e, 0); err != nil {
			return s, err
		}
	}
	up, closeUp, err := openUplinkTo(upstream{Code: t.Code, URL: reg.base, Where: "the demo region"}, st, log)
	if err != nil {
		return s, err
	}
	s.EnvelopesSent, err = up.DeliverDue(ctx)
	closeUp()
	if err != nil {
		return s, err
	}
	if err := s.count(ctx, st); err != nil {
		return s, err
	}
	fmt.Fprintf(stderr, "Territorio %s (%s): %s record, %s persone, %s in quarantena, %d buste inviate alla regione\n",
		t.Code, t.Name, thousands(s.Records), thousands(s.Persons), thousands(s.Quarantine), s.EnvelopesSent)
	return s, nil
}

// demoIngest reads the generated records through the pipeline, with the
// referral engine following the referrals, phase by phase and source by
// source, in batches as a connector would deliver them.
func demoIngest(ctx context.Context, keyPath string, t compare.Territory, act *demoActivity, st *store.Store, contract *schemas.Registry, log *slog.Logger) error {
	key, err := keyring.LoadIdentityKey(keyPath)
	if err != nil {
		return err
	}
	serves := map[string]string{}
	for _, sys := range demoSystems {
		serves[demoOrg(t.Code, sys)] = demoSource(sys)
	}
	eng, err := referral.New(referral.Config{Key: key, Serves: serves, Logger: log})
	if err != nil {
		return err
	}
	p, err := pipeline.New(ctx, pipeline.Config{Store: st, Registry: contract, Key: key, Territory: t.Code, Logger: log, Observer: eng})
	if err != nil {
		return err
	}
	defer p.Close()
	const batchSize = 500
	for _, phase := range act.phases {
		for _, b := range phase {
			for i := 0; i < len(b.records); i += batchSize {
				chunk := b.records[i:min(i+batchSize, len(b.records))]
				// An import of the archive, not a connector's read: no
				// cursor, so that a live territory's connectors start
				// from the beginning of their systems.
				err := p.Sink(ctx, b.source, sdk.Batch{Records: chunk})
				// A flood of quarantined records is committed all the same:
				// the demo shows it, it does not stop for it.
				var degraded *supervisor.DegradedError
				if err != nil && !errors.As(err, &degraded) {
					return fmt.Errorf("ingest from %s: %w", b.source, err)
				}
			}
		}
	}
	return nil
}

// count fills the summary's counts from the territory's store.
func (s *demoTerritorySummary) count(ctx context.Context, st *store.Store) error {
	bySchema, err := st.CountBySchema(ctx)
	if err != nil {
		return err
	}
	s.Records = 0
	for _, n := range bySchema {
		s.Records += n
	}
	if s.Quarantine, err = st.QuarantineCount(ctx); err != nil {
		return err
	}
	rc, err := st.CountReferrals(ctx, nil)
	if err != nil {
		return err
	}
	s.Referrals = rc.ByStatus
	if s.Referrals == nil {
		s.Referrals = map[string]int64{}
	}
	s.Persons, err = storeCount(ctx, st, `SELECT count(*) FROM persons`)
	return err
}

// storeCount runs a count query in a read snapshot of the store: package
// store has no count of persons or of the region's indicators, and a
// count is all the demo needs.
func storeCount(ctx context.Context, st *store.Store, query string) (int64, error) {
	var n int64
	err := st.Snapshot(ctx, func(q store.Querier) error {
		return q.QueryRowContext(ctx, query).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

// thousands writes n the Italian way: 12.345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "." + s[i:]
	}
	return s
}
