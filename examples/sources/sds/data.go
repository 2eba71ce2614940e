package sds

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Assistito is a person the SDS has taken in charge (anagrafe assistiti).
// Names and the full birth date are in the export, as in the real system;
// a connector must not pass them on.
type Assistito struct {
	ID                 string // population.Person.LocalID, "ASS-2025-00042"
	Codici             Codici
	Cognome, Nome      string
	Sesso              string // M or F
	DataNascita        time.Time
	ComuneNascita      string // cadastral code
	Cittadinanza       string // IT or a Z-code
	ComuneResidenza    string // ISTAT
	StatoPermesso      string // Italian: [PermitStatusCodes]
	MotivoPermesso     string // permit-reason code
	ScadenzaPermesso   string // mm/yyyy
	SistemaAccoglienza string // SAI or CAS
	UscitaAccoglienza  time.Time
	Disabilita         bool
	PresaInCarico      time.Time
	Aggiornato         time.Time
}

// Codici are the person's codes as the SDS holds them: a codice fiscale
// (possibly mistyped), a provisional code, an STP code of a foreigner
// without a permit, an ENI code; each may be empty.
type Codici struct {
	CF, Provvisorio, STP, ENI string
}

// Accesso is an access to the Punto Unico di Accesso: the person (or a
// relative) came, phoned or was visited; esito says how it ended. An
// access ending with a referral to another organisation (esito invio) names
// the referral id.
type Accesso struct {
	ID               string // "PUA-2025-000123"
	IDAssistito      string
	Codici           Codici
	Data             time.Time
	Canale           string // sportello, telefono, domicilio
	Bisogno          string // Italian: [NeedCodes]
	Esito            string // informazioni, presa_in_carico, uvm, invio
	EnteDestinatario string // organisation id, for invio
	IDSegnalazione   string // the referral sent, for invio
	Categoria        string // referral-category code, for invio
	Priorita         string // Italian priority, for invio
	Aggiornato       time.Time
}

// Valutazione is a multidimensional assessment by the UVM (unità di
// valutazione multidimensionale).
type Valutazione struct {
	ID                  string // "UVM-2025-00012"
	IDAssistito         string
	Codici              Codici
	Data                time.Time
	Momento             string   // T0, T6, T12, uscita
	Ambiti              []string // Italian: [DomainCodes]
	CondizioneAbitativa string   // EL1..EL6 or alloggiato
	LimitazioneSalute   string   // grave, moderata, nessuna
	ReteSociale         string   // assente, parziale, presente
	StatoPermesso       string
	MotivoPermesso      string
	LivelloItaliano     string // CEFR level
	Aggiornato          time.Time
}

// Servizio is a service (prestazione) provided to a person.
type Servizio struct {
	ID          string // "PRE-2025-000321"
	IDAssistito string
	Codici      Codici
	Tipo        string // Italian: [ServiceCodes]
	Modalita    string // una_tantum or periodica
	Inizio      time.Time
	Fine        time.Time // zero while it lasts
	ImportoCent int64
	Aggiornato  time.Time
}

// Export column headers, in order.
var (
	HeaderAssistiti = []string{"id_assistito", "codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni",
		"cognome", "nome", "sesso", "data_nascita", "comune_nascita", "cittadinanza", "comune_residenza",
		"stato_permesso", "motivo_permesso", "scadenza_permesso", "sistema_accoglienza", "data_uscita_accoglienza",
		"invalidita", "data_presa_in_carico", "data_aggiornamento"}
	HeaderAccessi = []string{"id_accesso", "id_assistito", "codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni",
		"data_accesso", "canale", "bisogno_prevalente", "esito", "ente_destinatario", "id_segnalazione",
		"categoria_segnalazione", "priorita", "data_ora_invio", "data_aggiornamento"}
	HeaderValutazioni = []string{"id_valutazione", "id_assistito", "codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni",
		"data_valutazione", "strumento", "momento", "ambiti", "condizione_abitativa", "limitazione_salute", "rete_sociale",
		"stato_permesso", "motivo_permesso", "livello_italiano", "data_aggiornamento"}
	HeaderServizi = []string{"id_servizio", "id_assistito", "codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni",
		"tipo_servizio", "modalita", "data_inizio", "data_fine", "importo", "data_aggiornamento"}
	HeaderStati = []string{"id_evento", "id_segnalazione", "direzione", "protocollo", "fonte_esterna", "id_esterno", "sequenza",
		"stato_precedente", "stato", "motivo", "data_ora", "impostato_da", "origine"}
)

func (c Codici) cells() []string { return []string{c.CF, c.Provvisorio, c.STP, c.ENI} }

func (a *Assistito) row() []string {
	r := []string{a.ID}
	r = append(r, a.Codici.cells()...)
	return append(r, a.Cognome, a.Nome, a.Sesso, day(a.DataNascita), a.ComuneNascita, a.Cittadinanza, a.ComuneResidenza,
		a.StatoPermesso, a.MotivoPermesso, a.ScadenzaPermesso, a.SistemaAccoglienza, day(a.UscitaAccoglienza),
		siNo(a.Disabilita), day(a.PresaInCarico), stamp(a.Aggiornato))
}

func (a *Accesso) row() []string {
	r := []string{a.ID, a.IDAssistito}
	r = append(r, a.Codici.cells()...)
	invio := ""
	if a.IDSegnalazione != "" {
		invio = stamp(a.Data)
	}
	return append(r, day(a.Data), a.Canale, a.Bisogno, a.Esito, a.EnteDestinatario, a.IDSegnalazione,
		a.Categoria, a.Priorita, invio, stamp(a.Aggiornato))
}

func (v *Valutazione) row() []string {
	r := []string{v.ID, v.IDAssistito}
	r = append(r, v.Codici.cells()...)
	return append(r, day(v.Data), "UVM", v.Momento, strings.Join(v.Ambiti, ","), v.CondizioneAbitativa,
		v.LimitazioneSalute, v.ReteSociale, v.StatoPermesso, v.MotivoPermesso, v.LivelloItaliano, stamp(v.Aggiornato))
}

func (s *Servizio) row() []string {
	r := []string{s.ID, s.IDAssistito}
	r = append(r, s.Codici.cells()...)
	return append(r, s.Tipo, s.Modalita, day(s.Inizio), day(s.Fine), euro(s.ImportoCent), stamp(s.Aggiornato))
}

// rome is the time zone of the export's local times.
var rome = func() *time.Location {
	l, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		panic(err)
	}
	return l
}()

// DateLayout and TimeLayout are the export's date and local date-time formats.
const (
	DateLayout = "02/01/2006"
	TimeLayout = "02/01/2006 15:04:05"
)

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(DateLayout)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(rome).Format(TimeLayout)
}

func siNo(b bool) string {
	if b {
		return "S"
	}
	return "N"
}

// euro formats cents the Italian way: "1.234,50".
func euro(c int64) string {
	if c == 0 {
		return ""
	}
	whole := strconv.FormatInt(c/100, 10)
	var b strings.Builder
	for i, ch := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(ch)
	}
	return fmt.Sprintf("%s,%02d", b.String(), c%100)
}

// PermitStatusCodes maps the SDS's permit statuses to
// schemas/codes/permit-status.json.
var PermitStatusCodes = map[string]string{"valido": "valid", "scaduto": "expired", "in_rinnovo": "renewal-pending", "nessuno": "none"}

// DomainCodes maps the UVM's ambiti to schemas/codes/assessment-domain.json.
var DomainCodes = map[string]string{
	"abitare": "housing", "lavoro": "work", "reddito": "income", "rete_sociale": "social-network", "salute": "health",
	"condizione_giuridica": "legal-status", "lingua": "language", "deprivazione": "material-deprivation",
}

// ServiceCodes maps the SDS's service types to schemas/codes/service-type.json.
var ServiceCodes = map[string]string{
	"assistenza_domiciliare": "health-social-integrated", "centro_diurno": "health-social-integrated",
	"inserimento_rsa": "health-social-integrated", "trasporto_sociale": "other",
	"contributo_economico": "economic-support", "mediazione_culturale": "mediation",
}

// NeedCodes are the PUA's "bisogno prevalente" values, with the referral
// category a referral for that need carries.
var NeedCodes = map[string]string{
	"non_autosufficienza": "social-connection", "disabilita": "social-connection",
	"fragilita_sociale": "social-connection", "disagio_abitativo": "housing-instability",
	"difficolta_economica": "financial-insecurity", "lavoro": "employment-status",
}

func italianPermit(status string) string {
	for it, code := range PermitStatusCodes {
		if code == status {
			return it
		}
	}
	return ""
}

func codiciOf(p *population.Person) Codici {
	var c Codici
	kind, code := p.IDIn(population.SDS)
	if kind == population.KindProvisional {
		c.Provvisorio = code
	} else {
		c.CF = code
	}
	if _, former := p.FormerIDIn(population.SDS); former != "" {
		c.Provvisorio = former
	}
	// A foreigner without a valid permit got an STP code for health care.
	if p.Permit != nil && (p.Permit.Status == "none" || p.Permit.Status == "expired") {
		c.STP = fmt.Sprintf("STP090201%07d", 1000000+p.Index)
	}
	return c
}

// data is the system's state derived from the population.
type data struct {
	assistiti   []*Assistito
	accessi     []*Accesso
	valutazioni []*Valutazione
	servizi     []*Servizio
	inviate     []*Segnalazione // referrals the PUA sent, with their history
}

func randomDay(r *rand.Rand, from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days < 1 {
		return from
	}
	return from.AddDate(0, 0, r.IntN(days))
}

// at8 returns the day at a working hour, in UTC.
func atHour(d time.Time, r *rand.Rand) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 7+r.IntN(9), r.IntN(60), 0, 0, time.UTC)
}

// generate derives the SDS's records from the population, deterministically
// for its seed.
func generate(pop *population.Population) *data {
	asOf := population.AsOf()
	d := &data{}
	type stamped struct {
		a   *Accesso
		who *population.Person
		r   *rand.Rand
	}
	var acc []stamped
	for _, p := range pop.People() {
		if !p.In(population.SDS) {
			continue
		}
		r := rand.New(rand.NewPCG(uint64(pop.Seed), uint64(p.Index)+0x5d5))
		local := p.LocalID(population.SDS)
		year, _ := strconv.Atoi(strings.Split(local, "-")[1])
		from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
		to := time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
		if to.After(asOf) {
			to = asOf
		}
		taken := randomDay(r, from, to)
		cod := codiciOf(p)
		a := &Assistito{
			ID: local, Codici: cod, Cognome: p.FamilyName, Nome: p.GivenName, Sesso: p.Sex,
			DataNascita: p.BirthDate, ComuneNascita: p.BirthPlace, Cittadinanza: p.Citizenship,
			ComuneResidenza: p.ResidenceComune, Disabilita: p.Disability, PresaInCarico: taken,
			Aggiornato: atHour(taken, r),
		}
		if p.Permit != nil {
			a.StatoPermesso = italianPermit(p.Permit.Status)
			a.MotivoPermesso = p.Permit.Reason
			if !p.Permit.Expiry.IsZero() {
				a.ScadenzaPermesso = p.Permit.Expiry.Format("01/2006")
			}
		}
		if p.ReceptionExit != nil {
			a.SistemaAccoglienza = p.ReceptionExit.System
			a.UscitaAccoglienza = p.ReceptionExit.Date
		}
		d.assistiti = append(d.assistiti, a)

		// Accesses: the first when taken in charge, then a few more.
		need := "fragilita_sociale"
		switch {
		case p.Age() >= 75:
			need = "non_autosufficienza"
		case p.Disability:
			need = "disabilita"
		case p.ReceptionExit != nil:
			need = "disagio_abitativo"
		}
		days := []time.Time{taken}
		for n := r.IntN(3); n > 0; n-- {
			days = append(days, randomDay(r, taken, asOf))
		}
		sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
		for i, dd := range days {
			x := &Accesso{IDAssistito: local, Codici: cod, Data: atHour(dd, r),
				Canale: []string{"sportello", "sportello", "telefono", "domicilio"}[r.IntN(4)], Bisogno: need, Esito: "informazioni"}
			if i == 0 {
				x.Esito = "presa_in_carico"
			}
			acc = append(acc, stamped{x, p, r})
		}

		// UVM assessments: most frail elderly and disabled people, a few others.
		pUVM := 0.1
		if p.Age() >= 65 || p.Disability {
			pUVM = 0.6
		}
		if r.Float64() >= pUVM {
			continue
		}
		t0 := taken.AddDate(0, 0, 10+r.IntN(30))
		if t0.After(asOf) {
			continue
		}
		limit := []string{"nessuna", "moderata", "grave"}[r.IntN(3)]
		if p.Disability {
			limit = []string{"moderata", "grave"}[r.IntN(2)]
		}
		steps := []struct {
			m     string
			after int
		}{{"T0", 0}, {"T6", 6}, {"T12", 12}}
		for _, st := range steps {
			when := t0.AddDate(0, st.after, r.IntN(15))
			if when.After(asOf) || (st.after > 0 && r.Float64() < 0.25) {
				break
			}
			v := &Valutazione{IDAssistito: local, Codici: cod, Data: when, Momento: st.m,
				Ambiti:              []string{"abitare", "salute", "rete_sociale"},
				CondizioneAbitativa: "alloggiato", LimitazioneSalute: limit,
				ReteSociale: []string{"assente", "parziale", "presente", "presente"}[r.IntN(4)],
				Aggiornato:  atHour(when, r)}
			if p.ReceptionExit != nil && r.Float64() < 0.5 {
				v.CondizioneAbitativa = []string{"EL2", "EL3", "EL5", "EL6"}[r.IntN(4)]
			} else if r.Float64() < 0.05 {
				v.CondizioneAbitativa = "EL6"
			}
			if p.ForeignCitizen() {
				v.Ambiti = append(v.Ambiti, "lingua")
				v.LivelloItaliano = []string{"pre-A1", "A1", "A2", "B1", "B2", "C1"}[r.IntN(6)]
				if p.Permit != nil {
					v.Ambiti = append(v.Ambiti, "condizione_giuridica")
					v.StatoPermesso = italianPermit(p.Permit.Status)
					if p.Permit.Status != "none" {
						v.MotivoPermesso = p.Permit.Reason
					}
				}
			}
			d.valutazioni = append(d.valutazioni, v)
		}

		// Services after the first assessment.
		for n := 1 + r.IntN(2); n > 0; n-- {
			start := t0.AddDate(0, 0, 5+r.IntN(60))
			if start.After(asOf) {
				break
			}
			tipi := []string{"assistenza_domiciliare", "centro_diurno", "trasporto_sociale", "contributo_economico"}
			if p.Age() >= 80 {
				tipi = append(tipi, "inserimento_rsa")
			}
			if p.ForeignCitizen() {
				tipi = append(tipi, "mediazione_culturale")
			}
			s := &Servizio{IDAssistito: local, Codici: cod, Tipo: tipi[r.IntN(len(tipi))], Inizio: start, Aggiornato: atHour(start, r)}
			if s.Tipo == "contributo_economico" {
				s.Modalita = "una_tantum"
				s.ImportoCent = int64(100+r.IntN(10)*50) * 100
			} else {
				s.Modalita = "periodica"
				months := 1 + r.IntN(18)
				end := start.AddDate(0, months, 0)
				if end.Before(asOf) {
					s.Fine = end
					s.Aggiornato = atHour(end, r)
				} else {
					months = int(asOf.Sub(start).Hours()/24/30) + 1
				}
				s.ImportoCent = int64(months) * int64(200+r.IntN(12)*50) * 100
			}
			d.servizi = append(d.servizi, s)
		}
	}

	// Number the accesses in time order; a few recent ones ended with a
	// referral to the comune or the employment centre.
	sort.SliceStable(acc, func(i, j int) bool { return acc[i].a.Data.Before(acc[j].a.Data) })
	recent := asOf.AddDate(0, -6, 0)
	for i, s := range acc {
		a := s.a
		a.ID = fmt.Sprintf("PUA-%d-%06d", a.Data.Year(), i+1)
		a.Aggiornato = a.Data
		if a.Esito == "informazioni" && a.Data.After(recent) && s.r.Float64() < 0.15 {
			age := s.who.Age()
			a.Esito = "invio"
			a.EnteDestinatario = OrgComune
			a.Categoria = NeedCodes[a.Bisogno]
			if age >= 18 && age <= 64 && s.r.Float64() < 0.4 {
				a.EnteDestinatario = OrgCPI
				a.Categoria = "employment-status"
			}
			a.Priorita = []string{"ordinaria", "ordinaria", "ordinaria", "urgente", "prioritaria"}[s.r.IntN(5)]
			a.IDSegnalazione = fmt.Sprintf("INV-%d-%05d", a.Data.Year(), len(d.inviate)+1)
			seg := &Segnalazione{ID: a.IDSegnalazione, Direzione: Inviata, Richiedente: OrgID, Destinatario: a.EnteDestinatario,
				IDAssistito: a.IDAssistito, Codici: a.Codici, Categoria: a.Categoria, Priorita: a.Priorita, Data: a.Data}
			seg.change(Inviata, "", a.Data, OrgID, Interna)
			if cancel := a.Data.Add(time.Duration(24+s.r.IntN(240)) * time.Hour); s.r.Float64() < 0.1 && cancel.Before(asOf) {
				seg.change(Annullata, "bisogno_risolto", cancel, OrgID, Interna)
			}
			d.inviate = append(d.inviate, seg)
		}
		d.accessi = append(d.accessi, a)
	}
	for i, v := range sortedBy(d.valutazioni, func(v *Valutazione) time.Time { return v.Data }) {
		v.ID = fmt.Sprintf("UVM-%d-%05d", v.Data.Year(), i+1)
	}
	for i, s := range sortedBy(d.servizi, func(s *Servizio) time.Time { return s.Inizio }) {
		s.ID = fmt.Sprintf("PRE-%d-%06d", s.Inizio.Year(), i+1)
	}
	return d
}

// sortedBy sorts xs in place by key, stably, and returns it.
func sortedBy[T any](xs []T, key func(T) time.Time) []T {
	sort.SliceStable(xs, func(i, j int) bool { return key(xs[i]).Before(key(xs[j])) })
	return xs
}
