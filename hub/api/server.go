package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/snodo-hub/snodo/hub/api/authlimit"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// Connectors reports the state of the hub's connector instances. The
// runtime implements it over its supervisors.
type Connectors interface {
	Statuses() []supervisor.Status
}

// ConnectorsFunc adapts a function to Connectors.
type ConnectorsFunc func() []supervisor.Status

// Statuses implements Connectors.
func (f ConnectorsFunc) Statuses() []supervisor.Status { return f() }

func statuses(c Connectors) []supervisor.Status {
	if c == nil {
		return nil
	}
	return c.Statuses()
}

// Config is what the API needs.
type Config struct {
	// Store is the hub's open store (required).
	Store *store.Store
	// Connectors reports the connector instances; nil when there are none.
	Connectors Connectors
	// Pipeline reports the pipeline's counters for /metrics; nil when
	// there is no pipeline.
	Pipeline PipelineStats
	// Referrals says which referrals are overdue (the referral engine);
	// nil: none is.
	Referrals Referrals
	// Logger receives one line per request (method, route pattern, status,
	// duration, request id, token name: never a path's values, a query or
	// a body) and the causes of 500s; nil: no logging.
	Logger *slog.Logger
	// Mounts are handlers served behind the API's tokens, roles, request
	// ids and log lines, e.g. the territory's own comparisons under
	// /api/v1/compare/ (a Path ending in "/" serves its subtree).
	Mounts []Mount
	// AuthLimit limits token guessing: the failed authentications of each
	// client address (nil: authlimit's defaults, 10 a minute).
	AuthLimit *authlimit.Limiter
}

// Mount is a handler served at a Route of the API.
type Mount struct {
	Route
	Handler http.Handler
}

// NoToken is the Role of the endpoints that need no token.
const NoToken tokens.Role = 0

// Route is one endpoint.
type Route struct {
	Method string      // GET
	Path   string      // as in a net/http pattern: /api/v1/persons/{id}/timeline
	Role   tokens.Role // the least role a token needs; NoToken for none
}

// Pattern is the route's net/http pattern, "GET /path".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Server is the hub's HTTP API, an http.Handler. It is safe for concurrent
// use.
type Server struct {
	store      *store.Store
	connectors Connectors
	referrals  Referrals
	metrics    *Metrics
	log        *slog.Logger
	mux        *http.ServeMux
	routes     []Route
	limit      *authlimit.Limiter
}

// handler answers one request; an error that is a *Problem is sent as it
// is, any other is logged and answered as a 500.
type handler func(w http.ResponseWriter, r *http.Request) error

type endpoint struct {
	Route
	h handler
}

// New makes the API of a hub.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no store: give the hub's open store")
	}
	s := &Server{
		store:      cfg.Store,
		connectors: cfg.Connectors,
		referrals:  cfg.Referrals,
		metrics:    NewMetrics(cfg.Store, cfg.Connectors, cfg.Pipeline, cfg.Referrals),
		log:        cfg.Logger,
		mux:        http.NewServeMux(),
		limit:      cfg.AuthLimit,
	}
	if s.limit == nil {
		s.limit = authlimit.New(authlimit.Config{})
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	metrics := s.metrics.handler(s.log)
	// The one list of endpoints: it is what is registered and what Routes
	// reports (the tests check every route against every role).
	endpoints := []endpoint{
		{Route{"GET", "/healthz", NoToken}, s.healthz},
		{Route{"GET", "/readyz", NoToken}, s.readyz},
		{Route{"GET", "/metrics", NoToken}, func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}},
		{Route{"GET", "/api/v1/status", tokens.Viewer}, s.status},
		{Route{"GET", "/api/v1/connectors", tokens.Viewer}, s.listConnectors},
		{Route{"GET", "/api/v1/records", tokens.Operator}, s.listRecords},
		{Route{"GET", "/api/v1/persons/{id}/timeline", tokens.Operator}, s.timeline},
		{Route{"GET", "/api/v1/referrals", tokens.Operator}, s.listReferrals},
		{Route{"GET", "/api/v1/referrals/{source}/{id}", tokens.Operator}, s.showReferral},
		{Route{"GET", "/api/v1/quarantine", tokens.Operator}, s.listQuarantine},
		{Route{"GET", "/api/v1/quarantine/{id}", tokens.Operator}, s.showQuarantine},
		{Route{"GET", "/api/v1/audit/verify", tokens.Admin}, s.verifyAudit},
	}
	for _, m := range cfg.Mounts {
		if m.Handler == nil || m.Method == "" || !strings.HasPrefix(m.Path, "/api/") {
			return nil, fmt.Errorf("api: mount %s %s: give a method, a path under /api/ and a handler", m.Method, m.Path)
		}
		endpoints = append(endpoints, endpoint{m.Route, func(w http.ResponseWriter, r *http.Request) error {
			m.Handler.ServeHTTP(w, r)
			return nil
		}})
	}
	allowed := make(map[string][]string) // path → methods
	for _, e := range endpoints {
		s.routes = append(s.routes, e.Route)
		s.mux.Handle(e.Pattern(), s.wrap(e.Route, e.h))
		allowed[e.Path] = append(allowed[e.Path], e.Method)
	}
	// Other methods on a known path, and unknown paths under /api/,
	// are answered with problems too.
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		if slices.Contains(methods, "GET") {
			allow += ", HEAD"
		}
		s.mux.Handle(path, s.wrap(Route{Path: path}, func(w http.ResponseWriter, r *http.Request) error {
			return newProblem(ProblemMethodNotAllowed, http.StatusMethodNotAllowed,
				fmt.Sprintf("%s is not served here: use %s", r.Method, allow)).withHeader("Allow", allow)
		}))
	}
	s.mux.Handle("/api/", s.wrap(Route{Path: "/api/"}, func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no such endpoint: the API's endpoints are under /api/v1/")
	}))
	return s, nil
}

// Routes lists the endpoints, in the order they were registered.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// Metrics are the metrics the server serves on /metrics; add more to
// their Registry.
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type principalKey struct{}

// principal is who made the request; the zero Principal on the endpoints
// that need no token.
func principal(ctx context.Context) tokens.Principal {
	p, _ := ctx.Value(principalKey{}).(tokens.Principal)
	return p
}

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// statusWriter remembers the status code sent.
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

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap gives a handler its request id, authentication and authorisation,
// its problems and its log line.
func (s *Server) wrap(route Route, h handler) http.Handler {
	api := strings.HasPrefix(route.Path, "/api/")
	label := route.Path
	if route.Method == "" {
		label = "other"
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := ulid.Make().String()
		w := &statusWriter{ResponseWriter: rw}
		w.Header().Set("X-Request-Id", id)
		if api {
			// Answers may hold personal data: no cache may keep them.
			w.Header().Set("Cache-Control", "no-store")
		}
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		var p tokens.Principal
		err := func() error {
			if route.Role != NoToken {
				var err error
				if p, err = s.authorize(ctx, r, route.Role); err != nil {
					return err
				}
				ctx = context.WithValue(ctx, principalKey{}, p)
			}
			return h(w, r.WithContext(ctx))
		}()
		var prob *Problem
		switch {
		case err == nil:
		case errors.As(err, &prob):
			prob.write(w, id)
		default:
			s.log.LogAttrs(ctx, slog.LevelError, "api: request failed",
				slog.String("route", label), slog.String("request_id", id), slog.String("error", err.Error()))
			newProblem(ProblemInternal, http.StatusInternalServerError,
				"the hub could not answer: its log has the cause under this request's id").write(w, id)
		}
		code := w.code
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.observeRequest(label, code)
		level := slog.LevelInfo
		if !api && code < 500 {
			level = slog.LevelDebug // probes and scrapes: not worth a line each
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("route", label), slog.Int("status", code),
			slog.Duration("took", time.Since(start)), slog.String("request_id", id),
		}
		if p.Name != "" {
			attrs = append(attrs, slog.String("token", p.Name))
		}
		s.log.LogAttrs(ctx, level, "api request", attrs...)
	})
}

// realm is the WWW-Authenticate realm.
const realm = `Bearer realm="snodo"`

// authorize checks the request's bearer token and that its role is at
// least need. A client address that has sent too many wrong tokens is
// refused before its token is looked at (see authlimit).
func (s *Server) authorize(ctx context.Context, r *http.Request, need tokens.Role) (tokens.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") {
		return tokens.Principal{}, newProblem(ProblemUnauthenticated, http.StatusUnauthorized,
			`send a token made with "snodo tokens create" as "Authorization: Bearer TOKEN"`).withHeader("WWW-Authenticate", realm)
	}
	client := authlimit.Client(r)
	if wait, ok := s.limit.Allow(client); !ok {
		secs := int(wait / time.Second)
		return tokens.Principal{}, newProblem(ProblemTooManyFailures, http.StatusTooManyRequests,
			fmt.Sprintf("too many wrong tokens from this address: try again in %d s", secs)).
			withHeader("Retry-After", fmt.Sprint(secs))
	}
	p, err := tokens.Authenticate(ctx, s.store, strings.TrimSpace(token))
	if errors.Is(err, tokens.ErrUnknown) || errors.Is(err, tokens.ErrRevoked) {
		s.limit.Fail(client)
		return tokens.Principal{}, newProblem(ProblemInvalidToken, http.StatusUnauthorized,
			err.Error()+": ask the hub's admin for a token").
			withHeader("WWW-Authenticate", realm+`, error="invalid_token"`)
	}
	if err != nil {
		return tokens.Principal{}, err
	}
	if !p.Role.Allows(need) {
		return tokens.Principal{}, newProblem(ProblemForbidden, http.StatusForbidden,
			fmt.Sprintf("this endpoint needs the %s role; token %q has the %s role", need, p.Name, p.Role)).
			withHeader("WWW-Authenticate", realm+`, error="insufficient_scope"`)
	}
	return p, nil
}

// writeJSON sends v as application/json.
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
