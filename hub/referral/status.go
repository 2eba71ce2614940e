package referral

import (
	"fmt"
	"slices"
	"strings"
)

// Status is a referral status, from the closed referral-status code list
// (schemas/codes/referral-status.json).
type Status string

// The statuses.
const (
	Draft          Status = "draft"
	Requested      Status = "requested"
	Accepted       Status = "accepted"
	Rejected       Status = "rejected"
	Cancelled      Status = "cancelled"
	InProgress     Status = "in-progress"
	OnHold         Status = "on-hold"
	Failed         Status = "failed"
	Completed      Status = "completed"
	EnteredInError Status = "entered-in-error"
)

// Statuses lists every status, in the code list's order.
var Statuses = []Status{Draft, Requested, Accepted, Rejected, Cancelled, InProgress, OnHold, Failed, Completed, EnteredInError}

// Valid reports whether s is a status of the code list.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Final reports whether nothing can follow s but a correction
// (entered-in-error).
func (s Status) Final() bool {
	switch s {
	case Rejected, Cancelled, Failed, Completed, EnteredInError:
		return true
	}
	return false
}

// NeedsReason reports whether a status reason is mandatory for s.
func (s Status) NeedsReason() bool {
	switch s {
	case Rejected, Cancelled, OnHold, Failed:
		return true
	}
	return false
}

// Party is the side of a referral an organisation is on.
type Party int

// The parties.
const (
	Neither   Party = iota // an organisation that is not party to the referral
	Requester              // the organisation that sent it
	Owner                  // the receiving organisation
)

func (p Party) String() string {
	switch p {
	case Requester:
		return "the requester"
	case Owner:
		return "the receiving organisation"
	}
	return "not a party"
}

// setter says which party may set a status (DOMAIN.md): the requester sets
// draft, requested and entered-in-error; the receiving organisation
// accepted, rejected, in-progress, on-hold, failed and completed; either
// may cancel.
func setter(s Status) (requester, owner bool) {
	switch s {
	case Draft, Requested, EnteredInError:
		return true, false
	case Cancelled:
		return true, true
	}
	return false, true
}

// next lists the statuses reachable from each status (FHIR Task's life
// cycle, restricted to the statuses Snodo tracks). The empty status is a
// referral the hub has not seen yet. entered-in-error, a correction, is
// reachable from every status and is not listed.
var next = map[Status][]Status{
	"":         {Draft, Requested},
	Draft:      {Requested, Cancelled},
	Requested:  {Accepted, Rejected, Cancelled},
	Accepted:   {InProgress, OnHold, Completed, Failed, Cancelled},
	InProgress: {OnHold, Completed, Failed, Cancelled},
	OnHold:     {InProgress, Completed, Failed, Cancelled},
}

// TransitionError is a status change the hub refuses.
type TransitionError struct {
	From, To Status
	// SetBy is the organisation that set it and Party its side.
	SetBy string
	Party Party
	// Problem says what is wrong and what would be allowed.
	Problem string
}

func (e *TransitionError) Error() string {
	from := string(e.From)
	if from == "" {
		from = "(new)"
	}
	return fmt.Sprintf("status %s → %s set by %s refused: %s", from, e.To, e.SetBy, e.Problem)
}

// CheckTransition says whether the party may move a referral from one
// status to another, with a reason (reason is the status reason code, ""
// when none is given). It returns a *TransitionError saying why not.
func CheckTransition(from, to Status, setBy string, party Party, reason string) error {
	fail := func(format string, args ...any) error {
		return &TransitionError{From: from, To: to, SetBy: setBy, Party: party, Problem: fmt.Sprintf(format, args...)}
	}
	if !to.Valid() {
		return fail("%q is not a referral status (allowed: %s)", to, joinStatuses(Statuses))
	}
	req, own := setter(to)
	switch {
	case party == Neither:
		return fail("%s is neither the requester nor the receiving organisation of this referral", setBy)
	case party == Requester && !req:
		return fail("only the receiving organisation sets %s; the requester sets draft, requested and entered-in-error, and may cancel", to)
	case party == Owner && !own:
		return fail("only the requester sets %s; the receiving organisation sets accepted, rejected, in-progress, on-hold, failed and completed, and may cancel", to)
	}
	if to.NeedsReason() && reason == "" {
		return fail("a status reason is mandatory for %s (rejected, cancelled, on-hold and failed need one)", to)
	}
	if to == EnteredInError {
		if from == "" {
			return fail("a referral cannot start as entered-in-error")
		}
		if from == EnteredInError {
			return fail("the referral is already entered-in-error")
		}
		return nil
	}
	if slices.Contains(next[from], to) {
		return nil
	}
	if from.Final() {
		return fail("the referral is %s, which is final: only entered-in-error (by the requester) may follow", from)
	}
	allowed := next[from]
	if len(allowed) == 0 {
		return fail("no status may follow %s", from)
	}
	if from == "" {
		return fail("a new referral starts as %s", joinStatuses(allowed))
	}
	return fail("from %s the referral may go to %s", from, joinStatuses(allowed))
}

func joinStatuses(ss []Status) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, ", ")
}
