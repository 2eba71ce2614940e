package referral_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/snodo-hub/snodo/hub/referral"
)

func TestCheckTransition(t *testing.T) {
	t.Parallel()
	const req, own = referral.Requester, referral.Owner
	type step struct {
		from, to referral.Status
		party    referral.Party
		reason   string
		problem  string // "" when allowed
	}
	tests := map[string]step{
		"sent":                          {"", referral.Requested, req, "", ""},
		"drafted":                       {"", referral.Draft, req, "", ""},
		"draft sent":                    {referral.Draft, referral.Requested, req, "", ""},
		"accepted":                      {referral.Requested, referral.Accepted, own, "", ""},
		"rejected with reason":          {referral.Requested, referral.Rejected, own, "no-capacity", ""},
		"started":                       {referral.Accepted, referral.InProgress, own, "", ""},
		"put on hold":                   {referral.InProgress, referral.OnHold, own, "awaiting-documents", ""},
		"resumed":                       {referral.OnHold, referral.InProgress, own, "", ""},
		"completed":                     {referral.InProgress, referral.Completed, own, "", ""},
		"completed straight":            {referral.Accepted, referral.Completed, own, "", ""},
		"failed":                        {referral.InProgress, referral.Failed, own, "did-not-attend", ""},
		"cancelled by requester":        {referral.Requested, referral.Cancelled, req, "need-resolved", ""},
		"cancelled by owner":            {referral.Accepted, referral.Cancelled, own, "person-declined", ""},
		"corrected after completion":    {referral.Completed, referral.EnteredInError, req, "", ""},
		"owner sends":                   {"", referral.Requested, own, "", "only the requester sets requested"},
		"requester accepts":             {referral.Requested, referral.Accepted, req, "", "only the receiving organisation sets accepted"},
		"requester completes":           {referral.InProgress, referral.Completed, req, "", "only the receiving organisation sets completed"},
		"owner corrects":                {referral.Requested, referral.EnteredInError, own, "", "only the requester sets entered-in-error"},
		"stranger":                      {referral.Requested, referral.Accepted, referral.Neither, "", "neither the requester nor the receiving organisation"},
		"rejected without reason":       {referral.Requested, referral.Rejected, own, "", "a status reason is mandatory for rejected"},
		"on hold without reason":        {referral.Accepted, referral.OnHold, own, "", "a status reason is mandatory for on-hold"},
		"completed before accepted":     {referral.Requested, referral.Completed, own, "", "from requested the referral may go to accepted, rejected, cancelled"},
		"accepted before requested":     {"", referral.Accepted, own, "", "a new referral starts as draft, requested"},
		"accepted from draft":           {referral.Draft, referral.Accepted, own, "", "from draft the referral may go to requested, cancelled"},
		"reopened after completion":     {referral.Completed, referral.InProgress, own, "", "the referral is completed, which is final"},
		"accepted after rejection":      {referral.Rejected, referral.Accepted, own, "", "the referral is rejected, which is final"},
		"new as entered-in-error":       {"", referral.EnteredInError, req, "", "cannot start as entered-in-error"},
		"entered-in-error twice":        {referral.EnteredInError, referral.EnteredInError, req, "", "already entered-in-error"},
		"unknown status":                {referral.Requested, "received", own, "", `"received" is not a referral status`},
		"back to requested from accept": {referral.Accepted, referral.Requested, req, "", "from accepted the referral may go to"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := referral.CheckTransition(tc.from, tc.to, "org-x", tc.party, tc.reason)
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var te *referral.TransitionError
			if !errors.As(err, &te) {
				t.Fatalf("allowed, or not a *TransitionError (%v); want refused with %q", err, tc.problem)
			}
			if !strings.Contains(te.Problem, tc.problem) {
				t.Errorf("problem %q, want it to say %q", te.Problem, tc.problem)
			}
			if !strings.Contains(err.Error(), "set by org-x refused") {
				t.Errorf("error %q does not name who set it", err)
			}
		})
	}
}

// Every pair of statuses is either allowed for exactly the parties
// DOMAIN.md names, or refused for both: the table above samples; this
// checks the rule on who sets what over all of them.
func TestOnlyTheRightPartySetsEachStatus(t *testing.T) {
	t.Parallel()
	requesterSets := map[referral.Status]bool{referral.Draft: true, referral.Requested: true, referral.EnteredInError: true, referral.Cancelled: true}
	ownerSets := map[referral.Status]bool{referral.Accepted: true, referral.Rejected: true, referral.InProgress: true,
		referral.OnHold: true, referral.Failed: true, referral.Completed: true, referral.Cancelled: true}
	froms := append([]referral.Status{""}, referral.Statuses...)
	for _, from := range froms {
		for _, to := range referral.Statuses {
			for party, sets := range map[referral.Party]map[referral.Status]bool{referral.Requester: requesterSets, referral.Owner: ownerSets} {
				err := referral.CheckTransition(from, to, "org", party, "other")
				if err == nil && !sets[to] {
					t.Errorf("%s → %s allowed for %s, who may not set %s", from, to, party, to)
				}
			}
		}
	}
}
