package comune_test

import (
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"testing"

	"github.com/snodo-hub/snodo/examples/sources/comune"
	"github.com/snodo-hub/snodo/examples/sources/population"
	"github.com/snodo-hub/snodo/schemas"
)

// codeList returns the codes of schemas/codes/<name>.json.
func codeList(t *testing.T, name string) map[string]bool {
	t.Helper()
	b, err := fs.ReadFile(schemas.FS(), "codes/"+name+".json")
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Codes []struct {
			Code string `json:"code"`
		} `json:"codes"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range l.Codes {
		out[c.Code] = true
	}
	return out
}

// inList fails unless every code is in the list; "" is allowed.
func inList(t *testing.T, list string, codes ...string) {
	t.Helper()
	l := codeList(t, list)
	for _, c := range codes {
		if c != "" && !l[c] {
			t.Errorf("%q is not a code of %s", c, list)
		}
	}
}

func TestMappingsCoverCodeLists(t *testing.T) {
	for list, m := range map[string]map[string]string{
		"referral-status":        comune.StatusCodes,
		"referral-status-reason": comune.ReasonCodes,
		"pathway-status":         comune.PathwayStatusCodes,
		"tenure":                 comune.TenureCodes,
	} {
		seen := map[string]bool{}
		for it, code := range m {
			inList(t, list, code)
			if seen[code] {
				t.Errorf("%s: %s mapped twice (last from %s)", list, code, it)
			}
			seen[code] = true
		}
	}
}

func TestDomainData(t *testing.T) {
	s, err := comune.New(comune.Options{Seed: 42, Households: 1000, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	ts := srv.URL
	territory := map[string]bool{}
	for _, m := range population.Territory() {
		territory[m.ISTAT] = true
	}
	people := map[string]bool{}
	for _, p := range all[comune.Persona](t, ts, "/api/v1/persone?dimensione=500") {
		people[p.ID] = true
		inList(t, "household-role", p.RuoloNucleo)
		if p.Permesso != nil {
			inList(t, "permit-status", p.Permesso.Stato)
			inList(t, "permit-reason", p.Permesso.Motivo)
		}
	}
	households := map[string]bool{}
	for _, n := range all[comune.Nucleo](t, ts, "/api/v1/nuclei?dimensione=500") {
		households[n.ID] = true
		inList(t, "household-type", n.Tipo)
		inList(t, "isee-band", n.FasciaISEE)
	}
	pathways := map[string]comune.Progetto{}
	for _, p := range all[comune.Progetto](t, ts, "/api/v1/progetti?dimensione=500") {
		pathways[p.ID] = p
		if !households[p.IDNucleo] || !people[p.IDPersona] {
			t.Errorf("%s: unknown household or person", p.ID)
		}
		if _, ok := comune.PathwayStatusCodes[p.Stato]; !ok {
			t.Errorf("%s: stato %q", p.ID, p.Stato)
		}
		if (p.Stato == "concluso" || p.Stato == "revocato") != (p.DataChiusura != "") {
			t.Errorf("%s: stato %s, chiusura %q", p.ID, p.Stato, p.DataChiusura)
		}
		for _, g := range p.Obiettivi {
			inList(t, "goal-category", g.Area)
			inList(t, "goal-achievement", g.Esito)
		}
	}
	if len(pathways) == 0 {
		t.Fatal("no pathways")
	}
	for _, v := range all[comune.Valutazione](t, ts, "/api/v1/valutazioni?dimensione=500") {
		if _, ok := pathways[v.IDProgetto]; !ok || !people[v.IDPersona] {
			t.Errorf("%s: unknown pathway or person", v.ID)
		}
		inList(t, "assessment-instrument", v.Strumento)
		inList(t, "assessment-timepoint", v.Momento)
		inList(t, "assessment-domain", v.Ambiti...)
		inList(t, "ethos-light", v.CondizioneAbitativa)
		inList(t, "isee-band", v.FasciaISEE)
		inList(t, "social-network", v.ReteSociale)
	}
	kinds := map[string]int{}
	for _, pl := range all[comune.Inserimento](t, ts, "/api/v1/inserimenti-abitativi?dimensione=500") {
		kinds[pl.Tipologia]++
		if _, ok := comune.TenureCodes[pl.Tipologia]; !ok {
			t.Errorf("%s: tipologia %q", pl.ID, pl.Tipologia)
		}
		if !households[pl.IDNucleo] {
			t.Errorf("%s: unknown household", pl.ID)
		}
		if (pl.DataUscita != "") != (pl.GruppoDestinazione != "") {
			t.Errorf("%s: ended placement without destination group, or the reverse", pl.ID)
		}
		inList(t, "ethos-light", pl.CondizionePrecedente, pl.Destinazione)
		inList(t, "destination-group", pl.GruppoDestinazione)
		inList(t, "placement-exit-reason", pl.MotivoUscita)
		if !territory[pl.Comune] {
			t.Errorf("%s: comune outside the territory", pl.ID)
		}
	}
	for _, k := range []string{"coabitazione", "bene_confiscato", "emergenza_abitativa"} {
		if kinds[k] == 0 {
			t.Errorf("no placement of type %s: %v", k, kinds)
		}
	}
	for _, r := range all[comune.Segnalazione](t, ts, "/api/v1/segnalazioni?dimensione=500") {
		inList(t, "referral-category", r.Categoria)
		inList(t, "referral-priority", r.Priorita)
	}
}
