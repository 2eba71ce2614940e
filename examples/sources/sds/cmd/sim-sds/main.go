// Command sim-sds runs the simulated health-society system of package sds
// over a folder: it writes the first nightly export at start, then a night
// and an inbox pass every --night-every (0: only when asked), and offers
// the test controls over HTTP on --listen.
//
//	sim-sds --seed 42 --households 1000 --dir /tmp/sds --listen 127.0.0.1:8082
//
// Controls (POST, no body): /_sim/notte (write the next night),
// /_sim/inbox (process the inbox), /_sim/guasto?attivo=true|false,
// /_sim/avanza (every open received referral a step),
// /_sim/segnalazioni/{id}/{accetta|avvia|concludi|respingi|annulla}?motivo=...
// With --api-key they need the header X-Api-Key.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/sds"
)

func main() {
	seed := flag.Int64("seed", 42, "population seed")
	households := flag.Int("households", 1000, "number of households")
	dir := flag.String("dir", "sds-data", "the system's folder (export/ and inbox/ are created in it)")
	listen := flag.String("listen", "127.0.0.1:8082", "address of the test controls (empty: none)")
	apiKey := flag.String("api-key", "", "key required in X-Api-Key for the controls (empty: none)")
	every := flag.Duration("night-every", 0, "write a night and process the inbox this often (0: only on request)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *households < 1 {
		log.Error("--households must be positive")
		os.Exit(2)
	}
	sys, err := sds.New(sds.Options{Seed: *seed, Households: *households, Dir: *dir})
	if err != nil {
		log.Error("start", "err", err)
		os.Exit(1)
	}
	night, err := sys.WriteNight()
	if err != nil {
		log.Error("first night", "err", err)
		os.Exit(1)
	}
	log.Info("sim-sds ready", "dir", *dir, "seed", *seed, "households", *households, "first_night", night.Format(time.DateOnly))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *every > 0 {
		go func() {
			t := time.NewTicker(*every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					taken, refused, err := sys.ProcessInbox()
					if err != nil {
						log.Warn("inbox", "err", err)
						continue
					}
					n, err := sys.WriteNight()
					if err != nil {
						log.Warn("night", "err", err)
						continue
					}
					log.Info("night written", "date", n.Format(time.DateOnly), "inbox_taken", taken, "inbox_refused", refused)
				}
			}
		}()
	}
	if *listen == "" {
		<-ctx.Done()
		log.Info("sim-sds stopped")
		return
	}
	hs := &http.Server{Addr: *listen, Handler: controls(log, sys, *apiKey), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(shut); err != nil {
			log.Error("shutdown", "err", err)
		}
	}()
	if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
	log.Info("sim-sds stopped")
}

// controls serves the test controls. Logs carry method, path and status,
// never query values.
func controls(log *slog.Logger, sys *sds.System, key string) http.Handler {
	m := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any, err error) {
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]string{"errore": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(v)
	}
	m.HandleFunc("POST /_sim/notte", func(w http.ResponseWriter, r *http.Request) {
		n, err := sys.WriteNight()
		reply(w, map[string]string{"notte": n.Format(time.DateOnly)}, err)
	})
	m.HandleFunc("POST /_sim/inbox", func(w http.ResponseWriter, r *http.Request) {
		taken, refused, err := sys.ProcessInbox()
		reply(w, map[string]int{"elaborati": taken, "scartati": refused}, err)
	})
	m.HandleFunc("POST /_sim/guasto", func(w http.ResponseWriter, r *http.Request) {
		down := r.URL.Query().Get("attivo") == "true"
		reply(w, map[string]bool{"guasto": down}, sys.SetOutage(down))
	})
	m.HandleFunc("POST /_sim/avanza", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]int{"avanzate": sys.Advance()}, nil)
	})
	m.HandleFunc("POST /_sim/segnalazioni/{id}/{azione}", func(w http.ResponseWriter, r *http.Request) {
		id, motivo := r.PathValue("id"), r.URL.Query().Get("motivo")
		var err error
		switch r.PathValue("azione") {
		case "accetta":
			err = sys.Accept(id)
		case "avvia":
			err = sys.Start(id)
		case "concludi":
			err = sys.Complete(id)
		case "respingi":
			err = sys.Reject(id, motivo)
		case "annulla":
			err = sys.Cancel(id, motivo)
		default:
			http.NotFound(w, r)
			return
		}
		seg, _ := sys.Referral(id)
		reply(w, map[string]string{"id": id, "stato": seg.Stato}, err)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		if key != "" && r.Header.Get("X-Api-Key") != key {
			status = http.StatusUnauthorized
			http.Error(w, `{"errore":"chiave mancante o errata"}`, status)
		} else {
			m.ServeHTTP(w, r)
		}
		log.Info("request", "method", r.Method, "path", r.URL.Path, "auth_ok", status == http.StatusOK)
	})
}
