package cpi

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Error is an error of the system with the HTTP status it answers with.
// Messages never contain an identifier of a person.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// ErrNotFound is returned for an unknown referral id.
var ErrNotFound = &Error{Status: http.StatusNotFound, Msg: "segnalazione non trovata"}

var priorities = []string{"routine", "urgent", "asap", "stat"}

func final(stato string) bool {
	return stato == StatoConclusa || stato == StatoRespinta || stato == StatoAnnullata
}

func validCF(c string) bool {
	if len(c) != 16 {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func validProvisional(c string) bool {
	if len(c) != 11 {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func validCode(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func knownOrg(id string) bool {
	for _, o := range population.Organisations() {
		if o.ID == id {
			return true
		}
	}
	return false
}

// Receive registers a referral, as POST /segnalazioni does: it returns the
// system's record and whether it was created. A referral with an external
// reference already received is not registered again: Receive returns the
// existing record and false. ID, Stato and the other fields the system
// sets are ignored in in.
func (s *Server) Receive(in Segnalazione) (Segnalazione, bool, error) {
	ext := in.RiferimentoEsterno
	if ext.Fonte == "" || ext.ID == "" {
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "riferimento-esterno: fonte e id obbligatori")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byExt[ext]; ok {
		return s.refs[id].copy(), false, nil
	}
	cf, prov := in.Lavoratore.CodiceFiscale, in.Lavoratore.CodiceProvvisorio
	switch {
	case cf != "" && prov != "", cf == "" && prov == "":
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "lavoratore: indicare il codice fiscale oppure il codice provvisorio")
	case cf != "" && !validCF(cf), prov != "" && !validProvisional(prov):
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "lavoratore: codice malformato")
	}
	if !knownOrg(in.Richiedente) || in.Richiedente == OrgID {
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "richiedente sconosciuto")
	}
	if !validCode(in.Categoria) {
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "categoria mancante o non valida")
	}
	if !slices.Contains(priorities, in.Priorita) {
		return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "priorita non valida (routine, urgent, asap, stat)")
	}
	if in.DataRichiesta != "" {
		if _, err := time.Parse(time.DateOnly, in.DataRichiesta); err != nil {
			return Segnalazione{}, false, errorf(http.StatusUnprocessableEntity, "data-richiesta: formato AAAA-MM-GG")
		}
	}
	now := s.tick()
	ref := &Segnalazione{
		ID:          fmt.Sprintf("SEG-%d-%06d", now.Year(), len(s.order)+1),
		Lavoratore:  Soggetto{IDSIL: s.known[cf+prov], CodiceFiscale: cf, CodiceProvvisorio: prov},
		Richiedente: in.Richiedente, Categoria: in.Categoria, Priorita: in.Priorita,
		DataRichiesta: in.DataRichiesta, Note: in.Note, RiferimentoEsterno: ext,
		Stato: StatoRicevuta, Ricevuta: now.Format(time.RFC3339),
	}
	s.refs[ref.ID] = ref
	s.order = append(s.order, ref.ID)
	s.byExt[ext] = ref.ID
	c := ref.copy()
	c.Storia = nil
	s.appendLocked(Voce{Tipo: TipoSegnalazione, ID: ref.ID, Aggiornato: ref.Ricevuta, Segnalazione: &c})
	return ref.copy(), true, nil
}

func (r *Segnalazione) copy() Segnalazione {
	c := *r
	c.Storia = slices.Clone(r.Storia)
	return c
}

// Referral returns the referral with the given id.
func (s *Server) Referral(id string) (Segnalazione, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refs[id]
	if !ok {
		return Segnalazione{}, false
	}
	return r.copy(), true
}

// Referrals returns every referral received, in arrival order.
func (s *Server) Referrals() []Segnalazione {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Segnalazione, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.refs[id].copy())
	}
	return out
}

// changeLocked moves a referral to a new state, records the change and
// appends it to the feed.
func (s *Server) changeLocked(r *Segnalazione, to, motivo, origine, operatore, riferimento string) {
	now := s.tick()
	c := CambioStato{
		Segnalazione: r.ID, RiferimentoEsterno: r.RiferimentoEsterno, Progressivo: len(r.Storia) + 1,
		Da: r.Stato, A: to, Il: now.Format(time.RFC3339), Motivo: motivo, Origine: origine,
		Operatore: operatore, RiferimentoRichiedente: riferimento,
	}
	r.Stato, r.Motivo = to, motivo
	r.Storia = append(r.Storia, c)
	s.appendLocked(Voce{Tipo: TipoSegnalazioneStato, ID: fmt.Sprintf("%s-%d", r.ID, c.Progressivo), Aggiornato: c.Il, Stato: &c})
}

// staff applies a change by the centre's staff.
func (s *Server) staff(id string, from []string, to, motivo string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refs[id]
	if !ok {
		return ErrNotFound
	}
	if !slices.Contains(from, r.Stato) {
		return errorf(http.StatusConflict, "segnalazione %s in stato %s: passaggio a %s non ammesso", id, r.Stato, to)
	}
	s.changeLocked(r, to, motivo, OrigineCPI, OrgID, "")
	return nil
}

// Accept has an operator take the referral in charge (ricevuta →
// presa-in-carico).
func (s *Server) Accept(id string) error {
	return s.staff(id, []string{StatoRicevuta}, StatoPresaInCarico, "")
}

// Start starts the person's pathway (presa-in-carico → in-corso).
func (s *Server) Start(id string) error {
	return s.staff(id, []string{StatoPresaInCarico}, StatoInCorso, "")
}

// Complete closes the referral (in-corso → conclusa).
func (s *Server) Complete(id string) error {
	return s.staff(id, []string{StatoInCorso}, StatoConclusa, "")
}

// Reject refuses the referral (ricevuta or presa-in-carico → respinta)
// with a reason among Motivi.
func (s *Server) Reject(id, motivo string) error {
	if !slices.Contains(Motivi(), motivo) {
		return errorf(http.StatusUnprocessableEntity, "motivo non valido")
	}
	return s.staff(id, []string{StatoRicevuta, StatoPresaInCarico}, StatoRespinta, motivo)
}

// Advance moves every open referral one step on, in arrival order, as the
// staff's work of a day: ricevuta → presa-in-carico (or, for about one
// referral in five, chosen by a hash of its id, respinta with
// non-idoneo), presa-in-carico → in-corso, in-corso → conclusa. It
// returns the number of changes.
func (s *Server) Advance() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range s.order {
		r := s.refs[id]
		switch r.Stato {
		case StatoRicevuta:
			h := fnv.New32a()
			h.Write([]byte(id))
			if h.Sum32()%5 == 0 {
				s.changeLocked(r, StatoRespinta, MotivoNonIdoneo, OrigineCPI, OrgID, "")
			} else {
				s.changeLocked(r, StatoPresaInCarico, "", OrigineCPI, OrgID, "")
			}
		case StatoPresaInCarico:
			s.changeLocked(r, StatoInCorso, "", OrigineCPI, OrgID, "")
		case StatoInCorso:
			s.changeLocked(r, StatoConclusa, "", OrigineCPI, OrgID, "")
		default:
			continue
		}
		n++
	}
	return n
}

// RequesterUpdate applies a status change posted by the requester, as
// POST /segnalazioni/{id}/stato does: only annullata (cancellation, with
// an optional motivo among Motivi) of an open referral. A second post with
// the same Riferimento changes nothing and returns the referral.
func (s *Server) RequesterUpdate(id string, in AggiornamentoStato) (Segnalazione, error) {
	if in.Riferimento == "" {
		return Segnalazione{}, errorf(http.StatusUnprocessableEntity, "riferimento obbligatorio")
	}
	if in.Stato != StatoAnnullata {
		return Segnalazione{}, errorf(http.StatusUnprocessableEntity, "il richiedente può solo annullare una segnalazione")
	}
	if in.Motivo != "" && !slices.Contains(Motivi(), in.Motivo) {
		return Segnalazione{}, errorf(http.StatusUnprocessableEntity, "motivo non valido")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.refs[id]
	if !ok {
		return Segnalazione{}, ErrNotFound
	}
	key := id + "\x00" + in.Riferimento
	if s.posted[key] {
		return r.copy(), nil
	}
	if final(r.Stato) {
		return Segnalazione{}, errorf(http.StatusConflict, "segnalazione %s già chiusa (%s)", id, r.Stato)
	}
	s.posted[key] = true
	s.changeLocked(r, StatoAnnullata, in.Motivo, OrigineRichiedente, r.Richiedente, in.Riferimento)
	return r.copy(), nil
}
