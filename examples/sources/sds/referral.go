package sds

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Organisation ids (population.Organisations).
const (
	OrgID     = "sds-fi-nordovest"
	OrgComune = "comune-sesto-fiorentino"
	OrgCPI    = "cpi-sesto-fiorentino"
)

// Referral directions.
const (
	Inviata  = "inviata"  // sent by the PUA (also its first status)
	Ricevuta = "ricevuta" // received in the inbox (also its first status)
)

// Referral statuses besides inviata and ricevuta.
const (
	Accolta   = "accolta"
	InCarico  = "in_carico"
	Sospesa   = "sospesa"
	Conclusa  = "conclusa"
	Respinta  = "respinta"
	Annullata = "annullata"
	Fallita   = "fallita"
	Errata    = "errata"
)

// Origins of a status change: made in the SDS, or received in the inbox.
const (
	Interna = "interna"
	Esterna = "esterna"
)

// StatusCodes maps the SDS's referral statuses to
// schemas/codes/referral-status.json.
var StatusCodes = map[string]string{
	Inviata: "requested", Ricevuta: "requested", Accolta: "accepted", InCarico: "in-progress", Sospesa: "on-hold",
	Conclusa: "completed", Respinta: "rejected", Annullata: "cancelled", Fallita: "failed", Errata: "entered-in-error",
}

// ReasonCodes maps the SDS's status reasons (motivi) to
// schemas/codes/referral-status-reason.json.
var ReasonCodes = map[string]string{
	"non_idoneo": "not-eligible", "posti_esauriti": "no-capacity", "fuori_ambito": "out-of-area",
	"informazioni_incomplete": "incomplete-information", "lista_attesa": "waiting-list",
	"attesa_documenti": "awaiting-documents", "rifiuto_persona": "person-declined", "bisogno_risolto": "need-resolved",
	"duplicato": "duplicate", "irreperibile": "unreachable", "trasferito": "moved-away",
	"mancata_presentazione": "did-not-attend", "altro": "other",
}

// PriorityCodes maps the SDS's priorities to schemas/codes/referral-priority.json.
var PriorityCodes = map[string]string{"ordinaria": "routine", "urgente": "urgent", "prioritaria": "asap", "immediata": "stat"}

func final(stato string) bool {
	switch stato {
	case Conclusa, Respinta, Annullata, Fallita, Errata:
		return true
	}
	return false
}

// needsReason reports whether a status needs a motivo.
func needsReason(stato string) bool {
	switch stato {
	case Respinta, Annullata, Sospesa, Fallita:
		return true
	}
	return false
}

// Segnalazione is a referral, sent by the PUA or received in its inbox.
type Segnalazione struct {
	ID           string // INV-<year>-<n> sent, RIC-<year>-<n> received
	Direzione    string
	Protocollo   string // received: the inbox document, "IN-<key>"
	Fonte        string // received: the origin's source
	IDEsterno    string // received: the origin's record id
	Richiedente  string
	Destinatario string
	IDAssistito  string // when the SDS knows the person
	Codici       Codici
	Categoria    string // referral-category code
	TipoServizio string // service-type code, optional
	Priorita     string // Italian
	Data         time.Time
	Stato        string
	Motivo       string
	Storia       []CambioStato
}

// CambioStato is one status change of a referral.
type CambioStato struct {
	ID          string // "<referral id>-<sequenza>"
	Sequenza    int
	Da, A       string
	Motivo      string
	Il          time.Time
	ImpostatoDa string // organisation id
	Origine     string // interna or esterna
}

func (s *Segnalazione) change(to, motivo string, at time.Time, by, origine string) CambioStato {
	c := CambioStato{ID: fmt.Sprintf("%s-%d", s.ID, len(s.Storia)+1), Sequenza: len(s.Storia) + 1,
		Da: s.Stato, A: to, Motivo: motivo, Il: at, ImpostatoDa: by, Origine: origine}
	s.Stato, s.Motivo = to, motivo
	s.Storia = append(s.Storia, c)
	return c
}

func (s *Segnalazione) copy() Segnalazione {
	c := *s
	c.Storia = slices.Clone(s.Storia)
	return c
}

func (s *Segnalazione) statoRow(c CambioStato) []string {
	return []string{c.ID, s.ID, s.Direzione, s.Protocollo, s.Fonte, s.IDEsterno, strconv.Itoa(c.Sequenza),
		c.Da, c.A, c.Motivo, stamp(c.Il), c.ImpostatoDa, c.Origine}
}

// Inbox file columns, as the PUA accepts them (one row per file).
var (
	HeaderInboxSegnalazione = []string{"chiave", "fonte", "id_esterno", "ente_richiedente", "ente_destinatario",
		"codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni", "categoria", "tipo_servizio", "priorita", "data_ora_richiesta"}
	HeaderInboxStato = []string{"chiave", "id_segnalazione", "fonte", "id_esterno", "stato", "motivo", "data_ora", "impostato_da"}
)

// Inbox file name prefixes.
const (
	PrefixSegnalazione = "segnalazione_"
	PrefixStato        = "stato_"
)

// InboxProcessed and InboxRejected are the sub-folders of the inbox where
// ProcessInbox moves the files it took in and those it refused.
const (
	InboxProcessed = "elaborati"
	InboxRejected  = "scartati"
)

func knownOrg(id string) bool {
	switch id {
	case OrgID, OrgComune, OrgCPI, "caritas-firenze", "arci-firenze":
		return true
	}
	return false
}

// ProcessInbox takes in the files in the inbox, oldest name first: a
// segnalazione_*.csv becomes a received referral (status ricevuta, a new
// RIC- id, the origin kept as fonte and id_esterno), a stato_*.csv applies a
// status change to the referral it names (the PUA's own by id_segnalazione,
// a received one by fonte and id_esterno). Files are moved to elaborati,
// or to scartati when refused; a key seen before changes nothing. It
// returns how many files were taken in and refused.
func (s *System) ProcessInbox() (taken, refused int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outage {
		return 0, 0, ErrOutage
	}
	entries, err := os.ReadDir(s.inbox)
	if err != nil {
		return 0, 0, fmt.Errorf("sds: read inbox: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".csv") {
			continue
		}
		path := filepath.Join(s.inbox, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return taken, refused, fmt.Errorf("sds: read inbox file: %w", err)
		}
		var perr error
		switch {
		case strings.HasPrefix(name, PrefixSegnalazione):
			perr = s.takeReferralLocked(data)
		case strings.HasPrefix(name, PrefixStato):
			perr = s.takeStatusLocked(data)
		default:
			perr = fmt.Errorf("unknown document")
		}
		dest := InboxProcessed
		if perr != nil {
			dest = InboxRejected
			refused++
			s.refusals = append(s.refusals, name+": "+perr.Error())
		} else {
			taken++
		}
		if err := os.Rename(path, filepath.Join(s.inbox, dest, name)); err != nil {
			return taken, refused, fmt.Errorf("sds: move inbox file: %w", err)
		}
	}
	return taken, refused, nil
}

// Refusals returns why ProcessInbox refused files ("<file>: <reason>").
func (s *System) Refusals() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.refusals)
}

func oneRow(data []byte, header []string) (map[string]string, error) {
	h, rows, err := decodeCSV(data)
	if err != nil {
		return nil, fmt.Errorf("unreadable file: %w", err)
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("%d rows, want 1", len(rows))
	}
	m := map[string]string{}
	for i, col := range h {
		if i < len(rows[0]) {
			m[col] = strings.TrimSpace(rows[0][i])
		}
	}
	for _, col := range header {
		if _, ok := m[col]; !ok {
			return nil, fmt.Errorf("missing column %s", col)
		}
	}
	return m, nil
}

func (s *System) takeReferralLocked(data []byte) error {
	m, err := oneRow(data, HeaderInboxSegnalazione)
	if err != nil {
		return err
	}
	key := m["chiave"]
	if key == "" || m["fonte"] == "" || m["id_esterno"] == "" {
		return fmt.Errorf("chiave, fonte and id_esterno are required")
	}
	if id, ok := s.byKey[key]; ok && id != "" {
		return nil // the same document again
	}
	ext := m["fonte"] + "\x00" + m["id_esterno"]
	if id, ok := s.byExt[ext]; ok {
		s.byKey[key] = id
		return nil
	}
	if !knownOrg(m["ente_richiedente"]) {
		return fmt.Errorf("unknown ente_richiedente")
	}
	if m["ente_destinatario"] != OrgID {
		return fmt.Errorf("ente_destinatario is not %s", OrgID)
	}
	cod := Codici{CF: strings.ToUpper(m["codice_fiscale"]), Provvisorio: m["codice_provvisorio"], STP: strings.ToUpper(m["codice_stp"]), ENI: strings.ToUpper(m["codice_eni"])}
	if cod == (Codici{}) {
		return fmt.Errorf("no person code")
	}
	if m["categoria"] == "" {
		return fmt.Errorf("categoria is required")
	}
	if _, ok := PriorityCodes[m["priorita"]]; !ok {
		return fmt.Errorf("unknown priorita")
	}
	at := s.tick()
	when, err := time.ParseInLocation(TimeLayout, m["data_ora_richiesta"], rome)
	if err != nil {
		when = at
	}
	s.received++
	seg := &Segnalazione{
		ID: fmt.Sprintf("RIC-%d-%05d", at.Year(), s.received), Direzione: Ricevuta, Protocollo: "IN-" + key,
		Fonte: m["fonte"], IDEsterno: m["id_esterno"], Richiedente: m["ente_richiedente"], Destinatario: OrgID,
		IDAssistito: s.known[cod.CF], Codici: cod, Categoria: m["categoria"],
		TipoServizio: m["tipo_servizio"], Priorita: m["priorita"], Data: when.UTC(),
	}
	if seg.IDAssistito == "" && cod.Provvisorio != "" {
		seg.IDAssistito = s.known[cod.Provvisorio]
	}
	s.recordLocked(seg, seg.change(Ricevuta, "", at, m["ente_richiedente"], Esterna))
	s.refs[seg.ID] = seg
	s.order = append(s.order, seg.ID)
	s.byKey[key] = seg.ID
	s.byExt[ext] = seg.ID
	return nil
}

func (s *System) takeStatusLocked(data []byte) error {
	m, err := oneRow(data, HeaderInboxStato)
	if err != nil {
		return err
	}
	key := m["chiave"]
	if key == "" {
		return fmt.Errorf("chiave is required")
	}
	if _, ok := s.byKey[key]; ok {
		return nil
	}
	var seg *Segnalazione
	if id := m["id_segnalazione"]; id != "" {
		seg = s.refs[id]
	} else if id, ok := s.byExt[m["fonte"]+"\x00"+m["id_esterno"]]; ok {
		seg = s.refs[id]
	}
	if seg == nil {
		return fmt.Errorf("unknown referral")
	}
	to := m["stato"]
	if _, ok := StatusCodes[to]; !ok || to == Inviata || to == Ricevuta {
		return fmt.Errorf("unknown stato")
	}
	if needsReason(to) && m["motivo"] == "" {
		return fmt.Errorf("stato %s needs a motivo", to)
	}
	if m["motivo"] != "" {
		if _, ok := ReasonCodes[m["motivo"]]; !ok {
			return fmt.Errorf("unknown motivo")
		}
	}
	by := m["impostato_da"]
	if !knownOrg(by) {
		return fmt.Errorf("unknown impostato_da")
	}
	if final(seg.Stato) {
		return fmt.Errorf("referral already closed (%s)", seg.Stato)
	}
	at := s.tick()
	if t, err := time.ParseInLocation(TimeLayout, m["data_ora"], rome); err == nil {
		at = t.UTC()
	}
	s.recordLocked(seg, seg.change(to, m["motivo"], at, by, Esterna))
	s.byKey[key] = seg.ID
	return nil
}

// recordLocked puts a status change in the next night's export.
func (s *System) recordLocked(seg *Segnalazione, c CambioStato) {
	s.pendingStati = append(s.pendingStati, seg.statoRow(c))
}

// staff applies a change made by the SDS's staff to a referral.
func (s *System) staff(id string, from []string, to, motivo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg, ok := s.refs[id]
	if !ok {
		return fmt.Errorf("sds: unknown referral %s", id)
	}
	if !slices.Contains(from, seg.Stato) {
		return fmt.Errorf("sds: referral %s is %s, not %s", id, seg.Stato, strings.Join(from, " or "))
	}
	if needsReason(to) {
		if _, ok := ReasonCodes[motivo]; !ok {
			return fmt.Errorf("sds: %s needs a motivo of ReasonCodes", to)
		}
	}
	s.recordLocked(seg, seg.change(to, motivo, s.tick(), OrgID, Interna))
	return nil
}

// Accept takes a received referral in (ricevuta → accolta).
func (s *System) Accept(id string) error {
	return s.received1(id, []string{Ricevuta}, Accolta, "")
}

// Start starts the work on an accepted referral (accolta → in_carico).
func (s *System) Start(id string) error {
	return s.received1(id, []string{Accolta}, InCarico, "")
}

// Complete closes a referral in charge (in_carico → conclusa).
func (s *System) Complete(id string) error {
	return s.received1(id, []string{InCarico}, Conclusa, "")
}

// Reject refuses a received referral (ricevuta or accolta → respinta) with
// a motivo of ReasonCodes.
func (s *System) Reject(id, motivo string) error {
	return s.received1(id, []string{Ricevuta, Accolta}, Respinta, motivo)
}

func (s *System) received1(id string, from []string, to, motivo string) error {
	s.mu.Lock()
	seg, ok := s.refs[id]
	dir := ""
	if ok {
		dir = seg.Direzione
	}
	s.mu.Unlock()
	if ok && dir != Ricevuta {
		return fmt.Errorf("sds: referral %s was sent by the SDS: only the receiver sets %s", id, to)
	}
	return s.staff(id, from, to, motivo)
}

// Cancel withdraws a referral the PUA sent (any open status → annullata)
// with a motivo of ReasonCodes.
func (s *System) Cancel(id, motivo string) error {
	s.mu.Lock()
	seg, ok := s.refs[id]
	s.mu.Unlock()
	if ok && seg.Direzione != Inviata {
		return fmt.Errorf("sds: referral %s was received: the requester cancels it", id)
	}
	return s.staff(id, []string{Inviata, Accolta, InCarico, Sospesa}, Annullata, motivo)
}

// Advance moves every open received referral one step (ricevuta →
// accolta → in_carico → conclusa) and returns how many moved.
func (s *System) Advance() int {
	s.mu.Lock()
	var ids []string
	for _, id := range s.order {
		if seg := s.refs[id]; seg.Direzione == Ricevuta && !final(seg.Stato) && seg.Stato != Sospesa {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	n := 0
	next := map[string]string{Ricevuta: Accolta, Accolta: InCarico, InCarico: Conclusa}
	for _, id := range ids {
		s.mu.Lock()
		from := s.refs[id].Stato
		s.mu.Unlock()
		if s.staff(id, []string{from}, next[from], "") == nil {
			n++
		}
	}
	return n
}

// Referral returns a copy of a referral with its history.
func (s *System) Referral(id string) (Segnalazione, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg, ok := s.refs[id]
	if !ok {
		return Segnalazione{}, false
	}
	return seg.copy(), true
}

// ReferralByExternal returns the received referral of an origin's source
// and record id.
func (s *System) ReferralByExternal(fonte, id string) (Segnalazione, bool) {
	s.mu.Lock()
	rid, ok := s.byExt[fonte+"\x00"+id]
	s.mu.Unlock()
	if !ok {
		return Segnalazione{}, false
	}
	return s.Referral(rid)
}

// Referrals returns copies of every referral, sent ones first, in the
// order they were made.
func (s *System) Referrals() []Segnalazione {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Segnalazione, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.refs[id].copy())
	}
	return out
}
