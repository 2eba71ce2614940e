package stats

import (
	"time"

	"github.com/snodo-hub/snodo/schemas"
)

// Node key prefixes of the household graph.
const (
	personNode    = "p:"
	householdNode = "h:"
)

// households joins people into households: the nodes are person ids and
// household records; a person record's household reference, a household
// record's members, and any record naming both a person and a household
// link them. Each connected part is one household (the counting unit); a
// person linked to nothing is a household of one.
type households struct {
	parent map[string]string
	// per household (root node):
	refPerson map[string]string        // the member with role reference-person (smallest id if several)
	anyPerson map[string]string        // the smallest person id in the household
	hhType    map[string]*householdRec // the most recently recorded household record with a type
	ethosT0   map[string]*assessmentRec
}

func (h *households) find(x string) string {
	if _, ok := h.parent[x]; !ok {
		h.parent[x] = x
		return x
	}
	root := x
	for h.parent[root] != root {
		root = h.parent[root]
	}
	for h.parent[x] != root { // path compression
		next := h.parent[x]
		h.parent[x] = root
		x = next
	}
	return root
}

func (h *households) union(a, b string) {
	if a == "" || b == "" {
		return
	}
	ra, rb := h.find(a), h.find(b)
	if ra == rb {
		return
	}
	// The smaller key becomes the root, so the result does not depend on
	// the order of the links.
	if rb < ra {
		ra, rb = rb, ra
	}
	h.parent[rb] = ra
}

// of returns the household of a record naming a person and/or a household
// ("" when it names neither).
func (h *households) of(personID, householdKey string) string {
	switch {
	case householdKey != "":
		return h.find(householdKey)
	case personID != "":
		return h.find(personNode + personID)
	}
	return ""
}

func buildHouseholds(d *dataset) *households {
	h := &households{
		parent:    map[string]string{},
		refPerson: map[string]string{},
		anyPerson: map[string]string{},
		hhType:    map[string]*householdRec{},
		ethosT0:   map[string]*assessmentRec{},
	}
	p := func(id string) string {
		if id == "" {
			return ""
		}
		return personNode + id
	}
	for _, l := range d.links {
		h.union(l[0], l[1])
	}
	for _, r := range d.households {
		k := householdNode + r.source + "\x00" + r.recordID
		h.find(k)
		for _, m := range r.Members {
			h.union(k, p(m.Person.PersonID))
		}
	}
	for _, r := range d.pathways {
		h.union(p(r.Person.PersonID), r.Household.key(householdNode, r.source))
	}
	for _, r := range d.placements {
		h.union(p(r.Person.PersonID), r.Household.key(householdNode, r.source))
	}
	for _, r := range d.assessments {
		h.union(p(r.Person.PersonID), r.Household.key(householdNode, r.source))
	}

	// Per-household attributes, now that the households are final.
	for id := range d.persons {
		root := h.find(personNode + id)
		if cur, ok := h.anyPerson[root]; !ok || id < cur {
			h.anyPerson[root] = id
		}
	}
	for _, r := range d.households { // in recorded_at order: the last one with a type wins
		root := h.find(householdNode + r.source + "\x00" + r.recordID)
		if r.HouseholdType != "" {
			h.hhType[root] = r
		}
		for _, m := range r.Members {
			if m.Role == "reference-person" && m.Person.PersonID != "" {
				if cur, ok := h.refPerson[root]; !ok || m.Person.PersonID < cur {
					h.refPerson[root] = m.Person.PersonID
				}
			}
		}
	}
	for _, a := range d.assessments {
		if a.Timepoint != "T0" || a.Ethos == "" || a.AssessedOn.IsZero() {
			continue
		}
		root := h.of(a.Person.PersonID, a.Household.key(householdNode, a.source))
		if cur := h.ethosT0[root]; cur == nil || before(a.AssessedOn.Time, &a.meta, cur.AssessedOn.Time, &cur.meta) {
			h.ethosT0[root] = a
		}
	}
	return h
}

// euStates are the Belfiore codes of the EU Member States other than Italy.
var euStates = map[string]bool{
	"Z102": true, "Z103": true, "Z104": true, "Z211": true, "Z149": true, "Z107": true, "Z144": true,
	"Z109": true, "Z110": true, "Z112": true, "Z115": true, "Z116": true, "Z145": true, "Z146": true,
	"Z120": true, "Z121": true, "Z126": true, "Z127": true, "Z128": true, "Z156": true, "Z129": true,
	"Z155": true, "Z150": true, "Z131": true, "Z132": true, "Z134": true,
}

// attributes returns the household's value for each breakdown of the
// catalogue (before mapping values outside the lists to unknown). The
// person the breakdowns describe is the household's reference person;
// without one, subject (the person of the record that put the household in
// the table); without that, the smallest person id of the household.
func (h *households) attributes(d *dataset, root, subject string, p Period) map[string]string {
	out := map[string]string{}
	person := h.refPerson[root]
	if person == "" {
		person = subject
	}
	if person == "" {
		person = h.anyPerson[root]
	}
	if pr := d.persons[person]; pr != nil {
		out["sex"] = string(pr.Sex)
		if pr.BirthYear > 0 {
			out["age-band"] = ageBand(p.lastYear() - pr.BirthYear)
		}
		switch {
		case pr.CitizenshipGroup != "":
			out["citizenship-group"] = string(pr.CitizenshipGroup)
		case pr.Citizenship == "IT":
			out["citizenship-group"] = "italian"
		case euStates[pr.Citizenship]:
			out["citizenship-group"] = "eu"
		case len(pr.Citizenship) == 4 && pr.Citizenship[0] == 'Z':
			out["citizenship-group"] = "non-eu"
		}
	}
	if r := h.hhType[root]; r != nil {
		out["household-type"] = string(r.HouseholdType)
	}
	if a := h.ethosT0[root]; a != nil {
		out["ethos-at-entry"] = string(a.Ethos)
	}
	return out
}

func ageBand(age int) string {
	switch {
	case age < 0:
		return schemas.Unknown
	case age < 18:
		return "0-17"
	case age < 30:
		return "18-29"
	case age < 45:
		return "30-44"
	case age < 65:
		return "45-64"
	}
	return "65+"
}

// days is the number of whole days from a to b (negative when b is
// before a).
func days(a, b time.Time) int64 { return int64(b.Sub(a) / (24 * time.Hour)) }
