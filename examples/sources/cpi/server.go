package cpi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/population"
)

// OrgID is the organisation id of the employment centre, the operatore of
// its own status changes.
const OrgID = "cpi-sesto-fiorentino"

// Default and largest page sizes of GET /feed.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// APIKeyHeader carries the API key of every request but the controls.
const APIKeyHeader = "X-Api-Key"

// Options configure a Server.
type Options struct {
	// Seed and Households generate the population (population.Generate).
	Seed       int64
	Households int
	// Population, when set, is used instead of generating one from Seed
	// and Households (share it between simulators in one test).
	Population *population.Population
	// APIKey is the key requests must carry in X-Api-Key; "" disables
	// authentication.
	APIKey string
	// Start is the simulated time of the first live change; the default
	// is population.AsOf() at 08:00 UTC. Every change moves the clock on
	// by one minute, so that a run is deterministic.
	Start time.Time
}

// Server is the simulated cpi system: an http.Handler serving the feed,
// the referral endpoints and the test controls (under /_sim/).
type Server struct {
	apiKey string
	mux    *http.ServeMux

	mu       sync.Mutex
	clock    time.Time
	voci     []Voce                   // the feed, by Sequenza (index+1)
	refs     map[string]*Segnalazione // by id
	order    []string                 // referral ids in arrival order
	byExt    map[RiferimentoEsterno]string
	posted   map[string]bool   // posted status changes, by referral id + "\x00" + riferimento
	known    map[string]string // SIL id by the code the cpi holds
	outage   bool
	faults   []int // statuses of the next requests
	requests int
}

// New builds the system's data from the population and returns the server.
func New(opts Options) *Server {
	pop := opts.Population
	if pop == nil {
		pop = population.Generate(opts.Seed, opts.Households)
	}
	start := opts.Start
	if start.IsZero() {
		start = population.AsOf().Add(8 * time.Hour)
	}
	s := &Server{
		apiKey: opts.APIKey,
		clock:  start,
		refs:   map[string]*Segnalazione{},
		byExt:  map[RiferimentoEsterno]string{},
		posted: map[string]bool{},
		known:  map[string]string{},
	}
	for _, p := range pop.People() {
		if _, code := p.IDIn(population.CPI); code != "" {
			s.known[code] = p.LocalID(population.CPI)
		}
	}
	for _, it := range generate(pop) {
		v := Voce{Tipo: it.tipo, ID: it.id, Aggiornato: it.updated.Format(time.RFC3339), Lavoratore: it.lav, Attivita: it.att}
		s.appendLocked(v)
	}
	s.routes()
	return s
}

func (s *Server) appendLocked(v Voce) {
	v.Sequenza = int64(len(s.voci) + 1)
	s.voci = append(s.voci, v)
}

// tick advances the simulated clock by a minute and returns it.
func (s *Server) tick() time.Time {
	s.clock = s.clock.Add(time.Minute)
	return s.clock
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /feed", s.api(s.handleFeed))
	m.HandleFunc("POST /segnalazioni", s.api(s.handlePostReferral))
	m.HandleFunc("GET /segnalazioni/{id}", s.api(s.handleGetReferral))
	m.HandleFunc("POST /segnalazioni/{id}/stato", s.api(s.handlePostStatus))
	m.HandleFunc("POST /_sim/guasto", s.handleOutage)
	m.HandleFunc("POST /_sim/errori", s.handleFaults)
	m.HandleFunc("POST /_sim/avanza", s.handleAdvance)
	m.HandleFunc("POST /_sim/segnalazioni/{id}/{azione}", s.handleStaff)
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// api wraps an API handler with the faults and the authentication.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		outage := s.outage
		fault := 0
		if !outage && len(s.faults) > 0 {
			fault, s.faults = s.faults[0], s.faults[1:]
		}
		s.mu.Unlock()
		switch {
		case outage:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "servizio non disponibile")
			return
		case fault != 0:
			if fault == http.StatusTooManyRequests || fault == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			writeError(w, fault, "errore simulato")
			return
		}
		if s.apiKey != "" && r.Header.Get(APIKeyHeader) != s.apiKey {
			writeError(w, http.StatusUnauthorized, "chiave API mancante o non valida")
			return
		}
		h(w, r)
	}
}

func writeXML(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encoding: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeXML(w, status, Errore{Codice: status, Messaggio: msg})
}

// handleFeed serves GET /feed?dal=<sequenza>&pagina=<n>&dimensione=<n>:
// the entries with a sequence number above dal, oldest first, in pages
// of dimensione (default 100, at most 500) numbered from 1.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	num := func(name string, def, lo, hi int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			return 0, false
		}
		return n, true
	}
	dal, ok1 := num("dal", 0, 0, 1<<62)
	pagina, ok2 := num("pagina", 1, 1, 1<<30)
	dim, ok3 := num("dimensione", DefaultPageSize, 1, MaxPageSize)
	if !ok1 || !ok2 || !ok3 {
		writeError(w, http.StatusBadRequest, "parametri dal, pagina o dimensione non validi")
		return
	}
	s.mu.Lock()
	last := int64(len(s.voci))
	from := min(dal, last) + (pagina-1)*dim // index of the first entry
	var page []Voce
	if from < last {
		page = append(page, s.voci[from:min(from+dim, last)]...)
	}
	more := from+dim < last
	now := s.clock
	s.mu.Unlock()

	link := func(p int64) string {
		v := url.Values{}
		v.Set("dal", strconv.FormatInt(dal, 10))
		v.Set("pagina", strconv.FormatInt(p, 10))
		if dim != DefaultPageSize {
			v.Set("dimensione", strconv.FormatInt(dim, 10))
		}
		return "/feed?" + v.Encode()
	}
	f := Feed{Titolo: "Centro per l'Impiego di Sesto Fiorentino - flusso lavoratori", Aggiornato: now.Format(time.RFC3339),
		UltimaSequenza: last, Pagina: int(pagina), Voci: page, Link: []Link{{Rel: "self", Href: link(pagina)}}}
	if more {
		f.Link = append(f.Link, Link{Rel: "next", Href: link(pagina + 1)})
	}
	writeXML(w, http.StatusOK, f)
}

// readXML decodes a request body of at most 1 MiB.
func readXML(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("lettura del corpo: %w", err)
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return errors.New("XML non valido")
	}
	return nil
}

func (s *Server) handlePostReferral(w http.ResponseWriter, r *http.Request) {
	var in Segnalazione
	if err := readXML(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out, created, err := s.Receive(in)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/segnalazioni/"+out.ID)
	}
	writeXML(w, status, Esito{ID: out.ID, Stato: out.Stato})
}

func (s *Server) handleGetReferral(w http.ResponseWriter, r *http.Request) {
	ref, ok := s.Referral(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "segnalazione non trovata")
		return
	}
	writeXML(w, http.StatusOK, ref)
}

func (s *Server) handlePostStatus(w http.ResponseWriter, r *http.Request) {
	var in AggiornamentoStato
	if err := readXML(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out, err := s.RequesterUpdate(r.PathValue("id"), in)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeXML(w, http.StatusOK, Esito{ID: out.ID, Stato: out.Stato})
}

// Test controls over HTTP, for the sim-cpi program. They bypass the
// faults and the authentication.

func (s *Server) handleOutage(w http.ResponseWriter, r *http.Request) {
	on, err := strconv.ParseBool(r.URL.Query().Get("attivo"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "attivo deve essere true o false")
		return
	}
	s.SetOutage(on)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	var codes []int
	for _, f := range strings.Split(r.URL.Query().Get("codici"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 400 || n > 599 {
			writeError(w, http.StatusBadRequest, "codici: elenco di stati HTTP 4xx/5xx separati da virgole")
			return
		}
		codes = append(codes, n)
	}
	s.FailNext(codes...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleAdvance(w http.ResponseWriter, r *http.Request) {
	n := s.Advance()
	writeXML(w, http.StatusOK, struct {
		XMLName     xml.Name `xml:"urn:example:cpi:feed:1 avanzamento"`
		Cambiamenti int      `xml:"cambiamenti"`
	}{Cambiamenti: n})
}

func (s *Server) handleStaff(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.PathValue("azione") {
	case "accetta":
		err = s.Accept(id)
	case "avvia":
		err = s.Start(id)
	case "concludi":
		err = s.Complete(id)
	case "respingi":
		err = s.Reject(id, r.URL.Query().Get("motivo"))
	default:
		writeError(w, http.StatusNotFound, "azione sconosciuta")
		return
	}
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	ref, _ := s.Referral(id)
	writeXML(w, http.StatusOK, Esito{ID: ref.ID, Stato: ref.Stato})
}

// SetOutage takes the system down (every API request answers 503 with
// Retry-After) or brings it back.
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// FailNext makes the next API requests answer with the given HTTP
// statuses, one each, in order (429 and 503 carry Retry-After: 1).
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, statuses...)
}

// Requests returns how many API requests the server has received,
// failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// LastSequence returns the sequence number of the latest feed entry.
func (s *Server) LastSequence() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.voci))
}
