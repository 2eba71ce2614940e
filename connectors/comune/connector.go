package main

import (
	"cmp"
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

//go:embed settings.schema.json
var settingsSchemaJSON string

// Version is the connector's version.
const Version = "1.0.0"

// Defaults of the settings.
const (
	DefaultOrganisation = "comune-sesto-fiorentino"
	DefaultPageSize     = 100
	MaxPageSize         = 500
	DefaultTimeout      = 15 * time.Second
	DefaultMaxRetryWait = 2 * time.Second
	maxAttempts         = 3
	defaultRetryAfter   = 500 * time.Millisecond
)

// The $ids of the schemas the connector produces and accepts.
const (
	SchemaPerson           = "https://snodo-hub.github.io/schemas/person/1.0.0"
	SchemaHousehold        = "https://snodo-hub.github.io/schemas/household/1.0.0"
	SchemaConsent          = "https://snodo-hub.github.io/schemas/consent/1.0.0"
	SchemaReferral         = "https://snodo-hub.github.io/schemas/referral/1.0.0"
	SchemaStatusEvent      = "https://snodo-hub.github.io/schemas/referral-status-event/1.0.0"
	SchemaPathway          = "https://snodo-hub.github.io/schemas/pathway/1.0.0"
	SchemaAssessment       = "https://snodo-hub.github.io/schemas/assessment/1.0.0"
	SchemaHousingPlacement = "https://snodo-hub.github.io/schemas/housing-placement/1.0.0"
)

// Connector reads the comune's case system through its REST API and
// delivers referrals and status changes to it. It holds no state between
// calls: where each feed was left is in the cursor.
type Connector struct {
	// Log receives the connector's log lines; nil means sdk.Logger().
	Log *slog.Logger
	// HTTP is the client to use; nil means one with the settings' timeout.
	HTTP *http.Client
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Writer    = (*Connector)(nil)
)

// Settings are the connector's settings (see settings.schema.json).
type Settings struct {
	Source              string   `json:"source"`
	Territory           string   `json:"territory"`
	BaseURL             string   `json:"base_url"`
	APIKey              string   `json:"api_key"`
	Organisation        string   `json:"organisation,omitempty"`
	PageSize            int      `json:"page_size,omitempty"`
	TimeoutSeconds      int      `json:"timeout_seconds,omitempty"`
	MaxRetryWaitSeconds *int     `json:"max_retry_wait_seconds,omitempty"`
	Feeds               []string `json:"feeds,omitempty"`
}

// Manifest describes the connector.
func (c *Connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "comune",
		Version: Version,
		Kind:    sdk.KindMunicipal,
		Description: "Reads the municipal social-services case system (REST API, Italian field names): people (birth year, sex, " +
			"citizenship, residence, permit, reception exit — never names), households, consents, the referrals its social workers " +
			"send and the status changes made in the comune, pathways (PaIS), social assessments and housing placements. " +
			"Delivers referrals to the comune and the status changes other organisations make to the comune's referrals.",
		Produces: []string{SchemaPerson, SchemaHousehold, SchemaConsent, SchemaReferral, SchemaStatusEvent,
			SchemaPathway, SchemaAssessment, SchemaHousingPlacement},
		Accepts:        []string{SchemaReferral, SchemaStatusEvent},
		SettingsSchema: []byte(settingsSchemaJSON),
	}
}

func (c *Connector) logger() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return sdk.Logger()
}

// config is what a call needs, loaded from the settings.
type config struct {
	s            Settings
	org          string
	base         *url.URL
	pageSize     int
	maxRetryWait time.Duration
	feeds        []*feed
	client       *client
}

// load reads and checks the settings. Every error is a config error.
func (c *Connector) load(set sdk.Settings) (*config, error) {
	var s Settings
	if err := set.Decode(&s); err != nil {
		return nil, err
	}
	switch {
	case s.Source == "":
		return nil, sdk.ConfigError("/source", "source is missing: name the connector instance records come from (e.g. comune)")
	case s.Territory == "":
		return nil, sdk.ConfigError("/territory", "territory is missing: give the territory code (e.g. SDS-FI-NORDOVEST)")
	case s.BaseURL == "":
		return nil, sdk.ConfigError("/base_url", "base_url is missing: give the case system's address (e.g. http://localhost:8081)")
	case s.APIKey == "":
		return nil, sdk.ConfigError("/api_key", "api_key is missing: give the key the case system issued for the hub")
	}
	base, err := url.Parse(strings.TrimRight(s.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, sdk.ConfigError("/base_url", "base_url %q is not an http(s) URL", s.BaseURL)
	}
	cfg := &config{s: s, base: base, org: cmp.Or(s.Organisation, DefaultOrganisation),
		pageSize: cmp.Or(s.PageSize, DefaultPageSize), maxRetryWait: DefaultMaxRetryWait}
	if cfg.pageSize < 1 || cfg.pageSize > MaxPageSize {
		return nil, sdk.ConfigError("/page_size", "page_size %d is not in 1..%d", cfg.pageSize, MaxPageSize)
	}
	if s.MaxRetryWaitSeconds != nil {
		cfg.maxRetryWait = time.Duration(*s.MaxRetryWaitSeconds) * time.Second
	}
	if cfg.feeds, err = selectFeeds(s.Feeds); err != nil {
		return nil, err
	}
	hc := c.HTTP
	if hc == nil {
		timeout := DefaultTimeout
		if s.TimeoutSeconds > 0 {
			timeout = time.Duration(s.TimeoutSeconds) * time.Second
		}
		hc = &http.Client{Timeout: timeout}
	}
	cfg.client = &client{http: hc, base: base, key: s.APIKey, maxRetryWait: cfg.maxRetryWait, log: c.logger()}
	return cfg, nil
}

// Check asks the system for one person: it says whether the system
// answers and takes the key.
func (c *Connector) Check(ctx context.Context, set sdk.Settings) error {
	cfg, err := c.load(set)
	if err != nil {
		return err
	}
	var p listPage
	q := url.Values{"dimensione": {"1"}}
	if _, err := cfg.client.do(ctx, http.MethodGet, "/api/v1/persone", q, nil, &p); err != nil {
		return err
	}
	return nil
}
