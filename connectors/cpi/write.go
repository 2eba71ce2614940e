package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// segnalazione is the body of POST /segnalazioni.
type segnalazione struct {
	XMLName            xml.Name           `xml:"urn:example:cpi:feed:1 segnalazione"`
	Lavoratore         soggetto           `xml:"lavoratore"`
	Richiedente        string             `xml:"richiedente"`
	Categoria          string             `xml:"categoria"`
	Priorita           string             `xml:"priorita"`
	DataRichiesta      string             `xml:"data-richiesta,omitempty"`
	RiferimentoEsterno riferimentoEsterno `xml:"riferimento-esterno"`
}

// aggiornamentoStato is the body of POST /segnalazioni/{id}/stato.
type aggiornamentoStato struct {
	XMLName     xml.Name `xml:"urn:example:cpi:feed:1 aggiornamento-stato"`
	Stato       string   `xml:"stato"`
	Motivo      string   `xml:"motivo,omitempty"`
	Il          string   `xml:"il,omitempty"`
	Riferimento string   `xml:"riferimento"`
}

// esito is the answer to a POST.
type esito struct {
	XMLName xml.Name `xml:"urn:example:cpi:feed:1 esito"`
	ID      string   `xml:"id"`
	Stato   string   `xml:"stato"`
}

type reference struct {
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
}

type coding struct {
	Code string `json:"code"`
}

// incoming is what Write reads of a referral or a status event.
type incoming struct {
	Schema   string `json:"schema"`
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
	// referral
	Requester  reference `json:"requester"`
	Owner      reference `json:"owner"`
	AuthoredOn string    `json:"authored_on"`
	Priority   string    `json:"priority"`
	Category   coding    `json:"category"`
	Person     struct {
		Identifiers map[string]string `json:"identifiers"`
	} `json:"person"`
	// status event
	Referral reference `json:"referral"`
	To       string    `json:"to"`
	At       string    `json:"at"`
	SetBy    reference `json:"set_by"`
	Reason   *coding   `json:"reason"`
}

// motivi maps referral-status-reason codes to the cpi's motivi of a
// cancellation.
var motivi = map[string]string{
	"person-declined":        "rinuncia",
	"need-resolved":          "bisogno-risolto",
	"duplicate":              "duplicata",
	"not-eligible":           "non-idoneo",
	"out-of-area":            "fuori-territorio",
	"incomplete-information": "dati-incompleti",
	"unreachable":            "irreperibile",
}

// Write delivers a referral (POST /segnalazioni) or a requester's status
// change (POST /segnalazioni/{id}/stato). Both are idempotent in the
// system: by the external reference (the origin's source and record id)
// and by the riferimento of the change (the hub's RecordID).
func (c *Connector) Write(ctx context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	cl, err := c.client(req.Settings)
	if err != nil {
		return sdk.WriteResponse{}, err
	}
	var in incoming
	if err := json.Unmarshal(req.Record, &in); err != nil {
		return sdk.WriteResponse{}, sdk.Fatal(fmt.Errorf("record %s is not a JSON object: %v", req.RecordID, syntaxOnly(err)))
	}
	var id string
	switch req.Schema {
	case SchemaReferral:
		id, err = cl.writeReferral(ctx, req.RecordID, in)
	case SchemaStatusEvent:
		id, err = cl.writeStatus(ctx, req.RecordID, in)
	default:
		err = sdk.Fatal(fmt.Errorf("the cpi takes referrals and referral status events, not %s", req.Schema))
	}
	if err != nil {
		return sdk.WriteResponse{}, err
	}
	return sdk.WriteResponse{TargetID: id}, nil
}

// syntaxOnly keeps a JSON error from quoting the document.
func syntaxOnly(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %s has the wrong type", te.Field)
	}
	return errors.New("invalid JSON")
}

func (cl *client) writeReferral(ctx context.Context, key string, in incoming) (string, error) {
	if in.Source == "" || in.RecordID == "" {
		return "", sdk.Fatal(fmt.Errorf("referral %s: source and record_id are required (the external reference)", key))
	}
	if in.Owner.RecordID != cl.st.Organisation {
		return "", sdk.Fatal(fmt.Errorf("referral %s: its owner %q is not this system's organisation %q", key, in.Owner.RecordID, cl.st.Organisation))
	}
	body := segnalazione{
		Richiedente:        in.Requester.RecordID,
		Categoria:          in.Category.Code,
		Priorita:           in.Priority,
		RiferimentoEsterno: riferimentoEsterno{Fonte: in.Source, ID: in.RecordID},
	}
	ids := in.Person.Identifiers
	switch {
	case ids["cf"] != "":
		body.Lavoratore.CodiceFiscale = normalise(ids["cf"])
	case ids["cf-provisional"] != "":
		body.Lavoratore.CodiceProvvisorio = normalise(ids["cf-provisional"])
	default:
		return "", sdk.Fatal(fmt.Errorf("referral %s: the cpi needs the person's codice fiscale or provisional code, and the referral has neither", key))
	}
	if t, err := time.Parse(time.RFC3339, in.AuthoredOn); err == nil {
		body.DataRichiesta = t.Format(time.DateOnly)
	}
	e, err := cl.post(ctx, "/segnalazioni", body)
	if err != nil {
		return "", refused(err, "referral "+key)
	}
	return e.ID, nil
}

func (cl *client) writeStatus(ctx context.Context, key string, in incoming) (string, error) {
	origin := reference{RecordID: in.Referral.RecordID, Source: in.Referral.Source}
	if origin.Source == "" {
		origin.Source = in.Source
	}
	if origin.RecordID == "" || origin.Source == "" {
		return "", sdk.Fatal(fmt.Errorf("status event %s: referral record_id and source are required", key))
	}
	if in.SetBy.RecordID == cl.st.Organisation {
		// The centre's own change, read from its feed: it is in the
		// system already.
		if in.RecordID == "" {
			return "", sdk.Fatal(fmt.Errorf("status event %s: record_id is required", key))
		}
		return in.RecordID, nil
	}
	id, err := cl.findReferral(ctx, origin)
	if err != nil {
		return "", err
	}
	switch in.To {
	case "cancelled", "entered-in-error":
	case "draft", "requested":
		return id, nil // nothing to change in the cpi
	default:
		return "", sdk.Fatal(fmt.Errorf("status event %s: the cpi takes only cancellations from the requester, not %q", key, in.To))
	}
	body := aggiornamentoStato{Stato: "annullata", Riferimento: key}
	if in.Reason != nil {
		body.Motivo = motivi[in.Reason.Code]
	}
	if in.To == "entered-in-error" || (in.Reason != nil && body.Motivo == "") {
		body.Motivo = "altro"
	}
	if t, err := time.Parse(time.RFC3339, in.At); err == nil {
		body.Il = t.Format(time.RFC3339)
	}
	if _, err := cl.post(ctx, "/segnalazioni/"+url.PathEscape(id)+"/stato", body); err != nil {
		return "", refused(err, "status event "+key)
	}
	return id, nil
}

// refused classes an answer the system gave to a POST: 4xx other than
// 401, 403 and 429 refuse the record for good.
func refused(err error, what string) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return sdk.Fatal(fmt.Errorf("%s refused by the cpi: %w", what, ae))
	}
	return err
}

func (cl *client) post(ctx context.Context, path string, body any) (*esito, error) {
	data, err := xml.Marshal(body)
	if err != nil {
		return nil, sdk.Fatal(fmt.Errorf("encoding the XML body: %w", err))
	}
	data = append([]byte(xml.Header), data...)
	status, answer, err := cl.do(ctx, http.MethodPost, path, data)
	if err != nil {
		return nil, err
	}
	var e esito
	if err := xml.Unmarshal(answer, &e); err != nil || e.ID == "" {
		return nil, sdk.Transient(fmt.Errorf("cpi POST %s: HTTP %d without an esito with an id", path, status))
	}
	return &e, nil
}

// findReferral finds the cpi's id of the referral with the given external
// reference in the feed (the system has no search by it).
func (cl *client) findReferral(ctx context.Context, origin reference) (string, error) {
	var dal int64
	for {
		page, err := cl.feed(ctx, dal, maxPageSize)
		if err != nil {
			return "", err
		}
		for _, v := range page.Voci {
			dal = max(dal, v.Sequenza)
			if v.Stato != nil && v.Stato.RiferimentoEsterno == (riferimentoEsterno{Fonte: origin.Source, ID: origin.RecordID}) {
				return v.Stato.Segnalazione, nil
			}
			if v.Segnalazione != nil && v.Segnalazione.RiferimentoEsterno == (riferimentoEsterno{Fonte: origin.Source, ID: origin.RecordID}) {
				return v.ID, nil
			}
		}
		if len(page.Voci) == 0 || !page.hasNext() {
			return "", sdk.Transientf("referral %s of %s is not (yet) in the cpi", origin.RecordID, origin.Source)
		}
	}
}
