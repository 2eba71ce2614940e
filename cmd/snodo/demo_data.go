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

func (g *demoGen) id(prefix string) string {
	g.n++
	return fmt.Sprintf("%s-%06d", prefix, g.n)
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

// generateDemoActivity makes the territory's records: its population
// sized from its residents (one household per 1,000, at most max), placed
// in its comuni, with 24 months of referrals, pathways, assessments,
// placements and employment activities.
func generateDemoActivity(t compare.Territory, seed int64, nth, limit int) *demoActivity {
	households := min(max(int(t.Population/1000), 1), limit)
	pop := population.Generate(seed+int64(nth)*7919, households)
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
			g.emit(sys, "person", g.id("ANA"), demoStart.Add(-g.days(30, 900)), f)
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

// demoCase is one household's case: a referral from the system that knows
// its head to another service, the receiver's answers over the months,
// and, when accepted, a pathway with its assessments, housing placements
// and employment activities.
func (g *demoGen) demoCase(h *population.Household, head *population.Person, from population.System, comune string, events, after map[string][][]byte) {
	to := population.SDS
	category, service := "housing-instability", "housing-support"
	switch {
	case from == population.SDS:
		to, category, service = population.Comune, "financial-insecurity", "economic-support"
	case g.chance(0.3):
		to, category, service = population.CPI, "employment-status", "employment-support"
	case g.chance(0.3):
		category, service = "homelessness", "housing-emergency"
	}
	authored := demoStart.Add(g.days(0, 700))
	refID := g.id("REF")
	priority := []string{"routine", "routine", "routine", "urgent", "asap"}[g.r.IntN(5)]
	g.emit(from, "referral", refID, authored, map[string]any{
		"requester": map[string]any{"record_id": demoOrg(g.t.Code, from)}, "owner": map[string]any{"record_id": demoOrg(g.t.Code, to)},
		"person": personRef(head, from), "authored_on": authored.Format(time.RFC3339), "priority": priority,
		"category": coding("referral-category", category), "service_type": coding("service-type", service),
		"status": map[string]any{"code": "requested"}})

	// The status events, each from the system of the party that sets it;
	// none after the end of the 24 months.
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
	switch x := g.r.Float64(); {
	case x < 0.08:
		return // no answer yet
	case x < 0.12:
		change(from, "cancelled", "need-resolved", g.days(2, 30))
		return
	case x < 0.27:
		change(to, "rejected", []string{"no-capacity", "not-eligible", "waiting-list", "out-of-area"}[g.r.IntN(4)], g.days(1, 25))
		return
	}
	if !change(to, "accepted", "", g.days(0, 20)+time.Duration(g.r.IntN(20))*time.Hour) {
		return
	}
	accepted := at
	if !change(to, "in-progress", "", g.days(1, 14)) {
		return
	}
	switch x := g.r.Float64(); {
	case x < 0.1:
		change(to, "on-hold", "awaiting-documents", g.days(10, 60))
	case x < 0.2:
		change(to, "failed", []string{"did-not-attend", "unreachable", "moved-away"}[g.r.IntN(3)], g.days(20, 120))
	case x < 0.7:
		change(to, "completed", "", g.days(20, 240))
	}
	if to == population.CPI {
		g.out = after
		if p := head; p.In(population.CPI) {
			g.job(p, accepted.Add(g.days(10, 60)), nil)
		}
		return
	}
	if !head.In(to) || !g.chance(0.75) {
		return
	}
	g.out = after
	g.pathway(h, head, to, comune, refID, from, accepted, status)
}

// pathway is a personalised project led by the receiving service, with its
// T0 and T12 assessments, housing placements and an internship.
func (g *demoGen) pathway(h *population.Household, head *population.Person, lead population.System, comune, refID string, from population.System, accessed time.Time, refStatus string) {
	prelim := accessed.Add(g.days(3, 80))
	signed := prelim.Add(g.days(7, 140))
	if !signed.Before(demoEnd) {
		return
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

	ethos := []string{"EL1", "EL2", "EL3", "EL4", "EL5", "EL6", "housed", "housed"}[g.r.IntN(8)]
	ilo := []string{"unemployed", "unemployed", "inactive", "employed"}[g.r.IntN(4)]
	network := []string{"absent", "absent", "partial", "present"}[g.r.IntN(4)]
	g.assess(head, lead, pid, h, "T0", prelim, ethos, ilo, network)
	if t12 := prelim.AddDate(1, 0, 0); t12.Before(demoEnd) {
		if g.chance(0.5) {
			ethos = "housed"
		}
		if g.chance(0.35) {
			ilo = "employed"
		}
		if network == "absent" && g.chance(0.5) {
			network = "partial"
		}
		g.assess(head, lead, pid, h, "T12", t12.Add(g.days(0, 20)), ethos, ilo, network)
	}
	if ethos != "housed" && ethos != "EL6" && h.In(population.Comune) && g.chance(0.7) {
		g.placements(h, head, lead, pid, comune, ethos, signed)
	}
	if age := head.Age(); head.In(population.CPI) && age >= 18 && age < 65 && g.chance(0.4) {
		g.job(head, signed.Add(g.days(15, 90)), map[string]any{"record_id": pid, "source": demoSource(lead)})
	}
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

// placements: temporary accommodation first, then for many a permanent
// home (a few of which end in eviction).
func (g *demoGen) placements(h *population.Household, head *population.Person, sys population.System, pathway, comune, ethos string, from time.Time) {
	base := func(start time.Time) map[string]any {
		return map[string]any{"household": map[string]any{"record_id": h.ID, "source": demoSource(population.Comune)},
			"person": personRef(head, sys), "pathway": map[string]any{"record_id": pathway}, "comune": comune, "start": day(start)}
	}
	start := from.Add(g.days(5, 60))
	if !start.Before(demoEnd) {
		return
	}
	tmp := base(start)
	tmp["tenure"], tmp["permanent"], tmp["ethos_before"] = coding("tenure", "temporary-accommodation"), false, coding("ethos-light", ethos)
	moved := start.Add(g.days(30, 300))
	if !moved.Before(demoEnd) || !g.chance(0.6) {
		g.emit(sys, "housing-placement", g.id("INS"), start, tmp)
		return
	}
	tmp["end"], tmp["destination"], tmp["destination_group"] = day(moved), coding("ethos-light", "housed"), "permanent"
	tmp["exit_reason"] = coding("placement-exit-reason", "moved-to-permanent-housing")
	g.emit(sys, "housing-placement", g.id("INS"), start, tmp)
	home := base(moved)
	home["tenure"] = coding("tenure", []string{"erp", "private-rent", "supported-housing", "social-housing"}[g.r.IntN(4)])
	home["permanent"], home["ethos_before"] = true, coding("ethos-light", "EL3")
	if evicted := moved.Add(g.days(60, 400)); evicted.Before(demoEnd) && g.chance(0.12) {
		home["end"], home["destination"], home["destination_group"] = day(evicted), coding("ethos-light", "EL1"), "homeless"
		home["exit_reason"] = coding("placement-exit-reason", "eviction")
	}
	g.emit(sys, "housing-placement", g.id("INS"), moved, home)
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
