package cpi

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Contract codes the simulator uses, with weights: every one is a code of
// schemas/codes/contract-type.json (the tests check it).
var contracts = []struct {
	code   string
	weight int
	months int // planned length; 0 for open-ended
}{
	{"A.01.00", 20, 0}, // Lavoro a tempo indeterminato
	{"A.02.00", 40, 6}, // Lavoro a tempo determinato
	{"A.02.01", 5, 4},  // Lavoro a tempo determinato per sostituzione
	{"A.03.09", 8, 36}, // Apprendistato professionalizzante
	{"A.04.02", 6, 0},  // Lavoro domestico
	{"A.05.02", 6, 0},  // Lavoro intermittente
	{"A.06.01", 10, 3}, // Lavoro interinale a tempo determinato
	{"B.02.00", 5, 1},  // Lavoro occasionale
}

var courses = []string{
	"Corso HACCP", "Lingua italiana L2 livello A2", "Competenze digitali di base",
	"Operatore socio-sanitario (OSS)", "Carrellista - sicurezza", "Addetto alle pulizie professionali",
}

var sectors = []string{
	"ristorazione", "logistica", "commercio al dettaglio", "servizi alla persona", "manifattura", "agricoltura",
}

// item is one object of the feed with its last update.
type item struct {
	tipo    string
	id      string
	updated time.Time
	lav     *Lavoratore
	att     *Attivita
}

func soggetto(p *population.Person) Soggetto {
	s := Soggetto{IDSIL: p.LocalID(population.CPI)}
	kind, code := p.IDIn(population.CPI)
	if kind == population.KindProvisional {
		s.CodiceProvvisorio = code
	} else {
		s.CodiceFiscale = code
	}
	return s
}

func date(t time.Time) string { return t.Format(time.DateOnly) }

// generate derives the cpi's records from the population, deterministically
// for the seed, sorted by their last update.
func generate(pop *population.Population) []item {
	asOf := population.AsOf()
	var items []item
	for _, p := range pop.People() {
		if !p.In(population.CPI) {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(pop.Seed), uint64(p.Index)+0x5c1))
		sid := soggetto(p)
		local := p.LocalID(population.CPI)
		// The worker registered with the cpi some time after turning 16.
		adult := p.BirthDate.AddDate(16, 0, 0)
		earliest := asOf.AddDate(-8, 0, 0)
		if adult.After(earliest) {
			earliest = adult
		}
		span := int(asOf.Sub(earliest).Hours()/24) - 30
		if span < 1 {
			span = 1
		}
		reg := earliest.AddDate(0, 0, r.IntN(span))
		lav := &Lavoratore{
			Soggetto: sid, Cognome: p.FamilyName, Nome: p.GivenName, Sesso: p.Sex,
			DataNascita: date(p.BirthDate), LuogoNascita: p.BirthPlace,
			Cittadinanza: p.Citizenship, ComuneResidenza: p.ResidenceComune,
		}
		if _, former := p.FormerIDIn(population.CPI); former != "" {
			lav.CodiceProvvisorioPrecedente = former
		}
		// The registry record first: it precedes the DID of the same day.
		items = append(items, item{tipo: TipoLavoratore, id: local, updated: reg, lav: lav})
		n := 0
		add := func(tipo string, a *Attivita, upd time.Time) {
			n++
			a.Lavoratore = sid
			items = append(items, item{tipo: tipo, id: fmt.Sprintf("%s-%02d", local, n), updated: upd, att: a})
		}
		day := func(from time.Time, maxDays int) time.Time {
			d := from.AddDate(0, 0, 1+r.IntN(maxDays))
			if d.After(asOf) {
				d = asOf.AddDate(0, 0, -1)
			}
			return d
		}
		// DID on registration, then the service pact and the profiling.
		status := Disoccupato
		if r.IntN(5) == 0 {
			status = Inattivo
		}
		add(TipoDID, &Attivita{DataInizio: date(reg), StatoOccupazionale: status}, reg)
		if r.IntN(10) < 8 {
			prof := day(reg, 20)
			class := 1 + r.IntN(4)
			idx := float64(25*(class-1)+r.IntN(25)) / 100
			add(TipoProfilazione, &Attivita{DataInizio: date(prof), StatoOccupazionale: status,
				ClasseProfilazione: class, IndiceProfilazione: idx}, prof)
			psp := day(prof, 40)
			add(TipoPatto, &Attivita{DataInizio: date(psp), StatoOccupazionale: status}, psp)
		}
		cursor := reg
		for range r.IntN(4) {
			start := day(cursor, 200)
			if !start.Before(asOf) {
				break
			}
			switch k := r.IntN(10); {
			case k < 2:
				end := start.AddDate(0, 6, 0)
				add(TipoTirocinio, &Attivita{DataInizio: date(start), DataFine: date(end),
					StatoOccupazionale: status, Descrizione: sectors[r.IntN(len(sectors))]}, start)
				cursor = end
			case k < 4:
				end := start.AddDate(0, 0, 20+r.IntN(100))
				add(TipoFormazione, &Attivita{DataInizio: date(start), DataFine: date(end),
					StatoOccupazionale: status, Descrizione: courses[r.IntN(len(courses))]}, start)
				cursor = end
			default:
				c := pickContract(r)
				a := &Attivita{DataInizio: date(start), StatoOccupazionale: status, CodiceContratto: c.code}
				upd := start
				if c.months > 0 {
					end := start.AddDate(0, c.months, 0)
					a.DataFine = date(end)
					cursor = end
					status = Disoccupato
				} else {
					cursor = asOf
					status = Occupato
				}
				add(TipoRapporto, a, upd)
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].updated.Before(items[j].updated) })
	return items
}

func pickContract(r *rand.Rand) struct {
	code   string
	weight int
	months int
} {
	total := 0
	for _, c := range contracts {
		total += c.weight
	}
	n := r.IntN(total)
	for _, c := range contracts {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return contracts[0]
}
