package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/store"
)

// upstream is where a hub sends its envelopes: a territory's region
// (snodo.yaml federation:), or a region's level above (region.yaml
// upstream:).
type upstream struct {
	Code    string // who sends: the territory's (or region's) code
	URL     string // HTTP base URL
	NATSURL string // JetStream instead of HTTP
	CAFile  string // PEM bundle trusted for an https URL or TLS NATS; "" the system's
	Where   string // the configuration's path and section, for errors
	// NATSCredentials is the .creds file presented to NATSURL; "" none.
	NATSCredentials string
}

// openUplink makes the uplink of a territory whose snodo.yaml names a
// region (federation.region_url or nats_url), with its publisher's close;
// nil when none is configured: releases then wait in the outbox.
func openUplink(cfg *config.Config, st *store.Store, log *slog.Logger) (*federation.Uplink, func(), error) {
	up := upstream{Code: cfg.Territory.Code, URL: cfg.Federation.RegionURL, NATSURL: cfg.Federation.NATSURL, Where: cfg.File + ": federation"}
	if cfg.Federation.CAFile != "" {
		up.CAFile = cfg.Path(cfg.Federation.CAFile)
	}
	if cfg.Federation.NATSCredentials != "" {
		up.NATSCredentials = cfg.Path(cfg.Federation.NATSCredentials)
	}
	return openUplinkTo(up, st, log)
}

// openUplinkTo makes the uplink to u; nil when u names no receiver.
func openUplinkTo(u upstream, st *store.Store, log *slog.Logger) (*federation.Uplink, func(), error) {
	var pub message.Publisher
	switch {
	case u.NATSURL != "":
		p, err := federation.NewJetStreamPublisher(u.NATSURL, federation.NATSAccess{CredentialsFile: u.NATSCredentials, CAFile: u.CAFile})
		if err != nil {
			return nil, nil, fmt.Errorf("%s.nats_url: %w", u.Where, err)
		}
		pub = p
	case u.URL != "":
		client, err := httpClient(u)
		if err != nil {
			return nil, nil, err
		}
		p, err := federation.NewHTTPPublisher(u.URL, client)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", u.Where, err)
		}
		pub = p
	default:
		return nil, nil, nil
	}
	up, err := federation.NewUplink(st, federation.UplinkConfig{Territory: u.Code, Publisher: pub, Logger: log})
	if err != nil {
		_ = pub.Close()
		return nil, nil, err
	}
	return up, func() { _ = pub.Close() }, nil
}

// httpClient is the uplink's HTTP client: TLS 1.2 at least, and the CA
// file's authorities instead of the system's when one is configured.
func httpClient(u upstream) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if u.CAFile != "" {
		pem, err := os.ReadFile(u.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s.ca_file: %w", u.Where, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s.ca_file: %s holds no PEM certificate", u.Where, u.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	return &http.Client{Timeout: time.Minute, Transport: tr}, nil
}

// newFederatePushCmd sends the envelopes due now, once: what "snodo run"
// does every few seconds, for a territory whose hub is not running or an
// operator who does not want to wait.
func newFederatePushCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "push [--config FILE]",
		Short: "Send the envelopes waiting in the outbox to the region now",
		Long: `Push makes one pass over the outbox: every envelope due is sent to the region
named in snodo.yaml (federation.region_url, or NATS JetStream with
federation.nats_url). The region keeps each envelope once, so pushing again is
harmless. "snodo run" does the same every few seconds; see "snodo federate
status" for what is left and why.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := openPipelineHub(ctx, configPath, cmd.ErrOrStderr(), false)
			if err != nil {
				return err
			}
			defer h.close()
			st := h.st
			up, closePub, err := openUplink(h.cfg, st, h.log.With("component", "uplink"))
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if up == nil {
				return usageError("%s names no region: set federation.region_url (or nats_url) and run again", h.cfg.File)
			}
			defer closePub()
			n, err := up.DeliverDue(ctx)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			envs, err := federation.Outbox(ctx, st)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			waiting := 0
			for _, e := range envs {
				if e.State != "delivered" {
					waiting++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d envelope(s) delivered now, %d still waiting (snodo federate status says why)\n", n, waiting)
			if waiting > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	return cmd
}

// startUplink runs the uplink beside the hub until ctx ends.
func startUplink(ctx context.Context, h *pipelineHub, start func(func())) (stop func(), err error) {
	up, closePub, err := openUplink(h.cfg, h.st, h.log.With("component", "uplink"))
	if err != nil || up == nil {
		return func() {}, err
	}
	start(func() { _ = up.Run(ctx) })
	return closePub, nil
}
