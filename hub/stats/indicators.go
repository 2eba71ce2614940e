package stats

import (
	"sort"
	"time"
)

// computers are the implemented indicators, by catalogue id.
var computers = map[string]computeFunc{
	"referral-acceptance":        referralAcceptance,
	"referral-closed-loop":       referralClosedLoop,
	"referral-response-time":     referralResponseTime,
	"time-to-housing":            timeToHousing,
	"housing-retention-6m":       func(e *env) map[string]*contribution { return housingRetention(e, 182) },
	"housing-retention-12m":      func(e *env) map[string]*contribution { return housingRetention(e, 365) },
	"returns-to-homelessness":    returnsToHomelessness,
	"ethos-improvement":          ethosImprovement,
	"employment-rate":            employmentRate,
	"post-internship-employment": postInternshipEmployment,
	"activation-timeliness":      activationTimeliness,
	"social-network-gain":        socialNetworkGain,
	"volunteer-support":          volunteerSupport,
	"caseload":                   caseload,
	"cost-per-pathway":           costPerPathway,
}

// --- Referrals (1-3): the hub's referrals table. ---

// requestedReferrals returns, per household, its first referral requested
// in the period (earliest authored_on, then source and record id). A
// referral counts as requested unless it is a draft, entered in error, or
// cancelled without ever having been requested. A referral without a
// person belongs to no household and is not counted.
func requestedReferrals(e *env) map[string]*referralRow {
	out := map[string]*referralRow{}
	for _, r := range e.d.referrals {
		if r.personID == "" || !e.p.contains(r.authoredOn) || !e.known(r.authoredOn) {
			continue
		}
		switch r.status {
		case "draft", "entered-in-error":
			continue
		case "cancelled":
			if !r.wasRequested {
				continue
			}
		}
		root := e.h.of(r.personID, "")
		if cur := out[root]; cur == nil || before(r.authoredOn, &r.meta, cur.authoredOn, &cur.meta) {
			out[root] = r
		}
	}
	return out
}

// accepted: the first response (responded_at) came by the observation
// date and was not a rejection. Rejected is final, so a referral whose
// status is not rejected and that has a response was accepted (it may be
// in progress, on hold, completed, failed or cancelled since).
func (e *env) accepted(r *referralRow) bool {
	return e.known(r.respondedAt) && r.status != "rejected"
}

func referralAcceptance(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, r := range requestedReferrals(e) {
		c := e.contribute(out, root, r.personID)
		c.measures[den] = 1
		if e.accepted(r) {
			c.measures[num] = 1
		}
	}
	return out
}

func referralClosedLoop(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, r := range requestedReferrals(e) {
		c := e.contribute(out, root, r.personID)
		c.measures[den] = 1
		if r.status == "completed" && e.known(r.closedAt) && r.closedAt.Sub(r.authoredOn) <= 90*24*time.Hour {
			c.measures[num] = 1
		}
	}
	return out
}

func referralResponseTime(e *env) map[string]*contribution {
	out := map[string]*contribution{}
	for root, r := range requestedReferrals(e) {
		c := e.contribute(out, root, r.personID)
		bin := "none"
		if e.known(r.respondedAt) {
			switch n := days(r.authoredOn, r.respondedAt); {
			case n <= 2:
				bin = "le-2d"
			case n <= 7:
				bin = "3-7d"
			case n <= 30:
				bin = "8-30d"
			default:
				bin = "gt-30d"
			}
		}
		c.measures[e.measure(bin)] = 1
	}
	return out
}

// --- Pathways (4, 11, 13, 14, 15). ---

// activePathways returns, per household, its pathways active on at least
// one day of the period (started by the period end and by the observation
// date, not ended before the period start, neither draft nor entered in
// error), the earliest started first.
func activePathways(e *env) map[string][]*pathwayRec {
	out := map[string][]*pathwayRec{}
	for _, pw := range e.d.pathways {
		if pw.Status == "draft" || pw.Status == "entered-in-error" || !e.known(pw.StartedOn.Time) {
			continue
		}
		end := pw.EndedOn.Time
		if !e.known(end) {
			end = time.Time{}
		}
		if !e.p.overlaps(pw.StartedOn.Time, end) {
			continue
		}
		root := e.h.of(pw.Person.PersonID, pw.Household.key(householdNode, pw.source))
		if root == "" {
			continue
		}
		list := append(out[root], pw)
		for i := len(list) - 1; i > 0 && before(list[i].StartedOn.Time, &list[i].meta, list[i-1].StartedOn.Time, &list[i-1].meta); i-- {
			list[i], list[i-1] = list[i-1], list[i]
		}
		out[root] = list
	}
	return out
}

func caseload(e *env) map[string]*contribution {
	n := e.measure("count")
	out := map[string]*contribution{}
	for root, pws := range activePathways(e) {
		e.contribute(out, root, pws[0].Person.PersonID).measures[n] = 1
	}
	return out
}

// volunteerSupport: a pathway is supported when a volunteer assignment to
// it is active on a day of the period, or when the pathway itself lists
// volunteers (its current supporters).
func volunteerSupport(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	supported := map[string]bool{}
	for _, v := range e.d.volunteers {
		for _, a := range v.Assignments {
			end := a.End.Time
			if !e.known(end) {
				end = time.Time{}
			}
			if e.known(a.Start.Time) && e.p.overlaps(a.Start.Time, end) {
				supported[a.Pathway.key("", v.source)] = true
			}
		}
	}
	out := map[string]*contribution{}
	for root, pws := range activePathways(e) {
		c := e.contribute(out, root, pws[0].Person.PersonID)
		c.measures[den] = 1
		for _, pw := range pws {
			if len(pw.Volunteers) > 0 || supported[pw.source+"\x00"+pw.recordID] {
				c.measures[num] = 1
			}
		}
	}
	return out
}

// timeToHousing: the household's earliest-started active pathway, and its
// first permanent placement starting on or after the pathway start, by the
// period end and the observation date.
func timeToHousing(e *env) map[string]*contribution {
	first := map[string][]*placementRec{}
	for _, pl := range e.d.placements {
		if !pl.Permanent || !e.known(pl.Start.Time) || !pl.Start.Before(e.p.End) {
			continue
		}
		root := e.h.of(pl.Person.PersonID, pl.Household.key(householdNode, pl.source))
		first[root] = append(first[root], pl)
	}
	out := map[string]*contribution{}
	for root, pws := range activePathways(e) {
		pw := pws[0]
		start := pw.StartedOn.Time
		var housed *placementRec
		for _, pl := range first[root] {
			if pl.Start.Before(start) {
				continue
			}
			if housed == nil || before(pl.Start.Time, &pl.meta, housed.Start.Time, &housed.meta) {
				housed = pl
			}
		}
		bin := "not-yet"
		if housed != nil {
			at := housed.Start.Time
			switch {
			case !at.After(start.AddDate(0, 3, 0)):
				bin = "le-3m"
			case !at.After(start.AddDate(0, 6, 0)):
				bin = "3-6m"
			case !at.After(start.AddDate(0, 12, 0)):
				bin = "6-12m"
			case !at.After(start.AddDate(0, 24, 0)):
				bin = "12-24m"
			default:
				bin = "gt-24m"
			}
		}
		e.contribute(out, root, pw.Person.PersonID).measures[e.measure(bin)] = 1
	}
	return out
}

// activationTimeliness: the household's pathway with the earliest access
// (over all time); the household enters in the period of that access.
func activationTimeliness(e *env) map[string]*contribution {
	firstAccess := map[string]*pathwayRec{}
	for _, pw := range e.d.pathways {
		if pw.Status == "draft" || pw.Status == "entered-in-error" || pw.AccessedOn.IsZero() {
			continue
		}
		root := e.h.of(pw.Person.PersonID, pw.Household.key(householdNode, pw.source))
		if root == "" {
			continue
		}
		if cur := firstAccess[root]; cur == nil || before(pw.AccessedOn.Time, &pw.meta, cur.AccessedOn.Time, &cur.meta) {
			firstAccess[root] = pw
		}
	}
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, pw := range firstAccess {
		if !e.p.contains(pw.AccessedOn.Time) || !e.known(pw.AccessedOn.Time) {
			continue
		}
		c := e.contribute(out, root, pw.Person.PersonID)
		c.measures[den] = 1
		pre, signed := pw.PreliminaryAssessmentOn.Time, pw.SignedOn.Time
		if e.known(pre) && e.known(signed) &&
			days(pw.AccessedOn.Time, pre) <= 60 && days(pre, signed) <= 120 {
			c.measures[num] = 1
		}
	}
	return out
}

// costPerPathway: the household's spend over its active pathways whose
// cost covers (or, without a cost period, may cover) the period, in euro
// cents, clamped to the catalogue's cap.
func costPerPathway(e *env) map[string]*contribution {
	sum, den := e.measure("sum"), e.measure("denominator")
	limit := e.ind.Sum.Cap
	out := map[string]*contribution{}
	for root, pws := range activePathways(e) {
		var cents int64
		reported := false
		for _, pw := range pws {
			if pw.Cost == nil {
				continue
			}
			if cp := pw.Cost.Period; cp != nil && !e.p.overlaps(cp.Start.Time, cp.End.Time) {
				continue
			}
			reported = true
			cents += int64(pw.Cost.Amount.Value*100 + 0.5)
		}
		if !reported {
			continue
		}
		c := e.contribute(out, root, pws[0].Person.PersonID)
		c.measures[den] = 1
		c.measures[sum] = min(cents, limit)
	}
	return out
}

// --- Housing placements (5-7). ---

// housingRetention: per household, its first permanent placement whose
// day D (start + D days) falls in the period; still placed on day D (no
// end by then, or an end on or after day D), or left to a permanent
// destination.
func housingRetention(e *env, d int) map[string]*contribution {
	index := map[string]*placementRec{}
	for _, pl := range e.d.placements {
		if !pl.Permanent || pl.Start.IsZero() || !e.p.contains(pl.Start.AddDate(0, 0, d)) {
			continue
		}
		root := e.h.of(pl.Person.PersonID, pl.Household.key(householdNode, pl.source))
		if cur := index[root]; cur == nil || before(pl.Start.Time, &pl.meta, cur.Start.Time, &cur.meta) {
			index[root] = pl
		}
	}
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, pl := range index {
		c := e.contribute(out, root, pl.Person.PersonID)
		c.measures[den] = 1
		dayD := pl.Start.AddDate(0, 0, d)
		if !e.known(pl.End.Time) || !pl.End.Before(dayD) || pl.DestinationGroup == "permanent" {
			c.measures[num] = 1
		}
	}
	return out
}

func homeless(c code) bool { return c == "EL1" || c == "EL2" || c == "EL3" }

// returnsToHomelessness: per household, its first exit to a permanent
// destination whose following 365 days end in the period; a return is any
// sign of EL1-EL3 in the 365 days after the exit: an assessment, the
// situation before a new placement, or the destination of another exit.
func returnsToHomelessness(e *env) map[string]*contribution {
	const year = 365
	index := map[string]*placementRec{}
	byRoot := map[string][]*placementRec{}
	for _, pl := range e.d.placements {
		root := e.h.of(pl.Person.PersonID, pl.Household.key(householdNode, pl.source))
		byRoot[root] = append(byRoot[root], pl)
		if pl.DestinationGroup != "permanent" || pl.End.IsZero() || !e.p.contains(pl.End.AddDate(0, 0, year)) {
			continue
		}
		if cur := index[root]; cur == nil || before(pl.End.Time, &pl.meta, cur.End.Time, &cur.meta) {
			index[root] = pl
		}
	}
	var assessed map[string][]*assessmentRec
	if len(index) > 0 {
		assessed = map[string][]*assessmentRec{}
		for _, a := range e.d.assessments {
			if homeless(a.Ethos) {
				root := e.h.of(a.Person.PersonID, a.Household.key(householdNode, a.source))
				assessed[root] = append(assessed[root], a)
			}
		}
	}
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, exit := range index {
		c := e.contribute(out, root, exit.Person.PersonID)
		c.measures[den] = 1
		from, to := exit.End.Time, exit.End.AddDate(0, 0, year)
		within := func(t time.Time) bool { return e.known(t) && t.After(from) && !t.After(to) }
		back := false
		for _, a := range assessed[root] {
			back = back || within(a.AssessedOn.Time)
		}
		for _, pl := range byRoot[root] {
			back = back || (homeless(pl.EthosBefore) && within(pl.Start.Time)) ||
				((homeless(pl.Destination) || pl.DestinationGroup == "homeless") && within(pl.End.Time))
		}
		if back {
			c.measures[num] = 1
		}
	}
	return out
}

// --- Assessment cohorts (8, 9, 12). ---

// t12Cohort returns, per household, its first T12 assessment in the period
// (by assessed_on, then source and record id) that ok accepts.
func t12Cohort(e *env, ok func(a *assessmentRec) bool) map[string]*assessmentRec {
	out := map[string]*assessmentRec{}
	for _, a := range e.d.assessments {
		if a.Timepoint != "T12" || a.Person.PersonID == "" || !e.p.contains(a.AssessedOn.Time) || !e.known(a.AssessedOn.Time) || !ok(a) {
			continue
		}
		root := e.h.of(a.Person.PersonID, a.Household.key(householdNode, a.source))
		if cur := out[root]; cur == nil || before(a.AssessedOn.Time, &a.meta, cur.AssessedOn.Time, &cur.meta) {
			out[root] = a
		}
	}
	return out
}

// t0Index holds each person's T0 assessments, the earliest first.
type t0Index map[string][]*assessmentRec

func (d *dataset) t0Index() t0Index {
	idx := t0Index{}
	for _, a := range d.assessments {
		if a.Timepoint == "T0" && a.Person.PersonID != "" && !a.AssessedOn.IsZero() {
			idx[a.Person.PersonID] = append(idx[a.Person.PersonID], a)
		}
	}
	for _, list := range idx {
		sort.Slice(list, func(i, j int) bool {
			return before(list[i].AssessedOn.Time, &list[i].meta, list[j].AssessedOn.Time, &list[j].meta)
		})
	}
	return idx
}

// first returns the person's first T0 assessment on or before the date
// that records the item (item returns its value), or nil.
func (idx t0Index) first(person string, by time.Time, item func(a *assessmentRec) code) *assessmentRec {
	for _, a := range idx[person] {
		if a.AssessedOn.After(by) {
			return nil
		}
		if item(a) != "" {
			return a
		}
	}
	return nil
}

func ethosImprovement(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	ethos := func(a *assessmentRec) code { return a.Ethos }
	out := map[string]*contribution{}
	t0s := e.d.t0Index()
	for root, a := range t12Cohort(e, func(a *assessmentRec) bool { return a.Ethos != "" }) {
		c := e.contribute(out, root, a.Person.PersonID)
		c.measures[den] = 1
		t0 := t0s.first(a.Person.PersonID, a.AssessedOn.Time, ethos)
		if t0 != nil && t0.Ethos != "housed" && t0.Ethos != "" && a.Ethos == "housed" {
			c.measures[num] = 1
		}
	}
	return out
}

func employmentRate(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	cohort := t12Cohort(e, func(a *assessmentRec) bool {
		p := e.d.persons[a.Person.PersonID]
		if a.ILOStatus == "" || p == nil || p.BirthYear == 0 {
			return false
		}
		age := a.AssessedOn.Year() - p.BirthYear
		return age >= 20 && age <= 64
	})
	for root, a := range cohort {
		c := e.contribute(out, root, a.Person.PersonID)
		c.measures[den] = 1
		if a.ILOStatus == "employed" {
			c.measures[num] = 1
		}
	}
	return out
}

func socialNetworkGain(e *env) map[string]*contribution {
	num, den := e.measure("numerator"), e.measure("denominator")
	network := func(a *assessmentRec) code { return a.SocialNetwork }
	t0s := e.d.t0Index()
	cohort := t12Cohort(e, func(a *assessmentRec) bool {
		if a.SocialNetwork == "" {
			return false
		}
		t0 := t0s.first(a.Person.PersonID, a.AssessedOn.Time, network)
		return t0 != nil && t0.SocialNetwork == "absent"
	})
	out := map[string]*contribution{}
	for root, a := range cohort {
		c := e.contribute(out, root, a.Person.PersonID)
		c.measures[den] = 1
		if a.SocialNetwork == "partial" || a.SocialNetwork == "present" {
			c.measures[num] = 1
		}
	}
	return out
}

// --- Employment activities (10). ---

// postInternshipEmployment: per household, the first internship whose day
// 180 after its end falls in the period; employed when the same person has
// a contract started by that day and not ended before it.
func postInternshipEmployment(e *env) map[string]*contribution {
	const after = 180
	index := map[string]*activityRec{}
	contracts := map[string][]*activityRec{}
	for _, a := range e.d.activities {
		switch a.Type {
		case "contract":
			contracts[a.Person.PersonID] = append(contracts[a.Person.PersonID], a)
		case "internship":
			if a.Person.PersonID == "" || a.End.IsZero() || !e.p.contains(a.End.AddDate(0, 0, after)) {
				continue
			}
			root := e.h.of(a.Person.PersonID, "")
			if cur := index[root]; cur == nil || before(a.End.Time, &a.meta, cur.End.Time, &cur.meta) {
				index[root] = a
			}
		}
	}
	num, den := e.measure("numerator"), e.measure("denominator")
	out := map[string]*contribution{}
	for root, in := range index {
		c := e.contribute(out, root, in.Person.PersonID)
		c.measures[den] = 1
		day := in.End.AddDate(0, 0, after)
		for _, k := range contracts[in.Person.PersonID] {
			if e.known(k.Start.Time) && !k.Start.After(day) && (!e.known(k.End.Time) || !k.End.Before(day)) {
				c.measures[num] = 1
			}
		}
	}
	return out
}
