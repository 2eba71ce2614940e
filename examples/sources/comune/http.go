package comune

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ServeHTTP serves the API and the test controls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) { m.Handle(pattern, s.guard(h)) }

	api("GET /api/v1/persone", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Persona { return s.persone },
			func(p *Persona) time.Time { return p.AggiornatoIl }, func(p *Persona) string { return p.ID }, nil)
	})
	api("GET /api/v1/persone/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ps := s.persona(r.PathValue("id"))
		var out Persona
		if ps != nil {
			out = *ps
		}
		s.mu.Unlock()
		if ps == nil {
			writeErr(w, fmt.Errorf("persona %s: %w", r.PathValue("id"), ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
	api("GET /api/v1/nuclei", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Nucleo { return s.nuclei },
			func(n *Nucleo) time.Time { return n.AggiornatoIl }, func(n *Nucleo) string { return n.ID }, nil)
	})
	api("GET /api/v1/consensi", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Consenso { return s.consensi },
			func(c *Consenso) time.Time { return c.AggiornatoIl }, func(c *Consenso) string { return c.ID }, nil)
	})
	api("GET /api/v1/progetti", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Progetto { return s.progetti },
			func(p *Progetto) time.Time { return p.AggiornatoIl }, func(p *Progetto) string { return p.ID }, nil)
	})
	api("GET /api/v1/valutazioni", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Valutazione { return s.valutazioni },
			func(v *Valutazione) time.Time { return v.AggiornatoIl }, func(v *Valutazione) string { return v.ID }, nil)
	})
	api("GET /api/v1/inserimenti-abitativi", func(w http.ResponseWriter, r *http.Request) {
		serveList(w, r, s, func() []*Inserimento { return s.inserimenti },
			func(i *Inserimento) time.Time { return i.AggiornatoIl }, func(i *Inserimento) string { return i.ID }, nil)
	})
	api("GET /api/v1/segnalazioni", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		dir, sys, ext := q.Get("direzione"), q.Get("sistema_esterno"), q.Get("id_esterno")
		serveList(w, r, s, func() []*Segnalazione { return s.segnalazioni },
			func(sg *Segnalazione) time.Time { return sg.AggiornatoIl }, func(sg *Segnalazione) string { return sg.ID },
			func(sg *Segnalazione) bool {
				if dir != "" && sg.Direzione != dir {
					return false
				}
				if sys != "" || ext != "" {
					return sg.RiferimentoEsterno != nil && (sys == "" || sg.RiferimentoEsterno.Sistema == sys) &&
						(ext == "" || sg.RiferimentoEsterno.ID == ext)
				}
				return true
			})
	})
	api("GET /api/v1/segnalazioni/{id}", func(w http.ResponseWriter, r *http.Request) {
		sg, ok := s.Referral(r.PathValue("id"))
		if !ok {
			writeErr(w, fmt.Errorf("segnalazione %s: %w", r.PathValue("id"), ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Segnalazione
			Storia []EventoStato `json:"storia"`
		}{sg, s.History(sg.ID)})
	})
	api("GET /api/v1/stati-segnalazioni", func(w http.ResponseWriter, r *http.Request) {
		origin := r.URL.Query().Get("origine")
		serveList(w, r, s, func() []*EventoStato { return s.eventi },
			func(e *EventoStato) time.Time { return e.AggiornatoIl }, func(e *EventoStato) string { return e.ID },
			func(e *EventoStato) bool { return origin == "" || e.Origine == origin })
	})
	api("POST /api/v1/segnalazioni", func(w http.ResponseWriter, r *http.Request) {
		var in NuovaSegnalazione
		if !decode(w, r, &in) {
			return
		}
		sg, created, err := s.Receive(in)
		if err != nil {
			writeErr(w, err)
			return
		}
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		writeJSON(w, code, sg)
	})
	api("POST /api/v1/segnalazioni/{id}/stati", func(w http.ResponseWriter, r *http.Request) {
		var in NuovoStato
		if !decode(w, r, &in) {
			return
		}
		ev, created, err := s.ApplyStatus(r.PathValue("id"), in)
		if err != nil {
			writeErr(w, err)
			return
		}
		code := http.StatusOK
		if created {
			code = http.StatusCreated
		}
		writeJSON(w, code, ev)
	})

	// Test controls: no API key, no faults.
	m.HandleFunc("POST /_sim/guasto", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Attivo      *bool    `json:"attivo"`
			TassoErrori *float64 `json:"tasso_errori"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Attivo != nil {
			s.SetOutage(*in.Attivo)
		}
		if in.TassoErrori != nil {
			if err := s.SetFaultRate(*in.TassoErrori); err != nil {
				writeJSON(w, http.StatusUnprocessableEntity, errore{err.Error()})
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /_sim/segnalazioni", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Persona      int    `json:"persona"` // population index
			Destinatario string `json:"ente_destinatario"`
			Categoria    string `json:"categoria"`
			Priorita     string `json:"priorita"`
		}
		if !decode(w, r, &in) {
			return
		}
		sg, err := s.CreateReferral(in.Persona, in.Destinatario, in.Categoria, in.Priorita)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, sg)
	})
	m.HandleFunc("POST /_sim/segnalazioni/{id}/stato", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Stato  string `json:"stato"`
			Motivo string `json:"motivo"`
		}
		if !decode(w, r, &in) {
			return
		}
		ev, err := s.SetStatus(r.PathValue("id"), in.Stato, in.Motivo)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusCreated, ev)
	})
	m.HandleFunc("POST /_sim/lavora", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, struct {
			Eventi []EventoStato `json:"eventi"`
		}{append([]EventoStato{}, s.Work()...)})
	})
	m.HandleFunc("POST /_sim/aggiorna", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Record int `json:"record"`
		}
		if !decode(w, r, &in) {
			return
		}
		if in.Record < 1 || in.Record > 10000 {
			writeJSON(w, http.StatusUnprocessableEntity, errore{"record must be in 1..10000"})
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Aggiornati []string `json:"aggiornati"`
		}{s.Update(in.Record)})
	})
	m.HandleFunc("POST /_sim/avanza", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Minuti int `json:"minuti"`
		}
		if !decode(w, r, &in) {
			return
		}
		s.Advance(time.Duration(in.Minuti) * time.Minute)
		writeJSON(w, http.StatusOK, struct {
			Ora time.Time `json:"ora"`
		}{s.Now()})
	})
	m.HandleFunc("GET /_sim/stato", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{
			"ora": s.now, "guasto": s.outage, "tasso_errori": s.faultRate,
			"persone": len(s.persone), "nuclei": len(s.nuclei), "consensi": len(s.consensi),
			"segnalazioni": len(s.segnalazioni), "stati_segnalazioni": len(s.eventi),
			"progetti": len(s.progetti), "valutazioni": len(s.valutazioni), "inserimenti_abitativi": len(s.inserimenti),
		})
	})
	s.mux = m
}

// guard answers 503 during an outage, 401 without the API key, and the
// seeded share of 429 and 503 faults; otherwise it calls h.
func (s *Server) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		outage := s.outage
		fault := 0
		authorised := subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-Key")), []byte(s.apiKey)) == 1
		if !outage && authorised && s.faultRate > 0 {
			if x := s.faults.Float64(); x < s.faultRate {
				fault = 429
				if x < s.faultRate/2 {
					fault = 503
				}
			}
		}
		s.mu.Unlock()
		switch {
		case outage:
			w.Header().Set("Retry-After", "30")
			writeJSON(w, http.StatusServiceUnavailable, errore{"servizio non disponibile (manutenzione)"})
		case !authorised:
			writeJSON(w, http.StatusUnauthorized, errore{"chiave API mancante o non valida"})
		case fault == 429:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, errore{"troppe richieste"})
		case fault == 503:
			writeJSON(w, http.StatusServiceUnavailable, errore{"servizio temporaneamente non disponibile"})
		default:
			h(w, r)
		}
	})
}

func serveList[T any](w http.ResponseWriter, r *http.Request, s *Server, items func() []*T, updated func(*T) time.Time, id func(*T) string, keep func(*T) bool) {
	s.mu.Lock()
	p, err := list(r, items(), updated, id, keep)
	s.mu.Unlock()
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errore{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if r.ContentLength == 0 && r.Body == http.NoBody {
		return true
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, errore{"corpo JSON non valido: " + err.Error()})
		return false
	}
	return true
}
