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
	ui, err := dashboard.Handler(dashboard.Options{RegionName: regionName})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/healthz", api)
	mux.Handle("/", ui)
	return mux, nil
}
