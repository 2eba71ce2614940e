package comune

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Progetto is a social inclusion pathway (progetto personalizzato / PaIS)
// of a household, led by the comune.
type Progetto struct {
	ID                 string `json:"id"`
	IDNucleo           string `json:"id_nucleo"`
	IDPersona          string `json:"id_persona,omitempty"` // reference person
	CodiceFiscale      string `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio  string `json:"codice_fiscale_provvisorio,omitempty"`
	EnteTitolare       string `json:"ente_titolare"`
	DataAccesso        string `json:"data_accesso"`
	DataAnalisi        string `json:"data_analisi_preliminare,omitempty"`
	DataSottoscrizione string `json:"data_sottoscrizione,omitempty"`
	DataAvvio          string `json:"data_avvio"`
	ProssimaVerifica   string `json:"prossima_verifica,omitempty"`
	DataChiusura       string `json:"data_chiusura,omitempty"`
	// Stato is an Italian code: see PathwayStatusCodes.
	Stato        string      `json:"stato"`
	Obiettivi    []Obiettivo `json:"obiettivi,omitempty"`
	AggiornatoIl time.Time   `json:"aggiornato_il"`
}

// Obiettivo is a coded goal: area is a goal-category code, esito a
// goal-achievement code.
type Obiettivo struct {
	Area  string `json:"area"`
	Esito string `json:"esito"`
}

// PathwayStatusCodes maps the comune's pathway statuses to
// schemas/codes/pathway-status.json.
var PathwayStatusCodes = map[string]string{
	"bozza": "draft", "attivo": "active", "sospeso": "on-hold",
	"concluso": "completed", "revocato": "revoked", "errato": "entered-in-error",
}

// Valutazione is a social assessment (valutazione sociale) of a person.
type Valutazione struct {
	ID                string `json:"id"`
	IDPersona         string `json:"id_persona"`
	CodiceFiscale     string `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio string `json:"codice_fiscale_provvisorio,omitempty"`
	IDNucleo          string `json:"id_nucleo"`
	IDProgetto        string `json:"id_progetto,omitempty"`
	// Strumento is an assessment-instrument code; Momento an
	// assessment-timepoint code (T0, T6, T12, exit).
	Strumento string `json:"strumento"`
	Momento   string `json:"momento"`
	Data      string `json:"data"`
	// Ambiti are assessment-domain codes.
	Ambiti []string `json:"ambiti"`
	// CondizioneAbitativa is an ETHOS Light code (EL1–EL6, housed).
	CondizioneAbitativa string    `json:"condizione_abitativa,omitempty"`
	FasciaISEE          string    `json:"fascia_isee,omitempty"`
	SostegnoReddito     *bool     `json:"sostegno_reddito,omitempty"` // Assegno di inclusione
	ReteSociale         string    `json:"rete_sociale,omitempty"`     // social-network code
	AggiornatoIl        time.Time `json:"aggiornato_il"`
}

// Inserimento is a housing placement (inserimento abitativo) of a
// household: emergency accommodation, shared living (coabitazione),
// flats confiscated from organised crime (beni confiscati), public
// housing…
type Inserimento struct {
	ID                string `json:"id"`
	IDNucleo          string `json:"id_nucleo"`
	IDPersona         string `json:"id_persona,omitempty"`
	CodiceFiscale     string `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio string `json:"codice_fiscale_provvisorio,omitempty"`
	IDProgetto        string `json:"id_progetto,omitempty"`
	Comune            string `json:"comune"` // ISTAT code of the dwelling
	DataIngresso      string `json:"data_ingresso"`
	DataUscita        string `json:"data_uscita,omitempty"`
	// Tipologia is an Italian code: see TenureCodes.
	Tipologia  string `json:"tipologia"`
	Permanente bool   `json:"permanente"`
	// CondizionePrecedente and Destinazione are ETHOS Light codes;
	// GruppoDestinazione a destination-group code; MotivoUscita a
	// placement-exit-reason code.
	CondizionePrecedente string    `json:"condizione_precedente"`
	Destinazione         string    `json:"destinazione,omitempty"`
	GruppoDestinazione   string    `json:"gruppo_destinazione,omitempty"`
	MotivoUscita         string    `json:"motivo_uscita,omitempty"`
	AggiornatoIl         time.Time `json:"aggiornato_il"`
}

// TenureCodes maps the comune's placement types to
// schemas/codes/tenure.json.
var TenureCodes = map[string]string{
	"erp":                   "erp",
	"alloggio_sociale":      "social-housing",
	"affitto_privato":       "private-rent",
	"coabitazione":          "shared-living",
	"bene_confiscato":       "confiscated-property",
	"struttura_accoglienza": "supported-housing",
	"emergenza_abitativa":   "temporary-accommodation",
}

// generateDomain derives pathways, assessments and placements from the
// households the comune knows: about 30 % have a pathway, with a T0
// assessment and later ones, and a quarter of those a housing placement.
func (s *Server) generateDomain(r *rand.Rand) {
	asOf := population.AsOf()
	goals := []string{"housing", "work", "income", "social", "health", "language", "legal", "education"}
	for _, n := range s.nuclei {
		if len(n.Componenti) == 0 || r.Float64() >= 0.30 {
			continue
		}
		ref := s.persona(n.Componenti[0].IDPersona)
		accessed := asOf.AddDate(0, 0, -30-r.IntN(900))
		signed := accessed.AddDate(0, 0, 10+r.IntN(50))
		if !signed.Before(asOf) {
			signed = asOf.AddDate(0, 0, -1)
		}
		pg := &Progetto{
			ID: fmt.Sprintf("PAIS-%06d", len(s.progetti)+1), IDNucleo: n.ID, IDPersona: ref.ID,
			CodiceFiscale: ref.CodiceFiscale, CodiceProvvisorio: ref.CodiceProvvisorio, EnteTitolare: OrgID,
			DataAccesso: date(accessed), DataAnalisi: date(accessed.AddDate(0, 0, 3+r.IntN(7))),
			DataAvvio: date(signed), Stato: "attivo",
		}
		if r.Float64() < 0.9 {
			pg.DataSottoscrizione = date(signed)
		}
		months := int(asOf.Sub(signed).Hours() / 24 / 30)
		end := time.Time{}
		switch x := r.Float64(); {
		case months > 12 && x < 0.45:
			pg.Stato = "concluso"
		case months > 6 && x >= 0.45 && x < 0.55:
			pg.Stato = "revocato"
		case x >= 0.55 && x < 0.6:
			pg.Stato = "sospeso"
		}
		if pg.Stato == "concluso" || pg.Stato == "revocato" {
			end = signed.AddDate(0, 6+r.IntN(max(months-6, 1)), 0)
			if end.After(asOf) {
				end = asOf.AddDate(0, 0, -1)
			}
			pg.DataChiusura = date(end)
		} else {
			pg.ProssimaVerifica = date(asOf.AddDate(0, 0, 1+r.IntN(180)))
		}
		for _, i := range r.Perm(len(goals))[:1+r.IntN(3)] {
			esito := []string{"in-progress", "improving", "no-change", "worsening"}[r.IntN(4)]
			if pg.Stato == "concluso" {
				esito = []string{"achieved", "achieved", "not-achieved", "sustaining"}[r.IntN(4)]
			}
			pg.Obiettivi = append(pg.Obiettivi, Obiettivo{Area: goals[i], Esito: esito})
		}
		pg.AggiornatoIl = lastOf(signed, end).Add(time.Duration(r.IntN(86400)) * time.Second)
		s.progetti = append(s.progetti, pg)

		// Assessments at T0, T6, T12 while the pathway lasted, and at exit.
		ethos := []string{"EL1", "EL2", "EL3", "EL4", "EL5", "EL6", "housed", "housed", "housed"}[r.IntN(9)]
		stop := asOf
		if !end.IsZero() {
			stop = end
		}
		for i, tp := range []string{"T0", "T6", "T12", "exit"} {
			on := signed.AddDate(0, 6*i, 0)
			if tp == "T0" {
				on = accessed.AddDate(0, 0, 3)
			}
			if tp == "exit" {
				if end.IsZero() {
					break
				}
				on = end
			} else if on.After(stop) {
				continue
			}
			inc := r.Float64() < 0.35
			v := &Valutazione{
				ID: fmt.Sprintf("VAL-%06d", len(s.valutazioni)+1), IDPersona: ref.ID,
				CodiceFiscale: ref.CodiceFiscale, CodiceProvvisorio: ref.CodiceProvvisorio,
				IDNucleo: n.ID, IDProgetto: pg.ID, Strumento: "social-assessment", Momento: tp, Data: date(on),
				Ambiti:              []string{"housing", "income", "social-network"},
				CondizioneAbitativa: ethos, FasciaISEE: n.FasciaISEE, SostegnoReddito: &inc,
				ReteSociale:  []string{"absent", "partial", "present"}[r.IntN(3)],
				AggiornatoIl: on.Add(time.Duration(9*3600+r.IntN(8*3600)) * time.Second),
			}
			if tp == "T0" {
				v.Strumento = "preliminary-assessment"
			}
			s.valutazioni = append(s.valutazioni, v)
			if ethos != "housed" && r.Float64() < 0.5 {
				ethos = "housed"
			}
		}

		// Placements: households that were not housed at T0, and a few
		// others, are placed.
		if r.Float64() >= 0.25 {
			continue
		}
		kinds := []string{"emergenza_abitativa", "coabitazione", "coabitazione", "bene_confiscato", "alloggio_sociale", "erp", "struttura_accoglienza"}
		kind := kinds[r.IntN(len(kinds))]
		in := signed.AddDate(0, 0, 15+r.IntN(120))
		if in.After(asOf) {
			in = asOf.AddDate(0, 0, -1)
		}
		pl := &Inserimento{
			ID: fmt.Sprintf("INS-%06d", len(s.inserimenti)+1), IDNucleo: n.ID, IDPersona: ref.ID,
			CodiceFiscale: ref.CodiceFiscale, CodiceProvvisorio: ref.CodiceProvvisorio, IDProgetto: pg.ID,
			Comune: n.ComuneResidenza, DataIngresso: date(in), Tipologia: kind,
			Permanente:           kind == "erp" || kind == "alloggio_sociale" || kind == "bene_confiscato",
			CondizionePrecedente: []string{"EL1", "EL2", "EL3", "EL4", "EL5", "EL6"}[r.IntN(6)],
			AggiornatoIl:         in.Add(10 * time.Hour),
		}
		if !pl.Permanente && r.Float64() < 0.5 {
			out := in.AddDate(0, 2+r.IntN(10), 0)
			if out.Before(asOf) {
				pl.DataUscita = date(out)
				pl.AggiornatoIl = out.Add(10 * time.Hour)
				switch x := r.IntN(4); x {
				case 0, 1:
					pl.Destinazione, pl.GruppoDestinazione, pl.MotivoUscita = "housed", "permanent", "moved-to-permanent-housing"
				case 2:
					pl.Destinazione, pl.GruppoDestinazione, pl.MotivoUscita = "EL3", "temporary", "end-of-programme"
				default:
					pl.Destinazione, pl.GruppoDestinazione, pl.MotivoUscita = "EL1", "homeless", "left-voluntarily"
				}
			}
		}
		s.inserimenti = append(s.inserimenti, pl)
	}
}

func lastOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Update makes n registry changes as the comune's staff would during a
// day, each at the next tick of the clock, from a generator seeded with
// the seed (so a sequence of calls is deterministic): a pending permit
// renewed (or the record re-saved), a household's ISEE band re-declared,
// a consent revoked. It returns the ids of the records changed.
func (s *Server) Update(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.updates
	var out []string
	for range n {
		now := s.tick()
		switch r.IntN(3) {
		case 0:
			p := s.persone[r.IntN(len(s.persone))]
			if p.Permesso != nil && p.Permesso.Stato == "renewal-pending" {
				cp := *p.Permesso
				cp.Stato, cp.Scadenza = "valid", now.AddDate(2, 0, 0).Format("2006-01")
				p.Permesso = &cp
			}
			p.AggiornatoIl = now
			out = append(out, p.ID)
		case 1:
			h := s.nuclei[r.IntN(len(s.nuclei))]
			h.FasciaISEE = s.nuclei[r.IntN(len(s.nuclei))].FasciaISEE
			h.AggiornatoIl = now
			out = append(out, h.ID)
		default:
			if len(s.consensi) == 0 {
				continue
			}
			c := s.consensi[r.IntN(len(s.consensi))]
			if c.Stato == "attivo" {
				c.Stato, c.DataRevoca = "revocato", date(now)
			}
			c.AggiornatoIl = now
			out = append(out, c.ID)
		}
	}
	return out
}
