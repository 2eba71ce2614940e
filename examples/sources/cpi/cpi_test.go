package cpi_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/cpi"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/schemas"
)

const key = "test-key"

var (
	popOnce sync.Once
	pop     *population.Population
)

func testPop() *population.Population {
	popOnce.Do(func() { pop = population.Generate(7, 300) })
	return pop
}

func newServer(t *testing.T) (*cpi.Server, *httptest.Server) {
	t.Helper()
	s := cpi.New(cpi.Options{Population: testPop(), APIKey: key})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, ts *httptest.Server, method, path, body string, withKey bool) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if withKey {
		req.Header.Set(cpi.APIKeyHeader, key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := xml.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, b)
	}
	return v
}

// readAll follows the next links from /feed?dal=dal.
func readAll(t *testing.T, ts *httptest.Server, dal string, size string) []cpi.Voce {
	t.Helper()
	path := "/feed?dal=" + dal + "&dimensione=" + size
	var out []cpi.Voce
	for pages := 0; path != ""; pages++ {
		if pages > 10000 {
			t.Fatal("too many pages")
		}
		resp, b := do(t, ts, "GET", path, "", true)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		f := decode[cpi.Feed](t, b)
		if f.XMLName.Space != cpi.Namespace {
			t.Fatalf("namespace %q", f.XMLName.Space)
		}
		out = append(out, f.Voci...)
		path = ""
		for _, l := range f.Link {
			if l.Rel == "next" {
				path = l.Href
			}
		}
	}
	return out
}

func TestFeedPeopleAsHeld(t *testing.T) {
	_, ts := newServer(t)
	voci := readAll(t, ts, "0", "137")
	reg, err := schemas.Compile(identity.SchemaFormats()...)
	if err != nil {
		t.Fatal(err)
	}
	contracts, ok := reg.CodeList("contract-type")
	if !ok {
		t.Fatal("no contract-type list")
	}
	bySIL := map[string]cpi.Lavoratore{}
	kinds := map[string]int{}
	for i, v := range voci {
		if v.Sequenza != int64(i+1) {
			t.Fatalf("entry %d has sequence %d", i, v.Sequenza)
		}
		kinds[v.Tipo]++
		switch v.Tipo {
		case cpi.TipoLavoratore:
			if _, dup := bySIL[v.ID]; dup {
				t.Fatalf("worker %s twice", v.ID)
			}
			bySIL[v.ID] = *v.Lavoratore
		case cpi.TipoRapporto:
			if _, ok := contracts.Lookup(v.Attivita.CodiceContratto); !ok {
				t.Errorf("contract code %q not in contract-type.json", v.Attivita.CodiceContratto)
			}
		}
		if v.Attivita != nil {
			if _, ok := bySIL[v.Attivita.Lavoratore.IDSIL]; !ok {
				t.Errorf("activity %s before its worker's record", v.ID)
			}
		}
	}
	for _, k := range []string{cpi.TipoLavoratore, cpi.TipoDID, cpi.TipoPatto, cpi.TipoProfilazione, cpi.TipoRapporto, cpi.TipoTirocinio, cpi.TipoFormazione} {
		if kinds[k] == 0 {
			t.Errorf("no %s entry", k)
		}
	}
	n, typos, prov, former := 0, 0, 0, 0
	for _, p := range testPop().People() {
		if !p.In(population.CPI) {
			continue
		}
		n++
		l, ok := bySIL[p.LocalID(population.CPI)]
		if !ok {
			t.Fatalf("person %d missing", p.Index)
		}
		kind, code := p.IDIn(population.CPI)
		got := l.CodiceFiscale
		if kind == population.KindProvisional {
			got = l.CodiceProvvisorio
			prov++
			if l.CodiceFiscale != "" {
				t.Errorf("person %d: both codes", p.Index)
			}
		}
		if got != code {
			t.Errorf("person %d: code differs from IDIn", p.Index)
		}
		if _, f := p.FormerIDIn(population.CPI); f != l.CodiceProvvisorioPrecedente {
			t.Errorf("person %d: former code differs", p.Index)
		} else if f != "" {
			former++
		}
		if p.TypoIn(population.CPI) {
			typos++
		}
		if l.Sesso != p.Sex || l.Cittadinanza != p.Citizenship || l.ComuneResidenza != p.ResidenceComune {
			t.Errorf("person %d: registry data differs", p.Index)
		}
	}
	if n != len(bySIL) {
		t.Errorf("%d workers in the feed, %d people in cpi", len(bySIL), n)
	}
	t.Logf("%d workers (%d provisional, %d former codes, %d typos), entries %v", n, prov, former, typos, kinds)
}

func TestFeedPagingAndCursor(t *testing.T) {
	s, ts := newServer(t)
	all := readAll(t, ts, "0", "500")
	small := readAll(t, ts, "0", "9")
	if len(all) != len(small) || len(all) != int(s.LastSequence()) {
		t.Fatalf("pages of 500: %d entries, of 9: %d, last sequence %d", len(all), len(small), s.LastSequence())
	}
	// Resume from the middle: neither repeat nor skip.
	mid := all[len(all)/2].Sequenza
	rest := readAll(t, ts, itoa(mid), "50")
	if len(rest) != len(all)-int(mid) || rest[0].Sequenza != mid+1 {
		t.Fatalf("resume from %d: %d entries starting at %d", mid, len(rest), rest[0].Sequenza)
	}
	// Nothing new: an empty page without next link.
	last := itoa(s.LastSequence())
	if got := readAll(t, ts, last, "50"); len(got) != 0 {
		t.Fatalf("%d entries after the last one", len(got))
	}
	// A change appears after the cursor.
	ref := post(t, ts, referral("comune-sesto-fiorentino", "R-1", cfOf(t)), 201)
	if err := s.Accept(ref.ID); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, ts, last, "50")
	if len(got) != 2 || got[0].Tipo != cpi.TipoSegnalazione || got[1].Tipo != cpi.TipoSegnalazioneStato {
		t.Fatalf("after the cursor: %+v", got)
	}
	for _, q := range []string{"dal=-1", "pagina=0", "dimensione=501", "dal=x"} {
		if resp, _ := do(t, ts, "GET", "/feed?"+q, "", true); resp.StatusCode != 400 {
			t.Errorf("%s: status %d", q, resp.StatusCode)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// cfOf returns the code the cpi holds for a person with a valid codice
// fiscale.
func cfOf(t *testing.T) string {
	t.Helper()
	for _, p := range testPop().People() {
		if kind, code := p.IDIn(population.CPI); kind == population.KindCF && !p.TypoIn(population.CPI) {
			return code
		}
	}
	t.Fatal("no cf")
	return ""
}

func referral(requester, extID, cf string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<segnalazione xmlns="urn:example:cpi:feed:1">
  <lavoratore><codice-fiscale>` + cf + `</codice-fiscale></lavoratore>
  <richiedente>` + requester + `</richiedente>
  <categoria>employment-status</categoria>
  <priorita>routine</priorita>
  <data-richiesta>2025-06-30</data-richiesta>
  <riferimento-esterno><fonte>comune</fonte><id>` + extID + `</id></riferimento-esterno>
</segnalazione>`
}

func post(t *testing.T, ts *httptest.Server, body string, want int) cpi.Esito {
	t.Helper()
	resp, b := do(t, ts, "POST", "/segnalazioni", body, true)
	if resp.StatusCode != want {
		t.Fatalf("POST /segnalazioni: %d, want %d: %s", resp.StatusCode, want, b)
	}
	return decode[cpi.Esito](t, b)
}

func TestReferralIdempotentAndValidated(t *testing.T) {
	s, ts := newServer(t)
	cf := cfOf(t)
	a := post(t, ts, referral("comune-sesto-fiorentino", "REF-1", cf), 201)
	if a.ID == "" || a.Stato != cpi.StatoRicevuta {
		t.Fatalf("esito %+v", a)
	}
	again := post(t, ts, referral("comune-sesto-fiorentino", "REF-1", cf), 200)
	if again.ID != a.ID {
		t.Fatalf("second POST: id %s, first %s", again.ID, a.ID)
	}
	b := post(t, ts, referral("sds-fi-nordovest", "REF-2", cf), 201)
	if b.ID == a.ID {
		t.Fatal("two referrals, one id")
	}
	if n := len(s.Referrals()); n != 2 {
		t.Fatalf("%d referrals", n)
	}
	r, ok := s.Referral(a.ID)
	if !ok || r.RiferimentoEsterno != (cpi.RiferimentoEsterno{Fonte: "comune", ID: "REF-1"}) || r.Lavoratore.IDSIL == "" {
		t.Fatalf("stored referral %+v", r)
	}
	resp, body := do(t, ts, "GET", "/segnalazioni/"+a.ID, "", true)
	if resp.StatusCode != 200 || decode[cpi.Segnalazione](t, body).ID != a.ID {
		t.Fatalf("GET: %d %s", resp.StatusCode, body)
	}
	for name, bad := range map[string]string{
		"unknown requester": referral("nessuno", "REF-3", cf),
		"own organisation":  referral(cpi.OrgID, "REF-3", cf),
		"bad code":          referral("comune-sesto-fiorentino", "REF-3", cf[:15]+"!"),
		"no reference":      referral("comune-sesto-fiorentino", "", cf),
		"bad priority":      strings.Replace(referral("comune-sesto-fiorentino", "REF-3", cf), "routine", "subito", 1),
	} {
		resp, b := do(t, ts, "POST", "/segnalazioni", bad, true)
		if resp.StatusCode != 422 {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
		if bytes.Contains(b, []byte(cf[:11])) {
			t.Errorf("%s: error echoes the identifier", name)
		}
	}
	if resp, _ := do(t, ts, "POST", "/segnalazioni", "<non", true); resp.StatusCode != 400 {
		t.Errorf("bad XML: %d", resp.StatusCode)
	}
	if resp, _ := do(t, ts, "GET", "/segnalazioni/SEG-0", "", true); resp.StatusCode != 404 {
		t.Errorf("unknown id: %d", resp.StatusCode)
	}
}

func statusEntries(t *testing.T, ts *httptest.Server, id string) []cpi.CambioStato {
	var out []cpi.CambioStato
	for _, v := range readAll(t, ts, "0", "500") {
		if v.Tipo == cpi.TipoSegnalazioneStato && v.Stato.Segnalazione == id {
			if v.ID != id+"-"+itoa(int64(v.Stato.Progressivo)) {
				t.Errorf("entry id %s, progressivo %d", v.ID, v.Stato.Progressivo)
			}
			out = append(out, *v.Stato)
		}
	}
	return out
}

func TestStaffWorkInFeed(t *testing.T) {
	s, ts := newServer(t)
	cf := cfOf(t)
	a := post(t, ts, referral("comune-sesto-fiorentino", "A", cf), 201)
	b := post(t, ts, referral("comune-sesto-fiorentino", "B", cf), 201)
	for _, step := range []func(string) error{s.Accept, s.Start, s.Complete} {
		if err := step(a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Complete(a.ID); err == nil {
		t.Error("completing twice succeeded")
	}
	if err := s.Reject(b.ID, "boh"); err == nil {
		t.Error("rejection with an unknown reason succeeded")
	}
	if err := s.Reject(b.ID, cpi.MotivoFuoriTerritorio); err != nil {
		t.Fatal(err)
	}
	got := statusEntries(t, ts, a.ID)
	want := [][2]string{{cpi.StatoRicevuta, cpi.StatoPresaInCarico}, {cpi.StatoPresaInCarico, cpi.StatoInCorso}, {cpi.StatoInCorso, cpi.StatoConclusa}}
	if len(got) != len(want) {
		t.Fatalf("%d status entries: %+v", len(got), got)
	}
	for i, c := range got {
		if [2]string{c.Da, c.A} != want[i] || c.Progressivo != i+1 || c.Origine != cpi.OrigineCPI || c.Operatore != cpi.OrgID ||
			c.RiferimentoEsterno.ID != "A" || c.RiferimentoEsterno.Fonte != "comune" {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	rb := statusEntries(t, ts, b.ID)
	if len(rb) != 1 || rb[0].A != cpi.StatoRespinta || rb[0].Motivo != cpi.MotivoFuoriTerritorio {
		t.Errorf("rejection: %+v", rb)
	}
	// Over HTTP controls, bypassing the key.
	c := post(t, ts, referral("comune-sesto-fiorentino", "C", cf), 201)
	if resp, b := do(t, ts, "POST", "/_sim/segnalazioni/"+c.ID+"/accetta", "", false); resp.StatusCode != 200 {
		t.Fatalf("accetta: %d %s", resp.StatusCode, b)
	}
	if resp, _ := do(t, ts, "POST", "/_sim/segnalazioni/"+c.ID+"/concludi", "", false); resp.StatusCode != 409 {
		t.Errorf("concludi from presa-in-carico: %d", resp.StatusCode)
	}
}

func TestAdvance(t *testing.T) {
	s, ts := newServer(t)
	cf := cfOf(t)
	for _, id := range []string{"1", "2", "3", "4", "5", "6", "7", "8"} {
		post(t, ts, referral("comune-sesto-fiorentino", id, cf), 201)
	}
	for range 3 {
		s.Advance()
	}
	if n := s.Advance(); n != 0 {
		t.Errorf("a fourth Advance made %d changes", n)
	}
	states := map[string]int{}
	for _, r := range s.Referrals() {
		states[r.Stato]++
	}
	if states[cpi.StatoConclusa]+states[cpi.StatoRespinta] != 8 {
		t.Errorf("states after Advance: %v", states)
	}
}

func TestRequesterCancellation(t *testing.T) {
	s, ts := newServer(t)
	a := post(t, ts, referral("comune-sesto-fiorentino", "A", cfOf(t)), 201)
	if err := s.Accept(a.ID); err != nil {
		t.Fatal(err)
	}
	body := `<aggiornamento-stato xmlns="urn:example:cpi:feed:1"><stato>annullata</stato><motivo>bisogno-risolto</motivo><riferimento>EV-9</riferimento></aggiornamento-stato>`
	for i := range 2 {
		resp, b := do(t, ts, "POST", "/segnalazioni/"+a.ID+"/stato", body, true)
		if resp.StatusCode != 200 || decode[cpi.Esito](t, b).Stato != cpi.StatoAnnullata {
			t.Fatalf("post %d: %d %s", i, resp.StatusCode, b)
		}
	}
	got := statusEntries(t, ts, a.ID)
	if len(got) != 2 || got[1].A != cpi.StatoAnnullata || got[1].Origine != cpi.OrigineRichiedente ||
		got[1].Operatore != "comune-sesto-fiorentino" || got[1].RiferimentoRichiedente != "EV-9" {
		t.Fatalf("changes %+v", got)
	}
	other := strings.Replace(body, "EV-9", "EV-10", 1)
	if resp, _ := do(t, ts, "POST", "/segnalazioni/"+a.ID+"/stato", other, true); resp.StatusCode != 409 {
		t.Errorf("cancelling a closed referral: %d", resp.StatusCode)
	}
	accept := strings.Replace(body, "annullata", "presa-in-carico", 1)
	if resp, _ := do(t, ts, "POST", "/segnalazioni/"+a.ID+"/stato", accept, true); resp.StatusCode != 422 {
		t.Errorf("requester accepting: %d", resp.StatusCode)
	}
}

func TestAuthAndFaults(t *testing.T) {
	s, ts := newServer(t)
	if resp, _ := do(t, ts, "GET", "/feed", "", false); resp.StatusCode != 401 {
		t.Errorf("no key: %d", resp.StatusCode)
	}
	s.FailNext(429, 503)
	for _, want := range []int{429, 503, 200} {
		resp, _ := do(t, ts, "GET", "/feed", "", true)
		if resp.StatusCode != want {
			t.Errorf("status %d, want %d", resp.StatusCode, want)
		}
		if want != 200 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%d without Retry-After", want)
		}
	}
	if resp, _ := do(t, ts, "POST", "/_sim/guasto?attivo=true", "", false); resp.StatusCode != 204 {
		t.Fatalf("guasto: %d", resp.StatusCode)
	}
	for _, r := range [][2]string{{"GET", "/feed"}, {"POST", "/segnalazioni"}, {"GET", "/segnalazioni/x"}} {
		if resp, _ := do(t, ts, r[0], r[1], "", true); resp.StatusCode != 503 {
			t.Errorf("%s %s during outage: %d", r[0], r[1], resp.StatusCode)
		}
	}
	if n := len(s.Referrals()); n != 0 {
		t.Errorf("%d referrals", n)
	}
	s.SetOutage(false)
	if resp, _ := do(t, ts, "GET", "/feed", "", true); resp.StatusCode != 200 {
		t.Errorf("after the outage: %d", resp.StatusCode)
	}
	if resp, _ := do(t, ts, "POST", "/_sim/errori?codici=429", "", false); resp.StatusCode != 204 {
		t.Fatal("errori control")
	}
	if resp, _ := do(t, ts, "GET", "/feed", "", true); resp.StatusCode != 429 {
		t.Errorf("after errori control: %d", resp.StatusCode)
	}
}

// script runs the same calls against a fresh server and returns every
// page of the feed.
func script(t *testing.T, seed int64) []byte {
	s := cpi.New(cpi.Options{Seed: seed, Households: 120})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, id := range []string{"x", "y", "z"} {
		resp, _ := do(t, ts, "POST", "/segnalazioni", referral("arci-firenze", id, cfOf(t)), false)
		if resp.StatusCode != 201 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
	}
	s.Advance()
	s.Advance()
	var all bytes.Buffer
	for p := 1; ; p++ {
		_, b := do(t, ts, "GET", "/feed?pagina="+itoa(int64(p)), "", false)
		all.Write(b)
		if !bytes.Contains(b, []byte(`rel="next"`)) {
			break
		}
	}
	return all.Bytes()
}

func TestDeterministic(t *testing.T) {
	a, b := script(t, 11), script(t, 11)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed, same calls, different feed")
	}
	if bytes.Equal(a, script(t, 12)) {
		t.Fatal("different seeds, same feed")
	}
}

func TestConcurrentPostsOneReferral(t *testing.T) {
	s, ts := newServer(t)
	body := referral("comune-sesto-fiorentino", "SAME", cfOf(t))
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", ts.URL+"/segnalazioni", strings.NewReader(body))
			req.Header.Set(cpi.APIKeyHeader, key)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var e cpi.Esito
			if err := xml.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Error(err)
			}
			ids[i] = e.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids %v", ids)
		}
	}
	if n := len(s.Referrals()); n != 1 {
		t.Fatalf("%d referrals", n)
	}
}
