package main

import (
	"net/http"

	"github.com/snodo-hub/snodo/hub/dashboard"
)

// regionMux serves a region's API (and its health check) and, on every
// other path, the comparison dashboard that reads that API. The dashboard
// holds no data: whoever opens it needs a viewer token for the API, unless
// the API is open (the demo on loopback).
func regionMux(api http.Handler, regionName string) (*http.ServeMux, error) {
	return dashboardMux(api, dashboard.Options{RegionName: regionName}, "/api/", "/healthz")
}

// hubMux serves a territory hub's API (with its probes and metrics) and,
// on every other path, the same dashboard over the territory's own view
// of what it has published (territoryView).
func hubMux(api http.Handler, territoryName string) (*http.ServeMux, error) {
	return dashboardMux(api, dashboard.Options{TerritoryName: territoryName}, "/api/", "/healthz", "/readyz", "/metrics")
}

func dashboardMux(api http.Handler, opts dashboard.Options, apiPaths ...string) (*http.ServeMux, error) {
	ui, err := dashboard.Handler(opts)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, p := range apiPaths {
		mux.Handle(p, api)
	}
	mux.Handle("/", ui)
	return mux, nil
}
