package main

import "time"

// The case system's payloads, as its API returns them (Italian field
// names). Only the fields the connector maps are decoded: names, full
// birth dates, birth places, operators and free text are never read into
// a record.

type persona struct {
	ID                string             `json:"id"`
	CodiceFiscale     string             `json:"codice_fiscale"`
	CodiceProvvisorio string             `json:"codice_fiscale_provvisorio"`
	Sesso             string             `json:"sesso"`
	DataNascita       string             `json:"data_nascita"` // only its year is kept
	Cittadinanza      string             `json:"cittadinanza"`
	ComuneResidenza   string             `json:"comune_residenza"`
	IDNucleo          string             `json:"id_nucleo"`
	Lingue            []string           `json:"lingue"`
	Permesso          *permesso          `json:"permesso_soggiorno"`
	UscitaAccoglienza *uscitaAccoglienza `json:"uscita_accoglienza"`
	AggiornatoIl      time.Time          `json:"aggiornato_il"`
}

type permesso struct {
	Stato    string `json:"stato"`
	Motivo   string `json:"motivo"`
	Scadenza string `json:"scadenza"`
}

type uscitaAccoglienza struct {
	Sistema string `json:"sistema"`
	Data    string `json:"data"`
}

type nucleo struct {
	ID              string       `json:"id"`
	ComuneResidenza string       `json:"comune_residenza"`
	Tipo            string       `json:"tipo"`
	FasciaISEE      string       `json:"fascia_isee"`
	Componenti      []componente `json:"componenti"`
	AggiornatoIl    time.Time    `json:"aggiornato_il"`
}

type componente struct {
	IDPersona string `json:"id_persona"`
	Ruolo     string `json:"ruolo"`
}

type consenso struct {
	ID                string    `json:"id"`
	IDPersona         string    `json:"id_persona"`
	CodiceFiscale     string    `json:"codice_fiscale"`
	CodiceProvvisorio string    `json:"codice_fiscale_provvisorio"`
	EnteDestinatario  string    `json:"ente_destinatario"`
	Finalita          string    `json:"finalita"`
	Stato             string    `json:"stato"`
	DataRaccolta      string    `json:"data_raccolta"`
	DataRevoca        string    `json:"data_revoca"`
	AggiornatoIl      time.Time `json:"aggiornato_il"`
}

type riferimento struct {
	Sistema string `json:"sistema"`
	ID      string `json:"id"`
}

type segnalazione struct {
	ID                 string        `json:"id"`
	Direzione          string        `json:"direzione"`
	CodiceFiscale      string        `json:"codice_fiscale"`
	CodiceProvvisorio  string        `json:"codice_fiscale_provvisorio"`
	IDNucleo           string        `json:"id_nucleo"`
	EnteRichiedente    string        `json:"ente_richiedente"`
	EnteDestinatario   string        `json:"ente_destinatario"`
	Categoria          string        `json:"categoria"`
	Priorita           string        `json:"priorita"`
	DataSegnalazione   time.Time     `json:"data_segnalazione"`
	Stato              string        `json:"stato"`
	MotivoStato        string        `json:"motivo_stato"`
	StatoAggiornatoIl  time.Time     `json:"stato_aggiornato_il"`
	RiferimentoEsterno *riferimento  `json:"riferimento_esterno"`
	AggiornatoIl       time.Time     `json:"aggiornato_il"`
	Storia             []eventoStato `json:"storia,omitempty"`
}

type eventoStato struct {
	ID                 string       `json:"id"`
	IDSegnalazione     string       `json:"id_segnalazione"`
	RiferimentoEsterno *riferimento `json:"riferimento_esterno"`
	Sequenza           int          `json:"sequenza"`
	Da                 string       `json:"da"`
	A                  string       `json:"a"`
	Motivo             string       `json:"motivo"`
	Il                 time.Time    `json:"il"`
	ImpostatoDa        string       `json:"impostato_da"`
	Origine            string       `json:"origine"`
	IDEventoEsterno    string       `json:"id_evento_esterno"`
	AggiornatoIl       time.Time    `json:"aggiornato_il"`
}

type progetto struct {
	ID                 string      `json:"id"`
	IDNucleo           string      `json:"id_nucleo"`
	CodiceFiscale      string      `json:"codice_fiscale"`
	CodiceProvvisorio  string      `json:"codice_fiscale_provvisorio"`
	EnteTitolare       string      `json:"ente_titolare"`
	DataAccesso        string      `json:"data_accesso"`
	DataAnalisi        string      `json:"data_analisi_preliminare"`
	DataSottoscrizione string      `json:"data_sottoscrizione"`
	DataAvvio          string      `json:"data_avvio"`
	ProssimaVerifica   string      `json:"prossima_verifica"`
	DataChiusura       string      `json:"data_chiusura"`
	Stato              string      `json:"stato"`
	Obiettivi          []obiettivo `json:"obiettivi"`
	AggiornatoIl       time.Time   `json:"aggiornato_il"`
}

type obiettivo struct {
	Area  string `json:"area"`
	Esito string `json:"esito"`
}

type valutazione struct {
	ID                  string    `json:"id"`
	CodiceFiscale       string    `json:"codice_fiscale"`
	CodiceProvvisorio   string    `json:"codice_fiscale_provvisorio"`
	IDNucleo            string    `json:"id_nucleo"`
	IDProgetto          string    `json:"id_progetto"`
	Strumento           string    `json:"strumento"`
	Momento             string    `json:"momento"`
	Data                string    `json:"data"`
	Ambiti              []string  `json:"ambiti"`
	CondizioneAbitativa string    `json:"condizione_abitativa"`
	FasciaISEE          string    `json:"fascia_isee"`
	SostegnoReddito     *bool     `json:"sostegno_reddito"`
	ReteSociale         string    `json:"rete_sociale"`
	AggiornatoIl        time.Time `json:"aggiornato_il"`
}

type inserimento struct {
	ID                   string    `json:"id"`
	IDNucleo             string    `json:"id_nucleo"`
	CodiceFiscale        string    `json:"codice_fiscale"`
	CodiceProvvisorio    string    `json:"codice_fiscale_provvisorio"`
	IDProgetto           string    `json:"id_progetto"`
	Comune               string    `json:"comune"`
	DataIngresso         string    `json:"data_ingresso"`
	DataUscita           string    `json:"data_uscita"`
	Tipologia            string    `json:"tipologia"`
	Permanente           bool      `json:"permanente"`
	CondizionePrecedente string    `json:"condizione_precedente"`
	Destinazione         string    `json:"destinazione"`
	GruppoDestinazione   string    `json:"gruppo_destinazione"`
	MotivoUscita         string    `json:"motivo_uscita"`
	AggiornatoIl         time.Time `json:"aggiornato_il"`
}

// statusCodes maps the system's referral statuses to
// schemas/codes/referral-status.json.
var statusCodes = map[string]string{
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

// reasonCodes maps the system's status reasons to
// schemas/codes/referral-status-reason.json.
var reasonCodes = map[string]string{
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

// pathwayStatusCodes maps the system's pathway statuses to
// schemas/codes/pathway-status.json.
var pathwayStatusCodes = map[string]string{
	"bozza": "draft", "attivo": "active", "sospeso": "on-hold",
	"concluso": "completed", "revocato": "revoked", "errato": "entered-in-error",
}

// tenureCodes maps the system's placement types to schemas/codes/tenure.json.
var tenureCodes = map[string]string{
	"erp":                   "erp",
	"alloggio_sociale":      "social-housing",
	"affitto_privato":       "private-rent",
	"coabitazione":          "shared-living",
	"bene_confiscato":       "confiscated-property",
	"struttura_accoglienza": "supported-housing",
	"emergenza_abitativa":   "temporary-accommodation",
}

// consentStatusCodes maps the system's consent statuses to
// schemas/codes/consent-status.json.
var consentStatusCodes = map[string]string{"attivo": "active", "revocato": "inactive"}

// invert returns the reverse of a code table.
func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

var (
	statusToSystem = invert(statusCodes)
	reasonToSystem = invert(reasonCodes)
)
