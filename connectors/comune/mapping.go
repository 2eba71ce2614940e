package main

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"time"
)

// codeSystem is the system URI of a shared code list.
func codeSystem(list string) string { return "https://snodo-hub.github.io/codes/" + list }

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

func code(list, c string) *coding {
	if c == "" {
		return nil
	}
	return &coding{System: codeSystem(list), Code: c}
}

type ref struct {
	RecordID string `json:"record_id"`
	Source   string `json:"source,omitempty"`
}

func refTo(id string) *ref {
	if id == "" {
		return nil
	}
	return &ref{RecordID: id}
}

type identifiers struct {
	CF          string `json:"cf,omitempty"`
	Provisional string `json:"cf-provisional,omitempty"`
}

type personRef struct {
	Identifiers *identifiers `json:"identifiers,omitempty"`
}

// envelope is the head of every record.
type envelope struct {
	Schema     string `json:"schema"`
	RecordID   string `json:"record_id"`
	Source     string `json:"source"`
	Territory  string `json:"territory"`
	RecordedAt string `json:"recorded_at"`
}

// mapper turns the system's items into records of the shared schemas.
type mapper struct {
	source, territory, org string
}

func (m *mapper) envelope(schema, id string, at time.Time) envelope {
	return envelope{Schema: schema, RecordID: id, Source: m.source, Territory: m.territory, RecordedAt: at.UTC().Format(time.RFC3339)}
}

// normalise puts a code in the normalised form of the schemas: upper
// case, without spaces or hyphens.
func normalise(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.ToUpper(s))
}

// person returns the identifiers the system holds, nil when none.
func person(cf, provisional string) *personRef {
	id := identifiers{CF: normalise(cf), Provisional: normalise(provisional)}
	if id.CF == "" && id.Provisional == "" {
		return nil
	}
	return &personRef{Identifiers: &id}
}

var (
	countryRe = regexp.MustCompile(`^(IT|Z[0-9]{3})$`)
	istatRe   = regexp.MustCompile(`^[0-9]{6}$`)
	langRe    = regexp.MustCompile(`^[a-z]{2,3}$`)
	monthRe   = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
	dateRe    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// date keeps a YYYY-MM-DD date, "" otherwise.
func date(s string) string {
	if !dateRe.MatchString(s) {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return ""
	}
	return s
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// skipped says why an item gives no record; the reason never carries a
// personal identifier.
type skipped string

// --- person ---

type permitOut struct {
	Status      string  `json:"status"`
	Reason      *coding `json:"reason,omitempty"`
	ExpiryMonth string  `json:"expiry_month,omitempty"`
}

type receptionExit struct {
	System string `json:"system"`
	Date   string `json:"date"`
}

type personRecord struct {
	envelope
	Person          *personRef     `json:"person"`
	BirthYear       int            `json:"birth_year,omitempty"`
	Sex             string         `json:"sex,omitempty"`
	Citizenship     string         `json:"citizenship,omitempty"`
	ResidenceComune string         `json:"residence_comune,omitempty"`
	Languages       []string       `json:"languages,omitempty"`
	Permit          *permitOut     `json:"permit,omitempty"`
	ReceptionExit   *receptionExit `json:"reception_exit,omitempty"`
	Household       *ref           `json:"household,omitempty"`
}

var (
	sexes          = map[string]bool{"M": true, "F": true, "U": true}
	permitStatuses = map[string]bool{"valid": true, "expired": true, "renewal-pending": true, "none": true}
	receptionSys   = map[string]bool{"SAI": true, "CAS": true}
)

func (m *mapper) person(p persona) (any, skipped) {
	who := person(p.CodiceFiscale, p.CodiceProvvisorio)
	if who == nil {
		return nil, "the person has no codice fiscale or provisional code"
	}
	r := personRecord{envelope: m.envelope(SchemaPerson, p.ID, p.AggiornatoIl), Person: who, Household: refTo(p.IDNucleo)}
	if len(p.DataNascita) >= 4 {
		if y, err := time.Parse("2006", p.DataNascita[:4]); err == nil && y.Year() >= 1900 && y.Year() <= 2100 {
			r.BirthYear = y.Year()
		}
	}
	if s := strings.ToUpper(p.Sesso); sexes[s] {
		r.Sex = s
	}
	if c := strings.ToUpper(p.Cittadinanza); countryRe.MatchString(c) {
		r.Citizenship = c
	}
	if istatRe.MatchString(p.ComuneResidenza) {
		r.ResidenceComune = p.ComuneResidenza
	}
	for _, l := range p.Lingue {
		l = strings.ToLower(strings.TrimSpace(l))
		if langRe.MatchString(l) && !slices.Contains(r.Languages, l) && len(r.Languages) < 10 {
			r.Languages = append(r.Languages, l)
		}
	}
	if p.Permesso != nil && permitStatuses[p.Permesso.Stato] && r.Citizenship != "IT" {
		r.Permit = &permitOut{Status: p.Permesso.Stato, Reason: code("permit-reason", p.Permesso.Motivo)}
		if monthRe.MatchString(p.Permesso.Scadenza) {
			r.Permit.ExpiryMonth = p.Permesso.Scadenza
		}
	}
	if u := p.UscitaAccoglienza; u != nil && receptionSys[u.Sistema] && date(u.Data) != "" {
		r.ReceptionExit = &receptionExit{System: u.Sistema, Date: u.Data}
	}
	return r, ""
}

// --- household ---

type householdRecord struct {
	envelope
	Size          int     `json:"size"`
	HouseholdType *coding `json:"household_type,omitempty"`
	ISEEBand      string  `json:"isee_band,omitempty"`
}

var iseeBands = map[string]bool{"0-3000": true, "3000-6000": true, "6000-9360": true, "9360-10140": true,
	"10140-15000": true, "15000-25000": true, "25000+": true, "not-submitted": true}

// household maps a nucleo. Members are not listed: each person record
// points to its household, and a member's codes are in its person record.
func (m *mapper) household(n nucleo) (any, skipped) {
	if len(n.Componenti) == 0 || len(n.Componenti) > 30 {
		return nil, "the household has no members the comune knows, or more than 30"
	}
	r := householdRecord{envelope: m.envelope(SchemaHousehold, n.ID, n.AggiornatoIl), Size: len(n.Componenti),
		HouseholdType: code("household-type", n.Tipo)}
	if r.HouseholdType != nil && r.HouseholdType.Code == "single-person" && r.Size != 1 {
		r.HouseholdType = nil // the registry lists more members than the type says: leave the type out
	}
	if iseeBands[n.FasciaISEE] {
		r.ISEEBand = n.FasciaISEE
	}
	return r, ""
}

// --- consent ---

type period struct {
	Start string `json:"start"`
	End   string `json:"end,omitempty"`
}

type consentRecord struct {
	envelope
	Person      *personRef `json:"person"`
	Status      string     `json:"status"`
	Purposes    []coding   `json:"purposes"`
	LegalBasis  []coding   `json:"legal_basis"`
	Controller  *ref       `json:"controller"`
	Recipients  []ref      `json:"recipients"`
	GivenOn     string     `json:"given_on,omitempty"`
	ValidPeriod *period    `json:"valid_period,omitempty"`
}

// consent maps a consenso: one recipient, one purpose, given under GDPR
// art. 6(1)(a) to the comune as controller.
func (m *mapper) consent(c consenso) (any, skipped) {
	who := person(c.CodiceFiscale, c.CodiceProvvisorio)
	if who == nil {
		return nil, "the consent's person has no codice fiscale or provisional code"
	}
	status, ok := consentStatusCodes[c.Stato]
	if !ok {
		return nil, skipped("unknown consent status " + c.Stato)
	}
	if c.EnteDestinatario == "" || c.Finalita == "" {
		return nil, "the consent names no recipient or purpose"
	}
	r := consentRecord{envelope: m.envelope(SchemaConsent, c.ID, c.AggiornatoIl), Person: who, Status: status,
		Purposes:   []coding{*code("consent-purpose", c.Finalita)},
		LegalBasis: []coding{*code("legal-basis", "gdpr-6-1-a")},
		Controller: refTo(m.org), Recipients: []ref{{RecordID: c.EnteDestinatario}}, GivenOn: date(c.DataRaccolta)}
	if r.GivenOn != "" {
		r.ValidPeriod = &period{Start: r.GivenOn}
	}
	if status == "inactive" {
		end := cmp.Or(date(c.DataRevoca), rfc3339(c.AggiornatoIl)[:10])
		if r.ValidPeriod == nil {
			r.ValidPeriod = &period{Start: end}
		}
		r.ValidPeriod.End = end
	}
	return r, ""
}

// --- referral ---

type referralStatus struct {
	Code      string  `json:"code"`
	Reason    *coding `json:"reason,omitempty"`
	ChangedAt string  `json:"changed_at,omitempty"`
}

type referralRecord struct {
	envelope
	Requester  ref            `json:"requester"`
	Owner      ref            `json:"owner"`
	Person     *personRef     `json:"person"`
	Household  *ref           `json:"household,omitempty"`
	AuthoredOn string         `json:"authored_on"`
	Priority   string         `json:"priority"`
	Category   *coding        `json:"category"`
	Status     referralStatus `json:"status"`
}

var priorities = map[string]bool{"routine": true, "urgent": true, "asap": true, "stat": true}

// referral maps a segnalazione the comune sent (direzione "inviata"),
// with its current status; the referrals it received are the other
// organisation's records and are not read back.
func (m *mapper) referral(s segnalazione) (any, skipped) {
	if s.Direzione != "inviata" {
		return nil, "a received referral is the sender's record"
	}
	who := person(s.CodiceFiscale, s.CodiceProvvisorio)
	if who == nil {
		return nil, "the referral's person has no codice fiscale or provisional code"
	}
	status, ok := statusCodes[s.Stato]
	if !ok {
		return nil, skipped("unknown referral status " + s.Stato)
	}
	if !priorities[s.Priorita] || s.Categoria == "" {
		return nil, skipped("unknown priority or missing category")
	}
	r := referralRecord{envelope: m.envelope(SchemaReferral, s.ID, s.AggiornatoIl),
		Requester: ref{RecordID: s.EnteRichiedente}, Owner: ref{RecordID: s.EnteDestinatario}, Person: who,
		Household: refTo(s.IDNucleo), AuthoredOn: rfc3339(s.DataSegnalazione), Priority: s.Priorita,
		Category: code("referral-category", s.Categoria), Status: referralStatus{Code: status}}
	if !s.StatoAggiornatoIl.IsZero() {
		r.Status.ChangedAt = rfc3339(s.StatoAggiornatoIl)
	}
	if s.MotivoStato != "" {
		reason, ok := reasonCodes[s.MotivoStato]
		if !ok {
			return nil, skipped("unknown status reason " + s.MotivoStato)
		}
		r.Status.Reason = code("referral-status-reason", reason)
	}
	return r, ""
}

// --- referral status event ---

type statusEventRecord struct {
	envelope
	Referral ref     `json:"referral"`
	From     string  `json:"from,omitempty"`
	To       string  `json:"to"`
	At       string  `json:"at"`
	SetBy    ref     `json:"set_by"`
	Reason   *coding `json:"reason,omitempty"`
	Sequence int     `json:"sequence,omitempty"`
}

// statusEvent maps a change made in the comune (origine "interna"). The
// changes received from the hub (esterna) are not sent back, and the
// first event of a referral the comune sent is its creation, which the
// referral record itself carries.
func (m *mapper) statusEvent(e eventoStato) (any, skipped) {
	if e.Origine != "interna" {
		return nil, "a change received from another organisation"
	}
	if e.Sequenza == 1 && e.RiferimentoEsterno == nil {
		return nil, "the first status of a referral the comune sent is in its referral record"
	}
	to, ok := statusCodes[e.A]
	if !ok {
		return nil, skipped("unknown referral status " + e.A)
	}
	r := statusEventRecord{envelope: m.envelope(SchemaStatusEvent, e.ID, e.AggiornatoIl), To: to, At: rfc3339(e.Il),
		SetBy: ref{RecordID: cmp.Or(e.ImpostatoDa, m.org)}}
	if e.Sequenza >= 1 && e.Sequenza <= 1000000 {
		r.Sequence = e.Sequenza
	}
	// A referral the comune received is known to the hub by its origin's
	// source and id; one it sent by its own.
	if x := e.RiferimentoEsterno; x != nil {
		r.Referral = ref{RecordID: x.ID, Source: x.Sistema}
	} else {
		r.Referral = ref{RecordID: e.IDSegnalazione, Source: m.source}
	}
	if e.Da != "" {
		from, ok := statusCodes[e.Da]
		if !ok {
			return nil, skipped("unknown referral status " + e.Da)
		}
		r.From = from
	}
	if e.Motivo != "" {
		reason, ok := reasonCodes[e.Motivo]
		if !ok {
			return nil, skipped("unknown status reason " + e.Motivo)
		}
		r.Reason = code("referral-status-reason", reason)
	}
	return r, ""
}

// --- pathway ---

type goal struct {
	Category    *coding `json:"category"`
	Achievement string  `json:"achievement,omitempty"`
}

type pathwayRecord struct {
	envelope
	Person                  *personRef `json:"person,omitempty"`
	Household               *ref       `json:"household,omitempty"`
	LeadOrganisation        ref        `json:"lead_organisation"`
	AccessedOn              string     `json:"accessed_on,omitempty"`
	PreliminaryAssessmentOn string     `json:"preliminary_assessment_on,omitempty"`
	SignedOn                string     `json:"signed_on,omitempty"`
	StartedOn               string     `json:"started_on"`
	ReviewDue               string     `json:"review_due,omitempty"`
	EndedOn                 string     `json:"ended_on,omitempty"`
	Status                  string     `json:"status"`
	Goals                   []goal     `json:"goals,omitempty"`
}

var achievements = map[string]bool{"in-progress": true, "improving": true, "worsening": true, "no-change": true,
	"achieved": true, "sustaining": true, "not-achieved": true, "not-attainable": true}

func (m *mapper) pathway(p progetto) (any, skipped) {
	status, ok := pathwayStatusCodes[p.Stato]
	if !ok {
		return nil, skipped("unknown pathway status " + p.Stato)
	}
	r := pathwayRecord{envelope: m.envelope(SchemaPathway, p.ID, p.AggiornatoIl),
		Person: person(p.CodiceFiscale, p.CodiceProvvisorio), Household: refTo(p.IDNucleo),
		LeadOrganisation: ref{RecordID: cmp.Or(p.EnteTitolare, m.org)},
		AccessedOn:       date(p.DataAccesso), PreliminaryAssessmentOn: date(p.DataAnalisi), SignedOn: date(p.DataSottoscrizione),
		StartedOn: date(p.DataAvvio), ReviewDue: date(p.ProssimaVerifica), EndedOn: date(p.DataChiusura), Status: status}
	if r.StartedOn == "" {
		return nil, "the pathway has no start date"
	}
	if r.Person == nil && r.Household == nil {
		return nil, "the pathway names neither a person nor a household"
	}
	if (status == "completed" || status == "revoked") && r.EndedOn == "" {
		return nil, "a closed pathway without a closing date"
	}
	for _, o := range p.Obiettivi {
		if o.Area == "" {
			continue
		}
		g := goal{Category: code("goal-category", o.Area)}
		if achievements[o.Esito] {
			g.Achievement = o.Esito
		}
		r.Goals = append(r.Goals, g)
	}
	return r, ""
}

// --- assessment ---

type assessmentRecord struct {
	envelope
	Person        *personRef `json:"person"`
	Household     *ref       `json:"household,omitempty"`
	Pathway       *ref       `json:"pathway,omitempty"`
	Instrument    *coding    `json:"instrument"`
	Timepoint     string     `json:"timepoint"`
	AssessedOn    string     `json:"assessed_on"`
	Assessor      *ref       `json:"assessor,omitempty"`
	Domains       []coding   `json:"domains,omitempty"`
	Ethos         *coding    `json:"ethos,omitempty"`
	ISEEBand      string     `json:"isee_band,omitempty"`
	IncomeSupport *bool      `json:"income_support,omitempty"`
	SocialNetwork string     `json:"social_network,omitempty"`
}

var (
	timepoints     = map[string]bool{"T0": true, "T6": true, "T12": true, "exit": true}
	socialNetworks = map[string]bool{"absent": true, "partial": true, "present": true}
)

func (m *mapper) assessment(v valutazione) (any, skipped) {
	who := person(v.CodiceFiscale, v.CodiceProvvisorio)
	if who == nil {
		return nil, "the assessed person has no codice fiscale or provisional code"
	}
	if !timepoints[v.Momento] || v.Strumento == "" || date(v.Data) == "" {
		return nil, "unknown timepoint, or no instrument or date"
	}
	r := assessmentRecord{envelope: m.envelope(SchemaAssessment, v.ID, v.AggiornatoIl), Person: who,
		Household: refTo(v.IDNucleo), Pathway: refTo(v.IDProgetto), Instrument: code("assessment-instrument", v.Strumento),
		Timepoint: v.Momento, AssessedOn: v.Data, Assessor: refTo(m.org), Ethos: code("ethos-light", v.CondizioneAbitativa),
		IncomeSupport: v.SostegnoReddito}
	for _, d := range v.Ambiti {
		if d != "" && !slices.ContainsFunc(r.Domains, func(c coding) bool { return c.Code == d }) && len(r.Domains) < 16 {
			r.Domains = append(r.Domains, *code("assessment-domain", d))
		}
	}
	if iseeBands[v.FasciaISEE] {
		r.ISEEBand = v.FasciaISEE
	}
	if socialNetworks[v.ReteSociale] {
		r.SocialNetwork = v.ReteSociale
	}
	return r, ""
}

// --- housing placement ---

type placementRecord struct {
	envelope
	Household        ref        `json:"household"`
	Person           *personRef `json:"person,omitempty"`
	Pathway          *ref       `json:"pathway,omitempty"`
	Comune           string     `json:"comune"`
	Start            string     `json:"start"`
	End              string     `json:"end,omitempty"`
	Tenure           *coding    `json:"tenure,omitempty"`
	Permanent        bool       `json:"permanent"`
	EthosBefore      *coding    `json:"ethos_before,omitempty"`
	Destination      *coding    `json:"destination,omitempty"`
	DestinationGroup string     `json:"destination_group,omitempty"`
	ExitReason       *coding    `json:"exit_reason,omitempty"`
}

var destinationGroups = map[string]bool{"permanent": true, "temporary": true, "institutional": true, "homeless": true}

func (m *mapper) placement(i inserimento) (any, skipped) {
	if i.IDNucleo == "" || !istatRe.MatchString(i.Comune) || date(i.DataIngresso) == "" {
		return nil, "the placement has no household, comune or start date"
	}
	tenure, ok := tenureCodes[i.Tipologia]
	if !ok {
		return nil, skipped("unknown placement type " + i.Tipologia)
	}
	r := placementRecord{envelope: m.envelope(SchemaHousingPlacement, i.ID, i.AggiornatoIl), Household: ref{RecordID: i.IDNucleo},
		Person: person(i.CodiceFiscale, i.CodiceProvvisorio), Pathway: refTo(i.IDProgetto), Comune: i.Comune,
		Start: i.DataIngresso, End: date(i.DataUscita), Tenure: code("tenure", tenure), Permanent: i.Permanente,
		EthosBefore: code("ethos-light", i.CondizionePrecedente), Destination: code("ethos-light", i.Destinazione),
		ExitReason: code("placement-exit-reason", i.MotivoUscita)}
	if destinationGroups[i.GruppoDestinazione] {
		r.DestinationGroup = i.GruppoDestinazione
	}
	if r.End != "" && r.DestinationGroup == "" {
		return nil, "an ended placement without a destination group"
	}
	return r, ""
}
