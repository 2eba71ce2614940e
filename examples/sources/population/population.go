package population

import (
	"fmt"
	"strings"
	"time"
)

// The territory every generated person lives in.
const (
	// TerritoryCode is the territory code of the SdS Firenze Nord-Ovest.
	TerritoryCode = "SDS-FI-NORDOVEST"
	// TerritoryName is its name.
	TerritoryName = "SdS Firenze Nord-Ovest"
)

// AsOf returns the date the population describes (30 June 2025, UTC):
// ages, permit expiries and reception exits are relative to it, so that a
// seed gives the same population whatever the day it runs.
func AsOf() time.Time { return time.Date(2025, time.June, 30, 0, 0, 0, 0, time.UTC) }

// System is one of the three simulated source systems of the territory.
type System string

// The simulated source systems.
const (
	// Comune is the municipal social-services case system (REST/JSON).
	Comune System = "comune"
	// SDS is the health society's system (PUA, social-health services;
	// CSV export folder).
	SDS System = "sds"
	// CPI is the employment centre's system (XML feed).
	CPI System = "cpi"
)

// Systems returns the three systems, in a fixed order.
func Systems() []System { return []System{Comune, SDS, CPI} }

// index returns the position of s in Systems, or -1.
func (s System) index() int {
	switch s {
	case Comune:
		return 0
	case SDS:
		return 1
	case CPI:
		return 2
	}
	return -1
}

// Identifier kinds, as hub/identity and the personRef identifiers of
// schemas/common.schema.json name them.
const (
	KindCF          = "cf"
	KindProvisional = "cf-provisional"
)

// Role is a member's relation to the household's reference person: a code
// of schemas/codes/household-role.json.
type Role string

// The household roles used.
const (
	RoleReferencePerson Role = "reference-person" // the head (intestatario)
	RolePartner         Role = "partner"
	RoleChild           Role = "child"
	RoleSibling         Role = "sibling"
	RoleGrandchild      Role = "grandchild"
	RoleOtherRelative   Role = "other-relative" // e.g. a child's partner
	RoleCohabitant      Role = "cohabitant"     // not related
)

// Household types: codes of schemas/codes/household-type.json.
const (
	SinglePerson       = "single-person"
	CoupleNoChildren   = "couple-no-children"
	CoupleWithChildren = "couple-with-children"
	SingleParent       = "single-parent"
	MultiFamily        = "multi-family"
	OtherHousehold     = "other"
)

// Permit is the residence permit of a non-EU citizen.
type Permit struct {
	// Status is a code of schemas/codes/permit-status.json: valid,
	// expired, renewal-pending or none.
	Status string
	// Reason is a code of schemas/codes/permit-reason.json, e.g.
	// asylum-seeker, refugee, work, family, eu-long-term.
	Reason string
	// Expiry is the first day of the month the permit expires (only the
	// month is meaningful; see ExpiryMonth); zero when Status is none.
	Expiry time.Time
}

// ExpiryMonth returns the expiry as "YYYY-MM", as person.schema.json wants
// it, or "" when there is none.
func (p Permit) ExpiryMonth() string {
	if p.Expiry.IsZero() {
		return ""
	}
	return p.Expiry.Format("2006-01")
}

// ReceptionExit is a person's last exit from the migrant-reception system.
type ReceptionExit struct {
	// System is SAI or CAS (schemas/codes/reception-system.json).
	System string
	// Date is the day of the exit.
	Date time.Time
}

// Person is one synthetic person. Every field is made up: names are random
// combinations from lists of common names, and the codes are computed from
// them. Fields are read-only for users of the package.
type Person struct {
	// Index is the person's position in Population.People, from 0.
	Index int
	// HouseholdID is the ID of the person's household.
	HouseholdID string
	// Role is the relation to the household's reference person.
	Role Role

	GivenName  string
	FamilyName string
	// Sex is "M" or "F".
	Sex string
	// BirthDate is the date of birth (UTC midnight). Many people born
	// abroad have 1 January, as registries record an unknown day.
	BirthDate time.Time
	// BirthPlace is the cadastral code of the place of birth: an Italian
	// comune, or Z + 3 digits for a foreign state.
	BirthPlace string
	// Citizenship is "IT" or the Z-code of a foreign state, as
	// person.schema.json wants it.
	Citizenship string
	// ResidenceComune is the ISTAT code of the comune of residence, one of
	// Territory().
	ResidenceComune string
	// Languages are ISO 639-1 codes, most used first.
	Languages []string
	// Disability is true for a person with a recognised disability (SDS
	// knows them more often).
	Disability bool
	// Permit is the residence permit of a non-EU citizen; nil for Italian
	// and EU citizens.
	Permit *Permit
	// ReceptionExit is set for people who left the SAI/CAS reception
	// system; nil otherwise.
	ReceptionExit *ReceptionExit

	// CF is the person's valid, definitive codice fiscale; "" for people
	// with only a provisional code.
	CF string
	// Omocodic is true when CF was made unique by omocodia: another
	// person's code has the same first 15 characters with digits where CF
	// has omocodia letters.
	Omocodic bool
	// Provisional is the 11-digit provisional code of a recent arrival;
	// "" for most people. A person may have both Provisional and CF: the
	// provisional code came first.
	Provisional string

	household *Household
	in        [3]bool
	local     [3]string
	held      [3]heldID
}

// heldID is the identifier one system holds for a person.
type heldID struct {
	kind, code string
	typo       bool
	former     string // a provisional code kept beside the CF
}

// In reports whether sys knows the person.
func (p *Person) In(sys System) bool {
	i := sys.index()
	return i >= 0 && p.in[i]
}

// LocalID returns the person's stable id in sys — "ANAG-0000123" in the
// comune, "ASS-2025-00042" in the SDS (the year the person was taken in
// charge), "SIL-FI-000987" in the CPI — or "" when sys does not know the
// person.
func (p *Person) LocalID(sys System) string {
	if !p.In(sys) {
		return ""
	}
	return p.local[sys.index()]
}

// IDIn returns the identifier sys holds for the person: kind is KindCF or
// KindProvisional, and code is the identifier as the system stores it —
// with one character altered when TypoIn(sys) is true. Both are "" when
// sys does not know the person.
//
// A person with both codes appears with the provisional code in one
// system and the CF in the others (see FormerIDIn); a person with only one
// code has it everywhere.
func (p *Person) IDIn(sys System) (kind, code string) {
	if !p.In(sys) {
		return "", ""
	}
	h := p.held[sys.index()]
	return h.kind, h.code
}

// FormerIDIn returns the provisional code that sys keeps beside the CF of
// a person who had a provisional code first: the one record that lets the
// hub link the two identifiers to one person (identity.Index.Link). It is
// set in exactly one system for each such person known to a system that
// holds the CF (the first of Comune, CPI, SDS), and never altered by a
// typo; kind is KindProvisional. Both are "" otherwise.
func (p *Person) FormerIDIn(sys System) (kind, code string) {
	if !p.In(sys) || p.held[sys.index()].former == "" {
		return "", ""
	}
	return KindProvisional, p.held[sys.index()].former
}

// TypoIn reports whether the code IDIn(sys) returns was mistyped by the
// source: one character is altered so that its check character fails.
// The hub must quarantine such a record. A typo never yields another
// valid code.
func (p *Person) TypoIn(sys System) bool {
	return p.In(sys) && p.held[sys.index()].typo
}

// Systems returns the systems that know the person, in the order of the
// package-level Systems.
func (p *Person) Systems() []System {
	var out []System
	for _, s := range Systems() {
		if p.In(s) {
			out = append(out, s)
		}
	}
	return out
}

// Household returns the person's household.
func (p *Person) Household() *Household { return p.household }

// Age returns the age in completed years at AsOf.
func (p *Person) Age() int { return ageAt(p.BirthDate, AsOf()) }

func ageAt(birth, at time.Time) int {
	age := at.Year() - birth.Year()
	if at.Month() < birth.Month() || at.Month() == birth.Month() && at.Day() < birth.Day() {
		age--
	}
	return age
}

// ForeignCitizen reports whether the person is not an Italian citizen.
func (p *Person) ForeignCitizen() bool { return p.Citizenship != "IT" }

// Household is a synthetic household (nucleo familiare).
type Household struct {
	// ID is stable for a seed, e.g. "FAM-000042"; the comune system may
	// use it as its household record id.
	ID string
	// Comune is the ISTAT code of the comune of residence.
	Comune string
	// Members are the household's people, the reference person first.
	Members []*Person
	// Type is a code of schemas/codes/household-type.json.
	Type string
	// ISEEBand is a code of schemas/codes/isee-band.json.
	ISEEBand string
}

// In reports whether sys knows at least one member.
func (h *Household) In(sys System) bool {
	for _, m := range h.Members {
		if m.In(sys) {
			return true
		}
	}
	return false
}

// Population is a seeded synthetic population of the territory.
type Population struct {
	// Seed is the seed Generate was given.
	Seed       int64
	people     []*Person
	households []*Household
}

// People returns every person, by Index. The slice is a copy; the people
// are shared and must not be modified.
func (pop *Population) People() []*Person { return append([]*Person(nil), pop.people...) }

// Households returns every household, in generation order.
func (pop *Population) Households() []*Household {
	return append([]*Household(nil), pop.households...)
}

// Person returns the person with the given index, or nil when there is
// none.
func (pop *Population) Person(index int) *Person {
	if index < 0 || index >= len(pop.people) {
		return nil
	}
	return pop.people[index]
}

// InAll returns the people known to every one of the given systems, by
// Index; with no system, everybody.
func (pop *Population) InAll(systems ...System) []*Person {
	var out []*Person
next:
	for _, p := range pop.people {
		for _, s := range systems {
			if !p.In(s) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// Stats counts what a population holds; see Population.Stats.
type Stats struct {
	Households, People int
	// ForeignCitizens and WorkingAge (16–66) count people.
	ForeignCitizens, WorkingAge int
	// Comune, SDS and CPI count the people each system knows;
	// ComuneHouseholds the households the comune knows.
	Comune, SDS, CPI, ComuneHouseholds int
	// ComuneSDS, ComuneCPI and SDSCPI count people known to (at least)
	// both systems; AllThree to the three; TwoOrMore to at least two;
	// None to no system.
	ComuneSDS, ComuneCPI, SDSCPI, AllThree, TwoOrMore, None int
	// CF, ProvisionalOnly and ProvisionalAndCF count people by the codes
	// they have; Omocodic the omocodic codici fiscali.
	CF, ProvisionalOnly, ProvisionalAndCF, Omocodic int
	// Records counts (person, system) pairs; Typos those with a mistyped
	// code; Linked the people with both codes that some system holds
	// together (FormerIDIn).
	Records, Typos, Linked int
	// ReceptionExit counts people who left SAI or CAS; Permits the
	// holders of a residence permit record.
	ReceptionExit, Permits int
}

// Stats counts the population by system, overlap and identifier.
func (pop *Population) Stats() Stats {
	s := Stats{Households: len(pop.households), People: len(pop.people)}
	for _, h := range pop.households {
		if h.In(Comune) {
			s.ComuneHouseholds++
		}
	}
	for _, p := range pop.people {
		if p.ForeignCitizen() {
			s.ForeignCitizens++
		}
		if a := p.Age(); a >= 16 && a <= 66 {
			s.WorkingAge++
		}
		c, d, j := p.In(Comune), p.In(SDS), p.In(CPI)
		n := 0
		for _, in := range []bool{c, d, j} {
			if in {
				n++
			}
		}
		s.Comune += b2i(c)
		s.SDS += b2i(d)
		s.CPI += b2i(j)
		s.ComuneSDS += b2i(c && d)
		s.ComuneCPI += b2i(c && j)
		s.SDSCPI += b2i(d && j)
		s.AllThree += b2i(n == 3)
		s.TwoOrMore += b2i(n >= 2)
		s.None += b2i(n == 0)
		s.Records += n
		linked := false
		for _, sys := range Systems() {
			s.Typos += b2i(p.TypoIn(sys))
			if _, f := p.FormerIDIn(sys); f != "" {
				linked = true
			}
		}
		s.Linked += b2i(linked)
		switch {
		case p.CF != "" && p.Provisional != "":
			s.ProvisionalAndCF++
			s.CF++
		case p.CF != "":
			s.CF++
		case p.Provisional != "":
			s.ProvisionalOnly++
		}
		s.Omocodic += b2i(p.Omocodic)
		s.ReceptionExit += b2i(p.ReceptionExit != nil)
		s.Permits += b2i(p.Permit != nil)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

// String prints the counts, one topic a line.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "households %d, people %d (%.2f per household), foreign citizens %d, working age %d\n",
		s.Households, s.People, float64(s.People)/float64(max(s.Households, 1)), s.ForeignCitizens, s.WorkingAge)
	fmt.Fprintf(&b, "comune %d people (%d households, %.0f%%), sds %d (%.0f%% of people), cpi %d (%.0f%% of working age)\n",
		s.Comune, s.ComuneHouseholds, pct(s.ComuneHouseholds, s.Households), s.SDS, pct(s.SDS, s.People), s.CPI, pct(s.CPI, s.WorkingAge))
	fmt.Fprintf(&b, "overlap: comune+sds %d, comune+cpi %d, sds+cpi %d, all three %d, two or more %d, none %d\n",
		s.ComuneSDS, s.ComuneCPI, s.SDSCPI, s.AllThree, s.TwoOrMore, s.None)
	fmt.Fprintf(&b, "codes: cf %d (omocodic %d), provisional only %d, provisional and cf %d (linked in a record %d)\n",
		s.CF, s.Omocodic, s.ProvisionalOnly, s.ProvisionalAndCF, s.Linked)
	fmt.Fprintf(&b, "records %d, typos %d (%.1f%%), permits %d, reception exits %d",
		s.Records, s.Typos, pct(s.Typos, s.Records), s.Permits, s.ReceptionExit)
	return b.String()
}
