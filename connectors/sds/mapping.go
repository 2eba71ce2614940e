package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Code tables: the system's Italian values → the shared code lists.
var (
	statusCodes = map[string]string{
		"inviata": "requested", "ricevuta": "requested", "accolta": "accepted", "in_carico": "in-progress",
		"sospesa": "on-hold", "conclusa": "completed", "respinta": "rejected", "annullata": "cancelled",
		"fallita": "failed", "errata": "entered-in-error",
	}
	reasonCodes = map[string]string{
		"non_idoneo": "not-eligible", "posti_esauriti": "no-capacity", "fuori_ambito": "out-of-area",
		"informazioni_incomplete": "incomplete-information", "lista_attesa": "waiting-list",
		"attesa_documenti": "awaiting-documents", "rifiuto_persona": "person-declined", "bisogno_risolto": "need-resolved",
		"duplicato": "duplicate", "irreperibile": "unreachable", "trasferito": "moved-away",
		"mancata_presentazione": "did-not-attend", "altro": "other",
	}
	priorityCodes = map[string]string{"ordinaria": "routine", "urgente": "urgent", "prioritaria": "asap", "immediata": "stat"}
	permitStatus  = map[string]string{"valido": "valid", "scaduto": "expired", "in_rinnovo": "renewal-pending", "nessuno": "none"}
	domainCodes   = map[string]string{
		"abitare": "housing", "lavoro": "work", "reddito": "income", "rete_sociale": "social-network", "salute": "health",
		"condizione_giuridica": "legal-status", "lingua": "language", "deprivazione": "material-deprivation",
	}
	serviceCodes = map[string]string{
		"assistenza_domiciliare": "health-social-integrated", "centro_diurno": "health-social-integrated",
		"inserimento_rsa": "health-social-integrated", "trasporto_sociale": "other",
		"contributo_economico": "economic-support", "mediazione_culturale": "mediation",
	}
	serviceDisplay = map[string]string{
		"assistenza_domiciliare": "Assistenza domiciliare", "centro_diurno": "Centro diurno",
		"inserimento_rsa": "Inserimento in RSA", "trasporto_sociale": "Trasporto sociale",
		"contributo_economico": "Contributo economico", "mediazione_culturale": "Mediazione linguistico-culturale",
	}
	healthLimitation = map[string]string{"grave": "severely-limited", "moderata": "limited", "nessuna": "not-limited"}
	socialNetwork    = map[string]string{"assente": "absent", "parziale": "partial", "presente": "present"}
	timepoints       = map[string]string{"T0": "T0", "T6": "T6", "T12": "T12", "uscita": "exit"}
	modes            = map[string]string{"una_tantum": "one-off", "periodica": "periodic"}
)

// Layouts of the export's dates and local date-times.
const (
	dateLayout = "02/01/2006"
	timeLayout = "02/01/2006 15:04:05"
)

type obj = map[string]any

func coding(list, code string) obj { return obj{"system": codes + list, "code": code} }

func ref(id string) obj { return obj{"record_id": id} }

// mapper turns export rows into records.
type mapper struct{ st Settings }

func (m *mapper) envelope(schema, id, recordedAt string) obj {
	return obj{"schema": schema, "record_id": id, "source": m.st.Source, "territory": m.st.Territory, "recorded_at": recordedAt}
}

// stamp turns a local "dd/mm/yyyy hh:mm:ss" into RFC 3339.
func (m *mapper) stamp(v, col string) (string, error) {
	t, err := time.ParseInLocation(timeLayout, v, m.st.loc)
	if err != nil {
		return "", fmt.Errorf("%s is not dd/mm/yyyy hh:mm:ss", col)
	}
	return t.Format(time.RFC3339), nil
}

func day(v, col string) (string, error) {
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		return "", fmt.Errorf("%s is not dd/mm/yyyy", col)
	}
	return t.Format(time.DateOnly), nil
}

// person returns the personRef of a row's codes, or an error when there is
// none.
func person(c columns, row []string) (obj, error) {
	ids := obj{}
	for col, kind := range map[string]string{"codice_fiscale": "cf", "codice_provvisorio": "cf-provisional", "codice_stp": "stp", "codice_eni": "eni"} {
		if v := strings.ToUpper(strings.ReplaceAll(c.get(row, col), " ", "")); v != "" {
			ids[kind] = v
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("no person code")
	}
	return obj{"identifiers": ids}, nil
}

// row maps one row of a kind of file to its records.
func (m *mapper) row(kind string, c columns, row []string) ([]obj, error) {
	switch kind {
	case "assistiti":
		return m.assistito(c, row)
	case "accessi_pua":
		return m.accesso(c, row)
	case "valutazioni_uvm":
		return m.valutazione(c, row)
	case "servizi":
		return m.servizio(c, row)
	case "stati_segnalazioni":
		return m.stato(c, row)
	}
	return nil, fmt.Errorf("unknown file kind %s", kind)
}

func need(c columns, row []string, cols ...string) error {
	for _, col := range cols {
		if c.get(row, col) == "" {
			return fmt.Errorf("%s is empty", col)
		}
	}
	return nil
}

// record starts a row's record: the columns it needs (its id, the update
// stamp and cols), the person it is about, and the envelope.
func (m *mapper) record(c columns, row []string, schema, idCol string, cols ...string) (obj, error) {
	if err := need(c, row, append([]string{idCol, "data_aggiornamento"}, cols...)...); err != nil {
		return nil, err
	}
	p, err := person(c, row)
	if err != nil {
		return nil, err
	}
	at, err := m.stamp(c.get(row, "data_aggiornamento"), "data_aggiornamento")
	if err != nil {
		return nil, err
	}
	r := m.envelope(schema, c.get(row, idCol), at)
	r["person"] = p
	return r, nil
}

func (m *mapper) assistito(c columns, row []string) ([]obj, error) {
	r, err := m.record(c, row, SchemaPerson, "id_assistito")
	if err != nil {
		return nil, err
	}
	// Only the year of birth: never the date, never the names.
	if b := c.get(row, "data_nascita"); b != "" {
		t, err := time.Parse(dateLayout, b)
		if err != nil {
			return nil, errors.New("data_nascita is not dd/mm/yyyy")
		}
		r["birth_year"] = t.Year()
	}
	switch s := c.get(row, "sesso"); s {
	case "M", "F":
		r["sex"] = s
	}
	cit := c.get(row, "cittadinanza")
	if cit != "" {
		r["citizenship"] = cit
	}
	if v := c.get(row, "comune_residenza"); v != "" {
		r["residence_comune"] = v
	}
	if st, ok := permitStatus[c.get(row, "stato_permesso")]; ok && cit != "IT" {
		permit := obj{"status": st}
		if reason := c.get(row, "motivo_permesso"); reason != "" {
			permit["reason"] = coding("permit-reason", reason)
		}
		if exp := c.get(row, "scadenza_permesso"); exp != "" {
			t, err := time.Parse("01/2006", exp)
			if err != nil {
				return nil, errors.New("scadenza_permesso is not mm/yyyy")
			}
			permit["expiry_month"] = t.Format("2006-01")
		}
		r["permit"] = permit
	}
	if sys := c.get(row, "sistema_accoglienza"); sys == "SAI" || sys == "CAS" {
		d, err := day(c.get(row, "data_uscita_accoglienza"), "data_uscita_accoglienza")
		if err != nil {
			return nil, err
		}
		r["reception_exit"] = obj{"system": sys, "date": d}
	}
	return []obj{r}, nil
}

func (m *mapper) accesso(c columns, row []string) ([]obj, error) {
	enc, err := m.record(c, row, SchemaEncounter, "id_accesso", "data_accesso")
	if err != nil {
		return nil, err
	}
	start, err := day(c.get(row, "data_accesso"), "data_accesso")
	if err != nil {
		return nil, err
	}
	st := coding("service-type", "social-secretariat")
	st["display"] = "Accesso al Punto Unico di Accesso"
	enc["service_type"] = st
	enc["start"] = start
	enc["mode"] = "one-off"
	ext := obj{}
	for _, col := range []string{"canale", "bisogno_prevalente", "esito"} {
		if v := c.get(row, col); v != "" {
			ext[col] = v
		}
	}
	if len(ext) > 0 {
		enc["extensions"] = obj{"sds": ext}
	}
	out := []obj{enc}
	id := c.get(row, "id_segnalazione")
	if id == "" {
		return out, nil
	}
	// The access sent a referral: the PUA is its requester.
	if err := need(c, row, "ente_destinatario", "categoria_segnalazione", "data_ora_invio"); err != nil {
		return nil, err
	}
	prio, ok := priorityCodes[c.get(row, "priorita")]
	if !ok {
		return nil, errors.New("priorita is not a known priority")
	}
	sent, err := m.stamp(c.get(row, "data_ora_invio"), "data_ora_invio")
	if err != nil {
		return nil, err
	}
	ref1 := m.envelope(SchemaReferral, id, enc["recorded_at"].(string))
	ref1["requester"] = ref(m.st.Organisation)
	ref1["owner"] = ref(c.get(row, "ente_destinatario"))
	ref1["person"] = enc["person"]
	ref1["authored_on"] = sent
	ref1["priority"] = prio
	ref1["category"] = coding("referral-category", c.get(row, "categoria_segnalazione"))
	ref1["status"] = obj{"code": "requested", "changed_at": sent}
	return append(out, ref1), nil
}

func (m *mapper) valutazione(c columns, row []string) ([]obj, error) {
	r, err := m.record(c, row, SchemaAssessment, "id_valutazione", "data_valutazione")
	if err != nil {
		return nil, err
	}
	on, err := day(c.get(row, "data_valutazione"), "data_valutazione")
	if err != nil {
		return nil, err
	}
	tp, ok := timepoints[c.get(row, "momento")]
	if !ok {
		return nil, errors.New("momento is not T0, T6, T12 or uscita")
	}
	instrument := "uvm"
	if s := c.get(row, "strumento"); s != "" && !strings.EqualFold(s, "UVM") {
		instrument = "other"
	}
	r["instrument"] = coding("assessment-instrument", instrument)
	r["timepoint"] = tp
	r["assessed_on"] = on
	r["assessor"] = ref(m.st.Organisation)
	var domains []any
	seen := map[string]bool{}
	for _, a := range strings.Split(c.get(row, "ambiti"), ",") {
		if d, ok := domainCodes[strings.TrimSpace(a)]; ok && !seen[d] {
			seen[d] = true
			domains = append(domains, coding("assessment-domain", d))
		}
	}
	if len(domains) > 0 {
		r["domains"] = domains
	}
	switch h := c.get(row, "condizione_abitativa"); {
	case h == "alloggiato":
		r["ethos"] = coding("ethos-light", "housed")
	case len(h) == 3 && strings.HasPrefix(h, "EL") && h[2] >= '1' && h[2] <= '6':
		r["ethos"] = coding("ethos-light", h)
	}
	if v, ok := healthLimitation[c.get(row, "limitazione_salute")]; ok {
		r["health_limitation"] = v
	}
	if v, ok := socialNetwork[c.get(row, "rete_sociale")]; ok {
		r["social_network"] = v
	}
	if v, ok := permitStatus[c.get(row, "stato_permesso")]; ok {
		r["permit_status"] = v
		if reason := c.get(row, "motivo_permesso"); reason != "" && v != "none" {
			r["permit_reason"] = coding("permit-reason", reason)
		}
	}
	switch l := c.get(row, "livello_italiano"); l {
	case "pre-A1", "A1", "A2", "B1", "B2", "C1", "C2":
		r["language_proficiency"] = obj{"language": "it", "level": l}
	}
	return []obj{r}, nil
}

func (m *mapper) servizio(c columns, row []string) ([]obj, error) {
	r, err := m.record(c, row, SchemaEncounter, "id_servizio", "data_inizio")
	if err != nil {
		return nil, err
	}
	start, err := day(c.get(row, "data_inizio"), "data_inizio")
	if err != nil {
		return nil, err
	}
	mode, ok := modes[c.get(row, "modalita")]
	if !ok {
		return nil, errors.New("modalita is not una_tantum or periodica")
	}
	tipo := c.get(row, "tipo_servizio")
	code, ok := serviceCodes[tipo]
	if !ok {
		code = "other"
	}
	st := coding("service-type", code)
	if d, ok := serviceDisplay[tipo]; ok {
		st["display"] = d
	}
	r["service_type"] = st
	r["start"] = start
	r["mode"] = mode
	if end := c.get(row, "data_fine"); end != "" && mode == "periodic" {
		if r["end"], err = day(end, "data_fine"); err != nil {
			return nil, err
		}
	}
	if imp := c.get(row, "importo"); imp != "" {
		v, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(imp, ".", ""), ",", "."), 64)
		if err != nil || v < 0 {
			return nil, errors.New("importo is not an amount like 1.234,50")
		}
		r["amount"] = obj{"value": v, "currency": "EUR"}
	}
	return []obj{r}, nil
}

func (m *mapper) stato(c columns, row []string) ([]obj, error) {
	if c.get(row, "origine") != "interna" {
		return nil, nil // received through the inbox: the hub already has it
	}
	if err := need(c, row, "id_evento", "id_segnalazione", "stato", "data_ora", "impostato_da"); err != nil {
		return nil, err
	}
	at, err := m.stamp(c.get(row, "data_ora"), "data_ora")
	if err != nil {
		return nil, err
	}
	to, ok := statusCodes[c.get(row, "stato")]
	if !ok {
		return nil, errors.New("stato is not a known status")
	}
	r := m.envelope(SchemaStatusEvent, c.get(row, "id_evento"), at)
	// A referral the SDS received is the origin's; one it sent is its own.
	if src, id := c.get(row, "fonte_esterna"), c.get(row, "id_esterno"); src != "" && id != "" {
		r["referral"] = obj{"record_id": id, "source": src}
	} else {
		r["referral"] = obj{"record_id": c.get(row, "id_segnalazione"), "source": m.st.Source}
	}
	if from, ok := statusCodes[c.get(row, "stato_precedente")]; ok {
		r["from"] = from
	}
	r["to"] = to
	r["at"] = at
	r["set_by"] = ref(c.get(row, "impostato_da"))
	if mo := c.get(row, "motivo"); mo != "" {
		reason, ok := reasonCodes[mo]
		if !ok {
			reason = "other"
		}
		r["reason"] = coding("referral-status-reason", reason)
	}
	if n, err := strconv.Atoi(c.get(row, "sequenza")); err == nil && n >= 1 {
		r["sequence"] = n
	}
	return []obj{r}, nil
}
