package comune_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/population"
)

const key = "test-key"

func newServer(t *testing.T, seed int64) (*comune.Server, *httptest.Server) {
	t.Helper()
	s, err := comune.New(comune.Options{Seed: seed, Households: 200, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, method, url, apiKey string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if apiKey != "" {
		req.Header.Set("X-API-Key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

type pageOf[T any] struct {
	Totale     int    `json:"totale"`
	Pagine     int    `json:"pagine"`
	Successiva string `json:"successiva"`
	Risultati  []T    `json:"risultati"`
}

// all follows the successiva links from path and returns every item.
func all[T any](t *testing.T, base, path string) []T {
	t.Helper()
	var out []T
	total := -1
	for path != "" {
		code, _, b := do(t, "GET", base+path, key, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		var p pageOf[T]
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if total >= 0 && p.Totale != total {
			t.Fatalf("totale changed from %d to %d", total, p.Totale)
		}
		total = p.Totale
		out = append(out, p.Risultati...)
		path = p.Successiva
	}
	if len(out) != total {
		t.Fatalf("got %d items, totale %d", len(out), total)
	}
	return out
}

func TestAuth(t *testing.T) {
	_, ts := newServer(t, 1)
	for _, k := range []string{"", "wrong"} {
		if code, _, _ := do(t, "GET", ts.URL+"/api/v1/persone", k, nil); code != http.StatusUnauthorized {
			t.Errorf("key %q: got %d, want 401", k, code)
		}
	}
	if code, _, _ := do(t, "GET", ts.URL+"/api/v1/persone", key, nil); code != http.StatusOK {
		t.Errorf("with key: got %d", code)
	}
}

func TestPeopleAndHouseholdsAsHeld(t *testing.T) {
	s, ts := newServer(t, 7)
	pop := s.Population()
	st := pop.Stats()
	people := all[comune.Persona](t, ts.URL, "/api/v1/persone?dimensione=37")
	if len(people) != st.Comune {
		t.Fatalf("persone %d, population says the comune knows %d", len(people), st.Comune)
	}
	byLocal := map[string]*population.Person{}
	for _, p := range pop.InAll(population.Comune) {
		byLocal[p.LocalID(population.Comune)] = p
	}
	seen := map[string]bool{}
	for _, ps := range people {
		if seen[ps.ID] {
			t.Fatalf("%s twice", ps.ID)
		}
		seen[ps.ID] = true
		p := byLocal[ps.ID]
		if p == nil {
			t.Fatalf("%s not a comune person of the population", ps.ID)
		}
		kind, code := p.IDIn(population.Comune)
		_, former := p.FormerIDIn(population.Comune)
		switch kind {
		case population.KindCF:
			if ps.CodiceFiscale != code || ps.CodiceProvvisorio != former {
				t.Errorf("%s: codes differ from IDIn/FormerIDIn", ps.ID)
			}
		case population.KindProvisional:
			if ps.CodiceFiscale != "" || ps.CodiceProvvisorio != code {
				t.Errorf("%s: provisional code differs from IDIn", ps.ID)
			}
		}
		if ps.Cognome != p.FamilyName || ps.DataNascita != p.BirthDate.Format("2006-01-02") || ps.ComuneResidenza != p.ResidenceComune {
			t.Errorf("%s: registry data differ from the population", ps.ID)
		}
	}
	nuclei := all[comune.Nucleo](t, ts.URL, "/api/v1/nuclei?limit=50")
	if len(nuclei) != st.ComuneHouseholds {
		t.Fatalf("nuclei %d, want %d", len(nuclei), st.ComuneHouseholds)
	}
	for _, n := range nuclei {
		for _, c := range n.Componenti {
			if !seen[c.IDPersona] {
				t.Errorf("nucleo %s: member %s not in persone", n.ID, c.IDPersona)
			}
		}
	}
}

func TestPagingErrors(t *testing.T) {
	_, ts := newServer(t, 1)
	for _, q := range []string{"pagina=0", "dimensione=0", "dimensione=501", "pagina=x", "aggiornato_dal=ieri"} {
		if code, _, _ := do(t, "GET", ts.URL+"/api/v1/persone?"+q, key, nil); code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", q, code)
		}
	}
	code, _, b := do(t, "GET", ts.URL+"/api/v1/persone?pagina=1000", key, nil)
	var p pageOf[comune.Persona]
	if err := json.Unmarshal(b, &p); err != nil || code != http.StatusOK || len(p.Risultati) != 0 || p.Successiva != "" {
		t.Errorf("page past the end: %d, %d items, next %q, %v", code, len(p.Risultati), p.Successiva, err)
	}
}

func TestConsents(t *testing.T) {
	s, ts := newServer(t, 3)
	cons := all[comune.Consenso](t, ts.URL, "/api/v1/consensi?dimensione=500")
	adults := 0
	for _, p := range s.Population().InAll(population.Comune) {
		if p.Age() >= 16 {
			adults++
		}
	}
	active := map[string]map[string]bool{}
	for _, c := range cons {
		if c.Finalita != "referral" || (c.EnteDestinatario != comune.OrgCPI && c.EnteDestinatario != comune.OrgSDS) {
			t.Fatalf("%s: unexpected purpose or recipient", c.ID)
		}
		if c.Stato == "attivo" {
			if active[c.EnteDestinatario] == nil {
				active[c.EnteDestinatario] = map[string]bool{}
			}
			active[c.EnteDestinatario][c.IDPersona] = true
		} else if c.Stato != "revocato" || c.DataRevoca == "" {
			t.Errorf("%s: stato %q, revoca %q", c.ID, c.Stato, c.DataRevoca)
		}
	}
	for _, org := range []string{comune.OrgCPI, comune.OrgSDS} {
		n := len(active[org])
		if n < adults*6/10 || n >= adults {
			t.Errorf("%s: %d of %d adults with an active consent: want most, not all", org, n, adults)
		}
	}
}

func TestOutgoingReferralsAndFeed(t *testing.T) {
	s, ts := newServer(t, 5)
	refs := all[comune.Segnalazione](t, ts.URL, "/api/v1/segnalazioni?direzione=inviata")
	if len(refs) == 0 {
		t.Fatal("no referrals sent by the comune")
	}
	for _, r := range refs {
		if r.EnteRichiedente != comune.OrgID || (r.EnteDestinatario != comune.OrgCPI && r.EnteDestinatario != comune.OrgSDS) {
			t.Errorf("%s: requester %s owner %s", r.ID, r.EnteRichiedente, r.EnteDestinatario)
		}
		if r.CodiceFiscale == "" && r.CodiceProvvisorio == "" {
			t.Errorf("%s: no identifier", r.ID)
		}
	}
	before := s.Now()

	// The control used by the end-to-end test: a referral for a person
	// known to the comune and the CPI, created now.
	var idx = -1
	for _, p := range s.Population().InAll(population.Comune, population.CPI) {
		idx = p.Index
		break
	}
	code, _, b := do(t, "POST", ts.URL+"/_sim/segnalazioni", "", map[string]any{
		"persona": idx, "ente_destinatario": comune.OrgCPI, "categoria": "employment-status",
	})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	var sg comune.Segnalazione
	if err := json.Unmarshal(b, &sg); err != nil {
		t.Fatal(err)
	}
	if sg.Stato != "inviata" || sg.Direzione != comune.Inviata || !sg.AggiornatoIl.After(before) {
		t.Errorf("new referral: %+v", sg)
	}

	// Incremental read: only the new referral and its first event.
	since := before.Add(time.Second).Format(time.RFC3339)
	newRefs := all[comune.Segnalazione](t, ts.URL, "/api/v1/segnalazioni?aggiornato_dal="+since)
	newEvs := all[comune.EventoStato](t, ts.URL, "/api/v1/stati-segnalazioni?origine=interna&aggiornato_dal="+since)
	if len(newRefs) != 1 || newRefs[0].ID != sg.ID || len(newEvs) != 1 || newEvs[0].ID != sg.ID+"-1" || newEvs[0].A != "inviata" {
		t.Fatalf("incremental read after creation: %d referrals, %d events", len(newRefs), len(newEvs))
	}

	// The CPI accepts (delivered by the hub): an external event, applied
	// once, not in the interna feed.
	st := comune.NuovoStato{IDEvento: "evt-cpi-1", Stato: "accettata", ImpostatoDa: comune.OrgCPI}
	code, _, b = do(t, "POST", ts.URL+"/api/v1/segnalazioni/"+sg.ID+"/stati", key, st)
	if code != http.StatusCreated {
		t.Fatalf("status: %d %s", code, b)
	}
	code, _, b2 := do(t, "POST", ts.URL+"/api/v1/segnalazioni/"+sg.ID+"/stati", key, st)
	if code != http.StatusOK || !bytes.Equal(b, b2) {
		t.Fatalf("repeated status: %d, same answer %v", code, bytes.Equal(b, b2))
	}
	if h := s.History(sg.ID); len(h) != 2 || h[1].Origine != comune.Esterna || h[1].Da != "inviata" || h[1].A != "accettata" {
		t.Fatalf("history: %+v", h)
	}
	if evs := all[comune.EventoStato](t, ts.URL, "/api/v1/stati-segnalazioni?origine=interna&aggiornato_dal="+since); len(evs) != 1 {
		t.Errorf("interna feed has %d events, want only the creation", len(evs))
	}
	if evs := all[comune.EventoStato](t, ts.URL, "/api/v1/stati-segnalazioni?aggiornato_dal="+since); len(evs) != 2 {
		t.Errorf("full feed has %d events, want 2", len(evs))
	}

	// Wrong party, status without reason, and the comune cancelling.
	bad := []comune.NuovoStato{
		{IDEvento: "e2", Stato: "conclusa", ImpostatoDa: comune.OrgSDS},
		{IDEvento: "e3", Stato: "sospesa", ImpostatoDa: comune.OrgCPI},
		{IDEvento: "e4", Stato: "annullata", Motivo: "boh", ImpostatoDa: comune.OrgCPI},
	}
	for _, in := range bad {
		if code, _, _ := do(t, "POST", ts.URL+"/api/v1/segnalazioni/"+sg.ID+"/stati", key, in); code != http.StatusUnprocessableEntity {
			t.Errorf("%+v: got %d, want 422", in, code)
		}
	}
	code, _, b = do(t, "POST", ts.URL+"/_sim/segnalazioni/"+sg.ID+"/stato", "", map[string]string{"stato": "annullata", "motivo": "rifiuto_persona"})
	if code != http.StatusCreated {
		t.Fatalf("cancel: %d %s", code, b)
	}
	if code, _, _ := do(t, "POST", ts.URL+"/api/v1/segnalazioni/"+sg.ID+"/stati", key,
		comune.NuovoStato{IDEvento: "e5", Stato: "in_carico", ImpostatoDa: comune.OrgCPI}); code != http.StatusConflict {
		t.Errorf("change after cancellation: got %d, want 409", code)
	}
}

func TestReceiveAndWork(t *testing.T) {
	s, ts := newServer(t, 9)
	var known *population.Person
	for _, p := range s.Population().InAll(population.Comune, population.CPI) {
		if !p.TypoIn(population.Comune) && !p.TypoIn(population.CPI) {
			if k, _ := p.IDIn(population.CPI); k == population.KindCF {
				known = p
				break
			}
		}
	}
	_, cf := known.IDIn(population.CPI)
	in := comune.NuovaSegnalazione{
		RiferimentoEsterno: &comune.Riferimento{Sistema: "cpi", ID: "PRATICA-77"},
		CodiceFiscale:      cf, EnteRichiedente: comune.OrgCPI, EnteDestinatario: comune.OrgID,
		Categoria: "financial-insecurity", Priorita: "urgent",
	}
	code, _, b := do(t, "POST", ts.URL+"/api/v1/segnalazioni", key, in)
	if code != http.StatusCreated {
		t.Fatalf("receive: %d %s", code, b)
	}
	var sg comune.Segnalazione
	if err := json.Unmarshal(b, &sg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sg.ID, "SEGN-") || sg.Direzione != comune.Ricevuta || sg.IDPersona != known.LocalID(population.Comune) {
		t.Fatalf("received referral: %+v", sg)
	}
	code, _, b2 := do(t, "POST", ts.URL+"/api/v1/segnalazioni", key, in)
	if code != http.StatusOK || !bytes.Equal(b, b2) {
		t.Fatalf("repeat: %d, same answer %v", code, bytes.Equal(b, b2))
	}
	if got := all[comune.Segnalazione](t, ts.URL, "/api/v1/segnalazioni?sistema_esterno=cpi&id_esterno=PRATICA-77"); len(got) != 1 || got[0].ID != sg.ID {
		t.Fatalf("lookup by external reference: %d", len(got))
	}
	for _, bad := range []comune.NuovaSegnalazione{
		{RiferimentoEsterno: &comune.Riferimento{Sistema: "cpi", ID: "X"}, EnteRichiedente: comune.OrgCPI, EnteDestinatario: comune.OrgID, Categoria: "x"},
		{RiferimentoEsterno: &comune.Riferimento{Sistema: "cpi", ID: "Y"}, CodiceFiscale: cf, EnteRichiedente: comune.OrgCPI, EnteDestinatario: comune.OrgSDS, Categoria: "x"},
		{CodiceFiscale: cf, EnteRichiedente: comune.OrgCPI, EnteDestinatario: comune.OrgID, Categoria: "x"},
	} {
		if code, _, _ := do(t, "POST", ts.URL+"/api/v1/segnalazioni", key, bad); code != http.StatusUnprocessableEntity {
			t.Errorf("bad referral: got %d, want 422", code)
		}
	}

	since := s.Now().Add(time.Second).Format(time.RFC3339)
	var steps []string
	for range 4 {
		code, _, b := do(t, "POST", ts.URL+"/_sim/lavora", "", nil)
		if code != http.StatusOK {
			t.Fatalf("lavora: %d %s", code, b)
		}
		r, _ := s.Referral(sg.ID)
		steps = append(steps, r.Stato)
	}
	want := "accettata in_carico conclusa conclusa"
	if strings.Join(steps, " ") != want {
		t.Fatalf("work steps %v, want %s", steps, want)
	}
	evs := all[comune.EventoStato](t, ts.URL, "/api/v1/stati-segnalazioni?origine=interna&aggiornato_dal="+since)
	if len(evs) != 3 {
		t.Fatalf("%d local events, want 3", len(evs))
	}
	for i, ev := range evs {
		if ev.Sequenza != i+2 || ev.ImpostatoDa != comune.OrgID || ev.RiferimentoEsterno == nil || ev.RiferimentoEsterno.ID != "PRATICA-77" {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	// The requester cannot change a completed referral.
	if code, _, _ := do(t, "POST", ts.URL+"/api/v1/segnalazioni/"+sg.ID+"/stati", key,
		comune.NuovoStato{IDEvento: "c1", Stato: "annullata", Motivo: "altro", ImpostatoDa: comune.OrgCPI}); code != http.StatusConflict {
		t.Errorf("cancel completed: got %d, want 409", code)
	}
}

func TestFaults(t *testing.T) {
	s, ts := newServer(t, 1)
	s.SetOutage(true)
	code, h, _ := do(t, "GET", ts.URL+"/api/v1/persone", key, nil)
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("outage: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	if code, _, _ := do(t, "POST", ts.URL+"/_sim/guasto", "", map[string]any{"attivo": false, "tasso_errori": 0.5}); code != http.StatusNoContent {
		t.Fatalf("guasto: %d", code)
	}
	seq := func(s *comune.Server, base string) []int {
		var out []int
		for range 40 {
			code, h, _ := do(t, "GET", base+"/api/v1/nuclei?dimensione=1", key, nil)
			if code == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			out = append(out, code)
		}
		return out
	}
	got := seq(s, ts.URL)
	n := map[int]int{}
	for _, c := range got {
		n[c]++
	}
	if n[200] == 0 || n[429] == 0 || n[503] == 0 {
		t.Fatalf("answers %v: want some 200, 429 and 503", n)
	}
	s2, ts2 := newServer(t, 1)
	if err := s2.SetFaultRate(0.5); err != nil {
		t.Fatal(err)
	}
	if again := seq(s2, ts2.URL); !equal(got, again) {
		t.Errorf("faults not deterministic for a seed:\n%v\n%v", got, again)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDeterminism(t *testing.T) {
	dump := func(seed int64) string {
		s, ts := newServer(t, seed)
		if _, err := s.CreateReferral(s.Population().InAll(population.Comune)[0].Index, comune.OrgSDS, "social-connection", ""); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, p := range []string{"persone", "nuclei", "consensi", "segnalazioni", "stati-segnalazioni"} {
			_, _, body := do(t, "GET", ts.URL+"/api/v1/"+p+"?dimensione=500", key, nil)
			b.Write(body)
		}
		return b.String()
	}
	a, b, c := dump(11), dump(11), dump(12)
	if a != b {
		t.Error("same seed, different data")
	}
	if a == c {
		t.Error("different seeds, same data")
	}
}

func TestUpdatesAreIncremental(t *testing.T) {
	s, ts := newServer(t, 4)
	s.Advance(90 * time.Minute)
	since := s.Now().Add(time.Second).Format(time.RFC3339)
	code, _, b := do(t, "POST", ts.URL+"/_sim/aggiorna", "", map[string]int{"record": 30})
	if code != http.StatusOK {
		t.Fatalf("aggiorna: %d %s", code, b)
	}
	var res struct {
		Aggiornati []string `json:"aggiornati"`
	}
	if err := json.Unmarshal(b, &res); err != nil || len(res.Aggiornati) != 30 {
		t.Fatalf("aggiorna: %v, %d ids", err, len(res.Aggiornati))
	}
	want := map[string]bool{}
	for _, id := range res.Aggiornati {
		want[id] = true
	}
	got := map[string]bool{}
	for _, p := range all[comune.Persona](t, ts.URL, "/api/v1/persone?dimensione=7&aggiornato_dal="+since) {
		got[p.ID] = true
	}
	for _, n := range all[comune.Nucleo](t, ts.URL, "/api/v1/nuclei?dimensione=7&aggiornato_dal="+since) {
		got[n.ID] = true
	}
	for _, c := range all[comune.Consenso](t, ts.URL, "/api/v1/consensi?dimensione=7&aggiornato_dal="+since) {
		if c.Stato != "revocato" {
			t.Errorf("%s updated but still %s", c.ID, c.Stato)
		}
		got[c.ID] = true
	}
	if len(got) != len(want) {
		t.Fatalf("incremental read: %d records, %d changed", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s changed but not read", id)
		}
	}
	s2, _ := newServer(t, 4)
	if again := s2.Update(30); strings.Join(again, ",") != strings.Join(res.Aggiornati, ",") {
		t.Error("updates not deterministic for a seed")
	}
}
