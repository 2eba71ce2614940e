package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// Write delivers a referral to the comune (POST /api/v1/segnalazioni, the
// origin's source and record_id as its riferimento_esterno) or a status
// change another organisation made to a referral (POST
// /api/v1/segnalazioni/{id}/stati, RecordID as id_evento). Both are
// idempotent in the system: a repeated delivery changes nothing and
// returns the same id.
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	cfg, err := c.load(req.Settings)
	if err != nil {
		return sdk.WriteResponse{}, err
	}
	w := &writing{cfg: cfg}
	var id string
	switch req.Schema {
	case SchemaReferral:
		id, err = w.referral(ctx, req)
	case SchemaStatusEvent:
		id, err = w.status(ctx, req)
	default:
		return sdk.WriteResponse{}, sdk.Fatal(fmt.Errorf("the comune connector does not accept %s records", req.Schema))
	}
	if err != nil {
		return sdk.WriteResponse{}, err
	}
	return sdk.WriteResponse{TargetID: id}, nil
}

type writing struct {
	cfg *config
}

// refused makes a system's refusal a fatal error saying why.
func refused(what string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return sdk.Fatal(fmt.Errorf("the comune refused %s: %w", what, err))
	}
	return err // already classed
}

type incomingReferral struct {
	RecordID  string `json:"record_id"`
	Source    string `json:"source"`
	Requester ref    `json:"requester"`
	Owner     ref    `json:"owner"`
	Person    struct {
		Identifiers identifiers `json:"identifiers"`
	} `json:"person"`
	AuthoredOn *time.Time `json:"authored_on"`
	Priority   string     `json:"priority"`
	Category   coding     `json:"category"`
	Status     struct {
		Code string `json:"code"`
	} `json:"status"`
}

// nuovaSegnalazione is the body of POST /api/v1/segnalazioni.
type nuovaSegnalazione struct {
	RiferimentoEsterno riferimento `json:"riferimento_esterno"`
	CodiceFiscale      string      `json:"codice_fiscale,omitempty"`
	CodiceProvvisorio  string      `json:"codice_fiscale_provvisorio,omitempty"`
	EnteRichiedente    string      `json:"ente_richiedente"`
	EnteDestinatario   string      `json:"ente_destinatario"`
	Categoria          string      `json:"categoria"`
	Priorita           string      `json:"priorita,omitempty"`
	DataSegnalazione   *time.Time  `json:"data_segnalazione,omitempty"`
}

func (w *writing) referral(ctx context.Context, req sdk.WriteRequest) (string, error) {
	var d incomingReferral
	if err := json.Unmarshal(req.Record, &d); err != nil {
		return "", sdk.Fatal(fmt.Errorf("the referral %s is not JSON of the referral schema: %v", req.RecordID, redactErr(err)))
	}
	d.Source, d.RecordID = origin(d.Source, d.RecordID, req.RecordID)
	if d.RecordID == "" || d.Source == "" {
		return "", sdk.Fatal(fmt.Errorf("the referral %s has no record_id or source: the comune keeps them as its external reference", req.RecordID))
	}
	if d.Source == w.cfg.s.Source {
		// A referral the comune itself sent: it is there already.
		var sg segnalazione
		if _, err := w.cfg.client.do(ctx, http.MethodGet, "/api/v1/segnalazioni/"+url.PathEscape(d.RecordID), nil, nil, &sg); err != nil {
			return "", refused("to find its own referral "+d.RecordID, err)
		}
		return sg.ID, nil
	}
	switch {
	case d.Owner.RecordID != w.cfg.org:
		return "", sdk.Fatal(fmt.Errorf("the referral %s is for %q, but this connector serves %q", req.RecordID, d.Owner.RecordID, w.cfg.org))
	case d.Person.Identifiers.CF == "" && d.Person.Identifiers.Provisional == "":
		return "", sdk.Fatal(fmt.Errorf("the referral %s carries no codice fiscale or provisional code: the comune needs one to find the person", req.RecordID))
	case d.Category.Code == "":
		return "", sdk.Fatal(fmt.Errorf("the referral %s has no category", req.RecordID))
	}
	body := nuovaSegnalazione{
		RiferimentoEsterno: riferimento{Sistema: d.Source, ID: d.RecordID},
		CodiceFiscale:      normalise(d.Person.Identifiers.CF), CodiceProvvisorio: normalise(d.Person.Identifiers.Provisional),
		EnteRichiedente: d.Requester.RecordID, EnteDestinatario: d.Owner.RecordID,
		Categoria: d.Category.Code, Priorita: d.Priority, DataSegnalazione: d.AuthoredOn,
	}
	var sg segnalazione
	if _, err := w.cfg.client.do(ctx, http.MethodPost, "/api/v1/segnalazioni", nil, body, &sg); err != nil {
		return "", refused("the referral "+req.RecordID, err)
	}
	if sg.ID == "" {
		return "", sdk.Fatal(fmt.Errorf("the comune accepted the referral %s without giving its id", req.RecordID))
	}
	return sg.ID, nil
}

// origin completes a record's source and record_id from the hub's
// RecordID ("<source>:<record_id>") when the document lacks them.
func origin(source, id, key string) (string, string) {
	if s, i, ok := strings.Cut(key, ":"); ok && s != "" && i != "" {
		source, id = cmp.Or(source, s), cmp.Or(id, i)
	}
	return source, id
}

type incomingEvent struct {
	RecordID string     `json:"record_id"`
	Source   string     `json:"source"`
	Referral ref        `json:"referral"`
	To       string     `json:"to"`
	At       *time.Time `json:"at"`
	SetBy    ref        `json:"set_by"`
	Reason   *coding    `json:"reason"`
}

// nuovoStato is the body of POST /api/v1/segnalazioni/{id}/stati.
type nuovoStato struct {
	IDEvento    string     `json:"id_evento"`
	Stato       string     `json:"stato"`
	Motivo      string     `json:"motivo,omitempty"`
	Il          *time.Time `json:"il,omitempty"`
	ImpostatoDa string     `json:"impostato_da"`
}

func (w *writing) status(ctx context.Context, req sdk.WriteRequest) (string, error) {
	var d incomingEvent
	if err := json.Unmarshal(req.Record, &d); err != nil {
		return "", sdk.Fatal(fmt.Errorf("the status event %s is not JSON of the referral-status-event schema: %v", req.RecordID, redactErr(err)))
	}
	d.Source, d.RecordID = origin(d.Source, d.RecordID, req.RecordID)
	if d.Referral.RecordID == "" || d.To == "" || d.SetBy.RecordID == "" {
		return "", sdk.Fatal(fmt.Errorf("the status event %s has no referral, to or set_by", req.RecordID))
	}
	if d.Source == w.cfg.s.Source {
		return w.ownEvent(ctx, d)
	}
	stato, ok := statusToSystem[d.To]
	if !ok {
		return "", sdk.Fatal(fmt.Errorf("the status event %s sets %q, a status the comune does not know", req.RecordID, d.To))
	}
	motivo := ""
	if d.Reason != nil && d.Reason.Code != "" {
		if motivo, ok = reasonToSystem[d.Reason.Code]; !ok {
			motivo = "altro" // an open list: a reason the comune lacks is "other"
		}
	}
	id, err := w.referralID(ctx, d.Referral, d.Source)
	if err != nil {
		return "", err
	}
	key := req.RecordID
	if key == "" {
		key = d.Source + ":" + d.RecordID
	}
	body := nuovoStato{IDEvento: key, Stato: stato, Motivo: motivo, Il: d.At, ImpostatoDa: d.SetBy.RecordID}
	var ev eventoStato
	if _, err := w.cfg.client.do(ctx, http.MethodPost, "/api/v1/segnalazioni/"+url.PathEscape(id)+"/stati", nil, body, &ev); err != nil {
		return "", refused(fmt.Sprintf("the status event %s (referral %s to %s)", req.RecordID, id, d.To), err)
	}
	if ev.ID == "" {
		return "", sdk.Fatal(fmt.Errorf("the comune accepted the status event %s without giving its id", req.RecordID))
	}
	return ev.ID, nil
}

// referralID finds the comune's id of the referral an event is about:
// its own id for a referral the comune sent, the one it gave a referral
// it received (found by the external reference) otherwise.
func (w *writing) referralID(ctx context.Context, r ref, eventSource string) (string, error) {
	source := r.Source
	if source == "" {
		source = eventSource // a reference without source is to the linking record's source
	}
	if source == w.cfg.s.Source {
		return r.RecordID, nil
	}
	q := url.Values{"sistema_esterno": {source}, "id_esterno": {r.RecordID}, "dimensione": {"1"}}
	var p listPage
	if _, err := w.cfg.client.do(ctx, http.MethodGet, "/api/v1/segnalazioni", q, nil, &p); err != nil {
		return "", refused("the search of a referral by its external reference", err)
	}
	if len(p.Risultati) == 0 {
		// The referral may not have been delivered yet: the hub retries.
		return "", sdk.Transientf("the comune has no referral %s from %s yet: the status change waits for it", r.RecordID, source)
	}
	var h itemHead
	if err := json.Unmarshal(p.Risultati[0], &h); err != nil || h.ID == "" {
		return "", sdk.Fatal(fmt.Errorf("the comune answered the search of referral %s from %s with an item without id", r.RecordID, source))
	}
	return h.ID, nil
}

// ownEvent answers a status change the comune itself made (the
// connector read it): it is there already; its id is returned.
func (w *writing) ownEvent(ctx context.Context, d incomingEvent) (string, error) {
	i := strings.LastIndexByte(d.RecordID, '-')
	if i <= 0 {
		return "", sdk.Fatal(fmt.Errorf("the status event %s is not one of the comune's (<referral id>-<sequence>)", d.RecordID))
	}
	var sg segnalazione
	if _, err := w.cfg.client.do(ctx, http.MethodGet, "/api/v1/segnalazioni/"+url.PathEscape(d.RecordID[:i]), nil, nil, &sg); err != nil {
		return "", refused("to find its own status event "+d.RecordID, err)
	}
	for _, e := range sg.Storia {
		if e.ID == d.RecordID {
			return e.ID, nil
		}
	}
	return "", sdk.Fatal(fmt.Errorf("the comune has no status event %s", d.RecordID))
}
