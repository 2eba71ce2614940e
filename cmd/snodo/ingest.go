package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/plugins/host"
)

// pipelineHub is a hub opened for the pipeline's commands: its
// configuration, its store and (when asked) its pipeline.
type pipelineHub struct {
	cfg *config.Config
	st  *store.Store
	p   *pipeline.Pipeline
	ref *referral.Engine // follows referrals through the pipeline
	log *slog.Logger
	out *progress // stderr, shared by the log and the progress line
}

// openPipelineHub loads the configuration and opens the store; with
// withPipeline it also loads the pseudonymisation key and the contract and
// starts the pipeline.
func openPipelineHub(ctx context.Context, configPath string, stderr io.Writer, withPipeline bool) (*pipelineHub, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	h := &pipelineHub{cfg: cfg, out: newProgress(stderr)}
	format := cfg.Log.Format
	if format == "" || format == logging.FormatAuto {
		format = logging.FormatJSON
		if h.out.tty {
			format = logging.FormatText
		}
	}
	h.log = logging.New(h.out, cfg.Log.Level, format)
	h.st, err = store.Open(ctx, cfg.Path(cfg.Store.Path), store.WithBusyTimeout(cfg.BusyTimeout()))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if !withPipeline {
		return h, nil
	}
	fail := func(err error) (*pipelineHub, error) {
		h.close()
		return nil, &exitError{code: exitUsage, err: err}
	}
	key, err := keyring.LoadIdentityKey(cfg.Path(cfg.Keys.Pseudonymisation))
	if err != nil {
		return fail(err)
	}
	reg, err := registry()
	if err != nil {
		return fail(err)
	}
	retention, _, targets := cfg.Referrals.Durations()
	h.ref, err = referral.New(referral.Config{
		Key: key, Serves: cfg.Serves(), Retention: retention, Targets: targets,
		Purpose: cfg.Referrals.ConsentPurpose, Logger: h.log.With("component", "referrals"),
	})
	if err != nil {
		return fail(err)
	}
	h.p, err = pipeline.New(ctx, pipeline.Config{
		Store: h.st, Registry: reg, Key: key, Territory: cfg.Territory.Code, Logger: h.log, Observer: h.ref,
	})
	if err != nil {
		return fail(err)
	}
	return h, nil
}

func (h *pipelineHub) close() {
	if h.p != nil {
		if err := h.p.Close(); err != nil {
			h.log.Error("close the pipeline", "error", err)
		}
	}
	if err := h.st.Close(); err != nil {
		h.log.Error("close the store", "error", err)
	}
}

// connectorLogger sends a connector's log (its stderr and go-plugin's
// messages) into the hub's log, with its format, level and masking.
func (h *pipelineHub) connectorLogger(name string) hclog.Logger {
	return logging.HCLog(h.log.With("connector", name))
}

// supervisorConfig is the supervisor of a configured connector instance.
func (h *pipelineHub) supervisorConfig(k config.Connector) (supervisor.Config, error) {
	sc := supervisor.Config{
		Name: k.Name,
		Host: host.Config{Name: k.Name, Path: h.cfg.Path(k.Plugin), SHA256: k.SHA256, Logger: h.connectorLogger(k.Name)},
		// The connector sends its next batch while the pipeline stores
		// the current one.
		ReadAhead: true,
	}
	if k.Settings != "" {
		var err error
		if sc.Settings, sc.SettingsDir, err = config.ReadSettings(h.cfg.Path(k.Settings)); err != nil {
			return supervisor.Config{}, fmt.Errorf("connector %q: %w", k.Name, err)
		}
	}
	if k.ReadInterval != "" {
		d, err := time.ParseDuration(k.ReadInterval)
		if err != nil {
			return supervisor.Config{}, fmt.Errorf("connector %q: read_interval %q: %v", k.Name, k.ReadInterval, err)
		}
		sc.ReadInterval = d
	}
	return sc, nil
}

// runJSON is one connector's run, for --json.
type runJSON struct {
	Connector   string    `json:"connector"`
	Outcome     string    `json:"outcome"`
	Records     int64     `json:"records"`
	Stored      int64     `json:"stored"`
	Unchanged   int64     `json:"unchanged"`
	Quarantined int64     `json:"quarantined"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Message     string    `json:"message,omitempty"`
}

func toRunJSON(r store.Run) runJSON {
	return runJSON{Connector: r.Connector, Outcome: r.Outcome, Records: r.Records, Stored: r.Stored,
		Unchanged: r.Unchanged, Quarantined: r.Quarantined, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Message: r.Message}
}

func newIngestCmd() *cobra.Command {
	var configPath, only string
	var once, fromStart, asJSON bool
	cmd := &cobra.Command{
		Use:   "ingest [--connector NAME] --once [--config FILE]",
		Short: "Read every enabled connector once, through the pipeline, into the store",
		Long: `Ingest starts each enabled connector instance of snodo.yaml (or only NAME), reads
everything after its committed cursor, and stops it. Every batch goes through
the pipeline: records are checked against their schemas, identifiers are
replaced by person ids, good records are stored and bad ones quarantined
("snodo quarantine list"), and the cursor is committed with the records.

On a terminal a line shows the records read, the rate and how many went to
quarantine; otherwise the progress is logged. Last it prints what each
connector read. Every run is recorded for "snodo status" and the audit log.

--from-start reads the connector's source again from its beginning (its
cursor is reset): after a fix of its mapping, say. Records already stored with
the same content are recognised and not written again; then "snodo quarantine
replay --all" clears the quarantined copies the source has now delivered right.

Exit status: 0 every connector read, 1 a connector failed, 2 usage or I/O
error.`,
		Example: `  snodo ingest --once --config /srv/snodo/snodo.yaml
  snodo ingest --connector anagrafe-sociale --once --from-start`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return usageError("ingest reads each connector once: pass --once (\"snodo run\" keeps reading)")
			}
			ctx := cmd.Context()
			h, err := openPipelineHub(ctx, configPath, cmd.ErrOrStderr(), true)
			if err != nil {
				return err
			}
			defer h.close()
			targets, err := ingestTargets(h.cfg, only)
			if err != nil {
				return err
			}
			if len(targets) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no connector is enabled in %s: nothing to read\n", h.cfg.File)
				return nil
			}
			var runs []store.Run
			failed := 0
			for _, k := range targets {
				r := ingestOne(ctx, h, k, fromStart)
				runs = append(runs, r)
				if r.Outcome == "failed" || r.Outcome == "interrupted" {
					failed++
				}
				if ctx.Err() != nil {
					break
				}
			}
			if err := printRuns(cmd.OutOrStdout(), runs, asJSON); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if failed > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("%d of %d connectors failed: see the messages above", failed, len(runs))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&only, "connector", "", "read only this connector instance (even if disabled)")
	cmd.Flags().BoolVar(&once, "once", false, "read once and stop (required: \"snodo run\" keeps reading)")
	cmd.Flags().BoolVar(&fromStart, "from-start", false, "reset the cursor and read the source again from its beginning")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runs as JSON")
	return cmd
}

// ingestTargets are the instances to read: the one named, or every
// enabled one.
func ingestTargets(cfg *config.Config, only string) ([]config.Connector, error) {
	if only != "" {
		k, ok := cfg.Connector(only)
		if !ok {
			names := make([]string, len(cfg.Connectors))
			for i, c := range cfg.Connectors {
				names[i] = c.Name
			}
			known := "none is configured"
			if len(names) > 0 {
				known = "configured: " + strings.Join(names, ", ")
			}
			return nil, usageError("--connector %q: no such connector in %s (%s)", only, cfg.File, known)
		}
		return []config.Connector{k}, nil
	}
	var out []config.Connector
	for _, k := range cfg.Connectors {
		if k.IsEnabled() {
			out = append(out, k)
		}
	}
	return out, nil
}

// ingestOne reads one connector once and records the run.
func ingestOne(ctx context.Context, h *pipelineHub, k config.Connector, fromStart bool) store.Run {
	run := store.Run{Connector: k.Name, StartedAt: time.Now()}
	log := h.log.With("connector", k.Name)
	before := h.p.Stats().Sources[k.Name]
	err := func() error {
		sc, err := h.supervisorConfig(k)
		if err != nil {
			return err
		}
		sup, err := supervisor.New(sc, h.st, h.p.Sink)
		if err != nil {
			return err
		}
		if fromStart {
			if err := h.st.Write(ctx, func(tx *store.Tx) error { return tx.SetCursor(ctx, k.Name, nil) }); err != nil {
				return err
			}
			log.Info("cursor reset: reading the source from its beginning")
		}
		log.Info("reading")
		stop := h.watch(k.Name, before, run.StartedAt, log)
		defer stop()
		return sup.ReadOnce(ctx)
	}()
	after := h.p.Stats().Sources[k.Name]
	run.FinishedAt = time.Now()
	run.Records = after.Records - before.Records
	run.Stored = after.Stored() - before.Stored()
	run.Unchanged = after.Unchanged - before.Unchanged
	run.Quarantined = after.Quarantined - before.Quarantined
	switch {
	case err == nil && after.Degraded != "":
		run.Outcome, run.Message = "degraded", after.Degraded
		log.Warn("read, but the connector is degraded", "reason", after.Degraded)
	case err == nil:
		run.Outcome = "ok"
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		run.Outcome, run.Message = "interrupted", "interrupted before the end of the read: the next ingest goes on from the last committed batch"
		log.Warn("interrupted")
	default:
		run.Outcome, run.Message = "failed", err.Error()
		log.Error("the read failed", "error", err)
	}
	// A connector's message is shown and stored as it came, but never
	// with anything shaped like an identifier.
	run.Message, _ = logging.Redact(run.Message)
	log.Info("read done", "outcome", run.Outcome, "records", run.Records, "stored", run.Stored,
		"unchanged", run.Unchanged, "quarantined", run.Quarantined, "seconds", run.FinishedAt.Sub(run.StartedAt).Seconds())
	// The run is recorded even when the hub is being interrupted.
	rctx := context.WithoutCancel(ctx)
	err = h.st.Write(rctx, func(tx *store.Tx) error {
		if err := tx.RecordRun(rctx, run); err != nil {
			return err
		}
		return tx.Audit(rctx, cliActor(), "connector.ingest", toRunJSON(run))
	})
	if err != nil {
		log.Error("record the run", "error", err)
	}
	return run
}

// watch shows the progress of a read until stop is called: a redrawn line
// on a terminal, a log line every 10 seconds otherwise.
func (h *pipelineHub) watch(name string, before pipeline.SourceStats, start time.Time, log *slog.Logger) (stop func()) {
	every := 10 * time.Second
	if h.out.tty {
		every = 200 * time.Millisecond
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			now := h.p.Stats().Sources[name]
			records := now.Records - before.Records
			quarantined := now.Quarantined - before.Quarantined
			rate := float64(records) / time.Since(start).Seconds()
			if h.out.tty {
				h.out.show(fmt.Sprintf("%s: %d records, %.0f/s, %d quarantined", name, records, rate, quarantined))
			} else {
				log.Info("reading", "records", records, "per_second", int(rate), "quarantined", quarantined)
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		h.out.show("")
	}
}

func printRuns(w io.Writer, runs []store.Run, asJSON bool) error {
	if asJSON {
		out := make([]runJSON, len(runs))
		for i, r := range runs {
			out[i] = toRunJSON(r)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"runs": out})
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTOR\tRECORDS\tSTORED\tUNCHANGED\tQUARANTINED\tTIME\t")
	quarantined := int64(0)
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1fs\t\n", r.Connector, r.Records, r.Stored, r.Unchanged, r.Quarantined,
			r.FinishedAt.Sub(r.StartedAt).Seconds())
		quarantined += r.Quarantined
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		switch r.Outcome {
		case "ok":
			fmt.Fprintf(w, "%s: ok\n", r.Connector)
		default:
			fmt.Fprintf(w, "%s: %s: %s\n", r.Connector, r.Outcome, r.Message)
		}
	}
	if quarantined > 0 {
		fmt.Fprintf(w, "%d records went to quarantine: see \"snodo quarantine list\"\n", quarantined)
	}
	return nil
}

// progress is stderr shared by log lines and, on a terminal, one progress
// line redrawn in place: a log line clears it and it is drawn again after.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	line string
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: logging.IsTerminal(w)}
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.line != "" {
		io.WriteString(p.w, "\r\033[K")
	}
	n, err := p.w.Write(b)
	if p.line != "" {
		io.WriteString(p.w, p.line)
	}
	return n, err
}

// show draws line in place of the last one ("" clears it). It does nothing
// unless stderr is a terminal.
func (p *progress) show(line string) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, "\r\033[K"+line)
	p.line = line
}
