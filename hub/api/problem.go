package api

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ProblemContentType is the media type of every error the API answers
// (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes the type URI of every problem; the rest is one of
// the Problem* slugs.
const ProblemTypeBase = "https://snodo-hub.github.io/problems/"

// The kinds of problem, as the last part of their type URI.
const (
	ProblemUnauthenticated  = "unauthenticated"    // 401: no bearer token
	ProblemInvalidToken     = "invalid-token"      // 401: a token this hub does not accept
	ProblemForbidden        = "forbidden"          // 403: the token's role is not enough
	ProblemInvalidParameter = "invalid-parameter"  // 400: a query or path parameter is wrong
	ProblemNotFound         = "not-found"          // 404
	ProblemMethodNotAllowed = "method-not-allowed" // 405
	ProblemNotReady         = "not-ready"          // 503 from /readyz
	ProblemTooManyFailures  = "too-many-failures"  // 429: too many wrong tokens from one address
	ProblemInternal         = "internal"           // 500: see the hub's log
)

func problemTitle(kind string) string {
	switch kind {
	case ProblemUnauthenticated:
		return "Authentication required"
	case ProblemInvalidToken:
		return "Invalid bearer token"
	case ProblemForbidden:
		return "Role not sufficient"
	case ProblemInvalidParameter:
		return "Invalid parameter"
	case ProblemNotFound:
		return "Not found"
	case ProblemMethodNotAllowed:
		return "Method not allowed"
	case ProblemNotReady:
		return "Not ready"
	case ProblemTooManyFailures:
		return "Too many failed authentications"
	}
	return "Internal error"
}

// Problem is an error as the API answers it: an RFC 9457 problem details
// object, with two extension members. Its Detail never holds a personal
// identifier or record content.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"` // urn:snodo:request:<request id>, also in the hub's log
	// Parameter names the query or path parameter at fault (400).
	Parameter string `json:"parameter,omitempty"`
	// Checks are the readiness checks and their results (/readyz).
	Checks map[string]string `json:"checks,omitempty"`

	header http.Header // extra response headers (WWW-Authenticate, Allow)
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail)
}

func newProblem(kind string, status int, detail string) *Problem {
	return &Problem{Type: ProblemTypeBase + kind, Title: problemTitle(kind), Status: status, Detail: detail}
}

// badParam is a 400 naming the parameter at fault.
func badParam(name, format string, args ...any) *Problem {
	p := newProblem(ProblemInvalidParameter, http.StatusBadRequest, fmt.Sprintf(format, args...))
	p.Parameter = name
	return p
}

func notFound(detail string) *Problem {
	return newProblem(ProblemNotFound, http.StatusNotFound, detail)
}

func (p *Problem) withHeader(key, value string) *Problem {
	if p.header == nil {
		p.header = make(http.Header)
	}
	p.header.Add(key, value)
	return p
}

// write sends p, with instance set to the request's id.
func (p *Problem) write(w http.ResponseWriter, requestID string) {
	for k, vs := range p.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if requestID != "" {
		p.Instance = "urn:snodo:request:" + requestID
	}
	body, err := json.Marshal(p)
	if err != nil { // a Problem always encodes; keep the status anyway
		body = []byte(`{"type":"about:blank","status":500}`)
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)+1))
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}
