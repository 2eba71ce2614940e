package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/supervisor"
)

// healthz answers GET /healthz (no token): 200 while the process runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers GET /readyz (no token): 200 when the store answers a query
// and the connectors are not all failing (none configured is fine); 503
// with a problem listing the checks otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	checks := map[string]string{"store": "ok", "connectors": "ok"}
	ready := true
	if _, err := s.store.QuarantineCount(r.Context()); err != nil {
		ready = false
		checks["store"] = "the store does not answer: " + err.Error()
	}
	sts := statuses(s.connectors)
	working := 0
	for _, st := range sts {
		if st.State == supervisor.Running || st.State == supervisor.Starting {
			working++
		}
	}
	switch {
	case len(sts) == 0:
		checks["connectors"] = "none configured"
	case working == 0:
		ready = false
		checks["connectors"] = fmt.Sprintf("all %d connector instances are failing or stopped: see /api/v1/connectors", len(sts))
	default:
		checks["connectors"] = fmt.Sprintf("%d of %d running", working, len(sts))
	}
	if !ready {
		p := newProblem(ProblemNotReady, http.StatusServiceUnavailable, "the hub is not ready: see checks")
		p.Checks = checks
		return p
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

// StatusAnswer is the answer of GET /api/v1/status.
type StatusAnswer struct {
	// Records counts the stored records by schema short name.
	Records map[string]int64 `json:"records"`
	// Quarantine counts the quarantined records awaiting replay or drop.
	Quarantine int64 `json:"quarantine"`
}

// status answers GET /api/v1/status (viewer): records per schema and the
// quarantine's size.
func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	counts, err := s.store.CountBySchema(r.Context())
	if err != nil {
		return err
	}
	q, err := s.store.QuarantineCount(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, StatusAnswer{Records: counts, Quarantine: q})
}

// ConnectorJSON is a connector instance in GET /api/v1/connectors.
type ConnectorJSON struct {
	Name        string     `json:"name"`
	State       string     `json:"state"`
	Reason      string     `json:"reason"`
	Since       time.Time  `json:"since"`
	Records     int64      `json:"records"`
	Batches     int64      `json:"batches"`
	Errors      int64      `json:"errors"`
	Restarts    int64      `json:"restarts"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
}

// listConnectors answers GET /api/v1/connectors (viewer): every connector
// instance, by name, with its state and counters.
func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	out := []ConnectorJSON{}
	for _, st := range statuses(s.connectors) {
		c := ConnectorJSON{
			Name: st.Name, State: st.State.String(), Reason: st.Reason, Since: st.Since.UTC(),
			Records: st.Records, Batches: st.Batches, Errors: st.Errors, Restarts: st.Restarts,
		}
		if !st.LastSuccess.IsZero() {
			t := st.LastSuccess.UTC()
			c.LastSuccess = &t
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return writeJSON(w, http.StatusOK, map[string]any{"connectors": out})
}

// RecordJSON is a stored record in the API's answers. Body is the record
// as stored: pseudonymised, with person ids in place of identifiers.
type RecordJSON struct {
	Schema        string          `json:"schema"`
	SchemaID      string          `json:"schema_id"`
	Source        string          `json:"source"`
	RecordID      string          `json:"record_id"`
	Territory     string          `json:"territory"`
	PersonID      string          `json:"person_id,omitempty"`
	RecordedAt    *time.Time      `json:"recorded_at,omitempty"`
	FirstStoredAt time.Time       `json:"first_stored_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Version       int64           `json:"version"`
	Body          json.RawMessage `json:"body"`
}

func recordJSON(rec store.StoredRecord) RecordJSON {
	out := RecordJSON{
		Schema: rec.Schema, SchemaID: rec.SchemaID, Source: rec.Source, RecordID: rec.RecordID,
		Territory: rec.Territory, PersonID: rec.PersonID,
		FirstStoredAt: rec.FirstStoredAt.UTC(), UpdatedAt: rec.UpdatedAt.UTC(), Version: rec.Version,
		Body: json.RawMessage(rec.Body),
	}
	if !rec.RecordedAt.IsZero() {
		t := rec.RecordedAt.UTC()
		out.RecordedAt = &t
	}
	return out
}

// RecordsAnswer is the answer of GET /api/v1/records.
type RecordsAnswer struct {
	Schema  string       `json:"schema"`
	Records []RecordJSON `json:"records"`
	// Next is the cursor of the next page (?after=), absent on the last.
	Next string `json:"next,omitempty"`
}

var schemaName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

// listRecords answers GET /api/v1/records?schema=NAME&after=CURSOR&limit=N
// (operator): the records of one schema, in the order they were first
// stored, a page at a time. The records are pseudonymised but still
// personal data: every answer is written to the audit log (who, which
// schema, how many records) before it is sent.
func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) error {
	q, p := checkQuery(r.URL.Query(), "schema", "after", "limit")
	if p != nil {
		return p
	}
	schema := q.get("schema")
	if !schemaName.MatchString(schema) {
		return badParam("schema", "give the short name of a schema, e.g. schema=referral (lower-case letters, digits and '-')")
	}
	limit, p := q.limit()
	if p != nil {
		return p
	}
	after, p := decodeCursor(q.get("after"), "records")
	if p != nil {
		return p
	}
	recs, err := s.store.ListRecords(r.Context(), schema, after.ID, limit+1)
	if err != nil {
		return err
	}
	ans := RecordsAnswer{Schema: schema, Records: make([]RecordJSON, 0, min(len(recs), limit))}
	if len(recs) > limit {
		recs = recs[:limit]
		ans.Next = cursor{List: "records", ID: recs[len(recs)-1].ID}.encode()
	}
	for _, rec := range recs {
		ans.Records = append(ans.Records, recordJSON(rec))
	}
	if err := s.audit(r, "api.records.read", map[string]any{"schema": schema, "records": len(recs)}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}

// TimelineAnswer is the answer of GET /api/v1/persons/{id}/timeline.
type TimelineAnswer struct {
	PersonID string       `json:"person_id"`
	Records  []RecordJSON `json:"records"`
	Next     string       `json:"next,omitempty"`
}

// timeline answers GET /api/v1/persons/{id}/timeline?after=CURSOR&limit=N
// (operator): the records about one person (by person id, never by a
// personal code), by recorded_at, a page at a time; records without
// recorded_at come last. An unknown person has an empty timeline. Every
// answer is written to the audit log (who, which person, how many records)
// before it is sent.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) error {
	q, p := checkQuery(r.URL.Query(), "after", "limit")
	if p != nil {
		return p
	}
	id := r.PathValue("id")
	if !identity.ValidPersonID(id) {
		// Not echoed: a person's code may have been sent by mistake.
		return badParam("id", "a person id is a 26-character ULID (as in a record's person_id), never a personal code")
	}
	limit, p := q.limit()
	if p != nil {
		return p
	}
	after, p := decodeCursor(q.get("after"), "timeline")
	if p != nil {
		return p
	}
	recs, err := s.store.PersonTimeline(r.Context(), id, after.timelinePos(), limit+1)
	if err != nil {
		return err
	}
	ans := TimelineAnswer{PersonID: id, Records: make([]RecordJSON, 0, min(len(recs), limit))}
	if len(recs) > limit {
		recs = recs[:limit]
		ans.Next = timelineCursor(recs[len(recs)-1]).encode()
	}
	for _, rec := range recs {
		ans.Records = append(ans.Records, recordJSON(rec))
	}
	if err := s.audit(r, "api.timeline.read", map[string]any{"person_id": id, "records": len(recs)}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}

// audit writes a read of personal records to the hash-chained audit log,
// as the request's token, with the request's id.
func (s *Server) audit(r *http.Request, action string, detail map[string]any) error {
	ctx := r.Context()
	detail["request_id"] = requestID(ctx)
	if err := s.store.Audit(ctx, principal(ctx).Actor(), action, detail); err != nil {
		return fmt.Errorf("write the read to the audit log (nothing was sent): %w", err)
	}
	return nil
}

// QuarantineJSON is a quarantined record's metadata: never the raw record,
// which may hold personal identifiers.
type QuarantineJSON struct {
	ID         int64                   `json:"id"`
	Source     string                  `json:"source"`
	RecordID   string                  `json:"record_id,omitempty"`
	Schema     string                  `json:"schema,omitempty"`
	Errors     []store.QuarantineError `json:"errors"`
	CreatedAt  time.Time               `json:"created_at"`
	ReplayedAt *time.Time              `json:"replayed_at,omitempty"`
	DroppedAt  *time.Time              `json:"dropped_at,omitempty"`
}

func quarantineJSON(e store.QuarantineEntry) QuarantineJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		t = t.UTC()
		return &t
	}
	errs := e.Errors
	if errs == nil {
		errs = []store.QuarantineError{}
	}
	return QuarantineJSON{
		ID: e.ID, Source: e.Source, RecordID: e.RecordID, Schema: e.Schema, Errors: errs,
		CreatedAt: e.CreatedAt.UTC(), ReplayedAt: opt(e.ReplayedAt), DroppedAt: opt(e.DroppedAt),
	}
}

// QuarantineAnswer is the answer of GET /api/v1/quarantine.
type QuarantineAnswer struct {
	Items []QuarantineJSON `json:"items"`
	Next  string           `json:"next,omitempty"`
}

// listQuarantine answers
// GET /api/v1/quarantine?source=&schema=&pending=&after=&limit= (operator):
// the quarantined records not dropped, oldest first, a page at a time;
// pending=true leaves out those already replayed.
func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request) error {
	q, p := checkQuery(r.URL.Query(), "source", "schema", "pending", "after", "limit")
	if p != nil {
		return p
	}
	limit, p := q.limit()
	if p != nil {
		return p
	}
	pending, p := q.boolean("pending")
	if p != nil {
		return p
	}
	after, p := decodeCursor(q.get("after"), "quarantine")
	if p != nil {
		return p
	}
	items, err := s.store.ListQuarantine(r.Context(), store.QuarantineFilter{
		Source: q.get("source"), Schema: q.get("schema"), PendingOnly: pending, AfterID: after.ID, Limit: limit + 1,
	})
	if err != nil {
		return err
	}
	ans := QuarantineAnswer{Items: make([]QuarantineJSON, 0, min(len(items), limit))}
	if len(items) > limit {
		items = items[:limit]
		ans.Next = cursor{List: "quarantine", ID: items[len(items)-1].ID}.encode()
	}
	for _, e := range items {
		ans.Items = append(ans.Items, quarantineJSON(e))
	}
	return writeJSON(w, http.StatusOK, ans)
}

// showQuarantine answers GET /api/v1/quarantine/{id} (operator): one
// quarantined record's metadata and errors, dropped or not; never the raw
// record.
func (s *Server) showQuarantine(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return badParam("id", "a quarantine id is a whole number from 1 (see GET /api/v1/quarantine)")
	}
	e, ok, err := s.store.Quarantine(r.Context(), id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound(fmt.Sprintf("no quarantined record has id %d", id))
	}
	return writeJSON(w, http.StatusOK, quarantineJSON(e))
}

// AuditAnswer is the answer of GET /api/v1/audit/verify.
type AuditAnswer struct {
	// OK is true when the chain verified.
	OK bool `json:"ok"`
	// Entries is the number of entries in the log when the verification
	// started (entries written meanwhile are verified too).
	Entries int64 `json:"entries"`
	// BrokenSeq is the first entry that does not chain (when not OK).
	BrokenSeq int64  `json:"broken_seq,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// verifyAudit answers GET /api/v1/audit/verify (admin): it walks the audit
// log's hash chain. A broken chain is a finding, not a failure of the
// request: the answer is 200 with "ok": false and the first broken entry.
func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	head, err := s.store.AuditHead(r.Context())
	if err != nil {
		return err
	}
	err = s.store.VerifyAudit(r.Context())
	var broken *store.AuditBrokenError
	switch {
	case errors.As(err, &broken):
		return writeJSON(w, http.StatusOK, AuditAnswer{Entries: head, BrokenSeq: broken.Seq, Reason: broken.Reason})
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, AuditAnswer{OK: true, Entries: head})
}
