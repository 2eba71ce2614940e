package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/cpi"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/examples/sources/sds"
	"github.com/snodo-hub/snodo/hub/api"
	"github.com/snodo-hub/snodo/plugins/host"
)

// connectorBins are the connectors under connectors/, each built once for
// the tests that run them as processes.
var connectorBins sync.Map // name → func() (string, error)

func connectorBin(t *testing.T, name string) string {
	t.Helper()
	f, _ := connectorBins.LoadOrStore(name, sync.OnceValues(func() (string, error) {
		dir, err := os.MkdirTemp("", "snodo-connector-"+name)
		if err != nil {
			return "", err
		}
		bin := filepath.Join(dir, "snodo-connector-"+name)
		if out, err := exec.Command("go", "build", "-o", bin, "../../connectors/"+name).CombinedOutput(); err != nil {
			return "", fmt.Errorf("build connectors/%s: %v\n%s", name, err, out)
		}
		return bin, nil
	}))
	bin, err := f.(func() (string, error))()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// demoTerritory is a hub with the three simulated systems of the demo
// territory and their connectors.
type demoTerritory struct {
	pop     *population.Population
	comune  *comune.Server
	cpi     *cpi.Server
	sds     *sds.System
	cfg     string // snodo.yaml
	db      string
	reports string // the partner's outcome reports
	token   string // operator

	// cpiPost, when set, sees every referral POST to the cpi first and
	// may answer it itself.
	hookMu  sync.Mutex
	cpiPost func(r *http.Request, body []byte) (handled bool)
}

func (tr *demoTerritory) setCPIHook(f func(r *http.Request, body []byte) bool) {
	tr.hookMu.Lock()
	defer tr.hookMu.Unlock()
	tr.cpiPost = f
}

func (tr *demoTerritory) cpiHook() func(r *http.Request, body []byte) bool {
	tr.hookMu.Lock()
	defer tr.hookMu.Unlock()
	return tr.cpiPost
}

// newTerritory starts the simulated comune, cpi and sds over one
// population, and sets up a hub (territory SDS-FI-NORDOVEST) with one
// instance of each reference connector, the three organisations and their
// connectors, reading every 200 ms and delivering every second.
func newTerritory(t *testing.T, households int) *demoTerritory {
	t.Helper()
	tr := &demoTerritory{pop: population.Generate(42, households)}
	var err error
	if tr.comune, err = comune.New(comune.Options{Population: tr.pop}); err != nil {
		t.Fatal(err)
	}
	tr.cpi = cpi.New(cpi.Options{Population: tr.pop})
	dir := t.TempDir()
	if tr.sds, err = sds.New(sds.Options{Population: tr.pop, Dir: filepath.Join(dir, "sds")}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.sds.WriteNight(); err != nil {
		t.Fatal(err)
	}
	comuneSrv := httptest.NewServer(tr.comune)
	t.Cleanup(comuneSrv.Close)
	// The cpi behind a hook on referral POSTs, for the faults the test
	// injects.
	cpiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hook := tr.cpiHook(); r.Method == http.MethodPost && r.URL.Path == "/segnalazioni" && hook != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if hook(r, body) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		tr.cpi.ServeHTTP(w, r)
	}))
	t.Cleanup(cpiSrv.Close)

	hubDir := filepath.Join(dir, "hub")
	if code, _, stderr := snodo(t, "", "init", hubDir, "--territory", "SDS-FI-NORDOVEST", "--name", "SdS Firenze Nord-Ovest"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	tr.cfg = filepath.Join(hubDir, "snodo.yaml")
	tr.db = filepath.Join(hubDir, "snodo.db")
	settings := map[string]string{
		"comune": fmt.Sprintf("source: comune\nterritory: SDS-FI-NORDOVEST\nbase_url: %s\napi_key: %s\norganisation: comune-sesto-fiorentino\n",
			comuneSrv.URL, comune.DefaultAPIKey),
		"cpi": fmt.Sprintf("source: cpi\nterritory: SDS-FI-NORDOVEST\nbase_url: %s\norganisation: cpi-sesto-fiorentino\ntimeout_seconds: 5\n", cpiSrv.URL),
		"sds": fmt.Sprintf("source: sds\nterritory: SDS-FI-NORDOVEST\nfolder: %s\ninbox: %s\norganisation: sds-fi-nordovest\n",
			tr.sds.ExportDir(), tr.sds.InboxDir()),
	}
	// A third-sector partner sends its outcome reports as a spreadsheet,
	// read by the files connector.
	tr.reports = filepath.Join(hubDir, "caritas", "esiti")
	if err := os.MkdirAll(tr.reports, 0o700); err != nil {
		t.Fatal(err)
	}
	settings["caritas"] = "source: caritas\nterritory: SDS-FI-NORDOVEST\nfolder: caritas/esiti\nmapping: caritas-mapping.yaml\n"
	if err := os.WriteFile(filepath.Join(hubDir, "caritas-mapping.yaml"), []byte(`version: 1
files:
  - pattern: "esiti_*.csv"
    schema: referral-status-event
    delimiter: ";"
    record_id: id
    fields:
      - {column: segnalazione, to: /referral/record_id}
      - {column: sistema, to: /referral/source}
      - {column: esito, to: /to, codes: {concluso: completed}}
      - {column: data, to: /at, format: "dd/mm/yyyy HH:MI", time_zone: Europe/Rome}
      - {column: ente, to: /set_by/record_id}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var conf strings.Builder
	conf.WriteString("\nconnectors:\n")
	for _, name := range []string{"comune", "cpi", "sds", "caritas"} {
		pkg := name
		if name == "caritas" {
			pkg = "files"
		}
		bin := connectorBin(t, pkg)
		sum, err := host.Sum(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hubDir, name+".yaml"), []byte(settings[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "  - {name: %s, plugin: %s, sha256: %s, settings: %s.yaml, read_interval: 200ms}\n", name, bin, sum, name)
	}
	conf.WriteString(`organisations:
  - {id: comune-sesto-fiorentino, name: Comune di Sesto Fiorentino, connector: comune}
  - {id: cpi-sesto-fiorentino, name: Centro per l'impiego di Sesto Fiorentino, connector: cpi}
  - {id: sds-fi-nordovest, name: SdS Firenze Nord-Ovest, connector: sds}
  - {id: caritas-firenze, name: Caritas Diocesana di Firenze, connector: caritas}
referrals:
  delivery_interval: 1s
`)
	f, err := os.OpenFile(tr.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	code, token, stderr := snodo(t, "", "tokens", "create", "--role", "operator", "--name", "e2e", "--config", tr.cfg)
	if code != 0 {
		t.Fatalf("tokens create: exit %d: %s", code, stderr)
	}
	tr.token = strings.TrimSpace(token)
	return tr
}

// query runs a read-only query on the hub's database.
func (tr *demoTerritory) query(t *testing.T, q string, args ...any) [][]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+tr.db+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// consented reports whether the comune holds an active consent of the
// person to share with org, read through its API as the connector does.
func (tr *demoTerritory) activeConsents(t *testing.T) map[[2]string]bool {
	t.Helper()
	srv := httptest.NewServer(tr.comune)
	defer srv.Close()
	out := map[[2]string]bool{}
	for page := 1; ; page++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/consensi?pagina=%d&dimensione=500", srv.URL, page), nil)
		req.Header.Set("X-API-Key", comune.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Pagine    int               `json:"pagine"`
			Risultati []comune.Consenso `json:"risultati"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ans.Risultati {
			if c.Stato == "attivo" && c.Finalita == "referral" {
				out[[2]string{c.IDPersona, c.EnteDestinatario}] = true
			}
		}
		if page >= ans.Pagine {
			return out
		}
	}
}

// people known to the three systems by the same valid code, adults, with an
// active consent to referrals to the cpi, and no referral yet.
func (tr *demoTerritory) referable(t *testing.T, n int) []*population.Person {
	t.Helper()
	consents := tr.activeConsents(t)
	var out []*population.Person
	for _, p := range tr.pop.People() {
		if p.Age() < 18 || p.Provisional != "" || p.CF == "" {
			continue
		}
		same := true
		for _, sys := range []population.System{population.Comune, population.CPI, population.SDS} {
			kind, code := p.IDIn(sys)
			if !p.In(sys) || p.TypoIn(sys) || kind != "cf" || code != p.CF {
				same = false
			}
		}
		if same && consents[[2]string{p.LocalID(population.Comune), "cpi-sesto-fiorentino"}] {
			out = append(out, p)
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("only %d people known to the comune, the cpi and the sds alike, with a consent", len(out))
	return nil
}

// referral is what the hub's API says of a referral, with its timeline.
func (tr *demoTerritory) referral(t *testing.T, base, source, id string) (api.ReferralAnswer, bool) {
	t.Helper()
	var body json.RawMessage // a referral, or a problem (404 until the hub reads it)
	var v api.ReferralAnswer
	if apiGet(t, base, tr.token, "/api/v1/referrals/"+source+"/"+id, &body) != http.StatusOK {
		return v, false
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("referral %s/%s: %v", source, id, err)
	}
	return v, true
}

// events lists a referral's timeline as "from→to by org via connector: outcome".
func events(v api.ReferralAnswer) []string {
	var out []string
	for _, e := range v.Timeline {
		out = append(out, fmt.Sprintf("%s→%s by %s via %s: %s", e.From, e.To, e.SetBy, e.Reported, e.Outcome))
	}
	return out
}

// cpiReferrals are the cpi's referrals whose external reference is the
// comune's id.
func (tr *demoTerritory) cpiReferrals(comuneID string) []cpi.Segnalazione {
	var out []cpi.Segnalazione
	for _, s := range tr.cpi.Referrals() {
		if s.RiferimentoEsterno.Fonte == "comune" && s.RiferimentoEsterno.ID == comuneID {
			out = append(out, s)
		}
	}
	return out
}

// TestFaultReferralLoopEndToEnd is issue 5's "done when", with the three
// simulated systems and the three reference connectors as real processes
// under "snodo run":
//
//   - a referral created in the comune for a person known to the cpi is
//     delivered to the cpi exactly once, across a cpi outage and a hub
//     killed (SIGKILL) after the cpi took the referral in but before the hub
//     heard back;
//   - the cpi's staff accept, start and complete it, and each status comes
//     back into the comune's system, once, as a change made outside it
//     (so the comune's connector does not report it back);
//   - a change the cpi makes that the life cycle does not allow (rejecting
//     a referral it had accepted) is refused by the hub, recorded, and not
//     passed on; so is a change reported by an organisation that is not
//     party to the referral (a partner's outcome report, read by the files
//     connector);
//   - the person's records from the three systems carry one person id;
//   - no codice fiscale and no name of the population is anywhere in the
//     database (only the sealed envelope and the keyed index's digests),
//     nor in the hub's log.
func TestFaultReferralLoopEndToEnd(t *testing.T) {
	t.Parallel()
	tr := newTerritory(t, 150)
	people := tr.referable(t, 2)
	anna, bruno := people[0], people[1]

	hub := startHub(t, tr.cfg)
	base := hub.waitAPI(t)
	logs := hub.logText

	// The three systems are read: the person's records from each.
	personIDs := func(p *population.Person) map[string]string {
		out := map[string]string{}
		for _, sys := range []struct {
			source string
			sys    population.System
		}{{"comune", population.Comune}, {"cpi", population.CPI}, {"sds", population.SDS}} {
			rows := tr.query(t, `SELECT json_extract(body, '$.person.person_id') FROM records WHERE schema = 'person' AND source = ?1 AND record_id = ?2`,
				sys.source, p.LocalID(sys.sys))
			if len(rows) == 1 {
				out[sys.source] = rows[0][0]
			}
		}
		return out
	}
	eventually(t, "the three systems are read", func() bool { return len(personIDs(anna)) == 3 && len(personIDs(bruno)) == 3 })
	for _, p := range []*population.Person{anna, bruno} {
		ids := personIDs(p)
		if ids["comune"] == "" || ids["comune"] != ids["cpi"] || ids["cpi"] != ids["sds"] {
			t.Errorf("person %d: person ids by system %v, want one", p.Index, ids)
		}
	}
	if personIDs(anna)["comune"] == personIDs(bruno)["comune"] {
		t.Errorf("two people share a person id")
	}

	// The cpi is down; the comune's social worker refers Anna to it.
	var outageTries, killedAt atomic.Int32
	var armed atomic.Bool
	var ref comune.Segnalazione
	var mu sync.Mutex
	var first atomic.Pointer[hubProcess] // the hub the delivery kills
	first.Store(hub)
	tr.setCPIHook(func(r *http.Request, body []byte) bool {
		mu.Lock()
		id := ref.ID
		mu.Unlock()
		if id == "" || !bytes.Contains(body, []byte(">"+id+"<")) {
			return false
		}
		if !armed.Load() {
			outageTries.Add(1) // answered 503 by the cpi's outage
			return false
		}
		// The cpi takes the referral in; the hub dies before it hears so.
		armed.Store(false)
		rec := httptest.NewRecorder()
		tr.cpi.ServeHTTP(rec, r)
		killedAt.Store(int32(rec.Code))
		h := first.Load()
		_ = h.cmd.Process.Kill()
		<-h.done
		return true
	})
	tr.cpi.SetOutage(true)
	mu.Lock()
	var err error
	ref, err = tr.comune.CreateReferral(anna.Index, "cpi-sesto-fiorentino", "employment-status", "routine")
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the hub tries to deliver during the outage", func() bool {
		v, ok := tr.referral(t, base, "comune", ref.ID)
		return ok && v.Delivery == "pending" && outageTries.Load() >= 2
	})
	if n := len(tr.cpiReferrals(ref.ID)); n != 0 {
		t.Fatalf("the cpi has %d copies during its outage", n)
	}

	// The cpi comes back; the next delivery reaches it and the hub is
	// killed before it can record the delivery.
	armed.Store(true)
	tr.cpi.SetOutage(false)
	eventually(t, "the hub is killed in mid-delivery", func() bool {
		select {
		case <-hub.done:
			return true
		default:
			return false
		}
	})
	if code := killedAt.Load(); code != http.StatusCreated {
		t.Fatalf("the cpi answered %d to the delivery, want 201", code)
	}
	if v, _ := tr.query(t, `SELECT delivery FROM referrals WHERE source = 'comune' AND record_id = ?1`, ref.ID), 0; len(v) != 1 || v[0][0] != "pending" {
		t.Fatalf("after the kill the hub has the referral as %v, want still pending", v)
	}

	// Restarted, the hub delivers again; the cpi knows the external
	// reference and answers with the same id: one referral in the cpi.
	hub = startHub(t, tr.cfg)
	base = hub.waitAPI(t)
	eventually(t, "the referral is delivered", func() bool {
		v, ok := tr.referral(t, base, "comune", ref.ID)
		return ok && v.Delivery == "delivered"
	})
	copies := tr.cpiReferrals(ref.ID)
	if len(copies) != 1 {
		t.Fatalf("the cpi holds %d copies of the referral, want 1", len(copies))
	}
	cpiID := copies[0].ID
	if v, _ := tr.referral(t, base, "comune", ref.ID); v.Target != "cpi" || v.TargetID != cpiID {
		t.Errorf("delivered to %s as %q, want cpi as %q", v.Target, v.TargetID, cpiID)
	}
	if got := copies[0].Lavoratore; !strings.Contains(fmt.Sprint(got), anna.CF) {
		t.Errorf("the cpi received the referral without Anna's codice fiscale")
	}

	// The cpi's staff work on it; every step comes back to the comune.
	comuneStatus := func(want string) func() bool {
		return func() bool {
			s, ok := tr.comune.Referral(ref.ID)
			return ok && s.Stato == want
		}
	}
	for _, step := range []struct {
		do     func(string) error
		comune string
	}{{tr.cpi.Accept, "accettata"}, {tr.cpi.Start, "in_carico"}, {tr.cpi.Complete, "conclusa"}} {
		if err := step.do(cpiID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the comune's referral is "+step.comune, comuneStatus(step.comune))
	}
	var history []string
	for _, ev := range tr.comune.History(ref.ID) {
		history = append(history, fmt.Sprintf("%s→%s by %s (%s)", ev.Da, ev.A, ev.ImpostatoDa, ev.Origine))
	}
	wantHistory := []string{
		"→inviata by comune-sesto-fiorentino (interna)",
		"inviata→accettata by cpi-sesto-fiorentino (esterna)",
		"accettata→in_carico by cpi-sesto-fiorentino (esterna)",
		"in_carico→conclusa by cpi-sesto-fiorentino (esterna)",
	}
	if diff := cmp.Diff(wantHistory, history); diff != "" {
		t.Errorf("the comune's history of the referral (-want +got):\n%s", diff)
	}
	eventually(t, "the hub has the referral completed", func() bool {
		v, _ := tr.referral(t, base, "comune", ref.ID)
		return v.Status == "completed"
	})

	// Bruno: accepted by the cpi, then rejected by mistake — the life cycle
	// does not go from accepted to rejected: refused, recorded, and not
	// passed to the comune.
	mu.Lock()
	ref2, err := tr.comune.CreateReferral(bruno.Index, "cpi-sesto-fiorentino", "employment-status", "urgent")
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second referral is delivered", func() bool {
		v, ok := tr.referral(t, base, "comune", ref2.ID)
		return ok && v.Delivery == "delivered"
	})
	cpi2 := tr.cpiReferrals(ref2.ID)
	if len(cpi2) != 1 {
		t.Fatalf("the cpi holds %d copies of the second referral", len(cpi2))
	}
	if err := tr.cpi.Accept(cpi2[0].ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the comune's second referral is accettata", func() bool {
		s, _ := tr.comune.Referral(ref2.ID)
		return s.Stato == "accettata"
	})
	if err := tr.cpi.Reject(cpi2[0].ID, cpi.Motivi()[0]); err != nil {
		t.Fatal(err)
	}
	var refused api.ReferralAnswer
	eventually(t, "the rejection after acceptance is refused", func() bool {
		refused, _ = tr.referral(t, base, "comune", ref2.ID)
		for _, e := range refused.Timeline {
			if e.Outcome == "refused" {
				return true
			}
		}
		return false
	})
	wantEvents := []string{
		"→requested by comune-sesto-fiorentino via comune: applied",
		"requested→accepted by cpi-sesto-fiorentino via cpi: applied",
		"accepted→rejected by cpi-sesto-fiorentino via cpi: refused",
	}
	if diff := cmp.Diff(wantEvents, events(refused)); diff != "" {
		t.Errorf("the second referral's timeline (-want +got):\n%s", diff)
	}
	if p := refused.Timeline[len(refused.Timeline)-1].Problem; !strings.Contains(p, "from accepted") {
		t.Errorf("the refusal says %q, want why (from accepted …)", p)
	}
	if refused.Status != "accepted" {
		t.Errorf("the hub has the second referral %s, want still accepted", refused.Status)
	}
	if s, _ := tr.comune.Referral(ref2.ID); s.Stato != "accettata" {
		t.Errorf("the comune has the second referral %s, want still accettata", s.Stato)
	}

	// The partner reports Bruno's referral completed: it is neither the
	// requester nor the receiver, so the change is refused and recorded.
	report := "id;segnalazione;sistema;esito;data;ente\nES-1;" + ref2.ID + ";comune;concluso;03/07/2025 11:00;caritas-firenze\n"
	if err := os.WriteFile(filepath.Join(tr.reports, "esiti_2025-07.csv"), []byte(report), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the partner's report is refused", func() bool {
		refused, _ = tr.referral(t, base, "comune", ref2.ID)
		return len(refused.Timeline) == 4
	})
	last := refused.Timeline[3]
	if last.Outcome != "refused" || last.Reported != "caritas" || last.SetBy != "caritas-firenze" || !strings.Contains(last.Problem, "neither the requester nor the receiving organisation") {
		t.Errorf("the partner's change: %+v, want refused as by no party to the referral", last)
	}
	if refused.Status != "accepted" {
		t.Errorf("after the partner's report the hub has the referral %s, want still accepted", refused.Status)
	}

	// The first referral's timeline in the hub: each change once, applied.
	v, _ := tr.referral(t, base, "comune", ref.ID)
	wantEvents = []string{
		"→requested by comune-sesto-fiorentino via comune: applied",
		"requested→accepted by cpi-sesto-fiorentino via cpi: applied",
		"accepted→in-progress by cpi-sesto-fiorentino via cpi: applied",
		"in-progress→completed by cpi-sesto-fiorentino via cpi: applied",
	}
	if diff := cmp.Diff(wantEvents, events(v)); diff != "" {
		t.Errorf("the referral's timeline (-want +got):\n%s", diff)
	}

	// Everything else the systems said went through: the only refused
	// changes are the two above, and the quarantine holds only records that
	// name a person by a mistyped code (the population has a few).
	if rows := tr.query(t, `SELECT count(*) FROM referral_events WHERE outcome = 'refused'`); rows[0][0] != "2" {
		t.Errorf("%s refused status changes, want 2:\n%v", rows[0][0],
			tr.query(t, `SELECT event_source, event_id, problem FROM referral_events WHERE outcome = 'refused'`))
	}
	for _, q := range tr.query(t, `SELECT source, record_id, errors FROM quarantine`) {
		if !strings.Contains(q[2], `/identifiers/`) || !strings.Contains(q[2], "mistyped") {
			t.Errorf("quarantined %s/%s: %s", q[0], q[1], q[2])
		}
	}
	if rows := tr.query(t, `SELECT count(*) FROM referrals WHERE delivery = 'delivered'`); rows[0][0] == "0" || rows[0][0] == "1" {
		t.Errorf("%s referrals delivered: the comune's own referrals to the cpi and the sds were not", rows[0][0])
	}
	// Nothing identifying outside the envelope and the keyed index: no
	// codice fiscale, provisional code or name of anyone in the population
	// in the database files or the logs.
	code, _, stderr := snodo(t, "", "backup", filepath.Join(t.TempDir(), "copy.db"), "--config", tr.cfg)
	if code != 0 {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	var secrets []string
	for _, p := range tr.pop.People() {
		secrets = append(secrets, p.CF, p.Provisional, p.FamilyName+" "+p.GivenName, p.GivenName+" "+p.FamilyName)
	}
	data, _ := os.ReadFile(tr.db)
	wal, _ := os.ReadFile(tr.db + "-wal")
	everything := bytes.ToUpper(bytes.Join([][]byte{data, wal, []byte(logs())}, nil))
	for _, s := range secrets {
		if s != "" && bytes.Contains(everything, []byte(strings.ToUpper(s))) {
			t.Errorf("the database or the log holds %.5s…", s)
		}
	}
}
