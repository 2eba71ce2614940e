// Command sim-comune runs the simulated municipal social-services case
// system (package examples/sources/comune) as an HTTP server.
//
//	go run ./examples/sources/comune/cmd/sim-comune --seed 42 --households 1000 --listen 127.0.0.1:8081
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/comune"
)

func main() {
	if err := run(); err != nil {
		slog.Error("sim-comune", "err", err)
		os.Exit(1)
	}
}

func run() error {
	seed := flag.Int64("seed", 42, "population seed")
	households := flag.Int("households", 1000, "households in the population")
	listen := flag.String("listen", "127.0.0.1:8081", "address to listen on")
	apiKey := flag.String("api-key", comune.DefaultAPIKey, "API key required in X-API-Key")
	faults := flag.Float64("fault-rate", 0.03, "share of API requests answered 429 or 503")
	flag.Parse()

	srv, err := comune.New(comune.Options{Seed: *seed, Households: *households, APIKey: *apiKey, FaultRate: *faults})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	hs := &http.Server{Handler: logRequests(srv), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	slog.Info("sim-comune listening", "addr", ln.Addr().String(), "seed", *seed, "households", *households, "fault_rate", *faults)
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	slog.Info("sim-comune shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// logRequests logs method, path (never the query or body: no identifier
// reaches the log) and status.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		slog.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.code)
	})
}
