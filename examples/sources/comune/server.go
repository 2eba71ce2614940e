package comune

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// Options configure a Server.
type Options struct {
	// Seed and Households generate the population (population.Generate)
	// when Population is nil.
	Seed       int64
	Households int
	// Population, when set, is used instead of generating one (its Seed
	// also seeds the comune's own data).
	Population *population.Population
	// APIKey is the value every /api request must carry in X-API-Key;
	// empty means "comune-demo-key".
	APIKey string
	// FaultRate is the share of /api requests answered 429 (with
	// Retry-After) or 503, half each, drawn from a generator seeded with
	// the seed. 0 means none; cmd/sim-comune defaults to 0.03.
	FaultRate float64
}

// DefaultAPIKey is the API key when Options.APIKey is empty.
const DefaultAPIKey = "comune-demo-key"

// Start is the simulated time the server starts at (population.AsOf at
// 08:00 UTC); the clock advances one second at each change and with
// Server.Advance.
func Start() time.Time { return population.AsOf().Add(8 * time.Hour) }

// Server is the simulated comune case system: an http.Handler serving the
// REST API under /api/v1 and the test controls under /_sim. It is safe
// for concurrent use.
type Server struct {
	mu        sync.Mutex
	pop       *population.Population
	apiKey    string
	faultRate float64
	faults    *rand.Rand
	updates   *rand.Rand
	outage    bool
	now       time.Time
	started   bool
	mux       *http.ServeMux

	persone      []*Persona
	nuclei       []*Nucleo
	consensi     []*Consenso
	segnalazioni []*Segnalazione
	eventi       []*EventoStato
	progetti     []*Progetto
	valutazioni  []*Valutazione
	inserimenti  []*Inserimento

	byPerson     map[string]*population.Person
	byReferral   map[string]*Segnalazione
	byExternal   map[Riferimento]*Segnalazione
	byExtEvent   map[string]*EventoStato
	history      map[string][]*EventoStato
	nextConsent  int
	nextReferral int
}

// New builds the simulated system for the options.
func New(opts Options) (*Server, error) {
	pop := opts.Population
	if pop == nil {
		if opts.Households <= 0 {
			return nil, fmt.Errorf("comune: households must be positive, got %d", opts.Households)
		}
		pop = population.Generate(opts.Seed, opts.Households)
	}
	if opts.FaultRate < 0 || opts.FaultRate > 1 {
		return nil, fmt.Errorf("comune: fault rate %v not in [0, 1]", opts.FaultRate)
	}
	s := &Server{
		pop: pop, apiKey: cmp.Or(opts.APIKey, DefaultAPIKey), faultRate: opts.FaultRate,
		faults:     rand.New(rand.NewPCG(uint64(pop.Seed), 0xFA017)),
		updates:    rand.New(rand.NewPCG(uint64(pop.Seed), 0x0FD)),
		byPerson:   map[string]*population.Person{},
		byReferral: map[string]*Segnalazione{},
		byExternal: map[Riferimento]*Segnalazione{},
		byExtEvent: map[string]*EventoStato{},
		history:    map[string][]*EventoStato{},
		now:        Start(),
	}
	s.generate(rand.New(rand.NewPCG(uint64(pop.Seed), 0xC0111E)))
	s.generateDomain(rand.New(rand.NewPCG(uint64(pop.Seed), 0xD0)))
	s.started = true
	s.routes()
	return s, nil
}

// Population returns the population the system draws from.
func (s *Server) Population() *population.Population { return s.pop }

// tick advances the clock one second and returns the new time. s.mu held.
func (s *Server) tick() time.Time {
	s.now = s.now.Add(time.Second)
	return s.now
}

// Now returns the simulated time.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Advance moves the simulated clock forward by d (at least one second).
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(max(d, time.Second)).Truncate(time.Second)
}

// SetOutage turns the outage on or off: while on, every /api request is
// answered 503 with Retry-After.
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// SetFaultRate changes the share of requests answered 429 or 503.
func (s *Server) SetFaultRate(rate float64) error {
	if rate < 0 || rate > 1 {
		return fmt.Errorf("comune: fault rate %v not in [0, 1]", rate)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultRate = rate
	return nil
}

// Errors of the controls and the API.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("conflict")
)

// CreateReferral records a referral that a social worker of the comune
// sends now to owner (OrgCPI or OrgSDS) for the population person with
// the given index, who must be known to the comune.
func (s *Server) CreateReferral(personIndex int, owner, category, priority string) (Segnalazione, error) {
	p := s.pop.Person(personIndex)
	if p == nil || !p.In(population.Comune) {
		return Segnalazione{}, fmt.Errorf("comune: person %d not in the comune's registry: %w", personIndex, ErrNotFound)
	}
	if owner != OrgCPI && owner != OrgSDS {
		return Segnalazione{}, fmt.Errorf("comune: recipient %q: %w", owner, ErrInvalid)
	}
	if category == "" {
		return Segnalazione{}, fmt.Errorf("comune: category missing: %w", ErrInvalid)
	}
	priority = cmp.Or(priority, "routine")
	if !priorities[priority] {
		return Segnalazione{}, fmt.Errorf("comune: priority %q: %w", priority, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.persona(p.LocalID(population.Comune))
	sg := s.newOutgoing(ps, owner, category, priority, "AS-001", s.now.Add(time.Second))
	return *sg, nil
}

func (s *Server) persona(id string) *Persona {
	for _, ps := range s.persone {
		if ps.ID == id {
			return ps
		}
	}
	return nil
}

// SetStatus is a status change made by the comune's staff on referral id
// (Italian status and reason codes, see StatusCodes and ReasonCodes): the
// receiving side's statuses on received referrals, annullata or errata on
// referrals the comune sent. It is recorded as an "interna" event.
func (s *Server) SetStatus(id, status, reason string) (EventoStato, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.byReferral[id]
	if sg == nil {
		return EventoStato{}, fmt.Errorf("comune: referral %s: %w", id, ErrNotFound)
	}
	allowed := ownerStatuses
	if sg.Direzione == Inviata {
		allowed = map[string]bool{"annullata": true, "errata": true}
	}
	if !allowed[status] {
		return EventoStato{}, fmt.Errorf("comune: status %q cannot be set by the comune on a referral it %s: %w", status, map[string]string{Inviata: "sent", Ricevuta: "received"}[sg.Direzione], ErrInvalid)
	}
	if err := checkChange(sg, status, reason); err != nil {
		return EventoStato{}, err
	}
	ev := s.change(sg, status, reason, s.now.Add(time.Second), OrgID, Interna, "")
	return *ev, nil
}

func checkChange(sg *Segnalazione, status, reason string) error {
	if _, ok := StatusCodes[status]; !ok {
		return fmt.Errorf("comune: unknown status %q: %w", status, ErrInvalid)
	}
	if reason != "" {
		if _, ok := ReasonCodes[reason]; !ok {
			return fmt.Errorf("comune: unknown reason %q: %w", reason, ErrInvalid)
		}
	}
	if needsReason[status] && reason == "" {
		return fmt.Errorf("comune: status %q needs a reason: %w", status, ErrInvalid)
	}
	if terminal[sg.Stato] {
		return fmt.Errorf("comune: referral %s is %s, it cannot change: %w", sg.ID, sg.Stato, ErrConflict)
	}
	if sg.Stato == status {
		return fmt.Errorf("comune: referral %s is already %s: %w", sg.ID, sg.Stato, ErrConflict)
	}
	return nil
}

// Work advances the staff's work by one step on every open referral the
// comune received, in id order: inviata → accettata, accettata →
// in_carico, in_carico → conclusa (rejections, suspensions and the like
// are made with SetStatus). It returns the events recorded.
func (s *Server) Work() []EventoStato {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EventoStato
	for _, sg := range s.sortedReferrals() {
		if sg.Direzione != Ricevuta {
			continue
		}
		var to string
		switch sg.Stato {
		case "inviata":
			to = "accettata"
		case "accettata":
			to = "in_carico"
		case "in_carico":
			to = "conclusa"
		default:
			continue
		}
		out = append(out, *s.change(sg, to, "", s.now.Add(time.Second), OrgID, Interna, ""))
	}
	return out
}

func (s *Server) sortedReferrals() []*Segnalazione {
	out := slices.Clone(s.segnalazioni)
	slices.SortFunc(out, func(a, b *Segnalazione) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Referral returns a copy of referral id.
func (s *Server) Referral(id string) (Segnalazione, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.byReferral[id]
	if sg == nil {
		return Segnalazione{}, false
	}
	return *sg, true
}

// ReferralByExternal returns the received referral with the given
// external reference.
func (s *Server) ReferralByExternal(system, id string) (Segnalazione, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.byExternal[Riferimento{system, id}]
	if sg == nil {
		return Segnalazione{}, false
	}
	return *sg, true
}

// History returns the status events of referral id, in sequence.
func (s *Server) History(id string) []EventoStato {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []EventoStato
	for _, ev := range s.history[id] {
		out = append(out, *ev)
	}
	return out
}

// NuovaSegnalazione is the body of POST /api/v1/segnalazioni: a referral
// another organisation sends to the comune.
type NuovaSegnalazione struct {
	RiferimentoEsterno *Riferimento `json:"riferimento_esterno"`
	CodiceFiscale      string       `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio  string       `json:"codice_fiscale_provvisorio,omitempty"`
	EnteRichiedente    string       `json:"ente_richiedente"`
	EnteDestinatario   string       `json:"ente_destinatario"`
	Categoria          string       `json:"categoria"`
	Priorita           string       `json:"priorita,omitempty"`
	DataSegnalazione   *time.Time   `json:"data_segnalazione,omitempty"`
	// Stato is the status at the requester, "inviata" when empty.
	Stato string `json:"stato,omitempty"`
}

// Receive records a referral sent to the comune, idempotently by its
// external reference: a second call with the same reference changes
// nothing and returns the same referral with created false.
func (s *Server) Receive(in NuovaSegnalazione) (sg Segnalazione, created bool, err error) {
	if in.RiferimentoEsterno == nil || in.RiferimentoEsterno.Sistema == "" || in.RiferimentoEsterno.ID == "" {
		return Segnalazione{}, false, fmt.Errorf("comune: riferimento_esterno (sistema, id) missing: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.byExternal[*in.RiferimentoEsterno]; old != nil {
		return *old, false, nil
	}
	switch {
	case in.EnteDestinatario != OrgID:
		return Segnalazione{}, false, fmt.Errorf("comune: ente_destinatario must be %s: %w", OrgID, ErrInvalid)
	case in.EnteRichiedente == "" || in.EnteRichiedente == OrgID:
		return Segnalazione{}, false, fmt.Errorf("comune: ente_richiedente missing or the comune itself: %w", ErrInvalid)
	case in.CodiceFiscale == "" && in.CodiceProvvisorio == "":
		return Segnalazione{}, false, fmt.Errorf("comune: codice_fiscale or codice_fiscale_provvisorio missing: %w", ErrInvalid)
	case in.Categoria == "":
		return Segnalazione{}, false, fmt.Errorf("comune: categoria missing: %w", ErrInvalid)
	}
	prio := cmp.Or(in.Priorita, "routine")
	if !priorities[prio] {
		return Segnalazione{}, false, fmt.Errorf("comune: priorita %q: %w", prio, ErrInvalid)
	}
	status := cmp.Or(in.Stato, "inviata")
	if status != "inviata" {
		return Segnalazione{}, false, fmt.Errorf("comune: a new referral must be inviata, got %q: %w", status, ErrInvalid)
	}
	now := s.now.Add(time.Second)
	authored := now
	if in.DataSegnalazione != nil {
		authored = in.DataSegnalazione.UTC()
	}
	ref := *in.RiferimentoEsterno
	s.nextReferral++
	out := &Segnalazione{
		ID: fmt.Sprintf("SEGN-%d-%06d", now.Year(), s.nextReferral), Direzione: Ricevuta,
		CodiceFiscale: in.CodiceFiscale, CodiceProvvisorio: in.CodiceProvvisorio,
		EnteRichiedente: in.EnteRichiedente, EnteDestinatario: OrgID, Categoria: in.Categoria, Priorita: prio,
		DataSegnalazione: authored, RiferimentoEsterno: &ref,
	}
	// The comune links the referral to its registry by either code.
	for _, ps := range s.persone {
		if (in.CodiceFiscale != "" && ps.CodiceFiscale == in.CodiceFiscale) ||
			(in.CodiceProvvisorio != "" && ps.CodiceProvvisorio == in.CodiceProvvisorio) {
			out.IDPersona, out.IDNucleo = ps.ID, ps.IDNucleo
			break
		}
	}
	s.segnalazioni = append(s.segnalazioni, out)
	s.byReferral[out.ID] = out
	s.byExternal[ref] = out
	s.change(out, "inviata", "", authored, in.EnteRichiedente, Esterna, "")
	return *out, true, nil
}

// NuovoStato is the body of POST /api/v1/segnalazioni/{id}/stati: a status
// change made by the other organisation.
type NuovoStato struct {
	// IDEvento is the sender's id of the change: the idempotency key.
	IDEvento    string     `json:"id_evento"`
	Stato       string     `json:"stato"`
	Motivo      string     `json:"motivo,omitempty"`
	Il          *time.Time `json:"il,omitempty"`
	ImpostatoDa string     `json:"impostato_da"`
}

// ApplyStatus records a status change the other organisation made on
// referral id, idempotently by IDEvento: a repeated IDEvento changes
// nothing and returns the event recorded first, with created false. The
// event is "esterna": a connector must not send it back.
func (s *Server) ApplyStatus(id string, in NuovoStato) (ev EventoStato, created bool, err error) {
	if in.IDEvento == "" {
		return EventoStato{}, false, fmt.Errorf("comune: id_evento missing: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.byReferral[id]
	if sg == nil {
		return EventoStato{}, false, fmt.Errorf("comune: referral %s: %w", id, ErrNotFound)
	}
	if old := s.byExtEvent[in.IDEvento]; old != nil {
		if old.IDSegnalazione != id {
			return EventoStato{}, false, fmt.Errorf("comune: id_evento already used for another referral: %w", ErrConflict)
		}
		return *old, false, nil
	}
	other := sg.EnteDestinatario
	allowed := ownerStatuses
	if sg.Direzione == Ricevuta {
		other, allowed = sg.EnteRichiedente, requesterStatuses
	}
	if in.ImpostatoDa != other {
		return EventoStato{}, false, fmt.Errorf("comune: impostato_da must be %s for referral %s: %w", other, id, ErrInvalid)
	}
	if !allowed[in.Stato] {
		return EventoStato{}, false, fmt.Errorf("comune: %s cannot set status %q on referral %s: %w", other, in.Stato, id, ErrInvalid)
	}
	if err := checkChange(sg, in.Stato, in.Motivo); err != nil {
		return EventoStato{}, false, err
	}
	at := s.now.Add(time.Second)
	if in.Il != nil {
		at = in.Il.UTC()
	}
	return *s.change(sg, in.Stato, in.Motivo, at, other, Esterna, in.IDEvento), true, nil
}

// page is one page of a list.
type page[T any] struct {
	Totale     int    `json:"totale"`
	Pagina     int    `json:"pagina"`
	Dimensione int    `json:"dimensione"`
	Pagine     int    `json:"pagine"`
	Successiva string `json:"successiva,omitempty"`
	Risultati  []T    `json:"risultati"`
}

// Paging limits.
const (
	maxPage         = 1_000_000
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// list filters items by aggiornato_dal (inclusive), sorts them by
// (aggiornato_il, id) and returns the requested page.
func list[T any](r *http.Request, items []*T, updated func(*T) time.Time, id func(*T) string, keep func(*T) bool) (page[T], error) {
	q := r.URL.Query()
	num, size := 1, DefaultPageSize
	var err error
	if v := cmp.Or(q.Get("pagina"), q.Get("page")); v != "" {
		if num, err = strconv.Atoi(v); err != nil || num < 1 || num > maxPage {
			return page[T]{}, fmt.Errorf("pagina %q: %w", v, ErrInvalid)
		}
	}
	if v := cmp.Or(q.Get("dimensione"), q.Get("limit")); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > MaxPageSize {
			return page[T]{}, fmt.Errorf("dimensione %q not in 1..%d: %w", v, MaxPageSize, ErrInvalid)
		}
	}
	var since time.Time
	if v := cmp.Or(q.Get("aggiornato_dal"), q.Get("updated_since")); v != "" {
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			return page[T]{}, fmt.Errorf("aggiornato_dal %q is not RFC 3339: %w", v, ErrInvalid)
		}
	}
	var sel []*T
	for _, it := range items {
		if !updated(it).Before(since) && (keep == nil || keep(it)) {
			sel = append(sel, it)
		}
	}
	slices.SortStableFunc(sel, func(a, b *T) int {
		return cmp.Or(updated(a).Compare(updated(b)), cmp.Compare(id(a), id(b)))
	})
	p := page[T]{Totale: len(sel), Pagina: num, Dimensione: size, Pagine: (len(sel) + size - 1) / size, Risultati: []T{}}
	for _, it := range sel[min((num-1)*size, len(sel)):min(num*size, len(sel))] {
		p.Risultati = append(p.Risultati, *it)
	}
	if num*size < len(sel) {
		next := *r.URL
		nq := next.Query()
		nq.Del("page")
		nq.Del("limit")
		nq.Set("pagina", strconv.Itoa(num+1))
		nq.Set("dimensione", strconv.Itoa(size))
		next.RawQuery = nq.Encode()
		p.Successiva = (&url.URL{Path: next.Path, RawQuery: next.RawQuery}).String()
	}
	return p, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// errore is the body of every error answer.
type errore struct {
	Errore string `json:"errore"`
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		code = http.StatusUnprocessableEntity
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	}
	writeJSON(w, code, errore{err.Error()})
}

// IsFinal reports whether a referral status (Italian code) is final:
// nothing changes a referral after it.
func IsFinal(status string) bool { return terminal[status] }

// ActiveConsents returns the active consents for the purpose, as the set
// of (the person's id in the comune, the recipient organisation) pairs.
func (s *Server) ActiveConsents(purpose string) map[[2]string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[[2]string]bool{}
	for _, c := range s.consensi {
		if c.Stato == "attivo" && c.Finalita == purpose {
			out[[2]string{c.IDPersona, c.EnteDestinatario}] = true
		}
	}
	return out
}
