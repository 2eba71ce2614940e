package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// client calls the case system's API.
type client struct {
	http         *http.Client
	base         *url.URL
	key          string
	maxRetryWait time.Duration
	log          *slog.Logger
}

// apiError is an answer the system gave that is not a success and not a
// transient or configuration problem (400, 404, 409, 422...). Its message
// is the system's, with anything shaped like a personal code redacted.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("the case system answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// maxBody bounds the answers read.
const maxBody = 32 << 20

// do sends one request and decodes a 2xx answer's body into out (when not
// nil). It retries a 429 or 503 whose Retry-After is short; other
// failures come back classed: network errors, 429, 5xx as sdk.Transient,
// 401 and 403 as sdk.ConfigError, other answers as *apiError.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) (int, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = q.Encode()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, sdk.Fatal(fmt.Errorf("encode the request to %s: %w", path, err))
		}
	}
	for attempt := 1; ; attempt++ {
		status, wait, err := c.once(ctx, method, &u, path, payload, out)
		if wait < 0 || attempt >= maxAttempts || wait > c.maxRetryWait {
			return status, err
		}
		c.log.Debug("the case system is busy, retrying", "path", path, "status", status, "wait", wait.String(), "attempt", attempt)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return status, ctx.Err()
		case <-t.C:
		}
	}
}

// once sends the request once; wait >= 0 says the failure may be retried
// after wait.
func (c *client) once(ctx context.Context, method string, u *url.URL, path string, payload []byte, out any) (status int, wait time.Duration, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, -1, sdk.Fatal(fmt.Errorf("build the request to %s: %w", path, err))
	}
	req.Header.Set("X-API-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, -1, ctx.Err()
		}
		return 0, -1, sdk.Transient(fmt.Errorf("%s %s: the case system cannot be reached: %w", method, path, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if ctx.Err() != nil {
			return resp.StatusCode, -1, ctx.Err()
		}
		return resp.StatusCode, -1, sdk.Transient(fmt.Errorf("%s %s: reading the answer: %w", method, path, err))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return code, -1, sdk.Fatal(fmt.Errorf("%s %s: the answer is not the expected JSON: %v", method, path, redactErr(err)))
			}
		}
		return code, -1, nil
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return code, -1, sdk.ConfigError("/api_key", "the case system refused the API key (%d %s): check api_key", code, http.StatusText(code))
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		w := retryAfter(resp.Header.Get("Retry-After"))
		return code, w, sdk.Transientf("%s %s: the case system answered %d %s (retry after %s): %s", method, path, code, http.StatusText(code), w, message(data))
	case code >= 500:
		return code, -1, sdk.Transientf("%s %s: the case system answered %d %s: %s", method, path, code, http.StatusText(code), message(data))
	default:
		return code, -1, &apiError{Status: code, Message: message(data)}
	}
}

// retryAfter reads a Retry-After in seconds; absent (or an HTTP date)
// means defaultRetryAfter.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return defaultRetryAfter
}

// message extracts the system's error message, redacted and bounded.
func message(data []byte) string {
	var e struct {
		Errore string `json:"errore"`
	}
	msg := string(data)
	if json.Unmarshal(data, &e) == nil && e.Errore != "" {
		msg = e.Errore
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return redact(msg)
}

// personalCode matches what could be a codice fiscale (16 letters and
// digits) or a provisional code (11 digits).
var personalCode = regexp.MustCompile(`(?i)\b[A-Z0-9]{16}\b|\b[0-9]{11}\b`)

// redact hides anything shaped like a personal code: an error or a log
// line never carries one.
func redact(s string) string { return personalCode.ReplaceAllString(s, "[redacted]") }

func redactErr(err error) string { return redact(err.Error()) }
