package volunteers_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/snodo-hub/snodo/examples/sources/comune"
)

var update = flag.Bool("update", false, "rewrite the sample export in albo/")

// sample is the export the test checks and, with -update, writes.
const sample = "albo/albo_volontari_2025-06.csv"

// activePathways reads the pathways of the simulated comune that were
// active on its start date, through its API, as the files' authors would
// look them up in the comune's system.
func activePathways(t *testing.T) []comune.Progetto {
	t.Helper()
	sim, err := comune.New(comune.Options{Seed: 42, Households: 1000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	var out []comune.Progetto
	for page := 1; ; page++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/progetti?pagina=%d&dimensione=500", srv.URL, page), nil)
		req.Header.Set("X-API-Key", comune.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Pagine    int               `json:"pagine"`
			Risultati []comune.Progetto `json:"risultati"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET progetti: %d %v", resp.StatusCode, err)
		}
		for _, p := range ans.Risultati {
			if p.Stato == "attivo" {
				out = append(out, p)
			}
		}
		if page >= ans.Pagine {
			return out
		}
	}
}

// names are the volunteers' invented names: the registry holds them, the
// mapping never reads them.
var (
	firstNames = []string{"Niccolò", "Lucia", "Samira", "Giovanni", "Irene", "Mohamed", "Chiara", "Andrea", "Fatou", "Elena", "Piero", "Ilaria", "Tommaso", "Anna", "Yusuf", "Caterina"}
	surnames   = []string{"Bellandi", "Cecchi", "Fantappiè", "Gori", "Innocenti", "Lapini", "Mazzoni", "Nesti", "Pagliai", "Raddi", "Sarti", "Tozzi", "Vannucci", "Zoppi"}
	skills     = []string{"mediazione linguistica", "mentoring", "accompagnamento al lavoro", "ricerca casa", "orientamento legale", "informatica", "italiano L2", "cura dei bambini", "trasporto", "ascolto"}
	languages  = []string{"it", "en", "fr", "ar", "es", "ro", "uk", "wo"}
	days       = []string{"lun", "mar", "mer", "gio", "ven", "sab", "dom"}
)

// pick returns n distinct items of list, in the list's order.
func pick(r *rand.Rand, list []string, n int) []string {
	var out []string
	for _, i := range r.Perm(len(list))[:n] {
		out = append(out, list[i])
	}
	return out
}

// generate makes the export: 40 volunteers of two partners, most active,
// two in three assigned to a pathway of the comune, some of those
// assignments ended (with the hours given).
func generate(t *testing.T) []byte {
	pathways := activePathways(t)
	if len(pathways) < 30 {
		t.Fatalf("only %d active pathways in the simulated comune", len(pathways))
	}
	r := rand.New(rand.NewPCG(42, 7))
	entities := []string{"Caritas Diocesana di Firenze", "ARCI Firenze"}
	var b strings.Builder
	b.WriteString("N. iscrizione;Ente;Cognome;Nome;Telefono;Attivo;Competenze;Lingue;Ore settimanali;Giorni;Servizio titolare;Progetto;Dal;Al;Ore progetto;Ore totali;Aggiornato il\r\n")
	asOf := comune.Start()
	perm := r.Perm(len(pathways))
	for i := range 40 {
		ente := entities[i%2]
		active := "sì"
		if r.IntN(8) == 0 {
			active = "no"
		}
		langs := append([]string{"it"}, pick(r, languages[1:], r.IntN(3))...)
		hours := fmt.Sprintf("%d,%d", 1+r.IntN(8), 5*r.IntN(2))
		var service, pathway, from, to, given string
		total := 10 + r.IntN(400)
		last := asOf.AddDate(0, 0, -200) // the registry's last change before an assignment
		if active == "sì" && r.IntN(3) != 0 {
			p := pathways[perm[i]]
			start, err := time.Parse(time.DateOnly, p.DataAvvio)
			if err != nil {
				t.Fatalf("pathway %s: start %q: %v", p.ID, p.DataAvvio, err)
			}
			start = start.AddDate(0, 0, 7+r.IntN(60))
			if start.After(asOf) {
				start = asOf.AddDate(0, 0, -1)
			}
			service, pathway, from, last = "Comune di Sesto Fiorentino", p.ID, start.Format("02/01/2006"), start
			if r.IntN(4) == 0 {
				end := start.AddDate(0, 0, 1+r.IntN(max(1, int(asOf.Sub(start).Hours()/24))))
				if end.After(asOf) {
					end = asOf
				}
				to, given, last = end.Format("02/01/2006"), fmt.Sprint(r.IntN(total)), end
			}
		}
		// Updated at the last change or on a later day, in office hours.
		updated := last.AddDate(0, 0, r.IntN(1+int(asOf.Sub(last).Hours()/24)))
		updated = time.Date(updated.Year(), updated.Month(), updated.Day(), 9, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(8*60)) * time.Minute)
		fmt.Fprintf(&b, "%d;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%s;%d;%s\r\n",
			1001+i, ente, surnames[r.IntN(len(surnames))], firstNames[r.IntN(len(firstNames))],
			fmt.Sprintf("33%d", 10000000+r.IntN(89999999)), active,
			strings.Join(pick(r, skills, 1+r.IntN(3)), ","), strings.Join(langs, ","), hours,
			strings.Join(pick(r, days, 1+r.IntN(3)), ","), dash(service), dash(pathway), dash(from), dash(to), dash(given),
			total, updated.Format("02/01/2006 15:04"))
	}
	return latin1(t, b.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// latin1 encodes s as ISO 8859-1, as the partner's spreadsheet exports it.
func latin1(t *testing.T, s string) []byte {
	out := make([]byte, 0, len(s))
	for _, c := range s {
		if c > 0xff {
			t.Fatalf("%q is not in Latin-1", c)
		}
		out = append(out, byte(c))
	}
	return out
}

// TestSampleExport: the committed export is the one the generator makes
// from the simulated comune, so its pathways exist there.
func TestSampleExport(t *testing.T) {
	want := generate(t)
	if *update {
		if err := os.WriteFile(sample, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.FromSlash(sample))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the generator makes: run go test ./examples/volunteers -update", sample)
	}
}
