package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/snodo-hub/snodo/hub/store"
)

// IntakePath is the region's intake endpoint, relative to its base URL.
const IntakePath = "/api/v1/intake"

// Uplink retry pauses: a transient failure (network, 5xx) is tried again
// on the outbox's schedule (store.RetryAfter: 1 s doubling up to 10 min,
// ±20 %); a permanent one (the region refused the envelope) only after
// PermanentRetry.
const (
	// DefaultPermanentRetry is the pause before an envelope the region
	// refused is offered again: long enough not to hammer the region,
	// short enough that an operator's fix (enrolment) is picked up.
	DefaultPermanentRetry = 6 * time.Hour
	// DefaultUplinkInterval is how often Run looks for due envelopes.
	DefaultUplinkInterval = 15 * time.Second
)

// permanentPrefix starts the outbox's last error of a permanent failure.
const permanentPrefix = "permanent: "

// PermanentError is a failure that sending the same bytes again cannot fix:
// the region refused the envelope (unknown key, conflicting content, schema
// errors). Both sides use it: the uplink waits long before offering the
// envelope again, and the JetStream consumer terminates the message instead
// of asking for its redelivery.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent (nil stays nil).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent says whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// FailureIsPermanent says whether the last error an outbox message holds
// (store.OutboxMessage.LastError) records a permanent refusal, for
// `snodo federate status`.
func FailureIsPermanent(lastError string) bool {
	return strings.HasPrefix(lastError, permanentPrefix)
}

// UplinkConfig configures an Uplink.
type UplinkConfig struct {
	// Territory is the code of snodo.yaml; with JetStream it names the
	// subject (EnvelopeSubject).
	Territory string
	// Publisher delivers the envelopes: an HTTPPublisher or a
	// JetStreamPublisher. The uplink does not close it.
	Publisher message.Publisher
	// Now is the clock (default time.Now); it should be the store's.
	Now func() time.Time
	// Logger (default: discard).
	Logger *slog.Logger
	// Interval between two passes of Run (default DefaultUplinkInterval).
	Interval time.Duration
	// PermanentRetry is the pause after a permanent failure (default
	// DefaultPermanentRetry).
	PermanentRetry time.Duration
}

// Uplink delivers the envelopes of the outbox (topic EnvelopeTopic, dedup
// key DedupKey, payload the bytes Seal returned) through a
// watermill publisher, with retries. A message leaves the outbox only once
// the receiver confirmed it; a crash between the confirmation and the
// store's commit sends it again, which the region's idempotent intake (and
// JetStream's duplicate window) turns into a no-op: nothing is lost while
// the region is unreachable, however long, and nothing is counted twice.
type Uplink struct {
	st      *store.Store
	pub     message.Publisher
	topic   string
	now     func() time.Time
	log     *slog.Logger
	every   time.Duration
	perm    time.Duration
	kick    chan struct{}
	running sync.Mutex // one pass at a time
}

// NewUplink makes the uplink of the store's outbox.
func NewUplink(st *store.Store, cfg UplinkConfig) (*Uplink, error) {
	if st == nil || cfg.Publisher == nil {
		return nil, errors.New("federation: uplink: a store and a publisher are required")
	}
	topic, err := EnvelopeSubject(cfg.Territory)
	if err != nil {
		return nil, fmt.Errorf("federation: uplink: %w", err)
	}
	u := &Uplink{st: st, pub: cfg.Publisher, topic: topic, now: cfg.Now, log: cfg.Logger,
		every: cfg.Interval, perm: cfg.PermanentRetry, kick: make(chan struct{}, 1)}
	if u.now == nil {
		u.now = time.Now
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.every <= 0 {
		u.every = DefaultUplinkInterval
	}
	if u.perm <= 0 {
		u.perm = DefaultPermanentRetry
	}
	return u, nil
}

// Kick asks Run for a pass now (after a release was enqueued, say).
func (u *Uplink) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Run delivers what is due every interval (and when kicked) until ctx ends;
// it returns nil then. Failures of the store are logged and tried again.
func (u *Uplink) Run(ctx context.Context) error {
	t := time.NewTicker(u.every)
	defer t.Stop()
	for {
		if _, err := u.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			u.log.Error("federation uplink", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-u.kick:
		}
	}
}

// DeliverDue makes one pass over the envelopes due now and says how many
// were delivered. A failed delivery is recorded in the outbox with its
// error and its next attempt; the error returned is a failure of the store
// or ctx's.
func (u *Uplink) DeliverDue(ctx context.Context) (int, error) {
	u.running.Lock()
	defer u.running.Unlock()
	msgs, err := u.st.Pending(ctx, EnvelopeTopic, 0)
	if err != nil {
		return 0, fmt.Errorf("federation uplink: %w", err)
	}
	n := 0
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		ok, err := u.deliverOne(ctx, m)
		if err != nil {
			return n, fmt.Errorf("federation uplink: %w", err)
		}
		if ok {
			n++
		}
	}
	return n, ctx.Err()
}

func (u *Uplink) deliverOne(ctx context.Context, m store.OutboxMessage) (bool, error) {
	msg := message.NewMessage(m.DedupKey, m.Payload)
	msg.SetContext(ctx)
	err := u.pub.Publish(u.topic, msg)
	if err != nil {
		if ctx.Err() != nil {
			return false, nil // shutting down: not the receiver's failure
		}
		return false, u.failed(ctx, m, err)
	}
	if err := u.st.MarkDelivered(ctx, m.ID); err != nil {
		return false, err
	}
	u.log.Info("envelope delivered", "envelope", m.DedupKey, "attempts", m.Attempts+1)
	return true, nil
}

func (u *Uplink) failed(ctx context.Context, m store.OutboxMessage, cause error) error {
	now := u.now()
	var next time.Time
	var msg string
	if IsPermanent(cause) {
		next = now.Add(u.perm)
		msg = permanentPrefix + cause.Error() + "; offered again at " + next.UTC().Format(time.RFC3339) +
			" (fix the cause, e.g. enrol the territory's key at the region)"
		u.log.Error("envelope refused by the region", "envelope", m.DedupKey, "attempt", m.Attempts+1,
			"retry_at", next, "error", cause.Error())
	} else {
		next = now.Add(store.RetryAfter(m.Attempts))
		msg = cause.Error()
		u.log.Warn("envelope delivery failed; retrying later", "envelope", m.DedupKey, "attempt", m.Attempts+1,
			"retry_at", next, "error", msg)
	}
	return u.st.MarkFailed(ctx, m.ID, errors.New(msg), next)
}

// HTTPPublisher is a watermill publisher that POSTs each message's payload
// (an envelope) to a region's intake. 200 and 201 are a delivery; 400, 401,
// 403, 409, 413 and 422 a permanent refusal (a PermanentError); anything
// else, and network errors, a transient failure. The topic is ignored; the
// message's UUID is sent as Idempotency-Key, its context bounds the request.
type HTTPPublisher struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	closed bool
}

var _ message.Publisher = (*HTTPPublisher)(nil)

// NewHTTPPublisher makes the publisher to the region at regionURL
// (http or https; IntakePath is appended). client nil means a client with a
// one-minute timeout.
func NewHTTPPublisher(regionURL string, client *http.Client) (*HTTPPublisher, error) {
	u, err := url.Parse(regionURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("federation: the region URL %q is not an http(s) URL", regionURL)
	}
	if client == nil {
		client = &http.Client{Timeout: time.Minute}
	}
	return &HTTPPublisher{url: u.JoinPath(IntakePath).String(), client: client}, nil
}

// Publish sends the messages in order and stops at the first failure.
func (p *HTTPPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return errors.New("federation: HTTP publisher closed")
	}
	for _, m := range msgs {
		if err := p.post(m); err != nil {
			return err
		}
	}
	return nil
}

func (p *HTTPPublisher) post(m *message.Message) error {
	req, err := http.NewRequestWithContext(m.Context(), http.MethodPost, p.url, bytes.NewReader(m.Payload))
	if err != nil {
		return fmt.Errorf("post envelope to %s: %w", p.url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("Idempotency-Key", m.UUID)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("post envelope to the region: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated:
		return nil
	}
	err = &IntakeError{Status: resp.StatusCode, Detail: problemDetail(body)}
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return Permanent(err)
	}
	return err
}

// Close makes further Publish calls fail.
func (p *HTTPPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.client.CloseIdleConnections()
	return nil
}

// IntakeError is a region intake's answer other than 200 or 201.
type IntakeError struct {
	Status int
	Detail string // the problem's title and detail, shortened
}

func (e *IntakeError) Error() string {
	s := fmt.Sprintf("the region answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// problemDetail summarises an answer's body: the title and detail of a
// problem+json, with the JSON pointers of its errors, or the start of the
// text. The region's messages never quote an envelope's values other than
// its territory, epoch and key id.
func problemDetail(body []byte) string {
	// The region's problem (hub/region.Problem): its JSON pointers are a
	// list of strings; the detail already says what is wrong at them.
	var p struct {
		Title    string   `json:"title"`
		Detail   string   `json:"detail"`
		Pointers []string `json:"pointers"`
	}
	var s string
	if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "") {
		parts := []string{}
		for _, x := range []string{p.Title, p.Detail} {
			if x != "" {
				parts = append(parts, x)
			}
		}
		if len(p.Pointers) > 0 {
			parts = append(parts, "at "+strings.Join(p.Pointers, ", "))
		}
		s = strings.Join(parts, "; ")
	} else {
		s = strings.Join(strings.Fields(string(body)), " ")
	}
	const max = 500
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
