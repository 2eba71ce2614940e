package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
)

// defaultShutdownTimeout bounds a graceful shutdown: stopping the reads,
// storing the batches in flight, answering the requests in flight.
const defaultShutdownTimeout = 30 * time.Second

func newRunCmd() *cobra.Command {
	var configPath, listen string
	var shutdownTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "run [--config FILE] [--listen ADDR]",
		Short: "Run the hub: its connectors, the pipeline and the HTTP API, until stopped",
		Long: `Run is the hub at work. It opens the store, starts every enabled connector
instance of snodo.yaml under a supervisor, and serves the HTTP API (/api/v1/…,
/healthz, /readyz, /metrics) on the configured address (listen, or --listen).
At / it serves the dashboard of what the territory has published: its
released, noise-protected indicators as the region receives them, over
/api/v1/compare/… (a viewer token).

Each instance reads on its own schedule: every read_interval, or continuously
when read_interval is 0s or not set (again at once while there are records, after
a second's pause when there are none). A connector that crashes or hangs is
restarted with a growing pause (1 s up to 10 min); one that fails for a
reason a restart cannot fix (a binary that does not match its pin, settings it
rejects) is stopped and says why in the log, /api/v1/connectors and
"snodo status"; the others go on.

SIGINT or SIGTERM shut the hub down gracefully: reading stops, the batches in
flight are stored and committed, requests in flight are answered, every
connector process is stopped, and each connector's run is recorded. If that
takes longer than --shutdown-timeout the hub exits anyway: nothing committed is
lost, and whatever was not committed is read again at the next start. A second
signal exits at once.

Changes to snodo.yaml take effect at the next start.

Exit status: 0 after a graceful shutdown, 1 when the shutdown timed out, 2
usage or start-up errors (configuration, keys, store, address in use).`,
		Example: `  snodo run --config /srv/snodo/snodo.yaml
  snodo run --listen 0.0.0.0:8181`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if shutdownTimeout <= 0 {
				return usageError("--shutdown-timeout %s: give a positive duration, e.g. 30s", shutdownTimeout)
			}
			return runHub(cmd.Context(), cmd, configPath, listen, shutdownTimeout)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&listen, "listen", "", "the HTTP API's address, host:port (default: listen in snodo.yaml, else "+config.DefaultListen+")")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a graceful shutdown may take before the hub exits anyway")
	return cmd
}

// runningInstance is one connector instance under supervision in a running hub.
type runningInstance struct {
	name    string
	sup     *supervisor.Supervisor
	started time.Time
	err     error // why Run returned early; nil after a graceful stop
}

// runHub runs the hub until ctx ends (a signal), then shuts it down.
func runHub(ctx context.Context, cmd *cobra.Command, configPath, listen string, shutdownTimeout time.Duration) error {
	// The hub's parts live on their own context, so that they can be
	// stopped in order after the signal.
	h, err := openPipelineHub(context.WithoutCancel(ctx), configPath, cmd.ErrOrStderr(), true)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			h.close()
		}
	}()
	if listen == "" {
		listen = h.cfg.Listen
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return usageError("--listen %q: give host:port, e.g. 127.0.0.1:8181 (%v)", listen, err)
	}

	// Every instance is prepared before anything starts: a configuration
	// mistake stops the start-up with the instance's name.
	var instances []*runningInstance
	for _, k := range h.cfg.Connectors {
		if !k.IsEnabled() {
			h.log.Info("connector disabled in the configuration: not started", "connector", k.Name)
			continue
		}
		sc, err := h.supervisorConfig(k)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		log := h.log.With("connector", k.Name)
		sc.OnChange = func(st supervisor.Status) { logState(log, st) }
		sup, err := supervisor.New(sc, h.st, h.p.Sink)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		instances = append(instances, &runningInstance{name: k.Name, sup: sup})
	}

	// The territory's own view of what it has published; without it (no
	// signing key yet) the hub runs all the same.
	var mounts []api.Mount
	if view, err := openTerritoryView(ctx, h.cfg, h.st, h.log.With("component", "view")); err != nil {
		h.log.Warn("the dashboard's own view is off", "error", err)
	} else {
		defer view.Close()
		mounts = append(mounts, view.Mount())
	}
	srv, err := api.New(api.Config{
		Mounts:    mounts,
		Store:     h.st,
		Pipeline:  h.p,
		Referrals: h.ref,
		Logger:    h.log.With("component", "api"),
		Connectors: api.ConnectorsFunc(func() []supervisor.Status {
			out := make([]supervisor.Status, len(instances))
			for i, in := range instances {
				out[i] = in.sup.Status()
			}
			return out
		}),
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	ln, scheme, err := listenAPI(listen, h.cfg.TLS, h.cfg.Path)
	if err != nil {
		return usageError("the HTTP API: %v (set listen or tls in %s, or pass --listen)", err, h.cfg.File)
	}
	mux, err := hubMux(srv, h.cfg.Territory.Name)
	if err != nil {
		_ = ln.Close()
		return &exitError{code: exitUsage, err: err}
	}
	httpServer := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(h.log.With("component", "http").Handler(), slog.LevelWarn),
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpServer.Serve(ln) }()

	if err := h.st.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(ctx, cliActor(), "hub.start", map[string]any{"connectors": len(instances), "listen": ln.Addr().String()})
	}); err != nil {
		_ = httpServer.Close()
		return &exitError{code: exitUsage, err: err}
	}

	readCtx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReading()
	var readers sync.WaitGroup
	for _, in := range instances {
		in.started = time.Now()
		readers.Go(func() {
			in.err = in.sup.Run(readCtx)
			if in.err != nil && readCtx.Err() == nil {
				h.log.Error("connector stopped: it needs the admin's attention (the others go on)",
					"connector", in.name, "error", in.err)
				recordSession(h, in, time.Now())
			}
		})
	}
	// Referrals go out through the connectors that serve their receivers.
	writers := supervisorWriters{}
	for _, in := range instances {
		writers[in.name] = in.sup
	}
	_, deliveryInterval, _ := h.cfg.Referrals.Durations()
	readers.Go(func() { _ = h.ref.Run(readCtx, h.st, writers, deliveryInterval) })
	// Records older than their schema's retention go, at start and daily.
	readers.Go(func() { retentionLoop(readCtx, h, retentionInterval) })
	// Released envelopes go up to the region, when one is configured.
	stopUplink, err := startUplink(readCtx, h, readers.Go)
	if err != nil {
		stopReading()
		readers.Wait()
		_ = httpServer.Close()
		return &exitError{code: exitUsage, err: err}
	}
	defer stopUplink()
	h.log.Info("hub running", "territory", h.cfg.Territory.Code, "connectors", len(instances),
		"api", scheme+"://"+ln.Addr().String(), "config", h.cfg.File)

	// Run until a signal, or until the HTTP server fails.
	select {
	case <-ctx.Done():
		h.log.Info("shutting down: reading stops, batches in flight are stored", "timeout", shutdownTimeout.String())
	case err := <-httpDone:
		h.log.Error("the HTTP API stopped: shutting down", "error", err)
		httpDone <- err
	}
	forced := make(chan os.Signal, 1)
	signal.Notify(forced, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(forced)
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()

	stopReading()
	readersDone := make(chan struct{})
	go func() { readers.Wait(); close(readersDone) }()
	httpStopped := make(chan error, 1)
	go func() { httpStopped <- httpServer.Shutdown(deadline) }()

	select {
	case <-readersDone:
	case <-deadline.Done():
		closed = true // closing would wait for the batch that is stuck
		return shutdownTimedOut(h, shutdownTimeout, "the connectors did not stop")
	case <-forced:
		closed = true
		return shutdownForced(h)
	}
	now := time.Now()
	for _, in := range instances {
		if in.err == nil {
			recordSession(h, in, now)
		}
	}
	select {
	case err := <-httpStopped:
		if err != nil {
			h.log.Warn("the HTTP API did not finish its requests in time", "error", err)
		}
	case <-forced:
		closed = true
		return shutdownForced(h)
	}
	closed = true
	h.close()
	h.log.Info("hub stopped", "seconds", time.Since(now).Seconds())
	return nil
}

// supervisorWriters delivers through the running connector instances, by
// name.
type supervisorWriters map[string]*supervisor.Supervisor

func (w supervisorWriters) Write(ctx context.Context, connector, schemaID, recordID string, record []byte) (string, error) {
	sup, ok := w[connector]
	if !ok {
		return "", fmt.Errorf("connector %q is not configured or is disabled in this hub: %w", connector, supervisor.ErrNotRunning)
	}
	return sup.Write(ctx, schemaID, recordID, record)
}

// logState writes a connector's change of state to the log, at the level
// its new state deserves.
func logState(log *slog.Logger, st supervisor.Status) {
	level := slog.LevelInfo
	switch {
	case st.State == supervisor.Degraded, st.State == supervisor.Recovering:
		level = slog.LevelWarn
	case st.State == supervisor.Starting && st.Restarts == 0:
		level = slog.LevelDebug
	}
	attrs := []any{"state", st.State.String(), "reason", st.Reason}
	if st.Wait > 0 {
		attrs = append(attrs, "retry_in", st.Wait.String())
	}
	if st.Pid != 0 {
		attrs = append(attrs, "pid", st.Pid)
	}
	log.Log(context.Background(), level, "connector state", attrs...)
}

// recordSession records an instance's time under "snodo run" as one run:
// ok after a graceful stop, failed when it stopped for a reason a restart
// cannot fix.
func recordSession(h *pipelineHub, in *runningInstance, finished time.Time) {
	st := in.sup.Status()
	src := h.p.Stats().Sources[in.name]
	run := store.Run{
		Connector: in.name, StartedAt: in.started, FinishedAt: finished, Outcome: "ok",
		Records: src.Records, Stored: src.Stored(), Unchanged: src.Unchanged, Quarantined: src.Quarantined,
	}
	switch {
	case in.err != nil:
		run.Outcome, run.Message = "failed", st.Reason
	case src.Degraded != "":
		run.Outcome, run.Message = "degraded", src.Degraded
	}
	// A connector's message is stored as it came, but never with anything
	// shaped like an identifier.
	run.Message, _ = logging.Redact(run.Message)
	ctx := context.Background()
	err := h.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RecordRun(ctx, run); err != nil {
			return err
		}
		return tx.Audit(ctx, cliActor(), "connector.run", toRunJSON(run))
	})
	if err != nil {
		h.log.Error("record the connector's run", "connector", in.name, "error", err)
	}
}

func shutdownTimedOut(h *pipelineHub, after time.Duration, what string) error {
	h.log.Error("shutdown timed out: exiting anyway; what was not committed is read again at the next start",
		"after", after.String(), "cause", what)
	return &exitError{code: exitFindings, err: fmt.Errorf("the hub did not stop within %s (%s): it exited anyway; nothing committed is lost", after, what)}
}

func shutdownForced(h *pipelineHub) error {
	h.log.Warn("second signal: exiting at once; what was not committed is read again at the next start")
	return &exitError{code: exitFindings, err: errors.New("stopped by a second signal before the shutdown finished: nothing committed is lost")}
}

// listenAPI listens on addr, with TLS (1.2 or later) when t is enabled: the
// key pair is read first, so that a wrong file stops the start-up. path
// resolves t's files against the configuration's folder. It returns the
// scheme clients use, for the log line.
func listenAPI(addr string, t config.TLS, path func(string) string) (net.Listener, string, error) {
	var tlsConfig *tls.Config
	if t.Enabled() {
		pair, err := keyring.LoadTLSKeyPair(path(t.CertFile), path(t.KeyFile))
		if err != nil {
			return nil, "", fmt.Errorf("tls: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("cannot listen on %s (is another hub running?): %w", addr, err)
	}
	if tlsConfig == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, tlsConfig), "https", nil
}
