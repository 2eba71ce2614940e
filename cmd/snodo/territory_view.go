package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/region"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// territoryView is a territory hub's own view of what it has published:
// the region's comparisons computed over a mirror of its signed
// envelopes, received exactly as the region receives them. It shows the
// noise-protected figures the region sees, never the hub's records, so a
// viewer token is enough to read it.
//
// The mirror is a store of its own in a temporary folder (its tables are
// the region's): the hub's store is never written to by the view. Each
// request first mirrors the releases made since the last one.
type territoryView struct {
	own     *store.Store
	mirror  *store.Store
	dir     string
	intake  *region.Intake
	handler http.Handler
	log     *slog.Logger
	t       config.Territory
	signing string // keys.signing: the current key; retired ones lie beside it

	mu       sync.Mutex
	last     int64           // the last release mirrored
	enrolled map[string]bool // key ids enrolled in the mirror
}

// openTerritoryView sets up the mirror of the territory's releases; the
// caller closes it.
func openTerritoryView(ctx context.Context, cfg *config.Config, own *store.Store, log *slog.Logger) (*territoryView, error) {
	key, err := keyring.LoadSigningKey(cfg.Path(cfg.Keys.Signing))
	if err != nil {
		return nil, fmt.Errorf("the territory's own view needs its signing key (keys.signing in %s): %w", cfg.File, err)
	}
	dir, err := os.MkdirTemp("", "snodo-view-")
	if err != nil {
		return nil, fmt.Errorf("the territory's own view: %w", err)
	}
	mirror, err := store.Open(ctx, filepath.Join(dir, "view.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the territory's own view: %w", err)
	}
	t := cfg.Territory
	v := &territoryView{own: own, mirror: mirror, dir: dir, intake: region.NewIntake(mirror, log), log: log,
		t: t, signing: cfg.Path(cfg.Keys.Signing), enrolled: map[string]bool{}}
	if err := v.enrol(ctx, key.Public().(ed25519.PublicKey)); err != nil {
		v.Close()
		return nil, fmt.Errorf("the territory's own view: %w", err)
	}
	file := &compare.TerritoriesFile{
		Region:      compare.Region{Code: t.Code, Name: t.Name},
		Sources:     []compare.Source{},
		Territories: []compare.Territory{{Code: t.Code, Name: t.Name, Population: t.Population, ForeignResidents: t.ForeignResidents, Comuni: t.Comuni}},
	}
	// Open: the API in front of it checks the viewer token.
	h, err := region.NewHandler(region.Config{Store: mirror, Log: log, Open: true, Territories: file, Scope: region.ScopeTerritory})
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("the territory's own view: %w", err)
	}
	// The releases are mirrored at the first request, not here: the hub's
	// start-up does not grow with its history.
	v.handler = h
	return v, nil
}

// enrol trusts pub in the mirror, once.
func (v *territoryView) enrol(ctx context.Context, pub ed25519.PublicKey) error {
	id := federation.KeyID(pub)
	if v.enrolled[id] {
		return nil
	}
	if _, err := region.EnrolKey(ctx, v.mirror, "snodo run", v.t.Code, v.t.Name, pub); err != nil {
		return err
	}
	v.enrolled[id] = true
	return nil
}

// enrolOwnKeys trusts in the mirror every signing key the hub has had:
// the current one, read again (it may have been rotated while the hub
// runs), and the retired ones "snodo signing-key rotate" kept beside it
// (their .pub files). Releases signed before a rotation stay in the view.
func (v *territoryView) enrolOwnKeys(ctx context.Context) error {
	key, err := keyring.LoadSigningKey(v.signing)
	if err != nil {
		return fmt.Errorf("the signing key: %w", err)
	}
	if err := v.enrol(ctx, key.Public().(ed25519.PublicKey)); err != nil {
		return err
	}
	retired, err := filepath.Glob(keyring.PublicKeyPath(v.signing + ".retired-*"))
	if err != nil {
		return err
	}
	for _, file := range retired {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("a retired signing key: %w", err)
		}
		pub, err := region.ParsePublicKey(data)
		if err != nil {
			return fmt.Errorf("the retired signing key %s: %w", file, err)
		}
		if err := v.enrol(ctx, pub); err != nil {
			return err
		}
	}
	return nil
}

// refresh mirrors the releases made since the last one. An envelope the
// mirror refuses (signed with a key no longer on disk) is logged and
// skipped.
func (v *territoryView) refresh(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	envs, err := v.own.ReleaseEnvelopes(ctx, v.last)
	if err != nil {
		return fmt.Errorf("the territory's own view: %w", err)
	}
	if len(envs) > 0 {
		// Only when there is something new: releases are rare, requests not.
		if err := v.enrolOwnKeys(ctx); err != nil {
			return fmt.Errorf("the territory's own view: %w", err)
		}
	}
	for _, e := range envs {
		if _, err := v.intake.Receive(ctx, e.Envelope); err != nil {
			var refused *region.RefusedError
			if !errors.As(err, &refused) {
				return fmt.Errorf("the territory's own view: mirror release %s revision %d: %w", e.Epoch, e.Revision, err)
			}
			v.log.Warn("the territory's own view leaves out a release its mirror refused",
				"epoch", e.Epoch, "revision", e.Revision, "error", err)
		}
		v.last = e.ID
	}
	return nil
}

// ServeHTTP answers the comparisons over the releases made so far.
func (v *territoryView) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := v.refresh(r.Context()); err != nil {
		v.log.Error("the territory's own view is out of date", "error", err)
	}
	v.handler.ServeHTTP(w, r)
}

// Mount is the view's place in the hub's API: the comparisons, for viewers.
func (v *territoryView) Mount() api.Mount {
	return api.Mount{Route: api.Route{Method: "GET", Path: "/api/v1/compare/", Role: tokens.Viewer}, Handler: v}
}

// Close closes the mirror and removes it.
func (v *territoryView) Close() {
	v.mirror.Close()
	os.RemoveAll(v.dir)
}
