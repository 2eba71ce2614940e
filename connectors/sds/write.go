package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/plugins/sdk"
)

// Inbox columns, as the PUA accepts them.
var (
	inboxReferralHeader = []string{"chiave", "fonte", "id_esterno", "ente_richiedente", "ente_destinatario",
		"codice_fiscale", "codice_provvisorio", "codice_stp", "codice_eni", "categoria", "tipo_servizio", "priorita", "data_ora_richiesta"}
	inboxStatusHeader = []string{"chiave", "id_segnalazione", "fonte", "id_esterno", "stato", "motivo", "data_ora", "impostato_da"}
)

// The sub-folders where the system moves inbox files it took in or refused.
var inboxDone = []string{"elaborati", "scartati"}

// inboxKey is the file key of a delivery: the same (schema, record id)
// gives the same key, so a repeated Write finds its file.
func inboxKey(schema, recordID string) string {
	h := sha256.Sum256([]byte(schema + "\n" + recordID))
	return hex.EncodeToString(h[:10])
}

// Write delivers a referral or a status change to the inbox as one CSV
// file, idempotently: the target id is "IN-<key>", the protocol of the
// inbox document, the same for the same (schema, record id).
func (c *Connector) Write(_ context.Context, req sdk.WriteRequest) (sdk.WriteResponse, error) {
	st, err := settings(req.Settings)
	if err != nil {
		return sdk.WriteResponse{}, err
	}
	if req.RecordID == "" {
		return sdk.WriteResponse{}, sdk.Fatal(errors.New("write without a record id"))
	}
	key := inboxKey(req.Schema, req.RecordID)
	var name string
	var header, row []string
	switch req.Schema {
	case SchemaReferral:
		if id, ok := ownReferral(st, req.Record); ok {
			// A referral this system sent (read from its export): it is
			// in the system already; there is nothing to deliver.
			return sdk.WriteResponse{TargetID: id}, nil
		}
		name = "segnalazione_" + key + ".csv"
		header = inboxReferralHeader
		row, err = referralRow(st, key, req.Record)
	case SchemaStatusEvent:
		name = "stato_" + key + ".csv"
		header = inboxStatusHeader
		row, err = statusRow(st, key, req.Record)
	default:
		return sdk.WriteResponse{}, sdk.Fatal(fmt.Errorf("the sds connector does not accept %s", req.Schema))
	}
	if err != nil {
		return sdk.WriteResponse{}, sdk.Fatal(err)
	}
	resp := sdk.WriteResponse{TargetID: "IN-" + key}
	if err := folderState(st.Inbox, "/inbox"); err != nil {
		return sdk.WriteResponse{}, err
	}
	if row == nil { // nothing for the system to do
		return resp, nil
	}
	for _, dir := range append([]string{""}, inboxDone...) {
		_, err := os.Stat(filepath.Join(st.Inbox, dir, name))
		if err == nil {
			return resp, nil // delivered before
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return sdk.WriteResponse{}, sdk.Transient(fmt.Errorf("inbox: %w", err))
		}
	}
	data, err := encodeLatin1CSV(header, row)
	if err != nil {
		return sdk.WriteResponse{}, sdk.Fatal(err)
	}
	if err := writeAtomic(st.Inbox, name, data); err != nil {
		return sdk.WriteResponse{}, sdk.Transient(fmt.Errorf("write to the inbox: %w", err))
	}
	c.log().Info("delivered to the inbox", "schema", req.Schema, "file", name)
	return resp, nil
}

type inRef struct {
	RecordID string `json:"record_id"`
	Source   string `json:"source"`
}

type inCoding struct {
	Code string `json:"code"`
}

// ownReferral reports whether raw is a referral the health society sent,
// as its connector read it (its source is this instance's), and its id.
func ownReferral(st Settings, raw []byte) (string, bool) {
	var r struct {
		RecordID  string `json:"record_id"`
		Source    string `json:"source"`
		Requester inRef  `json:"requester"`
	}
	if json.Unmarshal(raw, &r) != nil || r.RecordID == "" {
		return "", false
	}
	return r.RecordID, r.Source == st.Source && r.Requester.RecordID == st.Organisation
}

func referralRow(st Settings, key string, raw []byte) ([]string, error) {
	var r struct {
		RecordID   string   `json:"record_id"`
		Source     string   `json:"source"`
		Requester  inRef    `json:"requester"`
		Owner      inRef    `json:"owner"`
		AuthoredOn string   `json:"authored_on"`
		Priority   string   `json:"priority"`
		Category   inCoding `json:"category"`
		Service    inCoding `json:"service_type"`
		Person     struct {
			Identifiers map[string]string `json:"identifiers"`
		} `json:"person"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, errors.New("the referral is not a JSON object of the referral schema")
	}
	if r.RecordID == "" || r.Source == "" {
		return nil, errors.New("the referral has no record_id or source")
	}
	if r.Owner.RecordID != st.Organisation {
		return nil, fmt.Errorf("the referral's owner is %q, not this health society (%s)", r.Owner.RecordID, st.Organisation)
	}
	if r.Requester.RecordID == "" || r.Category.Code == "" {
		return nil, errors.New("the referral has no requester or category")
	}
	prio := ""
	for it, code := range priorityCodes {
		if code == r.Priority {
			prio = it
		}
	}
	if prio == "" {
		return nil, errors.New("the referral's priority is not a referral-priority code")
	}
	ids := r.Person.Identifiers
	if ids["cf"] == "" && ids["cf-provisional"] == "" && ids["stp"] == "" && ids["eni"] == "" {
		return nil, errors.New("the referral carries no person identifier the PUA can use (cf, cf-provisional, stp, eni)")
	}
	when := ""
	if t, err := time.Parse(time.RFC3339, r.AuthoredOn); err == nil {
		when = t.In(st.loc).Format(timeLayout)
	}
	return []string{key, r.Source, r.RecordID, r.Requester.RecordID, r.Owner.RecordID,
		ids["cf"], ids["cf-provisional"], ids["stp"], ids["eni"], r.Category.Code, r.Service.Code, prio, when}, nil
}

func statusRow(st Settings, key string, raw []byte) ([]string, error) {
	var e struct {
		Referral inRef    `json:"referral"`
		To       string   `json:"to"`
		At       string   `json:"at"`
		SetBy    inRef    `json:"set_by"`
		Reason   inCoding `json:"reason"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, errors.New("the status event is not a JSON object of the referral-status-event schema")
	}
	if e.Referral.RecordID == "" || e.SetBy.RecordID == "" {
		return nil, errors.New("the status event has no referral or set_by")
	}
	if e.To == "draft" || e.To == "requested" {
		return nil, nil // the referral's delivery carries it
	}
	stato := ""
	for it, code := range statusCodes {
		if code == e.To && it != "inviata" && it != "ricevuta" {
			stato = it
		}
	}
	if stato == "" {
		return nil, fmt.Errorf("status %q has no equivalent in the PUA", e.To)
	}
	motivo := ""
	if e.Reason.Code != "" {
		motivo = "altro"
		for it, code := range reasonCodes {
			if code == e.Reason.Code {
				motivo = it
			}
		}
	}
	at := ""
	if t, err := time.Parse(time.RFC3339, e.At); err == nil {
		at = t.In(st.loc).Format(timeLayout)
	}
	// The PUA finds its own referrals by id, received ones by their origin.
	id, src, ext := "", e.Referral.Source, e.Referral.RecordID
	if src == "" || src == st.Source {
		id, src, ext = e.Referral.RecordID, "", ""
	}
	return []string{key, id, src, ext, stato, motivo, at, e.SetBy.RecordID}, nil
}

// encodeLatin1CSV renders a header and a row as the PUA wants them:
// semicolons, CRLF, ISO-8859-1 (other characters become '?').
func encodeLatin1CSV(header, row []string) ([]byte, error) {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Comma = ';'
	w.UseCRLF = true
	if err := w.Write(header); err != nil {
		return nil, err
	}
	if err := w.Write(row); err != nil {
		return nil, err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	out := make([]byte, 0, b.Len())
	for _, r := range b.String() {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = append(out, '?')
		}
	}
	return out, nil
}

// writeAtomic writes through a hidden temporary file and a rename, so the
// system never takes in half a file.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, 0o644)
	}
	if werr == nil {
		werr = os.Rename(tmp, filepath.Join(dir, name))
	}
	if werr != nil {
		os.Remove(tmp)
	}
	return werr
}
