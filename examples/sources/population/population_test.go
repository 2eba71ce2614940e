package population_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/schemas"
)

// seed42 is the population most tests read: 1,000 households.
var seed42 = sync.OnceValue(func() *population.Population { return population.Generate(42, 1000) })

// digest hashes every field of every person and household, and every
// per-system view.
func digest(t *testing.T, pop *population.Population) [32]byte {
	t.Helper()
	type sysView struct {
		In                 bool
		Local, Kind, Code  string
		FormerKind, Former string
		Typo               bool
	}
	type personView struct {
		P   *population.Person
		Sys []sysView
	}
	type householdView struct {
		ID, Comune, Type, ISEEBand string
		Members                    []int
	}
	var v struct {
		People     []personView
		Households []householdView
	}
	for _, p := range pop.People() {
		pv := personView{P: p}
		for _, s := range population.Systems() {
			k, c := p.IDIn(s)
			fk, f := p.FormerIDIn(s)
			pv.Sys = append(pv.Sys, sysView{p.In(s), p.LocalID(s), k, c, fk, f, p.TypoIn(s)})
		}
		v.People = append(v.People, pv)
	}
	for _, h := range pop.Households() {
		hv := householdView{ID: h.ID, Comune: h.Comune, Type: h.Type, ISEEBand: h.ISEEBand}
		for _, m := range h.Members {
			hv.Members = append(hv.Members, m.Index)
		}
		v.Households = append(v.Households, hv)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(raw)
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, b := population.Generate(7, 300), population.Generate(7, 300)
	if digest(t, a) != digest(t, b) {
		t.Error("the same seed gave two different populations")
	}
	if digest(t, a) == digest(t, population.Generate(8, 300)) {
		t.Error("seeds 7 and 8 gave the same population")
	}
	if got := digest(t, seed42()); got != digest(t, population.Generate(42, 1000)) {
		t.Error("seed 42 is not reproducible")
	}
	if n := len(population.Generate(1, 0).People()); n != 0 {
		t.Errorf("0 households gave %d people", n)
	}
}

// independent codes of the name part, written from the rule, not from the
// package: consonants, then vowels, then X; for a given name with four or
// more consonants the 1st, 3rd and 4th.
func nameCode(name string, given bool) string {
	fold := strings.NewReplacer("à", "A", "è", "E", "é", "E", "ì", "I", "ò", "O", "ù", "U")
	var cons, vows []byte
	for _, c := range []byte(strings.ToUpper(fold.Replace(name))) {
		switch {
		case strings.IndexByte("AEIOU", c) >= 0:
			vows = append(vows, c)
		case c >= 'A' && c <= 'Z':
			cons = append(cons, c)
		}
	}
	if given && len(cons) >= 4 {
		return string([]byte{cons[0], cons[2], cons[3]})
	}
	return string(append(append(cons, vows...), 'X', 'X', 'X')[:3])
}

func TestCodesMatchPeople(t *testing.T) {
	t.Parallel()
	for _, p := range seed42().People() {
		if p.CF == "" && p.Provisional == "" {
			t.Fatalf("person %d has no code", p.Index)
		}
		if p.Provisional != "" {
			if _, err := identity.ParseKind(identity.KindProvisional, p.Provisional); err != nil {
				t.Errorf("person %d: provisional code: %v", p.Index, err)
			}
		}
		if p.CF == "" {
			continue
		}
		c, err := identity.Parse(p.CF)
		if err != nil {
			t.Errorf("person %d: %v", p.Index, err)
			continue
		}
		if c.Kind != identity.KindCF || c.Value != p.CF {
			t.Errorf("person %d: parsed as %s", p.Index, c.Kind)
		}
		want := fmt.Sprintf("%d-%d-%d %v %s %v", p.BirthDate.Year()%100, p.BirthDate.Month(), p.BirthDate.Day(), p.Sex == "F", p.BirthPlace, p.Omocodic)
		got := fmt.Sprintf("%d-%d-%d %v %s %v", c.BirthYear2, c.BirthMonth, c.BirthDay, c.Female, c.Place, c.Omocodic)
		if got != want {
			t.Errorf("person %d: code decodes to %s, person is %s", p.Index, got, want)
		}
		if name := nameCode(p.FamilyName, false) + nameCode(p.GivenName, true); p.CF[:6] != name {
			t.Errorf("person %d: name part %s, want %s", p.Index, p.CF[:6], name)
		}
	}
}

func TestUnique(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	locals := map[string]int{}
	formats := map[population.System]*regexp.Regexp{
		population.Comune: regexp.MustCompile(`^ANAG-[0-9]{7}$`),
		population.SDS:    regexp.MustCompile(`^ASS-20[12][0-9]-[0-9]{5}$`),
		population.CPI:    regexp.MustCompile(`^SIL-FI-[0-9]{6}$`),
	}
	for _, p := range seed42().People() {
		for _, code := range []string{p.CF, p.Provisional} {
			if code == "" {
				continue
			}
			if other, dup := seen[code]; dup {
				t.Errorf("people %d and %d share a code", other, p.Index)
			}
			seen[code] = p.Index
		}
		for _, s := range population.Systems() {
			id := p.LocalID(s)
			if id == "" != !p.In(s) {
				t.Errorf("person %d: local id in %s %q, known %v", p.Index, s, id, p.In(s))
			}
			if id == "" {
				continue
			}
			if !formats[s].MatchString(id) {
				t.Errorf("person %d: local id %q in %s", p.Index, id, s)
			}
			if other, dup := locals[string(s)+"|"+id]; dup {
				t.Errorf("people %d and %d share local id %s", other, p.Index, id)
			}
			locals[string(s)+"|"+id] = p.Index
		}
	}
}

func TestIdentifiersPerSystem(t *testing.T) {
	t.Parallel()
	var typos, records, split int
	for _, p := range seed42().People() {
		kinds := map[string]bool{}
		formers := 0
		for _, s := range population.Systems() {
			kind, code := p.IDIn(s)
			if !p.In(s) {
				if kind != "" || code != "" || p.TypoIn(s) {
					t.Errorf("person %d: %s does not know them but holds a code", p.Index, s)
				}
				continue
			}
			records++
			kinds[kind] = true
			truth := map[string]string{population.KindCF: p.CF, population.KindProvisional: p.Provisional}[kind]
			if truth == "" {
				t.Fatalf("person %d: %s holds kind %q the person lacks", p.Index, s, kind)
			}
			_, err := identity.ParseKind(identity.Kind(kind), code)
			if !p.TypoIn(s) {
				if code != truth || err != nil {
					t.Errorf("person %d: %s holds a wrong or invalid code (%v)", p.Index, s, err)
				}
			} else {
				typos++
				if err == nil {
					t.Errorf("person %d: the typo in %s is a valid code", p.Index, s)
				}
				diff := 0
				for i := range code {
					if code[i] != truth[i] {
						diff++
					}
				}
				if len(code) != len(truth) || diff != 1 {
					t.Errorf("person %d: the typo in %s changes %d characters", p.Index, s, diff)
				}
			}
			if fk, f := p.FormerIDIn(s); f != "" {
				formers++
				if fk != population.KindProvisional || f != p.Provisional || kind != population.KindCF {
					t.Errorf("person %d: %s keeps a former code that is not the provisional one beside the CF", p.Index, s)
				}
			}
		}
		both := p.CF != "" && p.Provisional != ""
		if both && kinds[population.KindCF] && formers != 1 {
			t.Errorf("person %d has both codes, a system holds the CF, and %d systems link them", p.Index, formers)
		}
		if !both && formers != 0 {
			t.Errorf("person %d: a former code without two codes", p.Index)
		}
		if !both && len(kinds) > 1 {
			t.Errorf("person %d: systems hold different kinds for one code", p.Index)
		}
		if both && len(p.Systems()) >= 2 {
			if !kinds[population.KindCF] || !kinds[population.KindProvisional] {
				t.Errorf("person %d: has both codes and %d systems, but they hold %v", p.Index, len(p.Systems()), kinds)
			}
			split++
		}
	}
	if rate := float64(typos) / float64(records); rate < 0.005 || rate > 0.03 {
		t.Errorf("typos in %d of %d records (%.1f%%), want about 1–2%%", typos, records, 100*rate)
	}
	if split < 10 {
		t.Errorf("%d people hold the provisional code in one system and the CF in another, want at least 10", split)
	}
}

func TestOmocodia(t *testing.T) {
	t.Parallel()
	undo := strings.NewReplacer("L", "0", "M", "1", "N", "2", "P", "3", "Q", "4", "R", "5", "S", "6", "T", "7", "U", "8", "V", "9")
	byPrefix := map[string]*population.Person{}
	for _, p := range seed42().People() {
		if p.CF != "" && !p.Omocodic {
			byPrefix[p.CF[:15]] = p
		}
	}
	n := 0
	for _, p := range seed42().People() {
		if !p.Omocodic {
			continue
		}
		n++
		// Omocodia letters stand only at the digit positions 7, 8, 10, 11,
		// 13, 14 and 15.
		b := []byte(p.CF[:15])
		for _, i := range []int{6, 7, 9, 10, 12, 13, 14} {
			b[i] = undo.Replace(string(b[i]))[0]
		}
		namesake, ok := byPrefix[string(b)]
		if !ok {
			t.Errorf("omocodic person %d has no namesake", p.Index)
			continue
		}
		if namesake == p || namesake.CF == p.CF {
			t.Errorf("omocodic person %d: code not distinct from the namesake's", p.Index)
		}
		if namesake.BirthDate != p.BirthDate || namesake.BirthPlace != p.BirthPlace || namesake.Sex != p.Sex {
			t.Errorf("omocodic person %d: namesake %d differs in birth or sex", p.Index, namesake.Index)
		}
	}
	if n < 5 {
		t.Errorf("%d omocodic codes, want at least 5", n)
	}
}

func TestOverlap(t *testing.T) {
	t.Parallel()
	pop := seed42()
	s := pop.Stats()
	t.Logf("seed 42, 1,000 households:\n%s", s)
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	checks := []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"people per household", share(s.People, s.Households), 2.1, 2.6},
		{"households in comune", share(s.ComuneHouseholds, s.Households), 0.5, 0.7},
		{"people in sds", share(s.SDS, s.People), 0.25, 0.45},
		{"working age in cpi", share(s.CPI, s.WorkingAge), 0.35, 0.55},
	}
	for _, c := range checks {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %.2f, want %.2f–%.2f", c.what, c.got, c.lo, c.hi)
		}
	}
	if s.TwoOrMore < 300 || s.AllThree < 50 {
		t.Errorf("%d people in two or more systems, %d in three; want hundreds", s.TwoOrMore, s.AllThree)
	}
	if s.ProvisionalOnly == 0 || s.ProvisionalAndCF == 0 || s.Linked == 0 {
		t.Errorf("provisional only %d, provisional and CF %d, linked %d: want some of each", s.ProvisionalOnly, s.ProvisionalAndCF, s.Linked)
	}
	migrantsOut := 0
	for _, p := range pop.People() {
		if p.ReceptionExit != nil && p.Permit != nil {
			migrantsOut++
		}
		if p.In(population.CPI) && (p.Age() < 16 || p.Age() > 66) {
			t.Errorf("person %d, aged %d, is known to the CPI", p.Index, p.Age())
		}
	}
	if migrantsOut < 50 {
		t.Errorf("%d migrants left reception, want a good share", migrantsOut)
	}
	for _, h := range pop.Households() {
		for _, m := range h.Members {
			if m.In(population.Comune) != h.Members[0].In(population.Comune) {
				t.Errorf("household %s: the comune knows some members only", h.ID)
			}
		}
	}
	both := pop.InAll(population.SDS, population.CPI)
	if len(both) != s.SDSCPI {
		t.Errorf("InAll(sds, cpi) = %d people, stats say %d", len(both), s.SDSCPI)
	}
	for _, p := range both {
		if !p.In(population.SDS) || !p.In(population.CPI) {
			t.Errorf("InAll returned person %d, not in both", p.Index)
		}
	}
	if len(pop.InAll()) != s.People || pop.Person(s.People) != nil || pop.Person(-1) != nil || pop.Person(3).Index != 3 {
		t.Error("InAll() or Person(i) is wrong")
	}
}

func TestHouseholds(t *testing.T) {
	t.Parallel()
	pop := seed42()
	types := map[string]int{}
	large := 0
	for _, h := range pop.Households() {
		types[h.Type]++
		if len(h.Members) >= 5 {
			large++
		}
		if len(h.Members) == 0 || h.Members[0].Role != population.RoleReferencePerson {
			t.Fatalf("household %s does not start with its reference person", h.ID)
		}
		for _, m := range h.Members {
			if m.HouseholdID != h.ID || m.Household() != h || m.ResidenceComune != h.Comune {
				t.Errorf("person %d does not belong to household %s", m.Index, h.ID)
			}
		}
		if h.Type == population.SinglePerson && len(h.Members) != 1 {
			t.Errorf("single-person household %s has %d members", h.ID, len(h.Members))
		}
	}
	for _, typ := range []string{population.SinglePerson, population.CoupleNoChildren, population.CoupleWithChildren,
		population.SingleParent, population.MultiFamily, population.OtherHousehold} {
		if types[typ] == 0 {
			t.Errorf("no %s household", typ)
		}
	}
	if large < 10 {
		t.Errorf("%d households of five or more, want a few tens", large)
	}
}

// codeList reads the codes of schemas/codes/NAME.json.
func codeList(t *testing.T, name string) map[string]bool {
	t.Helper()
	raw, err := fs.ReadFile(schemas.FS(), "codes/"+name+".json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct{ Codes []struct{ Code string } }
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range l.Codes {
		out[c.Code] = true
	}
	return out
}

func TestCodesComeFromTheContract(t *testing.T) {
	t.Parallel()
	lists := map[string]map[string]bool{}
	for _, n := range []string{"household-role", "household-type", "isee-band", "permit-status", "permit-reason", "reception-system", "sex", "organisation-type"} {
		lists[n] = codeList(t, n)
	}
	places := map[string]bool{}
	var comuni []schemas.Comune
	var countries []schemas.Country
	for name, v := range map[string]any{"places/comuni.json": &comuni, "places/countries.json": &countries} {
		raw, err := fs.ReadFile(schemas.FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	istat := map[string]bool{}
	for _, c := range comuni {
		places[c.Cadastral] = true
		istat[c.ISTAT] = true
	}
	for _, c := range countries {
		if c.Active {
			places[c.Cadastral] = true
		}
	}
	territory := map[string]bool{}
	for _, m := range population.Territory() {
		if !istat[m.ISTAT] || !places[m.Cadastral] || m.Population <= 0 {
			t.Errorf("territory comune %s has unknown codes", m.Name)
		}
		territory[m.ISTAT] = true
	}
	if len(territory) != 8 {
		t.Errorf("territory has %d comuni, want 8", len(territory))
	}
	check := func(list, code, what string) {
		if !lists[list][code] {
			t.Errorf("%s: %q is not in schemas/codes/%s.json", what, code, list)
		}
	}
	lang := regexp.MustCompile(`^[a-z]{2}$`)
	pop := seed42()
	for _, h := range pop.Households() {
		check("household-type", h.Type, h.ID)
		check("isee-band", h.ISEEBand, h.ID)
		if !territory[h.Comune] {
			t.Errorf("household %s lives outside the territory", h.ID)
		}
	}
	for _, p := range pop.People() {
		what := fmt.Sprintf("person %d", p.Index)
		check("household-role", string(p.Role), what)
		check("sex", p.Sex, what)
		if !places[p.BirthPlace] {
			t.Errorf("%s: birth place %s unknown", what, p.BirthPlace)
		}
		if p.Citizenship != "IT" && (!places[p.Citizenship] || p.Citizenship[0] != 'Z') {
			t.Errorf("%s: citizenship %s unknown", what, p.Citizenship)
		}
		if len(p.Languages) == 0 {
			t.Errorf("%s: no language", what)
		}
		for _, l := range p.Languages {
			if !lang.MatchString(l) {
				t.Errorf("%s: language %q", what, l)
			}
		}
		if p.Permit != nil {
			check("permit-status", p.Permit.Status, what)
			check("permit-reason", p.Permit.Reason, what)
			if p.Citizenship == "IT" {
				t.Errorf("%s: an Italian citizen with a permit", what)
			}
			if (p.Permit.Status == "none") != (p.Permit.ExpiryMonth() == "") {
				t.Errorf("%s: permit %s with expiry %q", what, p.Permit.Status, p.Permit.ExpiryMonth())
			}
		}
		if p.ReceptionExit != nil {
			check("reception-system", p.ReceptionExit.System, what)
			if p.ReceptionExit.Date.After(population.AsOf()) || p.ReceptionExit.Date.Before(p.BirthDate) {
				t.Errorf("%s: reception exit date out of range", what)
			}
		}
	}
	recordID := regexp.MustCompile(`^[!-~]{1,128}$`)
	ids := map[string]bool{}
	for _, o := range population.Organisations() {
		check("organisation-type", o.Type, o.ID)
		if !recordID.MatchString(o.ID) || ids[o.ID] || !istat[o.Comune] {
			t.Errorf("organisation %q: bad or duplicate id, or unknown comune", o.ID)
		}
		ids[o.ID] = true
	}
	for _, id := range []string{"comune-sesto-fiorentino", "sds-fi-nordovest", "cpi-sesto-fiorentino", "caritas-firenze", "arci-firenze"} {
		if !ids[id] {
			t.Errorf("organisation %s missing", id)
		}
	}
}

// The people, as a system would send them, are valid person records; a
// record with a mistyped code is not.
func TestPersonRecordsValidate(t *testing.T) {
	t.Parallel()
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := reg.Lookup("person")
	if !ok {
		t.Fatal("no person schema")
	}
	typos := 0
	for _, p := range population.Generate(5, 300).People() {
		for _, sys := range p.Systems() {
			kind, code := p.IDIn(sys)
			ids := map[string]any{kind: code}
			if fk, f := p.FormerIDIn(sys); f != "" {
				ids[fk] = f
			}
			rec := map[string]any{
				"schema":           s.ID,
				"record_id":        p.LocalID(sys),
				"source":           string(sys),
				"territory":        population.TerritoryCode,
				"recorded_at":      "2025-06-30T12:00:00+02:00",
				"person":           map[string]any{"identifiers": ids},
				"birth_year":       p.BirthDate.Year(),
				"sex":              p.Sex,
				"citizenship":      p.Citizenship,
				"residence_comune": p.ResidenceComune,
				"languages":        p.Languages,
				"household":        map[string]any{"record_id": p.HouseholdID},
			}
			if p.Permit != nil {
				// permit-reason is an open list: a coding, not a bare code.
				pm := map[string]any{"status": p.Permit.Status, "reason": map[string]any{
					"system": "https://snodo-hub.github.io/codes/permit-reason", "code": p.Permit.Reason}}
				if m := p.Permit.ExpiryMonth(); m != "" {
					pm["expiry_month"] = m
				}
				rec["permit"] = pm
			}
			if e := p.ReceptionExit; e != nil {
				rec["reception_exit"] = map[string]any{"system": e.System, "date": e.Date.Format("2006-01-02")}
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := schemas.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			vs := s.Validate(doc)
			switch {
			case p.TypoIn(sys):
				typos++
				if len(vs) == 0 {
					t.Errorf("person %d in %s: a record with a mistyped code is valid", p.Index, sys)
				}
			case len(vs) > 0:
				t.Errorf("person %d in %s: %v", p.Index, sys, vs)
			}
		}
	}
	if typos == 0 {
		t.Error("no mistyped record checked")
	}
}

func BenchmarkGenerate(b *testing.B) {
	population.Generate(1, 1) // load the reference data once
	people := 0
	for i := 0; b.Loop(); i++ {
		people = len(population.Generate(int64(i), 1000).People())
	}
	b.ReportMetric(float64(people), "people/op")
}
