// Command sim-cpi serves the simulated employment-centre system of
// package cpi over HTTP.
//
//	sim-cpi --seed 42 --households 1000 --listen 127.0.0.1:8083 --api-key demo
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/cpi"
)

func main() {
	seed := flag.Int64("seed", 42, "population seed")
	households := flag.Int("households", 1000, "number of households")
	listen := flag.String("listen", "127.0.0.1:8083", "address to listen on")
	apiKey := flag.String("api-key", "", "API key required in X-Api-Key (empty: no authentication)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *households < 1 {
		log.Error("--households must be positive")
		os.Exit(2)
	}
	srv := cpi.New(cpi.Options{Seed: *seed, Households: *households, APIKey: *apiKey})
	hs := &http.Server{Addr: *listen, Handler: logRequests(log, srv), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shut); err != nil {
			log.Error("shutdown", "err", err)
		}
	}()
	log.Info("sim-cpi listening", "addr", *listen, "seed", *seed, "households", *households,
		"feed_entries", srv.LastSequence(), "auth", *apiKey != "")
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
	log.Info("sim-cpi stopped")
}

// logRequests logs method, path and status; never query values or
// bodies, which may hold identifiers.
func logRequests(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
