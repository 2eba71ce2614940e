package population

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/snodo-hub/snodo/hub/identity"
)

// pcgStream is the second PCG word; the seed is the first.
const pcgStream = 0x5eed_5140_d0_5140

// category is the kind of household, which drives most choices.
type category int

const (
	italian category = iota // Italian reference person
	settled                 // foreign citizens arrived years ago
	recent                  // recent arrivals: asylum seekers, people leaving SAI/CAS
)

// idMode says which codes a person has.
type idMode int

const (
	cfOnly idMode = iota
	provisionalOnly
	provisionalAndCF
)

// meta is what the generator remembers about a person beyond the exported
// fields.
type meta struct {
	cat  category
	mode idMode
}

type generator struct {
	r        *rand.Rand
	rd       *refData
	asOf     time.Time
	pop      *Population
	meta     []meta
	provSeen map[string]bool // looked up only, never iterated
}

// Generate builds a synthetic population of the SdS Firenze Nord-Ovest
// with the given number of households (about 2.3 people each). The same
// seed and size always give the same population, field for field: all
// randomness comes from one PCG generator seeded with seed, consumed in a
// fixed order.
//
// Households are single adults (many of them elderly), couples with and
// without children, single parents, a few multi-family and cohabiting
// households. About 60 % are Italian; the others come from the countries
// of the territory's foreign residents and asylum seekers (Romania,
// Albania, Marocco, China, Perù, Ucraina, Senegal, Nigeria, Bangladesh,
// Pakistan, Egitto, Tunisia, Gambia, Mali, Afghanistan, Costa d'Avorio),
// and a share of those are recent arrivals who left SAI or CAS reception,
// some with only a provisional code, some with a provisional code and
// later a codice fiscale.
//
// Omocodia is forced every 150 households (twins whose codes collide,
// from the 5th household) and every 300 (cousins born abroad on a
// recorded 1 January, from the 10th), besides the collisions that occur
// by chance. Generate panics only if the embedded reference data is
// broken, which the package tests rule out.
func Generate(seed int64, households int) *Population {
	g := &generator{
		r:        rand.New(rand.NewPCG(uint64(seed), pcgStream)),
		rd:       mustRefData(),
		asOf:     AsOf(),
		pop:      &Population{Seed: seed},
		provSeen: make(map[string]bool),
	}
	for i := 0; i < households; i++ {
		g.household(i)
	}
	g.assignCF()
	g.assignSystems()
	g.assignIDs()
	return g.pop
}

// pick returns an index chosen with the given weights.
func (g *generator) pick(weights ...int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := g.r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func (g *generator) chance(p float64) bool { return g.r.Float64() < p }

func (g *generator) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func (g *generator) oneOf(list []string) string { return list[g.r.IntN(len(list))] }

// birthDate returns a birth date that makes the person exactly age at AsOf.
func (g *generator) birthDate(age int) time.Time {
	earliest := g.asOf.AddDate(-age-1, 0, 1)
	latest := g.asOf.AddDate(-age, 0, 0)
	days := int(latest.Sub(earliest).Hours() / 24)
	return earliest.AddDate(0, 0, g.r.IntN(days+1))
}

func (g *generator) comune() string {
	w := make([]int, len(g.rd.territory))
	for i, m := range g.rd.territory {
		w[i] = m.Population
	}
	return g.rd.territory[g.pick(w...)].ISTAT
}

// italianPlace returns the cadastral code of an Italian place of birth;
// the young were nearly all born in the Florentine hospitals.
func (g *generator) italianPlace(age int) string {
	if age < 40 && g.chance(0.8) {
		return g.rd.firenze.Cadastral
	}
	w := make([]int, len(italianBirthPlaces))
	for i, bp := range italianBirthPlaces {
		w[i] = bp.weight
	}
	return g.rd.birthPlaces[g.pick(w...)]
}

func (g *generator) foreignOrigin() *origin {
	w := make([]int, len(origins))
	for i := range origins {
		w[i] = origins[i].weight
	}
	return &origins[g.pick(w...)]
}

// hh is a household being built.
type hh struct {
	h       *Household
	cat     category
	or      *origin
	arrival time.Time // foreign households: when they came to Italy
	mode    idMode    // recent households: the codes the adults have
	exit    *ReceptionExit
	permit  *Permit // the reference person's, copied to minors of recent arrivals
}

// spec describes one member to add.
type spec struct {
	role     Role
	female   bool
	age      int
	or       *origin
	arrival  time.Time // zero: the household's
	surname  string    // "": drawn from or
	given    string    // "": drawn from or
	birth    time.Time // zero: drawn from age
	janFirst bool      // force a birth date recorded as 1 January
}

func (g *generator) household(i int) {
	h := &Household{ID: fmt.Sprintf("FAM-%06d", i+1), Comune: g.comune()}
	g.pop.households = append(g.pop.households, h)
	switch {
	case i%150 == 4:
		g.twins(h)
	case i%300 == 9:
		g.cousins(h)
	default:
		g.ordinary(h)
	}
}

func (g *generator) newHH(h *Household, cat category, or *origin) *hh {
	x := &hh{h: h, cat: cat, or: or}
	switch cat {
	case settled:
		x.arrival = g.asOf.AddDate(-g.between(5, 25), 0, -g.r.IntN(365))
	case recent:
		x.arrival = g.asOf.AddDate(0, 0, -60-g.r.IntN(4*365))
		if g.chance(0.65) {
			span := int(g.asOf.Sub(x.arrival).Hours() / 24)
			x.exit = &ReceptionExit{
				System: [...]string{"SAI", "CAS"}[g.pick(45, 55)],
				Date:   x.arrival.AddDate(0, 0, span*3/10+g.r.IntN(span*7/10)),
			}
		}
	}
	return x
}

func (g *generator) ordinary(h *Household) {
	cat, or := italian, &italy
	if g.chance(0.4) {
		or = g.foreignOrigin()
		cat = settled
		recentShare := 0.12
		if or.asylum {
			recentShare = 0.55
		}
		if !or.eu && g.chance(recentShare) {
			cat = recent
		}
	}
	x := g.newHH(h, cat, or)
	if cat == recent {
		x.permit = g.recentPermit()
		switch {
		case x.permit.Reason == "asylum-seeker":
			x.mode = idMode(g.pick(15, 55, 30))
		default:
			x.mode = idMode(g.pick(40, 10, 50))
		}
	}
	var typ int
	switch cat {
	case italian:
		typ = g.pick(36, 20, 26, 12, 3, 3)
	case settled:
		typ = g.pick(25, 12, 38, 15, 5, 5)
	default:
		typ = g.pick(60, 5, 12, 13, 0, 10)
	}
	h.Type = [...]string{SinglePerson, CoupleNoChildren, CoupleWithChildren, SingleParent, MultiFamily, OtherHousehold}[typ]

	switch h.Type {
	case SinglePerson:
		var age int
		switch {
		case cat == italian && g.chance(0.45):
			age = g.between(65, 95)
		case cat == recent:
			age = g.between(18, 40)
		default:
			age = g.between(22, 64)
		}
		female := g.chance(0.5)
		if cat == recent {
			female = g.chance(0.2)
		}
		g.add(x, spec{role: RoleReferencePerson, female: female, age: age})
	case CoupleNoChildren:
		age := g.between(25, 88)
		if cat == recent {
			age = g.between(20, 45)
		}
		head := g.add(x, spec{role: RoleReferencePerson, female: g.chance(0.2), age: age})
		g.partner(x, head)
	case CoupleWithChildren:
		age := g.between(26, 62)
		head := g.add(x, spec{role: RoleReferencePerson, female: g.chance(0.2), age: age})
		partner := g.partner(x, head)
		g.children(x, head, partner, g.pick(0, 40, 38, 15, 5, 2))
	case SingleParent:
		head := g.add(x, spec{role: RoleReferencePerson, female: g.chance(0.85), age: g.between(22, 60)})
		g.children(x, head, nil, g.pick(0, 55, 33, 12))
	case MultiFamily:
		head := g.add(x, spec{role: RoleReferencePerson, female: g.chance(0.2), age: g.between(55, 82)})
		partner := g.partner(x, head)
		child := g.children(x, head, partner, 1)[0]
		if child.Age() < 20 {
			child = g.children(x, head, partner, 1)[0]
		}
		age := max(20, child.Age()+g.between(-4, 4))
		inLaw := g.add(x, spec{role: RoleOtherRelative, female: child.Sex == "M", age: age})
		father, mother := child, inLaw
		if child.Sex == "F" {
			father, mother = inLaw, child
		}
		for range g.between(1, 2) {
			g.addChild(x, RoleGrandchild, father, mother)
		}
	case OtherHousehold:
		head := g.add(x, spec{role: RoleReferencePerson, female: g.chance(0.4), age: g.between(20, 60)})
		for range g.between(1, 3) {
			if cat == recent || g.chance(0.4) {
				g.add(x, spec{role: RoleCohabitant, female: head.Sex == "F", age: g.between(18, 45)})
			} else {
				g.add(x, spec{role: RoleSibling, female: g.chance(0.5), age: max(18, head.Age()+g.between(-10, 10)),
					surname: head.FamilyName})
			}
		}
	}
	h.ISEEBand = g.iseeBand(cat)
}

// partner adds the reference person's partner: the other sex, a similar
// age, mostly the same origin (a few Italians have a foreign partner).
func (g *generator) partner(x *hh, head *Person) *Person {
	s := spec{role: RolePartner, female: head.Sex == "M", age: max(18, head.Age()+g.between(-6, 4))}
	if head.Sex == "F" {
		s.age = max(18, head.Age()+g.between(-3, 7))
	}
	if x.cat == italian && g.chance(0.08) {
		for s.or == nil || s.or.asylum {
			s.or = g.foreignOrigin()
		}
		s.arrival = g.asOf.AddDate(-g.between(6, 25), 0, 0)
	}
	return g.add(x, s)
}

// children adds n children of father and mother (either may be nil).
func (g *generator) children(x *hh, a, b *Person, n int) []*Person {
	father, mother := a, b
	if a.Sex == "F" {
		father, mother = b, a
	}
	var out []*Person
	for range n {
		out = append(out, g.addChild(x, RoleChild, father, mother))
	}
	return out
}

// addChild adds a child born when the mother (or the only parent) was
// 18–44, with the father's surname when there is one.
func (g *generator) addChild(x *hh, role Role, father, mother *Person) *Person {
	parent := mother
	if parent == nil {
		parent = father
	}
	age := parent.Age() - g.between(18, 42)
	if age < 0 {
		age = g.r.IntN(max(1, parent.Age()-17))
	}
	s := spec{role: role, female: g.chance(0.49), age: age}
	if father != nil {
		s.surname = father.FamilyName
	} else if g.chance(0.6) {
		s.surname = parent.FamilyName
	}
	return g.add(x, s)
}

// twins is an Italian couple whose twins' names give the same codice
// fiscale: Matteo and Mattia (MTT), or Maria and Mara (MRA).
func (g *generator) twins(h *Household) {
	h.Type = CoupleWithChildren
	x := g.newHH(h, italian, &italy)
	head := g.add(x, spec{role: RoleReferencePerson, female: false, age: g.between(34, 50)})
	g.add(x, spec{role: RolePartner, female: true, age: head.Age() - g.between(0, 4)})
	names := [2]string{"Matteo", "Mattia"}
	female := g.chance(0.5)
	if female {
		names = [2]string{"Maria", "Mara"}
	}
	first := g.add(x, spec{role: RoleChild, female: female, age: g.between(2, 16), surname: head.FamilyName, given: names[0]})
	second := g.add(x, spec{role: RoleChild, female: female, surname: head.FamilyName, given: names[1], birth: first.BirthDate})
	second.BirthPlace = first.BirthPlace
	h.ISEEBand = g.iseeBand(italian)
}

// cousins are two Moroccan cousins born abroad in the same year, both
// recorded as born on 1 January, whose names give the same code: Said and
// Saad (SDA).
func (g *generator) cousins(h *Household) {
	h.Type = OtherHousehold
	or := originNamed("Marocco")
	x := g.newHH(h, settled, or)
	x.arrival = g.asOf.AddDate(-g.between(3, 8), 0, 0)
	first := g.add(x, spec{role: RoleReferencePerson, age: g.between(24, 34), surname: "El Amrani", given: "Said", janFirst: true})
	g.add(x, spec{role: RoleOtherRelative, surname: "El Amrani", given: "Saad", birth: first.BirthDate})
	h.ISEEBand = g.iseeBand(settled)
}

// add creates a member of x.h from s.
func (g *generator) add(x *hh, s spec) *Person {
	or := s.or
	if or == nil {
		or = x.or
	}
	arrival := s.arrival
	if arrival.IsZero() {
		arrival = x.arrival
	}
	p := &Person{
		Index:           len(g.pop.people),
		HouseholdID:     x.h.ID,
		Role:            s.role,
		Sex:             "M",
		ResidenceComune: x.h.Comune,
		household:       x.h,
	}
	if s.female {
		p.Sex = "F"
	}
	p.FamilyName = s.surname
	if p.FamilyName == "" {
		p.FamilyName = g.oneOf(or.surnames)
	}
	p.GivenName = s.given
	if p.GivenName == "" {
		if s.female {
			p.GivenName = g.oneOf(or.female)
		} else {
			p.GivenName = g.oneOf(or.male)
		}
	}
	p.BirthDate = s.birth
	if p.BirthDate.IsZero() {
		p.BirthDate = g.birthDate(s.age)
	}
	age := ageAt(p.BirthDate, g.asOf)

	m := meta{cat: x.cat}
	bornInItaly := or == &italy || p.BirthDate.After(arrival)
	switch {
	case or == &italy:
		p.Citizenship = "IT"
		p.BirthPlace = g.italianPlace(age)
	case x.cat == italian && (s.role == RoleChild || s.role == RoleGrandchild):
		// A child of an Italian parent is Italian.
		p.Citizenship = "IT"
		p.BirthPlace = g.italianPlace(age)
		bornInItaly = true
	default:
		p.Citizenship = g.rd.countries[or.countryName]
		if bornInItaly {
			p.BirthPlace = g.italianPlace(age)
		} else {
			p.BirthPlace = p.Citizenship
			jan := 0.12 // share recorded as born on 1 January
			if x.cat == recent {
				jan = 0.4
			}
			if s.janFirst || (s.birth.IsZero() && g.chance(jan)) {
				p.BirthDate = time.Date(p.BirthDate.Year(), time.January, 1, 0, 0, 0, 0, time.UTC)
				age = ageAt(p.BirthDate, g.asOf)
			}
		}
	}
	if x.cat == recent && !bornInItaly {
		m.mode = x.mode
	}
	if m.mode != cfOnly {
		p.Provisional = g.provisional()
	}

	// Languages, most used first.
	switch {
	case p.Citizenship == "IT" && or == &italy:
		p.Languages = []string{"it"}
		if age < 60 && g.chance(0.25) {
			p.Languages = append(p.Languages, "en")
		}
	case p.Citizenship == "IT":
		p.Languages = []string{"it", or.languages[0]}
	case bornInItaly || (x.cat == settled && age < 18):
		p.Languages = []string{"it", or.languages[0]}
	default:
		p.Languages = append([]string(nil), or.languages...)
		if x.cat == settled || g.chance(0.4) {
			p.Languages = append(p.Languages, "it")
		}
	}

	p.Disability = g.chance(disabilityRate(age))

	if p.Citizenship != "IT" && !or.eu {
		switch {
		case x.cat == recent && age < 18 && x.permit != nil:
			cp := *x.permit
			p.Permit = &cp
		case x.cat == recent && x.permit != nil && s.role == RoleReferencePerson:
			p.Permit = x.permit
		case x.cat == recent:
			p.Permit = g.recentPermit()
		case age < 18:
			p.Permit = g.permit("family", g.pick(85, 15, 0))
		default:
			p.Permit = g.permit([...]string{"work", "family", "eu-long-term", "other"}[g.pick(40, 25, 30, 5)], g.pick(75, 15, 10))
		}
	}
	if x.exit != nil && p.BirthDate.Before(x.exit.Date) {
		e := *x.exit
		p.ReceptionExit = &e
	}

	x.h.Members = append(x.h.Members, p)
	g.pop.people = append(g.pop.people, p)
	g.meta = append(g.meta, m)
	return p
}

func disabilityRate(age int) float64 {
	switch {
	case age < 18:
		return 0.03
	case age < 65:
		return 0.05
	case age < 80:
		return 0.12
	}
	return 0.3
}

// permit returns a permit with the given reason and status (0 valid,
// 1 renewal-pending, 2 expired), its expiry consistent with the status.
func (g *generator) permit(reason string, status int) *Permit {
	month := func(months int) time.Time {
		t := g.asOf.AddDate(0, months, 0)
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	switch status {
	case 0:
		if reason == "eu-long-term" {
			return &Permit{Status: "valid", Reason: reason, Expiry: month(g.between(6, 120))}
		}
		return &Permit{Status: "valid", Reason: reason, Expiry: month(g.between(1, 24))}
	case 1:
		return &Permit{Status: "renewal-pending", Reason: reason, Expiry: month(-g.between(1, 6))}
	case 2:
		return &Permit{Status: "expired", Reason: reason, Expiry: month(-g.between(3, 24))}
	}
	return &Permit{Status: "none", Reason: reason}
}

// recentPermit returns the permit of a recent arrival: mostly protection
// reasons, some with none left (asylum refused, or a permit never issued).
func (g *generator) recentPermit() *Permit {
	reason := [...]string{"asylum-seeker", "refugee", "subsidiary-protection", "special-protection", "special-cases", "medical-care", "work"}[g.pick(38, 14, 14, 20, 4, 3, 7)]
	if reason == "asylum-seeker" {
		return g.permit(reason, [...]int{0, 1, 3}[g.pick(60, 30, 10)])
	}
	return g.permit(reason, g.pick(70, 20, 10))
}

func (g *generator) iseeBand(cat category) string {
	bands := [...]string{"0-3000", "3000-6000", "6000-9360", "9360-10140", "10140-15000", "15000-25000", "25000+", "not-submitted"}
	switch cat {
	case recent:
		return bands[g.pick(35, 20, 10, 2, 3, 1, 0, 29)]
	case settled:
		return bands[g.pick(20, 20, 18, 5, 14, 8, 3, 12)]
	}
	return bands[g.pick(14, 14, 16, 5, 15, 14, 10, 12)]
}

// provisional returns a new, unique provisional code: a 7-digit number and
// the province code of Firenze, as the tax agency's codes are built, then
// the check digit.
func (g *generator) provisional() string {
	for {
		code := provisionalCode(fmt.Sprintf("%07d%s", g.r.IntN(10_000_000), g.rd.territory[0].ISTAT[:3]))
		if !g.provSeen[code] {
			g.provSeen[code] = true
			return code
		}
	}
}

// assignCF computes every codice fiscale in Index order; when the first
// 15 characters are already taken, omocodia letters replace digits from
// the right until the code is unique, as the Agenzia delle Entrate does.
func (g *generator) assignCF() {
	taken := make(map[string]bool, len(g.pop.people))
	for i, p := range g.pop.people {
		if g.meta[i].mode == provisionalOnly {
			continue
		}
		prefix := cfPrefix(p.FamilyName, p.GivenName, p.Sex == "F", p.BirthDate, p.BirthPlace)
		code, level := prefix, 0
		for taken[code] {
			level++
			if level > len(omocodiaPositions) {
				panic("population: more than 128 people share a codice fiscale")
			}
			code = omocodic(prefix, level)
		}
		taken[code] = true
		p.CF = withCheck(code)
		p.Omocodic = level > 0
	}
}

// assignSystems decides who each system knows: the comune whole
// households (about 60 %), the SDS people (about 35 %, more among the
// elderly, the disabled and people leaving reception), the CPI people of
// working age (about 45 %, more among foreign citizens).
func (g *generator) assignSystems() {
	for _, h := range g.pop.households {
		cat := g.meta[h.Members[0].Index].cat
		pc := 0.5
		if cat == recent {
			pc += 0.2
		}
		if h.Type == SingleParent {
			pc += 0.15
		}
		if h.ISEEBand == "0-3000" || h.ISEEBand == "3000-6000" {
			pc += 0.1
		}
		for _, m := range h.Members {
			if m.Age() >= 80 {
				pc += 0.1
				break
			}
		}
		inComune := g.chance(min(pc, 0.95))
		for _, p := range h.Members {
			age := p.Age()
			p.in[0] = inComune

			ps := 0.18
			switch {
			case p.Disability:
				ps = 0.85
			case age >= 80:
				ps = 0.65
			case age >= 65:
				ps = 0.45
			}
			if cat == recent {
				ps += 0.25
			}
			if inComune {
				ps += 0.1
			}
			p.in[1] = g.chance(min(ps, 0.95))

			if age >= 16 && age <= 66 {
				pj := 0.3
				switch {
				case cat == recent:
					pj = 0.65
				case p.Permit != nil:
					pj = 0.5
				case age < 18 || age > 60:
					pj = 0.2
				}
				if inComune {
					pj += 0.1
				}
				if p.Disability {
					pj -= 0.1
				}
				p.in[2] = g.chance(min(pj, 0.95))
			}
		}
	}
}

// typoRate is the share of (person, system) pairs whose code is mistyped.
const typoRate = 0.015

// assignIDs gives each person a local id and an identifier in each system
// that knows them, and mistypes a few.
func (g *generator) assignIDs() {
	seq := [3]int{120, 40, 900}
	for _, p := range g.pop.people {
		for i := range 3 {
			if !p.in[i] {
				continue
			}
			seq[i] += 1 + g.r.IntN(3)
			switch i {
			case 0:
				p.local[i] = fmt.Sprintf("ANAG-%07d", seq[i])
			case 1:
				p.local[i] = fmt.Sprintf("ASS-%d-%05d", g.between(2015, g.asOf.Year()), seq[i])
			case 2:
				p.local[i] = fmt.Sprintf("SIL-FI-%06d", seq[i])
			}
		}

		var ins []int
		for i := range 3 {
			if p.in[i] {
				ins = append(ins, i)
				p.held[i] = heldID{kind: KindCF, code: p.CF}
				if p.CF == "" {
					p.held[i] = heldID{kind: KindProvisional, code: p.Provisional}
				}
			}
		}
		if p.CF != "" && p.Provisional != "" && len(ins) > 0 {
			if len(ins) >= 2 {
				// The provisional code stayed where the person was first
				// registered: the SDS (health), else the CPI, else the comune.
				for _, i := range []int{1, 2, 0} {
					if p.in[i] {
						p.held[i] = heldID{kind: KindProvisional, code: p.Provisional}
						break
					}
				}
			}
			for _, i := range []int{0, 2, 1} {
				if p.in[i] && p.held[i].kind == KindCF {
					p.held[i].former = p.Provisional
					break
				}
			}
		}

		for _, i := range ins {
			if g.chance(typoRate) {
				p.held[i].code = g.mistype(p.held[i].kind, p.held[i].code)
				p.held[i].typo = true
			}
		}
	}
}

// mistype alters one character of code so that it is no longer valid.
func (g *generator) mistype(kind, code string) string {
	for {
		t := alter(code, g.r.IntN(len(code)), g.r.IntN(1000))
		if _, err := identity.ParseKind(identity.Kind(kind), t); err != nil {
			return t
		}
	}
}

// originNamed returns the origin of the country with the given Italian
// name; it panics on a name not in origins (a bug).
func originNamed(name string) *origin {
	for i := range origins {
		if origins[i].countryName == name {
			return &origins[i]
		}
	}
	panic("population: no origin " + name)
}
