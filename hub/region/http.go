package region

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/compare"
	"github.com/snodo-hub/snodo/hub/disclosure"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// MaxEnvelopeBytes bounds the body of POST /api/v1/intake.
const MaxEnvelopeBytes = 4 << 20

// ProblemTypeBase prefixes the type URI of the region's problems, as
// hub/api's do.
const ProblemTypeBase = "https://snodo-hub.github.io/problems/"

// The region's problem kinds (the last part of their type URI).
const (
	ProblemUnauthenticated  = "unauthenticated"       // 401: no bearer token (region queries)
	ProblemInvalidToken     = "invalid-token"         // 401
	ProblemForbidden        = "forbidden"             // 403
	ProblemInvalidParameter = "invalid-parameter"     // 400
	ProblemEnvelopeConflict = "envelope-conflict"     // 409
	ProblemUnenrolledKey    = "envelope-unauthorised" // 401: unknown key or bad signature
	ProblemWrongTerritory   = "envelope-forbidden"    // 403: key of another territory
	ProblemInvalidEnvelope  = "envelope-invalid"      // 422, with pointers
	ProblemOverBudget       = "envelope-over-budget"  // 422: the region's account of the year's ρ
	ProblemEnrolmentRefused = "enrolment-refused"     // 401
	ProblemKeyEnrolled      = "key-enrolled"          // 409
	ProblemTooLarge         = "too-large"             // 413
	ProblemUnsupportedMedia = "unsupported-media"     // 415
	ProblemInternal         = "internal"              // 500
	ProblemTooManyFailures  = "too-many-failures"     // 429: too many wrong tokens from one address
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is urn:snodo:request:<id>, also in the region's log.
	Instance string `json:"instance,omitempty"`
	// Pointers are the JSON pointers of the envelope at fault (422).
	Pointers []string `json:"pointers,omitempty"`
	// Parameter is the query parameter at fault (400).
	Parameter string `json:"parameter,omitempty"`
	// Receipt is the intake's receipt of a refused or conflicting envelope.
	Receipt *Receipt `json:"receipt,omitempty"`

	header http.Header
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

func problem(kind, title string, status int, detail string) *Problem {
	return &Problem{Type: ProblemTypeBase + kind, Title: title, Status: status, Detail: detail}
}

func (p *Problem) write(w http.ResponseWriter, id string) {
	for k, vs := range p.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	p.Instance = "urn:snodo:request:" + id
	body, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// Config configures the region's HTTP handler.
type Config struct {
	Store *store.Store
	Log   *slog.Logger // nil: discard
	// Open serves /api/v1/region/* without bearer tokens (tests, or behind
	// a proxy that authenticates). The intake and enrolment never need one:
	// the signature, or the enrolment token, authenticates.
	Open bool
	// Territories is the region's territories file (territories_file in
	// region.yaml): the comparisons (/api/v1/compare/*) need it, and
	// answer 404 without it.
	Territories *compare.TerritoriesFile
	// Scope is ScopeRegion (the default when "") or ScopeTerritory: a
	// territory hub's own view of what it has released, served by "snodo
	// run" over a mirror of its envelopes. The comparisons' meta says
	// which, so that the dashboard leaves out what needs other
	// territories (groups, peers, the scatter).
	Scope string
	// AuthLimit limits token guessing, of bearer and of enrolment tokens:
	// the failed attempts of each client address (nil: authlimit's
	// defaults, 10 a minute).
	AuthLimit *authlimit.Limiter
}

// The scopes of Config.Scope and of the comparisons' meta.
const (
	ScopeRegion    = "region"
	ScopeTerritory = "territory"
)

// Handler serves the region's HTTP API:
//
//	POST /api/v1/intake                      an envelope (no token: it is signed)
//	POST /api/v1/enrol                       {territory, token, public_key} (no token: the one-time token)
//	GET  /api/v1/region/territories          viewer
//	GET  /api/v1/region/coverage?indicator=&epoch=                   viewer
//	GET  /api/v1/region/aggregate?indicator=&epoch=[&breakdown=k:v]  viewer
//	GET  /api/v1/region/intake-log[?limit=N] viewer
//	GET  /api/v1/compare/meta                                          viewer
//	GET  /api/v1/compare/indicator?indicator=&epoch=[&breakdown=k:v]   viewer
//	GET  /api/v1/compare/trend?indicator=[&territory=]                 viewer
//	GET  /api/v1/compare/scalability?indicator=&epoch=&x=              viewer
//	GET  /api/v1/compare/territory?territory=&epoch=                   viewer
//	GET  /api/v1/compare/overview?epoch=                               viewer
//	GET  /api/openapi.json                   the OpenAPI document of this API (no token)
//	GET  /healthz
//
// The comparisons (compare.go) need Config.Territories, and each also
// answers ?format=csv with its main table.
type Handler struct {
	st      *store.Store
	log     *slog.Logger
	intake  *Intake
	open    bool
	compare *comparisons // nil without a territories file
	scope   string
	mux     *http.ServeMux
	limit   *authlimit.Limiter
}

// NewHandler returns the region's HTTP handler.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("region: the handler needs a store")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{st: cfg.Store, log: log, intake: NewIntake(cfg.Store, log), open: cfg.Open, scope: cfg.Scope, mux: http.NewServeMux(), limit: cfg.AuthLimit}
	if h.limit == nil {
		h.limit = authlimit.New(authlimit.Config{})
	}
	switch h.scope {
	case "":
		h.scope = ScopeRegion
	case ScopeRegion, ScopeTerritory:
	default:
		return nil, fmt.Errorf("region: scope %q: use %q or %q", cfg.Scope, ScopeRegion, ScopeTerritory)
	}
	if cfg.Territories != nil {
		c, err := newComparisons(cfg.Territories)
		if err != nil {
			return nil, err
		}
		h.compare = c
	}
	h.handle("POST /api/v1/intake", false, h.receive)
	h.handle("POST /api/v1/enrol", false, h.enrol)
	h.handle("GET /api/v1/region/territories", true, h.territories)
	h.handle("GET /api/v1/region/coverage", true, h.coverage)
	h.handle("GET /api/v1/region/aggregate", true, h.aggregate)
	h.handle("GET /api/v1/region/intake-log", true, h.intakeLog)
	h.handle("GET /api/v1/compare/meta", true, h.compareMeta)
	h.handle("GET /api/v1/compare/indicator", true, h.compareIndicator)
	h.handle("GET /api/v1/compare/trend", true, h.compareTrend)
	h.handle("GET /api/v1/compare/scalability", true, h.compareScalability)
	h.handle("GET /api/v1/compare/territory", true, h.compareTerritory)
	h.handle("GET /api/v1/compare/overview", true, h.compareOverview)
	h.handle("GET /api/openapi.json", false, serveOpenAPI)
	h.handle("GET /healthz", false, func(w http.ResponseWriter, _ *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.handle("/", false, func(http.ResponseWriter, *http.Request) error {
		return problem("not-found", "Not found", http.StatusNotFound, "no such endpoint")
	})
	return h, nil
}

// Intake returns the handler's intake, to feed it from elsewhere
// (JetStream).
func (h *Handler) Intake() *Intake { return h.intake }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (h *Handler) handle(pattern string, auth bool, fn func(http.ResponseWriter, *http.Request) error) {
	h.mux.Handle(pattern, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// Served behind another API (a territory hub's own view, mounted
		// in hub/api), the request already has its id and its log line
		// there: keep the one, do not write the other twice.
		id, outer := rw.Header().Get("X-Request-Id"), true
		if id == "" {
			id, outer = requestID(), false
		}
		w := &statusWriter{ResponseWriter: rw}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("Cache-Control", "no-store")
		err := func() error {
			if auth && !h.open {
				if err := h.authorize(r.Context(), r); err != nil {
					return err
				}
			}
			return fn(w, r)
		}()
		var prob *Problem
		switch {
		case err == nil:
		case errors.As(err, &prob):
			prob.write(w, id)
		default:
			h.log.Error("region api: request failed", "path", r.URL.Path, "request_id", id, "error", err)
			problem(ProblemInternal, "Internal error", http.StatusInternalServerError,
				"the region could not answer: its log has the cause under this request's id").write(w, id)
		}
		code := w.code
		if code == 0 {
			code = http.StatusOK
		}
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || outer {
			level = slog.LevelDebug
		}
		h.log.Log(r.Context(), level, "region api request", "method", r.Method, "path", r.URL.Path, "status", code,
			"took", time.Since(start), "request_id", id)
	}))
}

const realm = `Bearer realm="snodo-region"`

func (h *Handler) authorize(ctx context.Context, r *http.Request) error {
	hdr := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(hdr, " ")
	if hdr == "" || !found || !strings.EqualFold(scheme, "Bearer") {
		p := problem(ProblemUnauthenticated, "Authentication required", http.StatusUnauthorized,
			`send a token made with "snodo region tokens create" as "Authorization: Bearer TOKEN"`)
		p.header = http.Header{"Www-Authenticate": {realm}}
		return p
	}
	client := authlimit.Client(r)
	if err := h.allow(client); err != nil {
		return err
	}
	p, err := tokens.Authenticate(ctx, h.st, strings.TrimSpace(token))
	if errors.Is(err, tokens.ErrUnknown) || errors.Is(err, tokens.ErrRevoked) {
		h.limit.Fail(client)
		pr := problem(ProblemInvalidToken, "Invalid bearer token", http.StatusUnauthorized, err.Error()+": ask the region's operator for a token")
		pr.header = http.Header{"Www-Authenticate": {realm + `, error="invalid_token"`}}
		return pr
	}
	if err != nil {
		return err
	}
	if !p.Role.Allows(tokens.Viewer) {
		return problem(ProblemForbidden, "Role not sufficient", http.StatusForbidden, "this endpoint needs the viewer role")
	}
	return nil
}

// allow refuses, 429, a client address that has sent too many wrong
// tokens, before its token is looked at: were a right one let through,
// the refusal would tell a guesser which guess was right.
func (h *Handler) allow(client string) error {
	wait, ok := h.limit.Allow(client)
	if ok {
		return nil
	}
	secs := int(wait / time.Second)
	p := problem(ProblemTooManyFailures, "Too many failed authentications", http.StatusTooManyRequests,
		fmt.Sprintf("too many wrong tokens from this address: try again in %d s", secs))
	p.header = http.Header{"Retry-After": {fmt.Sprint(secs)}}
	return p
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode the answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, problem(ProblemUnsupportedMedia, "Unsupported media type", http.StatusUnsupportedMediaType, "send application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, problem(ProblemTooLarge, "Too large", http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", limit))
	}
	if err != nil {
		return nil, fmt.Errorf("read the body: %w", err)
	}
	return body, nil
}

// StatusOf is the HTTP status of Receive's outcome and error.
func StatusOf(rc Receipt, err error) int {
	switch {
	case err == nil && rc.Outcome == Accepted:
		return http.StatusCreated
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, ErrInvalid), errors.Is(err, ErrOverBudget):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func (h *Handler) receive(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, MaxEnvelopeBytes)
	if err != nil {
		return err
	}
	rc, err := h.intake.Receive(r.Context(), body)
	status := StatusOf(rc, err)
	var p *Problem
	switch status {
	case http.StatusCreated, http.StatusOK:
		return writeJSON(w, status, rc)
	case http.StatusConflict:
		p = problem(ProblemEnvelopeConflict, "Envelope conflict", status, err.Error())
	case http.StatusForbidden:
		p = problem(ProblemWrongTerritory, "Key enrolled for another territory", status, err.Error())
	case http.StatusUnauthorized:
		p = problem(ProblemUnenrolledKey, "Envelope not authenticated", status, err.Error())
	case http.StatusUnprocessableEntity:
		if errors.Is(err, ErrOverBudget) {
			p = problem(ProblemOverBudget, "Envelope over the territory's privacy budget", status, err.Error())
			p.Pointers = []string{"/budget/rho_spent"}
			break
		}
		p = problem(ProblemInvalidEnvelope, "Invalid envelope", status, err.Error())
		p.Pointers = Pointers(err)
	default:
		return err
	}
	p.Receipt = &rc
	return p
}

type enrolRequest struct {
	Territory string `json:"territory"`
	Token     string `json:"token"`
	PublicKey string `json:"public_key"`
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, 64<<10)
	if err != nil {
		return err
	}
	var req enrolRequest
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return problem(ProblemInvalidEnvelope, "Invalid enrolment request", http.StatusUnprocessableEntity, "send {territory, token, public_key}")
	}
	if err := CheckTerritory(req.Territory); err != nil {
		p := problem(ProblemInvalidEnvelope, "Invalid enrolment request", http.StatusUnprocessableEntity, err.Error())
		p.Pointers = []string{"/territory"}
		return p
	}
	pub, err := ParsePublicKey([]byte(req.PublicKey))
	if err != nil {
		p := problem(ProblemInvalidEnvelope, "Invalid enrolment request", http.StatusUnprocessableEntity, err.Error())
		p.Pointers = []string{"/public_key"}
		return p
	}
	client := authlimit.Client(r)
	if err := h.allow(client); err != nil {
		return err
	}
	id, err := EnrolWithToken(r.Context(), h.st, req.Territory, req.Token, pub)
	switch {
	case errors.Is(err, ErrEnrolmentRefused):
		h.limit.Fail(client)
		h.log.Warn("enrolment refused", "territory", req.Territory, "error", err)
		return problem(ProblemEnrolmentRefused, "Enrolment refused", http.StatusUnauthorized, ErrEnrolmentRefused.Error()+": ask the region's operator for a new token")
	case errors.Is(err, store.ErrRegionKeyExists):
		return problem(ProblemKeyEnrolled, "Key enrolled already", http.StatusConflict, "this public key is enrolled already")
	case err != nil:
		return err
	}
	h.log.Info("territory enrolled with a token", "territory", req.Territory, "key_id", id)
	return writeJSON(w, http.StatusCreated, map[string]string{"territory": req.Territory, "key_id": id})
}

// TerritoryView is a territory as GET /api/v1/region/territories shows it.
type TerritoryView struct {
	Code       string     `json:"code"`
	Name       string     `json:"name,omitempty"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	Keys       []KeyView  `json:"keys"`
	Envelopes  int        `json:"envelopes"`
	LastEpoch  string     `json:"last_epoch,omitempty"`
	LastAt     *time.Time `json:"last_received_at,omitempty"`
}

// KeyView is an enrolled key.
type KeyView struct {
	KeyID      string     `json:"key_id"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Territories lists the enrolled territories for display.
func Territories(ctx context.Context, st *store.Store) ([]TerritoryView, error) {
	ts, err := st.RegionTerritories(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TerritoryView, len(ts))
	for i, t := range ts {
		v := TerritoryView{Code: t.Code, Name: t.Name, EnrolledAt: t.EnrolledAt, Envelopes: t.Envelopes, LastEpoch: t.LastEpoch, Keys: []KeyView{}}
		if !t.LastAt.IsZero() {
			at := t.LastAt
			v.LastAt = &at
		}
		for _, k := range t.Keys {
			kv := KeyView{KeyID: k.KeyID, EnrolledAt: k.EnrolledAt}
			if !k.Active() {
				at := k.RevokedAt
				kv.RevokedAt = &at
			}
			v.Keys = append(v.Keys, kv)
		}
		out[i] = v
	}
	return out, nil
}

func (h *Handler) territories(w http.ResponseWriter, r *http.Request) error {
	ts, err := Territories(r.Context(), h.st)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"territories": ts})
}

func badParam(name, detail string) *Problem {
	p := problem(ProblemInvalidParameter, "Invalid parameter", http.StatusBadRequest, detail)
	p.Parameter = name
	return p
}

// indicatorEpoch reads and checks ?indicator= and ?epoch=.
func indicatorEpoch(r *http.Request) (string, string, error) {
	q := r.URL.Query()
	ind, epoch := q.Get("indicator"), q.Get("epoch")
	if ind == "" || len(ind) > 100 || strings.ContainsAny(ind, " \t\r\n") {
		return "", "", badParam("indicator", "give the id of a catalogue indicator")
	}
	if _, err := disclosure.ParseEpoch(epoch); err != nil {
		return "", "", badParam("epoch", `give an epoch: "2025" or "2025-Q2"`)
	}
	return ind, epoch, nil
}

func (h *Handler) coverage(w http.ResponseWriter, r *http.Request) error {
	ind, epoch, err := indicatorEpoch(r)
	if err != nil {
		return err
	}
	rep, err := CoverageOf(r.Context(), h.st, ind, epoch)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

func (h *Handler) aggregate(w http.ResponseWriter, r *http.Request) error {
	ind, epoch, err := indicatorEpoch(r)
	if err != nil {
		return err
	}
	b, err := ParseBreakdown(r.URL.Query()["breakdown"])
	if err != nil {
		return badParam("breakdown", err.Error())
	}
	res, err := Aggregate(r.Context(), h.st, ind, epoch, b)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// LogEntryView is an intake log entry as the API shows it.
type LogEntryView struct {
	Seq       int64     `json:"seq"`
	At        time.Time `json:"at"`
	Territory string    `json:"territory,omitempty"`
	KeyID     string    `json:"key_id,omitempty"`
	Epoch     string    `json:"epoch,omitempty"`
	Revision  *int      `json:"revision,omitempty"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason"`
	SHA256    string    `json:"sha256"`
	Hash      string    `json:"hash"`
}

// LogView converts intake log entries for display.
func LogView(es []store.IntakeEntry) []LogEntryView {
	out := make([]LogEntryView, len(es))
	for i, e := range es {
		v := LogEntryView{Seq: e.Seq, At: e.At, Territory: e.Territory, KeyID: e.KeyID, Epoch: e.Epoch, Outcome: e.Outcome,
			Reason: e.Reason, SHA256: hex.EncodeToString(e.SHA256), Hash: hex.EncodeToString(e.Hash)}
		if e.Revision >= 0 {
			rev := e.Revision
			v.Revision = &rev
		}
		out[i] = v
	}
	return out
}

func (h *Handler) intakeLog(w http.ResponseWriter, r *http.Request) error {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return badParam("limit", "give a number from 1 to 10000")
		}
		limit = n
	}
	es, err := h.st.IntakeLog(r.Context(), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"entries": LogView(es)})
}
