package cpi

import "encoding/xml"

// Namespace is the XML namespace of every document the system serves and
// accepts.
const Namespace = "urn:example:cpi:feed:1"

// Entry kinds: the tipo attribute of a feed entry (Voce).
const (
	TipoLavoratore        = "lavoratore"         // a worker's registry data
	TipoDID               = "did"                // dichiarazione di immediata disponibilità
	TipoPatto             = "patto-servizio"     // patto di servizio personalizzato (PSP)
	TipoProfilazione      = "profilazione"       // profilazione quantitativa
	TipoTirocinio         = "tirocinio"          // internship
	TipoRapporto          = "rapporto-lavoro"    // CO contract
	TipoFormazione        = "formazione"         // training course
	TipoSegnalazione      = "segnalazione"       // a referral received
	TipoSegnalazioneStato = "segnalazione-stato" // a referral status change
)

// Referral states of the cpi (stato of a Segnalazione).
const (
	StatoRicevuta      = "ricevuta"        // received, not yet looked at
	StatoPresaInCarico = "presa-in-carico" // accepted by an operator
	StatoInCorso       = "in-corso"        // the pathway has started
	StatoConclusa      = "conclusa"        // completed
	StatoRespinta      = "respinta"        // rejected, with a motivo
	StatoAnnullata     = "annullata"       // cancelled by the requester
)

// Reasons (motivo) of a rejection or cancellation.
const (
	MotivoNonIdoneo       = "non-idoneo"
	MotivoFuoriTerritorio = "fuori-territorio"
	MotivoDatiIncompleti  = "dati-incompleti"
	MotivoIrreperibile    = "irreperibile"
	MotivoRinuncia        = "rinuncia"
	MotivoDuplicata       = "duplicata"
	MotivoBisognoRisolto  = "bisogno-risolto"
	MotivoAltro           = "altro"
)

// Motivi lists the reasons the system knows, in a fixed order.
func Motivi() []string {
	return []string{MotivoNonIdoneo, MotivoFuoriTerritorio, MotivoDatiIncompleti, MotivoIrreperibile,
		MotivoRinuncia, MotivoDuplicata, MotivoBisognoRisolto, MotivoAltro}
}

// Origins of a status change (Origine).
const (
	OrigineCPI         = "cpi"         // the centre's staff
	OrigineRichiedente = "richiedente" // the requester, via POST /segnalazioni/{id}/stato
)

// Labour-market status (stato occupazionale) at the start of an activity.
const (
	Occupato    = "occupato"
	Disoccupato = "disoccupato"
	Inattivo    = "inattivo"
)

// Feed is one page of GET /feed.
type Feed struct {
	XMLName    xml.Name `xml:"urn:example:cpi:feed:1 feed"`
	Titolo     string   `xml:"titolo"`
	Aggiornato string   `xml:"aggiornato"`
	// UltimaSequenza is the highest sequence number in the whole feed
	// when the page was served.
	UltimaSequenza int64  `xml:"ultima-sequenza"`
	Pagina         int    `xml:"pagina"`
	Link           []Link `xml:"link"`
	Voci           []Voce `xml:"voce"`
}

// Link is an Atom-like link: rel is self or next.
type Link struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

// Voce is one feed entry: exactly one of the payload fields is set,
// matching Tipo. An object that changes appears again with a new Sequenza
// and the same ID; the latest entry wins.
type Voce struct {
	Tipo       string `xml:"tipo,attr"`
	Sequenza   int64  `xml:"sequenza"`
	Aggiornato string `xml:"aggiornato"` // RFC 3339, UTC
	ID         string `xml:"id"`

	Lavoratore   *Lavoratore   `xml:"lavoratore,omitempty"`
	Attivita     *Attivita     `xml:"attivita,omitempty"`
	Segnalazione *Segnalazione `xml:"segnalazione,omitempty"`
	Stato        *CambioStato  `xml:"cambio-stato,omitempty"`
}

// Soggetto identifies a worker as the cpi holds it: the SIL id and either
// the codice fiscale or the provisional code (possibly mistyped).
type Soggetto struct {
	IDSIL             string `xml:"id-sil,omitempty"`
	CodiceFiscale     string `xml:"codice-fiscale,omitempty"`
	CodiceProvvisorio string `xml:"codice-provvisorio,omitempty"`
}

// Lavoratore is a worker's registry record.
type Lavoratore struct {
	Soggetto
	// CodiceProvvisorioPrecedente is the provisional code kept beside
	// the codice fiscale of a person who had one first.
	CodiceProvvisorioPrecedente string `xml:"codice-provvisorio-precedente,omitempty"`
	Cognome                     string `xml:"cognome"`
	Nome                        string `xml:"nome"`
	Sesso                       string `xml:"sesso"`            // M or F
	DataNascita                 string `xml:"data-nascita"`     // YYYY-MM-DD
	LuogoNascita                string `xml:"luogo-nascita"`    // cadastral code
	Cittadinanza                string `xml:"cittadinanza"`     // IT or a Z-code
	ComuneResidenza             string `xml:"comune-residenza"` // ISTAT code
}

// Attivita is a DID, service pact, profiling, internship, contract or
// training course of a worker (Tipo of the entry says which).
type Attivita struct {
	Lavoratore         Soggetto `xml:"lavoratore"`
	DataInizio         string   `xml:"data-inizio"`
	DataFine           string   `xml:"data-fine,omitempty"`
	StatoOccupazionale string   `xml:"stato-occupazionale,omitempty"`
	// CodiceContratto is the CO (UNILAV) contract type code of a
	// rapporto-lavoro, from schemas/codes/contract-type.json.
	CodiceContratto string `xml:"codice-contratto,omitempty"`
	// ClasseProfilazione (1 low – 4 very high need) and
	// IndiceProfilazione (0–1) are set for a profilazione.
	ClasseProfilazione int     `xml:"classe-profilazione,omitempty"`
	IndiceProfilazione float64 `xml:"indice-profilazione,omitempty"`
	// Descrizione names a course, an internship host's sector, etc.
	Descrizione string `xml:"descrizione,omitempty"`
}

// RiferimentoEsterno is the requester's reference of a referral: the
// origin source and its record id.
type RiferimentoEsterno struct {
	Fonte string `xml:"fonte"`
	ID    string `xml:"id"`
}

// Segnalazione is a referral: the body of POST /segnalazioni (without ID
// and Stato) and the system's record of it.
type Segnalazione struct {
	XMLName            xml.Name           `xml:"urn:example:cpi:feed:1 segnalazione"`
	ID                 string             `xml:"id,omitempty"`
	Lavoratore         Soggetto           `xml:"lavoratore"`
	Richiedente        string             `xml:"richiedente"` // organisation id
	Categoria          string             `xml:"categoria"`   // referral-category code
	Priorita           string             `xml:"priorita"`    // referral-priority code
	DataRichiesta      string             `xml:"data-richiesta,omitempty"`
	Note               string             `xml:"note,omitempty"`
	RiferimentoEsterno RiferimentoEsterno `xml:"riferimento-esterno"`
	Stato              string             `xml:"stato,omitempty"`
	Motivo             string             `xml:"motivo,omitempty"`
	Ricevuta           string             `xml:"ricevuta,omitempty"` // RFC 3339
	Storia             []CambioStato      `xml:"storia>cambio-stato,omitempty"`
}

// CambioStato is one status change of a referral.
type CambioStato struct {
	Segnalazione       string             `xml:"segnalazione"` // the cpi's id
	RiferimentoEsterno RiferimentoEsterno `xml:"riferimento-esterno"`
	// Progressivo numbers the changes of one referral from 1.
	Progressivo int    `xml:"progressivo"`
	Da          string `xml:"da"`
	A           string `xml:"a"`
	Il          string `xml:"il"` // RFC 3339
	Motivo      string `xml:"motivo,omitempty"`
	// Origine is cpi for the centre's own changes, richiedente for those
	// the requester posted (a connector must not send those back).
	Origine string `xml:"origine"`
	// Operatore is the organisation that made the change.
	Operatore string `xml:"operatore"`
	// RiferimentoRichiedente is the requester's id of a posted change
	// (its idempotency key).
	RiferimentoRichiedente string `xml:"riferimento-richiedente,omitempty"`
}

// AggiornamentoStato is the body of POST /segnalazioni/{id}/stato.
type AggiornamentoStato struct {
	XMLName xml.Name `xml:"urn:example:cpi:feed:1 aggiornamento-stato"`
	Stato   string   `xml:"stato"`
	Motivo  string   `xml:"motivo,omitempty"`
	Il      string   `xml:"il,omitempty"`
	// Riferimento is the requester's id of the change: a second post
	// with the same one changes nothing.
	Riferimento string `xml:"riferimento"`
}

// Esito is the answer to a POST.
type Esito struct {
	XMLName xml.Name `xml:"urn:example:cpi:feed:1 esito"`
	ID      string   `xml:"id"`
	Stato   string   `xml:"stato"`
}

// Errore is the body of every error answer.
type Errore struct {
	XMLName   xml.Name `xml:"urn:example:cpi:feed:1 errore"`
	Codice    int      `xml:"codice"`
	Messaggio string   `xml:"messaggio"`
}
