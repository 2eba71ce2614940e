package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/hub/compare"
)

// The demo's 24 months of activity: 2024 and 2025, released as eight
// quarters and two years.
var (
	demoStart = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)
	demoEnd   = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// demoEpochs are released by every demo territory: 1/16 of ρ per quarter
// and 3/4 per year fill each year's budget exactly.
var demoEpochs = []string{
	"2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2024",
	"2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2025",
}

// The three source systems of a demo territory, named as the connector
// instances would be; each serves one organisation.
var demoSystems = []population.System{population.Comune, population.SDS, population.CPI}

func demoSource(sys population.System) string { return string(sys) }

// demoOrg is the id of the organisation behind a system in a territory.
func demoOrg(code string, sys population.System) string {
	return fmt.Sprintf("%s-%s", sys, code)
}

// demoBatch is the records one source delivers in one phase.
type demoBatch struct {
	source  string
	records [][]byte
}

// demoActivity is what the seeded generator made for a territory, in the
// order the hub must read it: people and households, then referrals, their
// status events, and the pathways and what follows from them.
type demoActivity struct {
	phases [][]demoBatch
}

// demoGen builds the records of one territory.
type demoGen struct {
	t      compare.Territory
	r      *rand.Rand
	n      int // record counter, for ids
	out    map[string][][]byte
	phases []map[string][][]byte
}

func (g *demoGen) phase() {
	g.out = map[string][][]byte{}
	g.phases = append(g.phases, g.out)
}

// emit adds a record of schema from sys, stamped at "at".
func (g *demoGen) emit(sys population.System, schema, id string, at time.Time, fields map[string]any) {
	fields["schema"] = "https://snodo-hub.github.io/schemas/" + schema + "/1.0.0"
	fields["record_id"] = id
	fields["source"] = demoSource(sys)
	fields["territory"] = g.t.Code
	fields["recorded_at"] = at.Add(time.Duration(9+g.r.IntN(8)) * time.Hour).Format(time.RFC3339)
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // maps of strings, numbers and slices always marshal
	}
	g.out[string(sys)] = append(g.out[string(sys)], b)
}

// id is a record id of the generator's own: "PAIS-G000042". The G keeps
// them apart from the ids the simulated source systems give their records
// ("PAIS-000042"), which a live territory reads into the same store.
func (g *demoGen) id(prefix string) string {
	g.n++
	return fmt.Sprintf("%s-G%06d", prefix, g.n)
}

func (g *demoGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *demoGen) days(lo, hi int) time.Duration {
	return time.Duration(lo+g.r.IntN(hi-lo+1)) * 24 * time.Hour
}

func coding(list, code string) map[string]any {
	return map[string]any{"system": "https://snodo-hub.github.io/codes/" + list, "code": code}
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// personRef names a person by the identifiers sys holds (the mistyped ones
// included: those records go to quarantine, as they would in a real
// territory).
func personRef(p *population.Person, sys population.System) map[string]any {
	ids := map[string]any{}
	if kind, code := p.IDIn(sys); kind != "" {
		ids[kind] = code
	}
	if kind, code := p.FormerIDIn(sys); kind != "" {
		ids[kind] = code
	}
	return map[string]any{"identifiers": ids}
}

// knownBy is the first system of the list that knows p.
func knownBy(p *population.Person, systems ...population.System) (population.System, bool) {
	for _, s := range systems {
		if p.In(s) {
			return s, true
		}
	}
	return "", false
}

// demoPopulation is the territory's synthetic population: one household
// per 1,000 residents, at most limit. A live territory's simulated source
// systems hold the same people.
func demoPopulation(t compare.Territory, seed int64, nth, limit int) *population.Population {
	households := min(max(int(t.Population/1000), 1), limit)
	return population.Generate(seed+int64(nth)*7919, households)
}

// generateDemoActivity makes the territory's records over its population,
// placed in its comuni: 24 months of referrals, pathways, assessments,
// placements and employment activities.
func generateDemoActivity(t compare.Territory, pop *population.Population, seed int64, nth int) *demoActivity {
	g := &demoGen{t: t, r: rand.New(rand.NewPCG(uint64(seed), uint64(nth)))}

	g.phase() // people and households
	comuneOf := map[*population.Household]string{}
	for _, h := range pop.Households() {
		comuneOf[h] = t.Comuni[g.r.IntN(len(t.Comuni))]
	}
	for _, p := range pop.People() {
		h := p.Household()
		for _, sys := range p.Systems() {
			f := map[string]any{"person": personRef(p, sys), "birth_year": p.BirthDate.Year(), "sex": p.Sex,
				"citizenship": p.Citizenship, "residence_comune": comuneOf[h]}
			if sys == population.Comune && h.In(population.Comune) {
				f["household"] = map[string]any{"record_id": h.ID}
			}
			// The system's own id: a live territory's connectors then
			// update these records rather than add a second copy.
			g.emit(sys, "person", p.LocalID(sys), demoStart.Add(-g.days(30, 900)), f)
		}
	}
	for _, h := range pop.Households() {
		if !h.In(population.Comune) {
			continue
		}
		var members []any
		for _, m := range h.Members {
			if !m.In(population.Comune) {
				continue
			}
			members = append(members, map[string]any{"person": personRef(m, population.Comune), "role": coding("household-role", string(m.Role))})
		}
		g.emit(population.Comune, "household", h.ID, demoStart.Add(-g.days(1, 400)), map[string]any{
			"size": len(h.Members), "household_type": coding("household-type", h.Type), "isee_band": h.ISEEBand, "members": members})
	}

	referrals, events, after := map[string][][]byte{}, map[string][][]byte{}, map[string][][]byte{}
	g.phases = append(g.phases, referrals, events, after)
	for _, h := range pop.Households() {
		head := h.Members[0]
		from, ok := knownBy(head, population.Comune, population.SDS)
		if !ok || !g.chance(0.55) {
			continue
		}
		g.out = referrals
		g.demoCase(h, head, from, comuneOf[h], events, after)
	}
	// Employment activities of people the employment centre knows,
	// outside any referral.
	g.out = after
	for _, p := range pop.People() {
		if age := p.Age(); p.In(population.CPI) && age >= 18 && age < 65 && g.chance(0.25) {
			g.job(p, demoStart.Add(g.days(0, 700)), nil)
		}
	}
	a := &demoActivity{}
	for _, ph := range g.phases {
		var bs []demoBatch
		for _, sys := range demoSystems {
			if recs := ph[string(sys)]; len(recs) > 0 {
				bs = append(bs, demoBatch{source: demoSource(sys), records: recs})
			}
		}
		a.phases = append(a.phases, bs)
	}
	return a
}

// The housing side of the demo's cases. Retention at 6 and 12 months and
// returns to homelessness follow each move into permanent housing for a
// year, and a territory publishes a rate only when its true counts reach
// the disclosure threshold and its denominator the minimum (20): with one
// case per household, a territory of 200 households needs some 30 moves in
// a single year. So housing cases are most of the comune's referrals, the
// comune accommodates the households itself (its emergency service does
// not wait for the SDS's answer), most housing referrals come in the
// housing programme's intake, and those of 2023 were still open when the
// systems started recording.
const (
	// housingIntake is the share of housing cases referred from
	// September 2023 to early December 2024, the intake of the comuni's housing
	// programme; the others come at any time in the 24 months. Those
	// referred in 2023 were open when the systems started recording.
	housingIntake = 0.9
	// movedOn is the chance that an accommodated household moves into
	// permanent housing (when the 24 months leave it time to).
	movedOn = 0.95
)

// housingCategory says whether a referral category is about housing.
func housingCategory(c string) bool { return c == "homelessness" || c == "housing-instability" }

// situation is the household's housing situation on ETHOS Light when its
// case opens: rough sleeping, night shelters or homeless hostels for the
// homeless, insecure or inadequate housing for the others.
func (g *demoGen) situation(category string) string {
	var from []string
	switch category {
	case "homelessness":
		from = []string{"EL1", "EL2", "EL2", "EL3", "EL3"}
	case "housing-instability":
		from = []string{"EL3", "EL4", "EL5", "EL5", "EL6", "EL6"}
	default:
		from = []string{"EL6", "EL5", "housed", "housed", "housed", "housed", "housed", "housed"}
	}
	return from[g.r.IntN(len(from))]
}

// housingStay is a household's accommodation by the comune: temporary
// accommodation, then for most a permanent home, which a few leave.
type housingStay struct {
	before string    // ETHOS Light just before the temporary accommodation
	start  time.Time // temporary accommodation
	moved  time.Time // into the permanent home; zero when not (yet)
	tenure string    // of the permanent home
	// left is when the household left the permanent home (zero while it
	// is there), to leftTo (ETHOS Light) of group leftGroup, for reason.
	left                      time.Time
	leftTo, leftGroup, reason string
}

// stay plans the accommodation of a household in the situation need whose
// case opened on opened, or returns nil. The homeless are placed within
// days, or already were when referred; the others after some weeks, and
// fewer of them.
func (g *demoGen) stay(need string, opened time.Time) *housingStay {
	s := &housingStay{before: need}
	switch need {
	case "EL1", "EL2", "EL3":
		if !g.chance(0.95) {
			return nil
		}
		s.start = opened.Add(g.days(0, 75) - 45*24*time.Hour)
	case "EL4", "EL5":
		if !g.chance(0.9) {
			return nil
		}
		s.start = opened.Add(g.days(10, 75))
	case "EL6":
		if !g.chance(0.8) {
			return nil
		}
		s.start = opened.Add(g.days(15, 90))
	default:
		return nil
	}
	if !s.start.Before(demoEnd) {
		return nil
	}
	moved := s.start.Add(g.days(20, 200))
	if !moved.Before(demoEnd) || !g.chance(movedOn) {
		return s
	}
	s.moved = moved
	s.tenure = []string{"erp", "erp", "private-rent", "supported-housing", "social-housing"}[g.r.IntN(5)]
	// Of those housed, about one in seven is back on the street or in a
	// shelter within the year (eviction, or leaving), about one in eight
	// leaves for an institution or for relatives, and a few move on to
	// another permanent home.
	var left time.Time
	switch x := g.r.Float64(); {
	case x < 0.14:
		left = moved.Add(g.days(30, 330))
		s.leftTo, s.leftGroup = []string{"EL1", "EL2"}[g.r.IntN(2)], "homeless"
		s.reason = []string{"eviction", "eviction", "left-voluntarily", "rules-breach"}[g.r.IntN(4)]
	case x < 0.27:
		left = moved.Add(g.days(20, 300))
		switch g.r.IntN(3) {
		case 0:
			s.leftTo, s.leftGroup, s.reason = "EL4", "institutional", []string{"hospitalisation", "imprisonment"}[g.r.IntN(2)]
		default:
			s.leftTo, s.leftGroup, s.reason = "EL6", "temporary", "left-voluntarily"
		}
	case x < 0.32:
		left = moved.Add(g.days(120, 500))
		s.leftTo, s.leftGroup, s.reason = "housed", "permanent", "moved-to-permanent-housing"
	}
	if !left.IsZero() && left.Before(demoEnd) {
		s.left = left
	} else {
		s.leftTo, s.leftGroup, s.reason = "", "", ""
	}
	return s
}

// ethosAt is the household's situation on day t (need when it has no
// stay): EL3 in temporary accommodation for the homeless, housed in its
// permanent home, where it went once it left.
func (s *housingStay) ethosAt(t time.Time, need string) string {
	switch {
	case s == nil:
		return need
	case t.Before(s.start):
		return s.before
	case s.moved.IsZero() || t.Before(s.moved):
		return "EL3"
	case s.left.IsZero() || t.Before(s.left):
		return "housed"
	}
	return s.leftTo
}

// demoCase is one household's case: a referral from the system that knows
// its head to another service, the receiver's answers over the months,
// and, when accepted, a pathway with its assessments and employment
// activities. A household in housing need is accommodated by the comune
// (see housingStay) unless the comune itself turned the referral down, and
// most are then referred on to the employment centre or the SDS. The
// caller has g.out on the referrals' phase.
func (g *demoGen) demoCase(h *population.Household, head *population.Person, from population.System, comune string, events, after map[string][][]byte) {
	referrals := g.out
	to := population.SDS
	category, service := "housing-instability", "housing-support"
	switch {
	case from == population.SDS && g.chance(0.6):
		// Housing emergencies are the comune's: the SDS refers to it the
		// households it meets in housing need.
		to, service = population.Comune, "housing-emergency"
	case from == population.SDS:
		to, category, service = population.Comune, "financial-insecurity", "economic-support"
	case g.chance(0.1):
		to, category, service = population.CPI, "employment-status", "employment-support"
	case g.chance(0.6):
		category, service = "homelessness", "housing-emergency"
	}
	housing := housingCategory(category)
	authored := demoStart.Add(g.days(0, 700))
	if housing && g.chance(housingIntake) {
		authored = demoStart.Add(g.days(0, 460) - 120*24*time.Hour)
	}
	need := g.situation(category)
	var stay *housingStay
	if housing && h.In(population.Comune) && head.In(population.Comune) {
		stay = g.stay(need, authored)
	}
	pid := ""
	defer func() {
		if stay == nil {
			return
		}
		// The stay's placements come after the pathway they belong to.
		g.out = after
		g.placements(h, head, pid, comune, stay)
		// The comune then refers most households on: to the employment
		// centre for work, or to the SDS for support in the new home (or
		// while they wait for one).
		if !g.chance(0.85) {
			return
		}
		g.out = referrals
		on := stay.start.Add(g.days(60, 360))
		if !stay.moved.IsZero() {
			on = stay.moved.Add(g.days(30, 300))
		}
		if age := head.Age(); head.In(population.CPI) && age >= 18 && age < 65 {
			if _, _, accepted, ok := g.refer(head, population.Comune, population.CPI, "employment-status", "employment-support", on, false, events); ok {
				g.out = after
				g.job(head, accepted.Add(g.days(10, 60)), nil)
			}
			return
		}
		g.refer(head, population.Comune, population.SDS, "housing-instability", "housing-support", on, false, events)
	}()

	refID, status, accepted, ok := g.refer(head, from, to, category, service, authored, housing, events)
	if !ok {
		if to == population.Comune && status == "rejected" {
			stay = nil
		}
		return
	}
	if to == population.CPI {
		g.out = after
		g.job(head, accepted.Add(g.days(10, 60)), nil)
		return
	}
	// The project is the receiving service's; when its system does not
	// know the head of a household in housing need, the referring service
	// (which does) leads it.
	lead := to
	if !head.In(lead) && housing {
		lead = from
	}
	if !head.In(lead) || !g.chance(0.75) {
		return
	}
	g.out = after
	pid = g.pathway(h, head, lead, comune, refID, from, accepted, status, housing, need, stay)
}

// refer records a referral of head from one service to another, authored
// on authored, and the receiver's answers over the months (none after the
// end of the 24 months), each from the system of the party that sets it.
// urgent referrals (housing emergencies) are answered sooner and turned
// away less often. It returns the referral's id, its last status and, when
// it was accepted and taken in charge, the day of acceptance and true.
// The referral goes to g.out, its events to events.
func (g *demoGen) refer(head *population.Person, from, to population.System, category, service string, authored time.Time, urgent bool, events map[string][][]byte) (string, string, time.Time, bool) {
	if !authored.Before(demoEnd) {
		return "", "", time.Time{}, false
	}
	refID := g.id("REF")
	priority := []string{"routine", "routine", "routine", "urgent", "asap"}[g.r.IntN(5)]
	g.emit(from, "referral", refID, authored, map[string]any{
		"requester": map[string]any{"record_id": demoOrg(g.t.Code, from)}, "owner": map[string]any{"record_id": demoOrg(g.t.Code, to)},
		"person": personRef(head, from), "authored_on": authored.Format(time.RFC3339), "priority": priority,
		"category": coding("referral-category", category), "service_type": coding("service-type", service),
		"status": map[string]any{"code": "requested"}})

	at, status := authored, "requested"
	change := func(by population.System, next, reason string, wait time.Duration) bool {
		if at.Add(wait).After(demoEnd) {
			return false
		}
		at = at.Add(wait)
		f := map[string]any{"referral": map[string]any{"record_id": refID, "source": demoSource(from)}, "from": status, "to": next,
			"at": at.Format(time.RFC3339), "set_by": map[string]any{"record_id": demoOrg(g.t.Code, by)}}
		if reason != "" {
			f["reason"] = coding("referral-status-reason", reason)
		}
		g.out = events
		g.emit(by, "referral-status-event", g.id("EV"), at, f)
		status = next
		return true
	}
	noAnswer, cancelled, rejected, wait := 0.08, 0.12, 0.27, g.days(0, 20)
	if urgent {
		noAnswer, cancelled, rejected, wait = 0.04, 0.07, 0.17, g.days(0, 7)
	}
	switch x := g.r.Float64(); {
	case x < noAnswer:
		return refID, status, time.Time{}, false // no answer yet
	case x < cancelled:
		change(from, "cancelled", "need-resolved", g.days(2, 30))
		return refID, status, time.Time{}, false
	case x < rejected:
		change(to, "rejected", []string{"no-capacity", "not-eligible", "waiting-list", "out-of-area"}[g.r.IntN(4)], g.days(1, 25))
		return refID, status, time.Time{}, false
	}
	if !change(to, "accepted", "", wait+time.Duration(g.r.IntN(20))*time.Hour) {
		return refID, status, time.Time{}, false
	}
	accepted := at
	if !change(to, "in-progress", "", g.days(1, 14)) {
		return refID, status, time.Time{}, false
	}
	switch x := g.r.Float64(); {
	case x < 0.1:
		change(to, "on-hold", "awaiting-documents", g.days(10, 60))
	case x < 0.2:
		change(to, "failed", []string{"did-not-attend", "unreachable", "moved-away"}[g.r.IntN(3)], g.days(20, 120))
	case x < 0.7:
		change(to, "completed", "", g.days(20, 240))
	}
	return refID, status, accepted, true
}

// pathway is a personalised project led by the receiving service, with its
// T0 and T12 assessments (their housing situation that of the household's
// stay, when it has one) and an internship. It returns the pathway's id,
// or "" when it was not signed within the 24 months.
func (g *demoGen) pathway(h *population.Household, head *population.Person, lead population.System, comune, refID string, from population.System, accessed time.Time, refStatus string, housing bool, need string, stay *housingStay) string {
	prelim := accessed.Add(g.days(3, 80))
	signed := prelim.Add(g.days(7, 140))
	if housing {
		prelim = accessed.Add(g.days(2, 40))
		signed = prelim.Add(g.days(5, 60))
	}
	if !signed.Before(demoEnd) {
		return ""
	}
	pid := g.id("PAIS")
	f := map[string]any{"person": personRef(head, lead), "lead_organisation": map[string]any{"record_id": demoOrg(g.t.Code, lead)},
		"accessed_on": day(accessed), "preliminary_assessment_on": day(prelim), "signed_on": day(signed), "started_on": day(signed),
		"status":    "active",
		"referrals": []any{map[string]any{"record_id": refID, "source": demoSource(from)}}}
	if h.In(population.Comune) {
		f["household"] = map[string]any{"record_id": h.ID, "source": demoSource(population.Comune)}
	}
	end := signed.Add(g.days(120, 600))
	if refStatus == "completed" && end.Before(demoEnd) {
		f["status"], f["ended_on"] = "completed", day(end)
	} else {
		end = demoEnd.Add(-24 * time.Hour)
	}
	if g.chance(0.3) {
		f["volunteers"] = []any{map[string]any{"record_id": fmt.Sprintf("VOL-%04d", g.r.IntN(400)), "source": "albo"}}
	}
	f["cost"] = map[string]any{"amount": map[string]any{"value": float64(500 + g.r.IntN(11500)), "currency": "EUR"},
		"period": map[string]any{"start": day(signed), "end": day(end)}}
	g.emit(lead, "pathway", pid, signed, f)

	ilo := []string{"unemployed", "unemployed", "inactive", "employed"}[g.r.IntN(4)]
	network := []string{"absent", "absent", "partial", "present"}[g.r.IntN(4)]
	g.assess(head, lead, pid, h, "T0", prelim, stay.ethosAt(prelim, need), ilo, network)
	if t12 := prelim.AddDate(1, 0, 0); t12.Before(demoEnd) {
		on := t12.Add(g.days(0, 20))
		ethos := stay.ethosAt(on, need)
		if stay == nil && ethos != "housed" && g.chance(0.35) {
			ethos = "housed" // found a home without the comune's help
		}
		if g.chance(0.35) {
			ilo = "employed"
		}
		if network == "absent" && g.chance(0.5) {
			network = "partial"
		}
		g.assess(head, lead, pid, h, "T12", on, ethos, ilo, network)
	}
	if age := head.Age(); head.In(population.CPI) && age >= 18 && age < 65 && g.chance(0.4) {
		g.job(head, signed.Add(g.days(15, 90)), map[string]any{"record_id": pid, "source": demoSource(lead)})
	}
	return pid
}

func (g *demoGen) assess(p *population.Person, sys population.System, pathway string, h *population.Household, timepoint string, on time.Time, ethos, ilo, network string) {
	if !on.Before(demoEnd) {
		return
	}
	f := map[string]any{"person": personRef(p, sys), "pathway": map[string]any{"record_id": pathway},
		"instrument": coding("assessment-instrument", "preliminary-assessment"), "timepoint": timepoint, "assessed_on": day(on),
		"assessor": map[string]any{"record_id": demoOrg(g.t.Code, sys)}, "ethos": coding("ethos-light", ethos),
		"ilo_status": ilo, "social_network": network}
	if timepoint != "T0" {
		f["instrument"] = coding("assessment-instrument", "in-depth-assessment")
	}
	if h.In(population.Comune) {
		f["household"] = map[string]any{"record_id": h.ID, "source": demoSource(population.Comune)}
	}
	g.emit(sys, "assessment", g.id("VAL"), on, f)
}

// placements records a stay from the comune's system: the temporary
// accommodation and, once the household moved, its permanent home, ended
// when it left. pathway is the project they belong to, "" when none.
func (g *demoGen) placements(h *population.Household, head *population.Person, pathway, comune string, s *housingStay) {
	sys := population.Comune
	base := func(start time.Time, before string) map[string]any {
		f := map[string]any{"household": map[string]any{"record_id": h.ID, "source": demoSource(sys)},
			"person": personRef(head, sys), "comune": comune, "start": day(start), "ethos_before": coding("ethos-light", before)}
		if pathway != "" {
			f["pathway"] = map[string]any{"record_id": pathway}
		}
		return f
	}
	tmp := base(s.start, s.before)
	tmp["tenure"], tmp["permanent"] = coding("tenure", "temporary-accommodation"), false
	if s.moved.IsZero() {
		g.emit(sys, "housing-placement", g.id("INS"), s.start, tmp)
		return
	}
	tmp["end"], tmp["destination"], tmp["destination_group"] = day(s.moved), coding("ethos-light", "housed"), "permanent"
	tmp["exit_reason"] = coding("placement-exit-reason", "moved-to-permanent-housing")
	g.emit(sys, "housing-placement", g.id("INS"), s.start, tmp)
	home := base(s.moved, "EL3")
	home["tenure"], home["permanent"] = coding("tenure", s.tenure), true
	if !s.left.IsZero() {
		home["end"], home["destination"], home["destination_group"] = day(s.left), coding("ethos-light", s.leftTo), s.leftGroup
		home["exit_reason"] = coding("placement-exit-reason", s.reason)
	}
	g.emit(sys, "housing-placement", g.id("INS"), s.moved, home)
}

// job: an internship of three to six months, followed for many by a
// contract.
func (g *demoGen) job(p *population.Person, start time.Time, pathway map[string]any) {
	if !start.Before(demoEnd) {
		return
	}
	f := map[string]any{"person": personRef(p, population.CPI), "type": coding("employment-activity-type", "internship"),
		"start": day(start), "contract_type": coding("contract-type", "C.01.00"), "ilo_status": "unemployed"}
	if pathway != nil {
		f["pathway"] = pathway
	}
	end := start.Add(g.days(90, 180))
	if end.Before(demoEnd) {
		f["end"] = day(end)
	}
	g.emit(population.CPI, "employment-activity", g.id("TIR"), start, f)
	if hired := end.Add(g.days(0, 60)); hired.Before(demoEnd) && g.chance(0.45) {
		c := map[string]any{"person": personRef(p, population.CPI), "type": coding("employment-activity-type", "contract"),
			"start": day(hired), "contract_type": coding("contract-type", []string{"A.01.00", "A.02.00", "A.02.00"}[g.r.IntN(3)]), "ilo_status": "unemployed"}
		if fin := hired.Add(g.days(90, 540)); fin.Before(demoEnd) && g.chance(0.5) {
			c["end"] = day(fin)
		}
		g.emit(population.CPI, "employment-activity", g.id("CO"), hired, c)
	}
}
