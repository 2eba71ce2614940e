package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// Version is the connector's semantic version.
const Version = "0.1.0"

// The $ids of the shared schemas the connector reads and writes.
const (
	SchemaPerson             = "https://snodo-hub.github.io/schemas/person/1.0.0"
	SchemaEmploymentActivity = "https://snodo-hub.github.io/schemas/employment-activity/1.0.0"
	SchemaReferral           = "https://snodo-hub.github.io/schemas/referral/1.0.0"
	SchemaStatusEvent        = "https://snodo-hub.github.io/schemas/referral-status-event/1.0.0"
)

// DefaultOrganisation is the employment centre's organisation id.
const DefaultOrganisation = "cpi-sesto-fiorentino"

// Defaults of the settings.
const (
	defaultPageSize = 100
	maxPageSize     = 500
	defaultTimeout  = 20 * time.Second
	apiKeyHeader    = "X-Api-Key"
	maxBody         = 32 << 20
)

//go:embed settings.schema.json
var settingsSchema []byte

// Connector is the cpi connector. It holds no state between calls.
type Connector struct {
	// Client, when set, is used instead of a client built from the
	// settings (tests).
	Client *http.Client
}

var (
	_ sdk.Connector = (*Connector)(nil)
	_ sdk.Writer    = (*Connector)(nil)
)

// Manifest describes the connector.
func (c *Connector) Manifest() sdk.Manifest {
	return sdk.Manifest{
		Name:    "cpi",
		Version: Version,
		Kind:    sdk.KindEmployment,
		Description: "Centro per l'Impiego: reads workers (person), DID, service pacts, profiling, internships, " +
			"CO contracts and training (employment-activity) and the centre's status changes of the referrals it " +
			"received (referral-status-event) from its XML feed; delivers referrals and the requester's cancellations.",
		Produces:       []string{SchemaPerson, SchemaEmploymentActivity, SchemaStatusEvent},
		Accepts:        []string{SchemaReferral, SchemaStatusEvent},
		SettingsSchema: settingsSchema,
	}
}

// settings are an instance's settings.
type settings struct {
	Source         string `json:"source"`
	Territory      string `json:"territory"`
	BaseURL        string `json:"base_url"`
	APIKey         string `json:"api_key"`
	Organisation   string `json:"organisation"`
	PageSize       int    `json:"page_size"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

func decodeSettings(s sdk.Settings) (settings, error) {
	var st settings
	if err := s.Decode(&st); err != nil {
		return st, err
	}
	if st.Source == "" {
		return st, sdk.ConfigError("/source", "source is required")
	}
	if st.Territory == "" {
		return st, sdk.ConfigError("/territory", "territory is required")
	}
	u, err := url.Parse(st.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return st, sdk.ConfigError("/base_url", "base_url must be an http(s) URL with a host")
	}
	st.BaseURL = strings.TrimRight(st.BaseURL, "/")
	if st.Organisation == "" {
		st.Organisation = DefaultOrganisation
	}
	if st.PageSize <= 0 {
		st.PageSize = defaultPageSize
	}
	st.PageSize = min(st.PageSize, maxPageSize)
	return st, nil
}

func (st settings) timeout() time.Duration {
	if st.TimeoutSeconds > 0 {
		return time.Duration(st.TimeoutSeconds) * time.Second
	}
	return defaultTimeout
}

// client talks to the system's API.
type client struct {
	st   settings
	http *http.Client
}

func (c *Connector) client(s sdk.Settings) (*client, error) {
	st, err := decodeSettings(s)
	if err != nil {
		return nil, err
	}
	hc := c.Client
	if hc == nil {
		hc = &http.Client{Timeout: st.timeout()}
	}
	return &client{st: st, http: hc}, nil
}

// Check reads one feed entry.
func (c *Connector) Check(ctx context.Context, s sdk.Settings) error {
	cl, err := c.client(s)
	if err != nil {
		return err
	}
	_, err = cl.feed(ctx, 0, 1)
	return err
}

// xmlError is the body of the system's error answers.
type xmlError struct {
	XMLName   xml.Name `xml:"errore"`
	Codice    int      `xml:"codice"`
	Messaggio string   `xml:"messaggio"`
}

// apiError is an answer the caller must interpret (4xx other than 401,
// 403 and 429).
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.status, e.msg)
}

// identifierLike matches what could be a codice fiscale or a provisional
// code, so that no message the system sends ends up in a log with one.
var identifierLike = regexp.MustCompile(`[A-Za-z0-9]{16}|[0-9]{11}`)

func redact(s string) string {
	return identifierLike.ReplaceAllString(s, "[redacted]")
}

// do sends a request and returns the body of a 2xx answer. Network
// failures, 429 and 5xx are transient; 401 and 403 are configuration
// problems; other answers are *apiError.
func (cl *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, cl.st.BaseURL+path, rd)
	if err != nil {
		return 0, nil, sdk.ConfigError("/base_url", "building the request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	}
	req.Header.Set("Accept", "application/xml")
	if cl.st.APIKey != "" {
		req.Header.Set(apiKeyHeader, cl.st.APIKey)
	}
	op := method + " " + strings.SplitN(path, "?", 2)[0]
	resp, err := cl.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, sdk.Transient(fmt.Errorf("cpi %s: %w", op, scrubURLError(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, sdk.Transient(fmt.Errorf("cpi %s: reading the answer: %w", op, err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, data, nil
	}
	var xe xmlError
	_ = xml.Unmarshal(data, &xe)
	msg := redact(xe.Messaggio)
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return 0, nil, sdk.ConfigError("/api_key", "cpi %s: HTTP %d, the API key is missing or wrong", op, resp.StatusCode)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, nil, sdk.Transientf("cpi %s: HTTP %d %s", op, resp.StatusCode, msg)
	}
	return resp.StatusCode, nil, &apiError{status: resp.StatusCode, msg: msg}
}

// scrubURLError drops the URL (with its query) from a transport error.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
