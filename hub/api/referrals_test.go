package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/hub/store"
)

// addReferrals puts four referrals in the fixture's store. The fixture's
// engine has targets routine 7 days and urgent 3 days and its clock at now
// (since + 10 days), so only comune/REF-1 is overdue: REF-2 is requested
// for 2 days only, REF-3 was answered, and stat has no target.
func addReferrals(t *testing.T, f *fixture) {
	t.Helper()
	for _, r := range []store.Referral{
		{Source: "comune", RecordID: "REF-1", Requester: "comune-x", Owner: "cpi-x", PersonID: anna, Priority: "urgent",
			Category: "employment-status", Status: "requested", StatusAt: since, AuthoredOn: since, Delivery: store.DeliveryPending},
		{Source: "comune", RecordID: "REF-2", Requester: "comune-x", Owner: "sds-x", PersonID: bruno, Priority: "routine",
			Category: "health-status", Status: "requested", StatusAt: now.Add(-48 * time.Hour), AuthoredOn: now.Add(-48 * time.Hour),
			Delivery: store.DeliveryHeld, DeliveryNote: "no active consent"},
		{Source: "comune", RecordID: "REF-3", Requester: "comune-x", Owner: "cpi-x", PersonID: bruno, Priority: "routine",
			Category: "employment-status", Status: "accepted", StatusAt: since.Add(time.Hour), AuthoredOn: since,
			RespondedAt: since.Add(time.Hour), Delivery: store.DeliveryDelivered, Target: "cpi", TargetID: "CPI-77", DeliveredAt: since},
		{Source: "cpi", RecordID: "S-9", Requester: "cpi-x", Owner: "cpi-x", PersonID: anna, Priority: "stat",
			Category: "employment-status", Status: "requested", StatusAt: since, AuthoredOn: since, Delivery: store.DeliveryLocal},
	} {
		f.addReferral(t, r)
	}
	ctx := context.Background()
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		for _, e := range []store.ReferralEvent{
			{RefSource: "comune", RefRecordID: "REF-1", EventSource: "comune", To: "requested", SetBy: "comune-x", At: since, Outcome: "applied"},
			{RefSource: "comune", RefRecordID: "REF-1", EventSource: "sds", EventID: "E-1", From: "requested", To: "accepted", SetBy: "sds-x",
				At: since.Add(time.Hour), Outcome: "refused", Problem: "sds-x is neither the requester nor the owner of the referral"},
		} {
			if _, err := tx.AddReferralEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func referralKeys(refs []api.ReferralJSON) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Source+"/"+r.RecordID)
	}
	return out
}

func TestReferralsList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	addReferrals(t, f)

	all := getJSON[api.ReferralsAnswer](t, f, "/api/v1/referrals", operator)
	if diff := cmp.Diff([]string{"comune/REF-1", "comune/REF-2", "comune/REF-3", "cpi/S-9"}, referralKeys(all.Referrals)); diff != "" {
		t.Fatalf("all referrals (-want +got):\n%s", diff)
	}
	var overdue []bool
	for _, r := range all.Referrals {
		overdue = append(overdue, r.Overdue)
	}
	if diff := cmp.Diff([]bool{true, false, false, false}, overdue); diff != "" {
		t.Errorf("overdue flags (-want +got):\n%s", diff)
	}
	if r := all.Referrals[1]; r.Delivery != "held" || r.DeliveryNote != "no active consent" || r.PersonID != bruno {
		t.Errorf("REF-2: %+v", r)
	}
	if r := all.Referrals[2]; r.TargetID != "CPI-77" || r.RespondedAt == nil || !r.RespondedAt.Equal(since.Add(time.Hour)) {
		t.Errorf("REF-3: %+v", r)
	}

	for query, want := range map[string][]string{
		"status=requested":            {"comune/REF-1", "comune/REF-2", "cpi/S-9"},
		"owner=cpi-x":                 {"comune/REF-1", "comune/REF-3", "cpi/S-9"},
		"overdue=true":                {"comune/REF-1"},
		"overdue=false":               {"comune/REF-1", "comune/REF-2", "comune/REF-3", "cpi/S-9"},
		"status=accepted&owner=cpi-x": {"comune/REF-3"},
		"status=completed":            nil,
	} {
		got := getJSON[api.ReferralsAnswer](t, f, "/api/v1/referrals?"+query, operator)
		if diff := cmp.Diff(want, referralKeys(got.Referrals)); diff != "" {
			t.Errorf("?%s (-want +got):\n%s", query, diff)
		}
	}

	// Paging: two pages of two, then none.
	var paged []string
	next := "/api/v1/referrals?limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		ans := getJSON[api.ReferralsAnswer](t, f, next, operator)
		paged = append(paged, referralKeys(ans.Referrals)...)
		next = ""
		if ans.Next != "" {
			next = "/api/v1/referrals?limit=2&after=" + url.QueryEscape(ans.Next)
		}
	}
	if diff := cmp.Diff(referralKeys(all.Referrals), paged); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}

	// Bad parameters say which and what to give.
	for query, param := range map[string]string{"status=open": "status", "overdue=maybe": "overdue", "limit=0": "limit", "colour=red": "colour"} {
		resp, body := f.get(t, "/api/v1/referrals?"+query, operator)
		if p := checkProblem(t, resp, body, http.StatusBadRequest, "invalid-parameter"); p.Parameter != param {
			t.Errorf("?%s: parameter %q, want %q: %s", query, p.Parameter, param, body)
		}
	}
}

func TestReferralShow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	addReferrals(t, f)
	before := len(readAudit(t, f.path))

	ans := getJSON[api.ReferralAnswer](t, f, "/api/v1/referrals/comune/REF-1", operator)
	if ans.Status != "requested" || !ans.Overdue || ans.PersonID != anna || ans.Owner != "cpi-x" {
		t.Errorf("referral: %+v", ans.ReferralJSON)
	}
	want := []api.ReferralEventJSON{
		{To: "requested", SetBy: "comune-x", At: since, Reported: "comune", Outcome: "applied"},
		{From: "requested", To: "accepted", SetBy: "sds-x", At: since.Add(time.Hour), Reported: "sds", EventID: "E-1",
			Outcome: "refused", Problem: "sds-x is neither the requester nor the owner of the referral"},
	}
	if diff := cmp.Diff(want, ans.Timeline, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}

	resp, body := f.get(t, "/api/v1/referrals/comune/REF-404", operator)
	checkProblem(t, resp, body, http.StatusNotFound, "not-found")

	// The read is audited (it names a person id); the miss is not.
	got := readAudit(t, f.path)[before:]
	if len(got) != 1 || got[0].Action != "api.referral.read" || got[0].Detail["record_id"] != "REF-1" {
		t.Errorf("audit entries: %+v", got)
	}
}

// TestReferralMetrics: /metrics counts referrals by status, by delivery
// state, the overdue ones by priority and the status changes by outcome,
// with 0 for the values no referral has.
func TestReferralMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	addReferrals(t, f)

	resp, body := f.get(t, "/metrics", noToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"snodo_referrals", "status", "requested", 3},
		{"snodo_referrals", "status", "accepted", 1},
		{"snodo_referrals", "status", "completed", 0},
		{"snodo_referrals_delivery", "delivery", "pending", 1},
		{"snodo_referrals_delivery", "delivery", "held", 1},
		{"snodo_referrals_delivery", "delivery", "delivered", 1},
		{"snodo_referrals_delivery", "delivery", "local", 1},
		{"snodo_referrals_delivery", "delivery", "unrouted", 0},
		{"snodo_referrals_overdue", "priority", "urgent", 1},
		{"snodo_referrals_overdue", "priority", "routine", 0},
		{"snodo_referral_status_changes_total", "outcome", "applied", 1},
		{"snodo_referral_status_changes_total", "outcome", "refused", 1},
	} {
		m := value(t, fams, c.name, map[string]string{c.label: c.value})
		got := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		if got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
	if n := len(fams["snodo_referrals"].GetMetric()); n != 10 {
		t.Errorf("snodo_referrals has %d series, want one per status (10)", n)
	}
}
