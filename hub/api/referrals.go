package api

import (
	"net/http"
	"time"

	"github.com/snodo-hub/snodo/hub/referral"
	"github.com/snodo-hub/snodo/hub/store"
)

// Referrals says which referrals are overdue now: the earliest status time
// a referral still requested may have, by priority. The referral engine
// implements it.
type Referrals interface {
	Overdue() map[string]time.Time
}

// ReferralJSON is a referral as the API shows it.
type ReferralJSON struct {
	Source       string     `json:"source"`
	RecordID     string     `json:"record_id"`
	Requester    string     `json:"requester"`
	Owner        string     `json:"owner"`
	PersonID     string     `json:"person_id,omitempty"`
	Priority     string     `json:"priority"`
	Category     string     `json:"category"`
	Status       string     `json:"status"`
	StatusReason string     `json:"status_reason,omitempty"`
	StatusAt     time.Time  `json:"status_at"`
	AuthoredOn   time.Time  `json:"authored_on"`
	RespondedAt  *time.Time `json:"responded_at,omitempty"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	Overdue      bool       `json:"overdue"`
	Delivery     string     `json:"delivery"`
	DeliveryNote string     `json:"delivery_note,omitempty"`
	Target       string     `json:"target,omitempty"`
	TargetID     string     `json:"target_id,omitempty"`
	DeliveredAt  *time.Time `json:"delivered_at,omitempty"`
}

// ReferralEventJSON is one status change of a referral's timeline.
type ReferralEventJSON struct {
	From     string    `json:"from,omitempty"`
	To       string    `json:"to"`
	Reason   string    `json:"reason,omitempty"`
	SetBy    string    `json:"set_by"`
	At       time.Time `json:"at"`
	Reported string    `json:"reported_by"` // the connector instance
	EventID  string    `json:"event_id,omitempty"`
	Outcome  string    `json:"outcome"` // applied or refused
	Problem  string    `json:"problem,omitempty"`
}

// ReferralsAnswer is the answer of GET /api/v1/referrals.
type ReferralsAnswer struct {
	Referrals []ReferralJSON `json:"referrals"`
	Next      string         `json:"next,omitempty"`
}

// ReferralAnswer is the answer of GET /api/v1/referrals/{source}/{id}.
type ReferralAnswer struct {
	ReferralJSON
	Timeline []ReferralEventJSON `json:"timeline"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) referralJSON(r store.Referral, overdue map[string]time.Time) ReferralJSON {
	before, ok := overdue[r.Priority]
	return ReferralJSON{
		Source: r.Source, RecordID: r.RecordID, Requester: r.Requester, Owner: r.Owner, PersonID: r.PersonID,
		Priority: r.Priority, Category: r.Category, Status: r.Status, StatusReason: r.StatusReason,
		StatusAt: r.StatusAt, AuthoredOn: r.AuthoredOn, RespondedAt: optTime(r.RespondedAt), ClosedAt: optTime(r.ClosedAt),
		Overdue:  ok && r.Status == string(referral.Requested) && r.StatusAt.Before(before),
		Delivery: r.Delivery, DeliveryNote: r.DeliveryNote, Target: r.Target, TargetID: r.TargetID, DeliveredAt: optTime(r.DeliveredAt),
	}
}

func (s *Server) overdue() map[string]time.Time {
	if s.referrals == nil {
		return map[string]time.Time{}
	}
	return s.referrals.Overdue()
}

// listReferrals answers GET /api/v1/referrals?status=&owner=&overdue=&after=&limit=
// (operator): the referrals the hub tracks, by source and record id. They
// name a person id: every answer is audited.
func (s *Server) listReferrals(w http.ResponseWriter, r *http.Request) error {
	q, p := checkQuery(r.URL.Query(), "status", "owner", "overdue", "after", "limit")
	if p != nil {
		return p
	}
	f := store.ReferralFilter{Status: q.get("status"), Owner: q.get("owner")}
	if f.Status != "" && !referral.Status(f.Status).Valid() {
		return badParam("status", "give a referral status: draft, requested, accepted, rejected, cancelled, in-progress, on-hold, failed, completed or entered-in-error")
	}
	overdueOnly, p := q.boolean("overdue")
	if p != nil {
		return p
	}
	overdue := s.overdue()
	if overdueOnly {
		f.OpenSince = overdue
	}
	limit, p := q.limit()
	if p != nil {
		return p
	}
	after, p := decodeCursor(q.get("after"), "referrals")
	if p != nil {
		return p
	}
	f.AfterSource, f.AfterRecordID, f.Limit = after.Source, after.Record, limit+1
	refs, err := s.store.ListReferrals(r.Context(), f)
	if err != nil {
		return err
	}
	ans := ReferralsAnswer{Referrals: make([]ReferralJSON, 0, min(len(refs), limit))}
	if len(refs) > limit {
		refs = refs[:limit]
		last := refs[len(refs)-1]
		ans.Next = cursor{List: "referrals", Source: last.Source, Record: last.RecordID}.encode()
	}
	for _, ref := range refs {
		ans.Referrals = append(ans.Referrals, s.referralJSON(ref, overdue))
	}
	if err := s.audit(r, "api.referrals.read", map[string]any{"referrals": len(refs)}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}

// showReferral answers GET /api/v1/referrals/{source}/{id} (operator): one
// referral and its timeline, refused status changes included with why.
func (s *Server) showReferral(w http.ResponseWriter, r *http.Request) error {
	if _, p := checkQuery(r.URL.Query()); p != nil {
		return p
	}
	source, id := r.PathValue("source"), r.PathValue("id")
	ref, ok, err := s.store.Referral(r.Context(), source, id)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("no referral " + id + " from connector " + source + ": see GET /api/v1/referrals")
	}
	evs, err := s.store.ReferralEvents(r.Context(), source, id)
	if err != nil {
		return err
	}
	ans := ReferralAnswer{ReferralJSON: s.referralJSON(ref, s.overdue()), Timeline: make([]ReferralEventJSON, 0, len(evs))}
	for _, e := range evs {
		ans.Timeline = append(ans.Timeline, ReferralEventJSON{From: e.From, To: e.To, Reason: e.Reason, SetBy: e.SetBy, At: e.At,
			Reported: e.EventSource, EventID: e.EventID, Outcome: e.Outcome, Problem: e.Problem})
	}
	if err := s.audit(r, "api.referral.read", map[string]any{"source": source, "record_id": id}); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}
