package comune

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// OrgID is the organisation the comune system serves (population.Organisations).
const OrgID = "comune-sesto-fiorentino"

// The organisations the comune's social workers send referrals to.
const (
	OrgCPI = "cpi-sesto-fiorentino"
	OrgSDS = "sds-fi-nordovest"
)

// Persona is a person of the municipal registry of the social services
// (anagrafica), as GET /api/v1/persone returns it. The system holds names
// and the full birth date; a connector must forward neither.
type Persona struct {
	ID string `json:"id"`
	// CodiceFiscale is the codice fiscale as the system holds it (it may be
	// mistyped: population.Person.TypoIn).
	CodiceFiscale string `json:"codice_fiscale,omitempty"`
	// CodiceProvvisorio is the 11-digit provisional code, alone or kept
	// beside the codice fiscale (population.Person.FormerIDIn).
	CodiceProvvisorio string   `json:"codice_fiscale_provvisorio,omitempty"`
	Cognome           string   `json:"cognome"`
	Nome              string   `json:"nome"`
	Sesso             string   `json:"sesso"`
	DataNascita       string   `json:"data_nascita"`  // YYYY-MM-DD
	LuogoNascita      string   `json:"luogo_nascita"` // cadastral code
	Cittadinanza      string   `json:"cittadinanza"`  // IT or Z-code
	ComuneResidenza   string   `json:"comune_residenza"`
	IDNucleo          string   `json:"id_nucleo"`
	RuoloNucleo       string   `json:"ruolo_nucleo"` // household-role code
	Lingue            []string `json:"lingue,omitempty"`
	Disabilita        bool     `json:"disabilita"`
	// Permesso is the residence permit of a non-EU citizen.
	Permesso *Permesso `json:"permesso_soggiorno,omitempty"`
	// UscitaAccoglienza is the last exit from SAI/CAS reception.
	UscitaAccoglienza *UscitaAccoglienza `json:"uscita_accoglienza,omitempty"`
	AggiornatoIl      time.Time          `json:"aggiornato_il"`
}

// Permesso is a residence permit; codes of schemas/codes/permit-*.json.
type Permesso struct {
	Stato    string `json:"stato"`
	Motivo   string `json:"motivo,omitempty"`
	Scadenza string `json:"scadenza,omitempty"` // YYYY-MM
}

// UscitaAccoglienza is an exit from the reception system.
type UscitaAccoglienza struct {
	Sistema string `json:"sistema"` // SAI or CAS
	Data    string `json:"data"`    // YYYY-MM-DD
}

// Nucleo is a household (nucleo familiare).
type Nucleo struct {
	ID              string       `json:"id"`
	ComuneResidenza string       `json:"comune_residenza"`
	Tipo            string       `json:"tipo"`        // household-type code
	FasciaISEE      string       `json:"fascia_isee"` // isee-band code
	Componenti      []Componente `json:"componenti"`
	AggiornatoIl    time.Time    `json:"aggiornato_il"`
}

// Componente is a member of a Nucleo.
type Componente struct {
	IDPersona string `json:"id_persona"`
	Ruolo     string `json:"ruolo"`
}

// Consenso is a person's consent to share data with a recipient
// organisation for a purpose.
type Consenso struct {
	ID                string `json:"id"`
	IDPersona         string `json:"id_persona"`
	CodiceFiscale     string `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio string `json:"codice_fiscale_provvisorio,omitempty"`
	// EnteDestinatario is the recipient organisation id.
	EnteDestinatario string `json:"ente_destinatario"`
	// Finalita is a consent-purpose code (always "referral" here).
	Finalita string `json:"finalita"`
	// Stato is "attivo" or "revocato" (consent-status active / inactive).
	Stato        string    `json:"stato"`
	DataRaccolta string    `json:"data_raccolta"`
	DataRevoca   string    `json:"data_revoca,omitempty"`
	AggiornatoIl time.Time `json:"aggiornato_il"`
}

// Riferimento is the reference of a referral in the system it came from.
type Riferimento struct {
	Sistema string `json:"sistema"`
	ID      string `json:"id"`
}

// Segnalazione is a referral, sent by the comune's social workers
// (Direzione "inviata") or received from another organisation
// (Direzione "ricevuta").
type Segnalazione struct {
	ID                string    `json:"id"`
	Direzione         string    `json:"direzione"`
	IDPersona         string    `json:"id_persona,omitempty"`
	CodiceFiscale     string    `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio string    `json:"codice_fiscale_provvisorio,omitempty"`
	IDNucleo          string    `json:"id_nucleo,omitempty"`
	EnteRichiedente   string    `json:"ente_richiedente"`
	EnteDestinatario  string    `json:"ente_destinatario"`
	Categoria         string    `json:"categoria"` // referral-category code
	Priorita          string    `json:"priorita"`  // referral-priority code
	DataSegnalazione  time.Time `json:"data_segnalazione"`
	// Stato and MotivoStato are Italian codes: see StatusCodes and
	// ReasonCodes.
	Stato              string       `json:"stato"`
	MotivoStato        string       `json:"motivo_stato,omitempty"`
	StatoAggiornatoIl  time.Time    `json:"stato_aggiornato_il"`
	Operatore          string       `json:"operatore,omitempty"`
	RiferimentoEsterno *Riferimento `json:"riferimento_esterno,omitempty"`
	AggiornatoIl       time.Time    `json:"aggiornato_il"`
}

// EventoStato is one change of a referral's status.
type EventoStato struct {
	// ID is "<referral id>-<sequence>".
	ID             string `json:"id"`
	IDSegnalazione string `json:"id_segnalazione"`
	// RiferimentoEsterno repeats the referral's external reference (set
	// for received referrals).
	RiferimentoEsterno *Riferimento `json:"riferimento_esterno,omitempty"`
	Sequenza           int          `json:"sequenza"`
	Da                 string       `json:"da,omitempty"`
	A                  string       `json:"a"`
	Motivo             string       `json:"motivo,omitempty"`
	Il                 time.Time    `json:"il"`
	ImpostatoDa        string       `json:"impostato_da"`
	// Origine is "interna" for a change made in the comune, "esterna" for
	// one received with POST /api/v1/segnalazioni/{id}/stati.
	Origine         string    `json:"origine"`
	IDEventoEsterno string    `json:"id_evento_esterno,omitempty"`
	AggiornatoIl    time.Time `json:"aggiornato_il"`
}

// Directions and origins.
const (
	Inviata  = "inviata"
	Ricevuta = "ricevuta"
	Interna  = "interna"
	Esterna  = "esterna"
)

// StatusCodes maps the comune's referral statuses to
// schemas/codes/referral-status.json.
var StatusCodes = map[string]string{
	"bozza":     "draft",
	"inviata":   "requested",
	"accettata": "accepted",
	"rifiutata": "rejected",
	"annullata": "cancelled",
	"in_carico": "in-progress",
	"sospesa":   "on-hold",
	"fallita":   "failed",
	"conclusa":  "completed",
	"errata":    "entered-in-error",
}

// ReasonCodes maps the comune's status reasons to
// schemas/codes/referral-status-reason.json.
var ReasonCodes = map[string]string{
	"non_idoneo":              "not-eligible",
	"posti_esauriti":          "no-capacity",
	"fuori_territorio":        "out-of-area",
	"informazioni_incomplete": "incomplete-information",
	"lista_attesa":            "waiting-list",
	"attesa_documenti":        "awaiting-documents",
	"rifiuto_persona":         "person-declined",
	"bisogno_risolto":         "need-resolved",
	"duplicato":               "duplicate",
	"irreperibile":            "unreachable",
	"trasferito":              "moved-away",
	"assente":                 "did-not-attend",
	"altro":                   "other",
}

// needsReason lists the statuses that need a reason.
var needsReason = map[string]bool{"rifiutata": true, "annullata": true, "sospesa": true, "fallita": true}

// terminal lists the statuses no change leaves.
var terminal = map[string]bool{"rifiutata": true, "annullata": true, "fallita": true, "conclusa": true, "errata": true}

// ownerStatuses are the statuses the receiving organisation sets;
// requesterStatuses those the requester sets ("annullata" is both).
var (
	ownerStatuses     = map[string]bool{"accettata": true, "rifiutata": true, "in_carico": true, "sospesa": true, "fallita": true, "conclusa": true, "annullata": true}
	requesterStatuses = map[string]bool{"bozza": true, "inviata": true, "errata": true, "annullata": true}
)

var priorities = map[string]bool{"routine": true, "urgent": true, "asap": true, "stat": true}

// heldCodes returns the codes the comune holds for p.
func heldCodes(p *population.Person) (cf, prov string) {
	kind, code := p.IDIn(population.Comune)
	switch kind {
	case population.KindCF:
		cf = code
	case population.KindProvisional:
		prov = code
	}
	if _, former := p.FormerIDIn(population.Comune); former != "" {
		prov = former
	}
	return cf, prov
}

func date(t time.Time) string { return t.Format("2006-01-02") }

// generate fills the store from the population, deterministically for
// the seed: every random draw comes from r, in a fixed order.
func (s *Server) generate(r *rand.Rand) {
	asOf := population.AsOf()
	before := func(maxDays int) time.Time {
		return asOf.Add(-time.Duration(1+r.IntN(maxDays*86400)) * time.Second)
	}
	for _, h := range s.pop.Households() {
		if !h.In(population.Comune) {
			continue
		}
		n := &Nucleo{ID: h.ID, ComuneResidenza: h.Comune, Tipo: h.Type, FasciaISEE: h.ISEEBand, AggiornatoIl: before(720)}
		for _, p := range h.Members {
			if !p.In(population.Comune) {
				continue
			}
			cf, prov := heldCodes(p)
			ps := &Persona{
				ID: p.LocalID(population.Comune), CodiceFiscale: cf, CodiceProvvisorio: prov,
				Cognome: p.FamilyName, Nome: p.GivenName, Sesso: p.Sex, DataNascita: date(p.BirthDate),
				LuogoNascita: p.BirthPlace, Cittadinanza: p.Citizenship, ComuneResidenza: p.ResidenceComune,
				IDNucleo: h.ID, RuoloNucleo: string(p.Role), Lingue: p.Languages, Disabilita: p.Disability,
				AggiornatoIl: before(720),
			}
			if p.Permit != nil {
				ps.Permesso = &Permesso{Stato: p.Permit.Status, Motivo: p.Permit.Reason, Scadenza: p.Permit.ExpiryMonth()}
			}
			if p.ReceptionExit != nil {
				ps.UscitaAccoglienza = &UscitaAccoglienza{Sistema: p.ReceptionExit.System, Data: date(p.ReceptionExit.Date)}
			}
			s.persone = append(s.persone, ps)
			s.byPerson[ps.ID] = p
			n.Componenti = append(n.Componenti, Componente{IDPersona: ps.ID, Ruolo: string(p.Role)})
		}
		s.nuclei = append(s.nuclei, n)
	}
	// Consents: most adults in care consent to referrals to the CPI and
	// the SDS; some to one of them, some to none; a few revoked.
	for _, ps := range s.persone {
		p := s.byPerson[ps.ID]
		if p.Age() < 16 {
			continue
		}
		var to []string
		switch x := r.Float64(); {
		case x < 0.78:
			to = []string{OrgCPI, OrgSDS}
		case x < 0.84:
			to = []string{OrgCPI}
		case x < 0.88:
			to = []string{OrgSDS}
		}
		for _, org := range to {
			s.nextConsent++
			c := &Consenso{
				ID: fmt.Sprintf("CONS-%06d", s.nextConsent), IDPersona: ps.ID,
				CodiceFiscale: ps.CodiceFiscale, CodiceProvvisorio: ps.CodiceProvvisorio,
				EnteDestinatario: org, Finalita: "referral", Stato: "attivo",
			}
			signed := before(700)
			c.DataRaccolta = date(signed)
			c.AggiornatoIl = signed
			if r.Float64() < 0.03 {
				c.Stato = "revocato"
				rev := signed.Add(time.Duration(1+r.IntN(int(asOf.Sub(signed)/time.Second))) * time.Second)
				c.DataRevoca = date(rev)
				c.AggiornatoIl = rev
			}
			s.consensi = append(s.consensi, c)
		}
	}
	// Referrals sent by the comune's social workers: to the CPI for
	// working-age people, to the SDS for the others and some of them.
	for _, ps := range s.persone {
		p := s.byPerson[ps.ID]
		age := p.Age()
		if age < 16 || r.Float64() >= 0.08 {
			continue
		}
		owner, cat := OrgSDS, []string{"housing-instability", "social-connection", "material-hardship", "homelessness"}[r.IntN(4)]
		if age <= 66 && r.Float64() < 0.6 {
			owner, cat = OrgCPI, []string{"employment-status", "employment-status", "financial-insecurity", "educational-attainment"}[r.IntN(4)]
		}
		prio := "routine"
		if r.Float64() < 0.15 {
			prio = "urgent"
		}
		at := before(120)
		sg := s.newOutgoing(ps, owner, cat, prio, fmt.Sprintf("AS-%03d", 1+r.IntN(12)), at)
		if r.Float64() < 0.08 {
			reason := []string{"bisogno_risolto", "rifiuto_persona", "trasferito"}[r.IntN(3)]
			at2 := at.Add(time.Duration(1+r.IntN(int(asOf.Sub(at)/time.Second))) * time.Second)
			s.change(sg, "annullata", reason, at2, OrgID, Interna, "")
		}
	}
}

// newOutgoing records a referral sent by the comune at time at, with its
// first status event.
func (s *Server) newOutgoing(ps *Persona, owner, category, priority, operator string, at time.Time) *Segnalazione {
	s.nextReferral++
	sg := &Segnalazione{
		ID: fmt.Sprintf("SEGN-%d-%06d", at.Year(), s.nextReferral), Direzione: Inviata,
		IDPersona: ps.ID, CodiceFiscale: ps.CodiceFiscale, CodiceProvvisorio: ps.CodiceProvvisorio, IDNucleo: ps.IDNucleo,
		EnteRichiedente: OrgID, EnteDestinatario: owner, Categoria: category, Priorita: priority,
		DataSegnalazione: at, Operatore: operator,
	}
	s.segnalazioni = append(s.segnalazioni, sg)
	s.byReferral[sg.ID] = sg
	s.change(sg, "inviata", "", at, OrgID, Interna, "")
	return sg
}

// change applies a status change to sg and records its event. During
// generation the change is visible in the feeds at at; once the server
// runs, at the next tick of its clock.
func (s *Server) change(sg *Segnalazione, to, reason string, at time.Time, by, origin, extID string) *EventoStato {
	seq := len(s.history[sg.ID]) + 1
	ev := &EventoStato{
		ID: fmt.Sprintf("%s-%d", sg.ID, seq), IDSegnalazione: sg.ID, RiferimentoEsterno: sg.RiferimentoEsterno,
		Sequenza: seq, A: to, Motivo: reason, Il: at, ImpostatoDa: by, Origine: origin, IDEventoEsterno: extID,
		AggiornatoIl: at,
	}
	if seq > 1 {
		ev.Da = sg.Stato
	}
	if s.started {
		ev.AggiornatoIl = s.tick()
	}
	sg.Stato, sg.MotivoStato, sg.StatoAggiornatoIl, sg.AggiornatoIl = to, reason, at, ev.AggiornatoIl
	s.history[sg.ID] = append(s.history[sg.ID], ev)
	s.eventi = append(s.eventi, ev)
	if extID != "" {
		s.byExtEvent[extID] = ev
	}
	return ev
}
