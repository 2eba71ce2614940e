package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/federation"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/logging"
	"github.com/snodo-hub/snodo/hub/region"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/territory"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// regionConfigName is the region hub's configuration file in its directory.
const regionConfigName = "region.yaml"

// defaultRegionListen is the region's HTTP address unless configured.
const defaultRegionListen = "127.0.0.1:8282"

// regionConfig is region.yaml: the region hub's own small configuration.
type regionConfig struct {
	Name string `yaml:"name"`
	// Code names the region to the level above (its "territory" code
	// there); needed only to send sums further up.
	Code  string `yaml:"code"`
	Store struct {
		Path string `yaml:"path"`
	} `yaml:"store"`
	Listen string `yaml:"listen"`
	// TerritoriesFile is the region's public territories file (codes,
	// names, populations, comuni: compare.LoadTerritoriesFile), relative
	// to region.yaml. The comparisons (/api/v1/compare/*) need it.
	TerritoriesFile string `yaml:"territories_file"`
	// NATS, when its URL is set, also receives envelopes from the
	// JetStream stream SNODO_ENVELOPES.
	// Credentials and CA file, relative to region.yaml, are the NATS
	// credentials file (.creds) the intake presents and the authorities it
	// trusts for a TLS server, as a territory's federation.nats_credentials
	// and ca_file.
	NATS struct {
		URL         string `yaml:"url"`
		Credentials string `yaml:"credentials"`
		CAFile      string `yaml:"ca_file"`
	} `yaml:"nats"`
	Log struct {
		Level  string `yaml:"level"`
		Format string `yaml:"format"`
	} `yaml:"log"`
	// Keys.Signing signs the envelopes the region sends further up.
	Keys struct {
		Signing string `yaml:"signing"`
	} `yaml:"keys"`
	// Upstream is the level above, when the region sends its sums there:
	// the same settings as a territory's federation: section.
	Upstream struct {
		URL             string `yaml:"url"`
		NATSURL         string `yaml:"nats_url"`
		CAFile          string `yaml:"ca_file"`
		NATSCredentials string `yaml:"nats_credentials"`
	} `yaml:"upstream"`
	// TLS, when both files are set, makes "snodo region serve" answer
	// HTTPS only: territories' uplinks then trust the region's CA with
	// federation.ca_file.
	TLS config.TLS `yaml:"tls"`

	file string // where it was read from
}

// path resolves p against the configuration's directory.
func (c *regionConfig) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.file), p)
}

func loadRegionConfig(path string) (*regionConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usageError("no region configuration at %s: run \"snodo region init DIR --name NAME\" first, or pass --config DIR/%s", path, regionConfigName)
	}
	if err != nil {
		return nil, usageError("read %s: %v", path, err)
	}
	var c regionConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, usageError("%s: %v", path, err)
	}
	if c.Name == "" {
		return nil, usageError("%s: name is required", path)
	}
	if c.Store.Path == "" {
		c.Store.Path = "region.db"
	}
	if c.Listen == "" {
		c.Listen = defaultRegionListen
	}
	if c.Keys.Signing == "" {
		c.Keys.Signing = "keys/signing.key"
	}
	if c.Code != "" {
		if err := region.CheckTerritory(c.Code); err != nil {
			return nil, usageError("%s: code: %v", path, err)
		}
	}
	if !c.TLS.Enabled() && (c.TLS.CertFile != "" || c.TLS.KeyFile != "") {
		return nil, usageError("%s: tls needs both cert_file and key_file (PEM): \"snodo region init --tls\" makes a self-signed pair", path)
	}
	if (c.Upstream.URL != "" || c.Upstream.NATSURL != "") && c.Code == "" {
		return nil, usageError("%s: upstream is set but code is not: the level above knows the region by its code", path)
	}
	if c.file, err = filepath.Abs(path); err != nil {
		return nil, usageError("%s: %v", path, err)
	}
	return &c, nil
}

// upstream is the level above, as the uplink takes it.
func (c *regionConfig) upstream() upstream {
	u := upstream{Code: c.Code, URL: c.Upstream.URL, NATSURL: c.Upstream.NATSURL, Where: c.file + ": upstream"}
	if c.Upstream.CAFile != "" {
		u.CAFile = c.path(c.Upstream.CAFile)
	}
	if c.Upstream.NATSCredentials != "" {
		u.NATSCredentials = c.path(c.Upstream.NATSCredentials)
	}
	return u
}

// natsAccess is the intake's NATS credentials and trusted authorities.
func (c *regionConfig) natsAccess() federation.NATSAccess {
	var a federation.NATSAccess
	if c.NATS.Credentials != "" {
		a.CredentialsFile = c.path(c.NATS.Credentials)
	}
	if c.NATS.CAFile != "" {
		a.CAFile = c.path(c.NATS.CAFile)
	}
	return a
}

// territories loads territories_file, nil when it is not set. Its errors
// name the file and the place in it (a JSON pointer).
func (c *regionConfig) territories() (*compare.TerritoriesFile, error) {
	if c.TerritoriesFile == "" {
		return nil, nil
	}
	path := c.path(c.TerritoriesFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("%s: territories_file: %v", c.file, err)
	}
	defer f.Close()
	tf, err := compare.LoadTerritoriesFile(f)
	if err != nil {
		return nil, usageError("%s: territories_file %s: %v", c.file, path, err)
	}
	return tf, nil
}

func openRegionStore(ctx context.Context, configPath string) (*regionConfig, *store.Store, error) {
	cfg, err := loadRegionConfig(configPath)
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(ctx, cfg.path(cfg.Store.Path))
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: err}
	}
	return cfg, s, nil
}

func newRegionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "region",
		Short: "Run a regional hub: enrol territories, receive their signed statistics, aggregate them",
		Long: `Region mode is the same binary run by a regional body. Territories enrol
their Ed25519 public keys (or receive a one-time enrolment token); their
hubs then send signed envelopes of published statistics to
POST /api/v1/intake. Each envelope is verified (signature, schema, content),
stored once per territory, catalogue version, epoch and revision, and every
attempt is written to a hash-chained intake log. Aggregates are sums of the
published values with their coverage ("27 of 30 territories"): what a
territory did not publish is never imputed.

The region keeps its own configuration, DIR/region.yaml (name, store path,
listen address, log, and for sending sums further up its code, signing key
and upstream), made by "snodo region init".`,
	}
	cmd.AddCommand(newRegionInitCmd(), newRegionEnrolCmd(), newRegionTerritoriesCmd(), newRegionServeCmd(),
		newRegionTokensCmd(), newRegionLogCmd(), newRegionReleaseCmd(), newRegionKeysCmd())
	return cmd
}

// regionUpstreamTemplate documents, in a new region.yaml, how to send sums
// further up.
const regionUpstreamTemplate = `#
# The comparisons of the territories (/api/v1/compare/*) need the region's
# public territories file (codes, names, populations, comuni):
# territories_file: territories.json
#
# To send this region's sums to a level above (snodo region release), give
# the region a code there and enrol keys/signing.key.pub with it:
# code: REG-LOMBARDIA
# upstream:
#   url: https://national.example.org   # or nats_url: nats://…:4222
#   ca_file: keys/upstream-ca.pem       # only for a CA the system does not trust
#   nats_credentials: keys/upstream.creds  # the NATS server's credentials file, if it asks
#
# To receive territories' envelopes from NATS JetStream as well as HTTP:
# nats:
#   url: tls://nats.example.org:4222
#   credentials: keys/intake.creds      # NATS credentials file (.creds), mode 0600
#   ca_file: keys/nats-ca.pem           # only for a CA the system does not trust
`

func newRegionInitCmd() *cobra.Command {
	var name, listen, code string
	var withTLS bool
	cmd := &cobra.Command{
		Use:   "init DIR --name NAME [--tls]",
		Short: "Create a region hub's directory: region.yaml and its store",
		Long: `Init creates DIR (if needed), writes DIR/region.yaml and creates the region's
SQLite store. It refuses to overwrite an existing region.yaml.

With --tls it also writes a self-signed certificate (ECDSA P-256, for
127.0.0.1, ::1, localhost and this host's name) and its key (mode 0600) in
DIR/keys/, and sets tls: in region.yaml, so that the region answers HTTPS
only; territories trust it with federation.ca_file: DIR/keys/tls.crt
(copied to them). Replace the pair with one from the region's CA when it
has one.`,
		Example: `  snodo region init /srv/snodo-region --name "Regione Lombardia"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(name) == "" {
				return usageError("--name is required: the region's name")
			}
			dir := args[0]
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return usageError("create %s: %v", dir, err)
			}
			file := filepath.Join(dir, regionConfigName)
			if _, err := os.Stat(file); err == nil {
				return usageError("%s exists already: a region is set up there", file)
			}
			if listen == "" {
				listen = defaultRegionListen
			}
			if code != "" {
				if err := region.CheckTerritory(code); err != nil {
					return usageError("--code: %v", err)
				}
			}
			doc := map[string]any{
				"name":   name,
				"store":  map[string]string{"path": "region.db"},
				"listen": listen,
				"keys":   map[string]string{"signing": "keys/signing.key"},
				"log":    map[string]string{"level": "info", "format": "auto"},
			}
			if code != "" {
				doc["code"] = code
			}
			if withTLS {
				if _, _, err := territory.WriteSelfSignedTLS(filepath.Join(dir, territory.TLSCertFile), filepath.Join(dir, territory.TLSKeyFile)); err != nil {
					return usageError("--tls: %v", err)
				}
				doc["tls"] = map[string]string{"cert_file": territory.TLSCertFile, "key_file": territory.TLSKeyFile}
			}
			body, err := yaml.Marshal(doc)
			if err != nil {
				return err
			}
			content := "# Snodo region hub (snodo region serve). Paths are relative to this file.\n" + string(body) + regionUpstreamTemplate
			f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
			if err != nil {
				return usageError("write %s: %v", file, err)
			}
			if _, err := f.WriteString(content); err != nil {
				f.Close()
				return usageError("write %s: %v", file, err)
			}
			if err := f.Close(); err != nil {
				return usageError("write %s: %v", file, err)
			}
			cfg, s, err := openRegionStore(cmd.Context(), file)
			if err != nil {
				return err
			}
			defer s.Close()
			keyPath := cfg.path(cfg.Keys.Signing)
			if _, err := keyring.CreateSigningKey(keyPath); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("the region's signing key: %w", err)}
			}
			if err := s.Audit(cmd.Context(), cliActor(), "region.init", map[string]any{"name": name}); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "region %q set up in %s\n", name, dir)
			fmt.Fprintf(out, "  configuration  %s\n", file)
			fmt.Fprintf(out, "  store          %s\n", cfg.path(cfg.Store.Path))
			fmt.Fprintf(out, "  listen         %s\n", cfg.Listen)
			fmt.Fprintf(out, "  signing key    %s (public: %s, for the level above)\n", keyPath, keyring.PublicKeyPath(keyPath))
			if withTLS {
				fmt.Fprintf(out, "  TLS            %s (give it to the territories: federation.ca_file)\n", filepath.Join(dir, territory.TLSCertFile))
			}
			fmt.Fprintf(out, "next: snodo region enrol --territory CODE --key PUBKEY --config %s\n", file)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the region's name")
	cmd.Flags().StringVar(&listen, "listen", "", "the HTTP address to write in region.yaml (default "+defaultRegionListen+")")
	cmd.Flags().StringVar(&code, "code", "", "the region's code for the level above, if it sends its sums further up")
	cmd.Flags().BoolVar(&withTLS, "tls", false, "write a self-signed certificate and serve HTTPS only")
	return cmd
}

func newRegionEnrolCmd() *cobra.Command {
	var configPath, territory, key, name string
	var token bool
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "enrol --territory CODE (--key PUBKEY-FILE-or-BASE64 | --token) [--name NAME] [--config FILE]",
		Short: "Enrol a territory's public key, or make a one-time enrolment token for it",
		Long: `With --key, enrol the territory's Ed25519 public key: the file "snodo init" wrote
(keys/signing.key.pub, PEM) or the base64 of its 32 bytes. Envelopes signed
with it, for that territory only, are accepted from then on.

With --token, print a one-time enrolment token (valid for --ttl) to give to
the territory's admin, who sends it with the key to POST /api/v1/enrol
{"territory": CODE, "token": TOKEN, "public_key": BASE64-or-PEM}. Only the
token's SHA-256 is kept; it is shown once.`,
		Example: `  snodo region enrol --territory ATS-01 --key ats01.pub --name "Ambito 1" --config /srv/snodo-region/region.yaml
  snodo region enrol --territory ATS-02 --token --config /srv/snodo-region/region.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := region.CheckTerritory(territory); err != nil {
				return usageError("--territory: %v", err)
			}
			if (key == "") == !token {
				return usageError("give --key PUBKEY or --token, one of them")
			}
			ctx := cmd.Context()
			var pub []byte
			if key != "" {
				data, err := os.ReadFile(key)
				if err != nil {
					if !errors.Is(err, os.ErrNotExist) {
						return usageError("--key: %v", err)
					}
					data = []byte(key) // not a file: the key itself
				}
				k, err := region.ParsePublicKey(data)
				if err != nil {
					return usageError("--key: %v", err)
				}
				pub = k
			}
			_, s, err := openRegionStore(ctx, configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			out := cmd.OutOrStdout()
			if token {
				tok, expires, err := region.NewEnrolmentToken(ctx, s, cliActor(), territory, name, ttl)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				fmt.Fprintln(out, tok)
				fmt.Fprintf(cmd.ErrOrStderr(), "one-time enrolment token for %s, valid until %s: it is not shown again\n", territory, expires.Format(time.RFC3339))
				return nil
			}
			id, err := region.EnrolKey(ctx, s, cliActor(), territory, name, pub)
			if errors.Is(err, store.ErrRegionKeyExists) {
				return &exitError{code: exitFindings, err: err}
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(out, "enrolled %s: key %s\n", territory, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.Flags().StringVar(&territory, "territory", "", "the territory's code, as in its snodo.yaml")
	cmd.Flags().StringVar(&key, "key", "", "the territory's public key: a file (PEM) or base64")
	cmd.Flags().BoolVar(&token, "token", false, "print a one-time enrolment token instead")
	cmd.Flags().StringVar(&name, "name", "", "the territory's name")
	cmd.Flags().DurationVar(&ttl, "ttl", region.DefaultTokenTTL, "how long an enrolment token is valid")
	return cmd
}

func newRegionTerritoriesCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:     "territories [--config FILE]",
		Short:   "List the enrolled territories, their keys and what they last sent",
		Example: `  snodo region territories --config /srv/snodo-region/region.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, s, err := openRegionStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			ts, err := region.Territories(cmd.Context(), s)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TERRITORY\tNAME\tKEYS\tENVELOPES\tLAST EPOCH")
			for _, t := range ts {
				active := 0
				for _, k := range t.Keys {
					if k.RevokedAt == nil {
						active++
					}
				}
				last := t.LastEpoch
				if last == "" {
					last = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\n", t.Code, t.Name, active, t.Envelopes, last)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	return cmd
}

func newRegionTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create bearer tokens for the region's queries (/api/v1/region/*)",
	}
	var configPath, name, role string
	create := &cobra.Command{
		Use:   "create --name NAME [--role viewer] [--config FILE]",
		Short: "Create a token for the region's queries and print it, once",
		Long: `The region's queries (territories, coverage, aggregates, the intake log) need
a bearer token with at least the viewer role. The intake and the enrolment
need none: the signature, or the one-time token, authenticates them.`,
		Example: `  snodo region tokens create --name dashboard --config /srv/snodo-region/region.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := tokens.ParseRole(role)
			if err != nil {
				return usageError("--role: %v", err)
			}
			if err := tokens.CheckName(name); err != nil {
				return usageError("--name: %v", err)
			}
			_, s, err := openRegionStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			tok, err := tokens.Create(cmd.Context(), s, cliActor(), name, r)
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "token %q (%s): it is not shown again\n", name, r)
			return nil
		},
	}
	create.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	create.Flags().StringVar(&name, "name", "", "who or what uses the token")
	create.Flags().StringVar(&role, "role", "viewer", "viewer, operator or admin")
	cmd.AddCommand(create)
	return cmd
}

func newRegionLogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Check the region's hash-chained intake log",
	}
	var configPath string
	verify := &cobra.Command{
		Use:   "verify [--config FILE]",
		Short: "Walk the intake log's hash chain: ok with the number of entries, or the first broken entry",
		Long: `Every intake attempt (accepted, duplicate, conflict, refused) is a line of the
intake log holding the hash of the line before. Verify recomputes the chain;
it exits 1 naming the first broken entry.`,
		Example: `  snodo region log verify --config /srv/snodo-region/region.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, s, err := openRegionStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.VerifyIntakeLog(cmd.Context())
			var broken *store.IntakeLogBrokenError
			if errors.As(err, &broken) {
				return &exitError{code: exitFindings, err: err}
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d entries\n", n)
			return nil
		},
	}
	verify.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.AddCommand(verify)
	return cmd
}

func newRegionServeCmd() *cobra.Command {
	var configPath, listen, natsURL string
	var shutdownTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--nats URL] [--config FILE]",
		Short: "Run the region hub's HTTP API: intake, enrolment, coverage and aggregates",
		Long: `Serve answers, until SIGINT or SIGTERM:

  POST /api/v1/intake                   a signed envelope (201 new, 200 again,
                                        409 conflict, 401/403 key, 422 invalid)
  POST /api/v1/enrol                    {territory, token, public_key}
  GET  /api/v1/region/territories       (bearer token, viewer)
  GET  /api/v1/region/coverage?indicator=ID&epoch=E
  GET  /api/v1/region/aggregate?indicator=ID&epoch=E[&breakdown=key:value]
  GET  /api/v1/region/intake-log[?limit=N]
  GET  /api/v1/compare/{meta,indicator,trend,scalability,territory,overview}
                                        comparisons of the territories (viewer;
                                        needs territories_file in region.yaml)
  GET  /api/openapi.json                the OpenAPI document of this API
  GET  /healthz

With --nats URL (or nats.url in region.yaml) it also takes envelopes from
the JetStream stream SNODO_ENVELOPES (subjects snodo.envelopes.<territory>)
through the same intake: refused and conflicting ones are terminated, store
failures redelivered later.

With upstream: in region.yaml it also sends the envelopes "snodo region
release" queued to the level above, with retries, as a territory's hub does.

On a signal it stops accepting connections and finishes the requests in
flight (up to --shutdown-timeout).`,
		Example: `  snodo region serve --config /srv/snodo-region/region.yaml --listen 0.0.0.0:8282`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveRegion(cmd.Context(), cmd, configPath, listen, natsURL, shutdownTimeout, nil)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.Flags().StringVar(&listen, "listen", "", "host:port (default: listen in region.yaml)")
	cmd.Flags().StringVar(&natsURL, "nats", "", "also consume envelopes from this NATS JetStream server (default: nats.url in region.yaml)")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "how long a graceful shutdown may take")
	return cmd
}

// serveRegion runs the region's HTTP API until ctx ends. ready, if not
// nil, receives the address listened on.
func serveRegion(ctx context.Context, cmd *cobra.Command, configPath, listen, natsURL string, shutdownTimeout time.Duration, ready chan<- string) error {
	cfg, s, err := openRegionStore(ctx, configPath)
	if err != nil {
		return err
	}
	defer s.Close()
	if natsURL == "" {
		natsURL = cfg.NATS.URL
	}
	if natsURL != "" {
		if err := cfg.natsAccess().Check(); err != nil {
			return usageError("%s: nats: %v", cfg.file, err)
		}
	}
	log := logging.New(cmd.ErrOrStderr(), cfg.Log.Level, cfg.Log.Format)
	if listen == "" {
		listen = cfg.Listen
	}
	tf, err := cfg.territories()
	if err != nil {
		return err
	}
	h, err := region.NewHandler(region.Config{Store: s, Log: log, Territories: tf})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	ln, scheme, err := listenAPI(listen, cfg.TLS, cfg.path)
	if err != nil {
		return usageError("the region: %v (set listen or tls in %s, or pass --listen)", err, cfg.file)
	}
	mux, err := regionMux(h, cfg.Name)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	up, closeUp, err := openUplinkTo(cfg.upstream(), s, log.With("component", "uplink"))
	if err != nil {
		_ = srv.Close()
		return &exitError{code: exitUsage, err: err}
	}
	if up != nil {
		defer closeUp() // after the uplink stopped (defers run last first)
	}
	// The JetStream intake and the uplink run until serve ends, and stop
	// before the store closes.
	var background sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopBackground(); background.Wait() }()
	if natsURL != "" {
		background.Go(func() {
			c := &federation.JetStreamConsumer{URL: natsURL, Access: cfg.natsAccess(), Handle: jetStreamHandler(h.Intake()), Logger: log.With("component", "jetstream")}
			if err := c.Run(bgCtx); err != nil {
				log.Error("the JetStream intake stopped: envelopes still arrive over HTTP", "error", err)
			}
		})
	}
	if up != nil {
		background.Go(func() { _ = up.Run(bgCtx) })
	}
	log.Info("region hub running", "region", cfg.Name, "api", scheme+"://"+ln.Addr().String(), "jetstream", natsURL != "", "upstream", up != nil, "config", cfg.file)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: requests in flight finish", "timeout", shutdownTimeout.String())
	case err := <-done:
		log.Error("the HTTP API stopped", "error", err)
		return &exitError{code: exitUsage, err: fmt.Errorf("the region's HTTP API stopped: %w", err)}
	}
	deadline, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(deadline); err != nil {
		log.Warn("requests did not finish in time", "error", err)
		return &exitError{code: exitFindings, err: errors.New("shutdown timed out: requests in flight were cut; an envelope not answered is sent again by its territory")}
	}
	log.Info("region hub stopped")
	return nil
}

// jetStreamHandler feeds envelopes from JetStream to the intake: a refusal
// or a conflict is permanent (the message is terminated, and the intake
// log has it), a store failure transient (redelivered later).
func jetStreamHandler(in *region.Intake) func(ctx context.Context, envelope []byte) error {
	return func(ctx context.Context, envelope []byte) error {
		_, err := in.Receive(ctx, envelope)
		if region.Permanent(err) {
			return federation.Permanent(err)
		}
		return err
	}
}

func newRegionReleaseCmd() *cobra.Command {
	var configPath, epoch string
	var revision int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "release --epoch E [--revision N] [--config FILE]",
		Short: "Sum the territories' envelopes of an epoch into one for the level above",
		Long: `Release makes the region's envelope of an epoch for the level above: the
sums of the published values of each territory's latest envelope of the
epoch, with how many territories are in each sum and their noise (σ²), and
the territory envelopes they stand on. It is the same envelope format as a
territory's, with level "region", signed with the region's key
(keys.signing in region.yaml), and it spends no privacy budget: the sums
are computed from published values only.

The envelope is queued in the region's outbox; "snodo region serve" sends
it to upstream: in region.yaml. A revision, once made, is sent identically
on every retry; when territories send more later, release --revision N+1.`,
		Example: `  snodo region release --epoch 2025 --config /srv/snodo-region/region.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if epoch == "" {
				return usageError("--epoch is required: a year (2025) or a quarter (2025-Q1)")
			}
			ctx := cmd.Context()
			cfg, s, err := openRegionStore(ctx, configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			if cfg.Code == "" {
				return usageError("%s: set code: the region's code at the level above", cfg.file)
			}
			key, err := keyring.LoadSigningKey(cfg.path(cfg.Keys.Signing))
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("the region's signing key (keys.signing in %s): %w", cfg.file, err)}
			}
			up, err := region.ReleaseUpward(ctx, s, epoch, revision, federation.Source{Territory: cfg.Code, SoftwareVersion: softwareVersion()}, key, nowFunc())
			if errors.Is(err, region.ErrNothingToSend) {
				return &exitError{code: exitFindings, err: err}
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if up.New {
				if err := s.Audit(ctx, cliActor(), "region.release", map[string]any{"epoch": epoch, "revision": revision, "parts": up.Parts}); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"epoch": epoch, "revision": revision, "new": up.New, "parts": up.Parts, "cells": up.Cells})
			}
			verb := "queued"
			if !up.New {
				verb = "made before, unchanged"
			}
			fmt.Fprintf(out, "%s revision %d of %s: %d cells summed over %d territory envelope(s), %s\n", epoch, revision, cfg.Code, up.Cells, up.Parts, verb)
			if cfg.Upstream.URL == "" && cfg.Upstream.NATSURL == "" {
				fmt.Fprintf(out, "no upstream: in %s: it waits in the outbox\n", cfg.file)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.Flags().StringVar(&epoch, "epoch", "", "the epoch: a year (2025) or a quarter (2025-Q1)")
	cmd.Flags().IntVar(&revision, "revision", 0, "the revision: 0, then 1, 2, … when territories sent more")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
