package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
	"github.com/snodo-hub/snodo/schemas"
)

// The XML of the system (namespace urn:example:cpi:feed:1).

type feedPage struct {
	XMLName        xml.Name  `xml:"urn:example:cpi:feed:1 feed"`
	UltimaSequenza int64     `xml:"ultima-sequenza"`
	Links          []xmlLink `xml:"link"`
	Voci           []voce    `xml:"voce"`
}

type xmlLink struct {
	Rel  string `xml:"rel,attr"`
	Href string `xml:"href,attr"`
}

func (f *feedPage) hasNext() bool {
	for _, l := range f.Links {
		if l.Rel == "next" {
			return true
		}
	}
	return false
}

type voce struct {
	Tipo       string       `xml:"tipo,attr"`
	Sequenza   int64        `xml:"sequenza"`
	Aggiornato string       `xml:"aggiornato"`
	ID         string       `xml:"id"`
	Lavoratore *lavoratore  `xml:"lavoratore"`
	Attivita   *attivita    `xml:"attivita"`
	Stato      *cambioStato `xml:"cambio-stato"`
	// Segnalazione is a referral received; only its reference is read.
	Segnalazione *struct {
		RiferimentoEsterno riferimentoEsterno `xml:"riferimento-esterno"`
	} `xml:"segnalazione"`
}

type soggetto struct {
	IDSIL             string `xml:"id-sil,omitempty"`
	CodiceFiscale     string `xml:"codice-fiscale,omitempty"`
	CodiceProvvisorio string `xml:"codice-provvisorio,omitempty"`
}

type lavoratore struct {
	soggetto
	CodiceProvvisorioPrecedente string `xml:"codice-provvisorio-precedente"`
	Sesso                       string `xml:"sesso"`
	DataNascita                 string `xml:"data-nascita"`
	Cittadinanza                string `xml:"cittadinanza"`
	ComuneResidenza             string `xml:"comune-residenza"`
	// Names, place of birth: read by nobody, never mapped.
}

type attivita struct {
	Lavoratore         soggetto `xml:"lavoratore"`
	DataInizio         string   `xml:"data-inizio"`
	DataFine           string   `xml:"data-fine"`
	StatoOccupazionale string   `xml:"stato-occupazionale"`
	CodiceContratto    string   `xml:"codice-contratto"`
	ClasseProfilazione int      `xml:"classe-profilazione"`
	IndiceProfilazione float64  `xml:"indice-profilazione"`
}

type riferimentoEsterno struct {
	Fonte string `xml:"fonte"`
	ID    string `xml:"id"`
}

type cambioStato struct {
	Segnalazione       string             `xml:"segnalazione"`
	RiferimentoEsterno riferimentoEsterno `xml:"riferimento-esterno"`
	Progressivo        int                `xml:"progressivo"`
	Da                 string             `xml:"da"`
	A                  string             `xml:"a"`
	Il                 string             `xml:"il"`
	Motivo             string             `xml:"motivo"`
	Origine            string             `xml:"origine"`
	Operatore          string             `xml:"operatore"`
}

// Code tables.

// activityTypes maps entry kinds to employment-activity-type codes.
var activityTypes = map[string]string{
	"did":             "did",
	"patto-servizio":  "psp",
	"profilazione":    "profiling",
	"tirocinio":       "internship",
	"rapporto-lavoro": "contract",
	"formazione":      "training",
}

// iloStatuses maps the stato occupazionale to ilo-status.
var iloStatuses = map[string]string{
	"occupato":    "employed",
	"disoccupato": "unemployed",
	"inattivo":    "inactive",
}

// statuses maps the cpi's referral states to referral-status codes. A
// referral the cpi has just received (ricevuta) is still requested.
var statuses = map[string]string{
	"ricevuta":        "requested",
	"presa-in-carico": "accepted",
	"in-corso":        "in-progress",
	"conclusa":        "completed",
	"respinta":        "rejected",
	"annullata":       "cancelled",
}

// reasons maps the cpi's motivi to referral-status-reason codes.
var reasons = map[string]string{
	"non-idoneo":       "not-eligible",
	"fuori-territorio": "out-of-area",
	"dati-incompleti":  "incomplete-information",
	"irreperibile":     "unreachable",
	"rinuncia":         "person-declined",
	"duplicata":        "duplicate",
	"bisogno-risolto":  "need-resolved",
	"altro":            "other",
}

const (
	systemActivityType = "https://snodo-hub.github.io/codes/employment-activity-type"
	systemContractType = "https://snodo-hub.github.io/codes/contract-type"
	systemReason       = "https://snodo-hub.github.io/codes/referral-status-reason"
)

// contractDisplays are the Italian displays of the CO contract codes, from
// the shared code list.
var contractDisplays = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	data, err := fs.ReadFile(schemas.FS(), "codes/contract-type.json")
	if err != nil {
		return out
	}
	var list struct {
		Codes []struct {
			Code    string            `json:"code"`
			Display map[string]string `json:"display"`
		} `json:"codes"`
	}
	if json.Unmarshal(data, &list) != nil {
		return out
	}
	for _, c := range list.Codes {
		out[c.Code] = c.Display["it"]
	}
	return out
})

var (
	reCF          = regexp.MustCompile(`^[A-Z0-9]{16}$`)
	reProvisional = regexp.MustCompile(`^[0-9]{11}$`)
	reCountry     = regexp.MustCompile(`^(IT|Z[0-9]{3})$`)
	reISTAT       = regexp.MustCompile(`^[0-9]{6}$`)
	reRecordID    = regexp.MustCompile(`^[!-~]{1,128}$`)
)

// identifiers turns the worker's codes into the shared identifiers;
// nil when there is none usable.
func identifiers(s soggetto, former string) map[string]string {
	ids := map[string]string{}
	if cf := normalise(s.CodiceFiscale); reCF.MatchString(cf) {
		ids["cf"] = cf
	}
	prov := normalise(s.CodiceProvvisorio)
	if prov == "" {
		prov = normalise(former)
	}
	if reProvisional.MatchString(prov) {
		ids["cf-provisional"] = prov
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

func normalise(code string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code)))
}

// mapper turns feed entries into records.
type mapper struct {
	source, territory, organisation string
}

// skipped says why an entry gave no record; it names no identifier.
type skipped struct{ why string }

func (s *skipped) Error() string { return s.why }

func (m mapper) envelope(schema, id, recordedAt string) map[string]any {
	return map[string]any{"schema": schema, "record_id": id, "source": m.source, "territory": m.territory, "recorded_at": recordedAt}
}

// entry maps one feed entry: a record, or nil with the reason it is left
// out.
func (m mapper) entry(v voce) (map[string]any, error) {
	if !reRecordID.MatchString(v.ID) {
		return nil, &skipped{fmt.Sprintf("entry %d: id missing or not printable", v.Sequenza)}
	}
	at, err := time.Parse(time.RFC3339, v.Aggiornato)
	if err != nil {
		return nil, &skipped{fmt.Sprintf("entry %d: aggiornato is not an RFC 3339 time", v.Sequenza)}
	}
	recordedAt := at.Format(time.RFC3339)
	switch {
	case v.Tipo == "lavoratore" && v.Lavoratore != nil:
		return m.person(v, recordedAt)
	case activityTypes[v.Tipo] != "" && v.Attivita != nil:
		return m.activity(v, recordedAt)
	case v.Tipo == "segnalazione-stato" && v.Stato != nil:
		return m.statusEvent(v, recordedAt)
	case v.Tipo == "segnalazione":
		// A referral received: the hub delivered it and knows it already.
		return nil, nil
	}
	return nil, &skipped{fmt.Sprintf("entry %d: unknown kind %q or no payload", v.Sequenza, v.Tipo)}
}

func (m mapper) person(v voce, recordedAt string) (map[string]any, error) {
	l := v.Lavoratore
	ids := identifiers(l.soggetto, l.CodiceProvvisorioPrecedente)
	if ids == nil {
		return nil, &skipped{fmt.Sprintf("worker %s: no codice fiscale or provisional code", v.ID)}
	}
	r := m.envelope(SchemaPerson, v.ID, recordedAt)
	r["person"] = map[string]any{"identifiers": ids}
	if d, err := time.Parse(time.DateOnly, l.DataNascita); err == nil {
		r["birth_year"] = d.Year()
	}
	switch l.Sesso {
	case "M", "F":
		r["sex"] = l.Sesso
	}
	if reCountry.MatchString(l.Cittadinanza) {
		r["citizenship"] = l.Cittadinanza
	}
	if reISTAT.MatchString(l.ComuneResidenza) {
		r["residence_comune"] = l.ComuneResidenza
	}
	return r, nil
}

func (m mapper) activity(v voce, recordedAt string) (map[string]any, error) {
	a := v.Attivita
	ids := identifiers(a.Lavoratore, "")
	if ids == nil {
		return nil, &skipped{fmt.Sprintf("activity %s: no codice fiscale or provisional code", v.ID)}
	}
	if _, err := time.Parse(time.DateOnly, a.DataInizio); err != nil {
		return nil, &skipped{fmt.Sprintf("activity %s: data-inizio is not a date", v.ID)}
	}
	typ := activityTypes[v.Tipo]
	r := m.envelope(SchemaEmploymentActivity, v.ID, recordedAt)
	r["person"] = map[string]any{"identifiers": ids}
	r["type"] = map[string]any{"system": systemActivityType, "code": typ}
	r["start"] = a.DataInizio
	if _, err := time.Parse(time.DateOnly, a.DataFine); err == nil {
		r["end"] = a.DataFine
	}
	if typ == "contract" {
		if a.CodiceContratto == "" {
			return nil, &skipped{fmt.Sprintf("contract %s: no codice-contratto", v.ID)}
		}
		ct := map[string]any{"system": systemContractType, "code": a.CodiceContratto}
		if d := contractDisplays()[a.CodiceContratto]; d != "" {
			ct["display"] = d
		}
		r["contract_type"] = ct
	}
	if s := iloStatuses[a.StatoOccupazionale]; s != "" {
		r["ilo_status"] = s
	}
	if typ == "profiling" && a.ClasseProfilazione > 0 {
		r["extensions"] = map[string]any{"profiling_class": a.ClasseProfilazione, "profiling_index": a.IndiceProfilazione}
	}
	return r, nil
}

func (m mapper) statusEvent(v voce, recordedAt string) (map[string]any, error) {
	c := v.Stato
	if c.Origine != "cpi" {
		// Posted by the requester through the hub: it came from outside
		// and must not come back as the centre's own change.
		return nil, nil
	}
	to, ok := statuses[c.A]
	if !ok {
		return nil, &skipped{fmt.Sprintf("status change %s: unknown state %q", v.ID, c.A)}
	}
	ext := c.RiferimentoEsterno
	if !reRecordID.MatchString(ext.ID) || ext.Fonte == "" {
		return nil, &skipped{fmt.Sprintf("status change %s: no external reference", v.ID)}
	}
	at, err := time.Parse(time.RFC3339, c.Il)
	if err != nil {
		return nil, &skipped{fmt.Sprintf("status change %s: il is not an RFC 3339 time", v.ID)}
	}
	r := m.envelope(SchemaStatusEvent, v.ID, recordedAt)
	r["referral"] = map[string]any{"record_id": ext.ID, "source": ext.Fonte}
	if from, ok := statuses[c.Da]; ok {
		r["from"] = from
	}
	r["to"] = to
	r["at"] = at.Format(time.RFC3339)
	r["set_by"] = map[string]any{"record_id": m.organisation}
	if c.Motivo != "" || to == "rejected" || to == "cancelled" {
		code := reasons[c.Motivo]
		if code == "" {
			code = "other"
		}
		r["reason"] = map[string]any{"system": systemReason, "code": code}
	}
	if c.Progressivo > 0 {
		// The hub's history of the referral starts with requested (1);
		// the centre numbers its own changes from 1.
		r["sequence"] = c.Progressivo + 1
	}
	return r, nil
}

// cursor is what a batch's Cursor holds: the sequenza of the last feed
// entry processed.
type cursor struct {
	Dal int64 `json:"dal"`
}

func parseCursor(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Dal < 0 {
		return 0, sdk.Fatal(errors.New("the cursor is not one this connector wrote"))
	}
	return c.Dal, nil
}

func (cl *client) feed(ctx context.Context, dal int64, size int) (*feedPage, error) {
	q := url.Values{}
	q.Set("dal", strconv.FormatInt(dal, 10))
	q.Set("pagina", "1")
	q.Set("dimensione", strconv.Itoa(size))
	_, body, err := cl.do(ctx, "GET", "/feed?"+q.Encode(), nil)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.status == 404:
		return nil, sdk.ConfigError("/base_url", "no feed at base_url (HTTP 404)")
	case errors.As(err, &ae):
		return nil, sdk.Fatal(fmt.Errorf("cpi GET /feed: %w", err))
	case err != nil:
		return nil, err
	}
	var f feedPage
	if err := xml.Unmarshal(body, &f); err != nil {
		return nil, sdk.Transient(fmt.Errorf("cpi GET /feed: the answer is not a feed: %w", err))
	}
	return &f, nil
}

// Read emits the records of the feed entries after the cursor, one batch
// per page of entries.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest, emit func(sdk.Batch) error) error {
	cl, err := c.client(req.Settings)
	if err != nil {
		return err
	}
	dal, err := parseCursor(req.Cursor)
	if err != nil {
		return err
	}
	size := cl.st.PageSize
	if req.MaxBatch > 0 && req.MaxBatch < size {
		size = req.MaxBatch
	}
	m := mapper{source: cl.st.Source, territory: cl.st.Territory, organisation: cl.st.Organisation}
	log := sdk.Logger()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := cl.feed(ctx, dal, size)
		if err != nil {
			return err
		}
		if len(page.Voci) == 0 {
			return nil
		}
		batch := sdk.Batch{Records: make([][]byte, 0, len(page.Voci))}
		for _, v := range page.Voci {
			if v.Sequenza <= dal {
				return sdk.Fatal(fmt.Errorf("cpi GET /feed: entry %d is not after %d: the feed is out of order", v.Sequenza, dal))
			}
			dal = v.Sequenza
			rec, err := m.entry(v)
			if err != nil {
				log.Warn("feed entry left out", "sequenza", v.Sequenza, "why", err.Error())
				continue
			}
			if rec == nil {
				continue
			}
			raw, err := sdk.Record(rec)
			if err != nil {
				return sdk.Fatal(err)
			}
			batch.Records = append(batch.Records, raw)
		}
		batch.Cursor, _ = json.Marshal(cursor{Dal: dal})
		if err := emit(batch); err != nil {
			return err
		}
		if !page.hasNext() {
			return nil
		}
	}
}
