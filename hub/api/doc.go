// Package api is the hub's HTTP API: JSON under /api/v1/, errors as
// application/problem+json (RFC 9457), bearer tokens with roles, and the
// unauthenticated probes /healthz, /readyz and /metrics.
//
// # Endpoints and roles
//
// Roles are ordered, viewer < operator < admin; each endpoint needs the
// least role below, and a higher role may call it too.
//
//	GET /healthz                          none      the process is up
//	GET /readyz                           none      the store answers; the connectors are not all failing
//	GET /metrics                          none      Prometheus text format
//	GET /api/v1/status                    viewer    records per schema, quarantine size
//	GET /api/v1/connectors                viewer    connector instances: state, reason, counters
//	GET /api/v1/records?schema=&after=&limit=      operator  records of a schema, paged (audited)
//	GET /api/v1/persons/{id}/timeline?after=&limit= operator  a person's records by recorded_at (audited)
//	GET /api/v1/quarantine?source=&schema=&pending=&after=&limit=  operator  quarantine metadata, paged
//	GET /api/v1/quarantine/{id}           operator  one quarantined record's metadata and errors
//	GET /api/v1/audit/verify              admin     walks the audit log's hash chain
//
// Records are pseudonymised, but still personal data, so reading them
// needs an operator. Every answer holding records (a page of records, a
// timeline) is written to the hash-chained audit log first — the token's
// name, the schema or the person id, how many records, the request id —
// and nothing is sent if that write fails. Quarantine answers carry the
// metadata and the errors of a record, never the raw record.
//
// # Authentication
//
// "Authorization: Bearer TOKEN" with a token made by "snodo tokens create"
// (package hub/tokens). No token: 401 with "WWW-Authenticate: Bearer
// realm=\"snodo\""; an unknown or revoked token: 401 with
// error="invalid_token"; a role too low: 403. An address that sends too
// many wrong tokens (10 in a row, then 10 a minute: package
// hub/api/authlimit) is answered 429 with Retry-After, whatever its
// token, until its allowance refills.
//
// # Paging
//
// Lists answer at most ?limit= items (1 to 1000, default 100) and, when
// there may be more, "next": an opaque cursor to send as ?after= for the
// next page. Pages follow a stable order (records: the order they were
// first stored; a timeline: recorded_at then storage order; quarantine:
// id), so paging neither repeats nor skips an item, even while the
// pipeline stores more.
//
// # Errors and logs
//
// Every error is a problem object: type (https://snodo-hub.github.io/problems/…),
// title, status, detail, instance (urn:snodo:request:ID, the id also sent as
// X-Request-Id and logged), and for a 400 "parameter", the parameter at
// fault. Unknown or repeated query parameters are refused. Problems never
// echo a parameter's value (a personal code sent by mistake stays out), and
// log lines hold no path values, no query, no personal identifier and no
// record content: a log line names the method, the route pattern, the
// status, the time taken, the request id and the token's name.
//
// # Metrics
//
// /metrics serves Metrics (see its documentation for the series): the
// pipeline's counters and latency histogram (read from PipelineStats, which
// *pipeline.Pipeline implements), the quarantine's size, the store's size,
// the connectors' restarts and states (from Connectors, which the runtime
// implements over its supervisors), and requests by route and status.
package api
