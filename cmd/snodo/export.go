package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
)

// subjectExport is what "snodo export" writes: everything the hub holds on
// one person.
type subjectExport struct {
	PersonID   string    `json:"person_id"`
	Territory  string    `json:"territory"`
	ExportedAt time.Time `json:"exported_at"`
	// Identifiers are the kinds of identifier the keyed index links to the
	// person and when; the index holds keyed digests only, never the codes.
	Identifiers []exportIdentifier `json:"identifiers"`
	// Records are the person's records by schema, consents apart.
	Records  map[string][]exportRecord `json:"records"`
	Consents []exportRecord            `json:"consents"`
	// MentionedIn are other people's records that refer to the person (a
	// household listing them as a member).
	MentionedIn []exportRecord     `json:"mentioned_in"`
	Referrals   []exportReferral   `json:"referrals"`
	Quarantine  []exportQuarantine `json:"quarantine"`
	// Audit are the audit entries about the person: reads of their
	// records and referrals through the API, exports, erasures.
	Audit []store.AuditEntry `json:"audit"`
}

type exportIdentifier struct {
	Kind     string    `json:"kind"`
	LinkedAt time.Time `json:"linked_at"`
}

type exportRecord struct {
	Schema        string          `json:"schema"`
	SchemaID      string          `json:"schema_id"`
	Source        string          `json:"source"`
	RecordID      string          `json:"record_id"`
	RecordedAt    *time.Time      `json:"recorded_at,omitempty"`
	FirstStoredAt time.Time       `json:"first_stored_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Version       int64           `json:"version"`
	Body          json.RawMessage `json:"body"`
}

func toExportRecord(r store.StoredRecord) exportRecord {
	return exportRecord{Schema: r.Schema, SchemaID: r.SchemaID, Source: r.Source, RecordID: r.RecordID,
		FirstStoredAt: r.FirstStoredAt, UpdatedAt: r.UpdatedAt, Version: r.Version, Body: json.RawMessage(r.Body),
		RecordedAt: optTime(r.RecordedAt)}
}

type exportReferral struct {
	Source       string     `json:"source"`
	RecordID     string     `json:"record_id"`
	Requester    string     `json:"requester"`
	Owner        string     `json:"owner"`
	Priority     string     `json:"priority"`
	Category     string     `json:"category"`
	Status       string     `json:"status"`
	StatusReason string     `json:"status_reason,omitempty"`
	StatusAt     time.Time  `json:"status_at"`
	AuthoredOn   time.Time  `json:"authored_on"`
	RespondedAt  *time.Time `json:"responded_at,omitempty"`
	ClosedAt     *time.Time `json:"closed_at,omitempty"`
	Delivery     string     `json:"delivery"`
	DeliveryNote string     `json:"delivery_note,omitempty"`
	// Target and TargetID name the system the referral was delivered to
	// and its id there: a recipient of the person's data (GDPR art. 15).
	Target      string        `json:"target,omitempty"`
	TargetID    string        `json:"target_id,omitempty"`
	DeliveredAt *time.Time    `json:"delivered_at,omitempty"`
	Events      []exportEvent `json:"events"`
}

// exportEvent is one status change of a referral: its timeline.
type exportEvent struct {
	From       string    `json:"from,omitempty"`
	To         string    `json:"to"`
	Reason     string    `json:"reason,omitempty"`
	SetBy      string    `json:"set_by"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome"`
	Problem    string    `json:"problem,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

func toExportReferral(r store.Referral, events []store.ReferralEvent) exportReferral {
	out := exportReferral{Source: r.Source, RecordID: r.RecordID, Requester: r.Requester, Owner: r.Owner,
		Priority: r.Priority, Category: r.Category, Status: r.Status, StatusReason: r.StatusReason,
		StatusAt: r.StatusAt, AuthoredOn: r.AuthoredOn, RespondedAt: optTime(r.RespondedAt),
		ClosedAt: optTime(r.ClosedAt), Delivery: r.Delivery, DeliveryNote: r.DeliveryNote,
		Target: r.Target, TargetID: r.TargetID, DeliveredAt: optTime(r.DeliveredAt), Events: make([]exportEvent, len(events))}
	for i, e := range events {
		out.Events[i] = exportEvent{From: e.From, To: e.To, Reason: e.Reason, SetBy: e.SetBy, At: e.At,
			Outcome: e.Outcome, Problem: e.Problem, RecordedAt: e.RecordedAt}
	}
	return out
}

type exportQuarantine struct {
	quarantineItem
	// Record is the quarantined record as the source sent it: it may hold
	// the person's identifiers, which are theirs to see.
	Record json.RawMessage `json:"record"`
}

func newExportCmd() *cobra.Command {
	var configPath, personFlag, identifierFlag, outPath string
	cmd := &cobra.Command{
		Use:   "export (--person PERSON_ID | --identifier KIND:CODE) [--out FILE] [--config FILE]",
		Short: "Export everything the hub holds on one person as JSON (subject access)",
		Long: `Export writes, as one JSON document, everything the hub holds on one person, for
a subject-access request: their records by schema, their consents, other
people's records that refer to them, their referrals with each status change,
the quarantined records that name them (as the source sent them), and the
audit entries about them (reads through the API, earlier exports and
erasures). The export itself is written to the audit log, with the person id
and the counts.

Name the person by person id (--person) or by an identifier
(--identifier KIND:CODE): the identifier is pseudonymised with the
territory's key to find the person, and is never stored or logged.

The document holds personal data: --out writes it to a new file readable by
its owner only; without --out it goes to standard output.

Exit status: 0 exported, 1 the person is unknown, 2 usage or I/O error.`,
		Example: `  snodo export --identifier cf:RSSMRA80A01H501U --out request-2025-041.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := openSubjectHub(ctx, configPath, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer h.close()
			sub, err := h.resolveSubject(ctx, personFlag, identifierFlag)
			if err != nil {
				return err
			}
			exp, err := h.collectExport(ctx, sub)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			data, err := json.MarshalIndent(exp, "", "  ")
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("encode the export: %w", err)}
			}
			data = append(data, '\n')
			var f *os.File
			if outPath != "" {
				// A new file, the owner's only: it holds personal data.
				f, err = os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return usageError("export to %s: %v (give a file that does not exist yet)", outPath, err)
				}
			}
			// The export is audited before anything is written: no data
			// leaves without its entry, as with reads through the API.
			n := 0
			for _, rs := range exp.Records {
				n += len(rs)
			}
			detail := map[string]any{"person_id": sub.personID, "records": n, "consents": len(exp.Consents),
				"mentioned_in": len(exp.MentionedIn), "referrals": len(exp.Referrals), "quarantine": len(exp.Quarantine),
				"audit_entries": len(exp.Audit), "to_file": outPath != ""}
			if err := h.st.Audit(context.WithoutCancel(ctx), cliActor(), "person.export", detail); err != nil {
				if f != nil {
					_ = f.Close()
					_ = os.Remove(outPath)
				}
				return &exitError{code: exitUsage, err: fmt.Errorf("write the export to the audit log (nothing was exported): %w", err)}
			}
			if f == nil {
				if _, err := cmd.OutOrStdout().Write(data); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				return nil
			}
			if _, err := f.Write(data); err != nil {
				_ = f.Close()
				return &exitError{code: exitUsage, err: fmt.Errorf("export to %s: %w", outPath, err)}
			}
			if err := f.Close(); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("export to %s: %w", outPath, err)}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported person %s to %s: %d records, %d consents, %d referrals, %d quarantine items, %d audit entries\n",
				sub.personID, outPath, n, len(exp.Consents), len(exp.Referrals), len(exp.Quarantine), len(exp.Audit))
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&personFlag, "person", "", "the person id")
	cmd.Flags().StringVar(&identifierFlag, "identifier", "", "an identifier of the person, KIND:CODE (cf, cf-provisional, stp, eni)")
	cmd.Flags().StringVar(&outPath, "out", "", "write to this new file (mode 0600) instead of standard output")
	return cmd
}

// collectExport reads everything the hub holds on the person.
func (h *subjectHub) collectExport(ctx context.Context, sub subject) (*subjectExport, error) {
	exp := &subjectExport{PersonID: sub.personID, Territory: h.cfg.Territory.Code, ExportedAt: time.Now().UTC(),
		Identifiers: []exportIdentifier{}, Records: map[string][]exportRecord{}, Consents: []exportRecord{},
		MentionedIn: []exportRecord{}, Referrals: []exportReferral{}, Quarantine: []exportQuarantine{}}
	ids, err := h.st.PersonIdentifiers(ctx, sub.personID)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		exp.Identifiers = append(exp.Identifiers, exportIdentifier{Kind: id.Kind, LinkedAt: id.LinkedAt})
	}
	own, mentioned, err := h.st.PersonRecords(ctx, sub.personID)
	if err != nil {
		return nil, err
	}
	for _, r := range own {
		if r.Schema == "consent" {
			exp.Consents = append(exp.Consents, toExportRecord(r))
			continue
		}
		exp.Records[r.Schema] = append(exp.Records[r.Schema], toExportRecord(r))
	}
	for _, r := range mentioned {
		exp.MentionedIn = append(exp.MentionedIn, toExportRecord(r))
	}
	refs, err := h.st.PersonReferrals(ctx, sub.personID)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		events, err := h.st.ReferralEvents(ctx, r.Source, r.RecordID)
		if err != nil {
			return nil, err
		}
		exp.Referrals = append(exp.Referrals, toExportReferral(r, events))
	}
	m, err := h.matchQuarantine(ctx, sub)
	if err != nil {
		return nil, err
	}
	for i, e := range m.items {
		rec := json.RawMessage(m.records[i])
		if !json.Valid(rec) {
			// Not JSON: kept as a string so that the document stays valid.
			rec, _ = json.Marshal(string(m.records[i]))
		}
		exp.Quarantine = append(exp.Quarantine, exportQuarantine{quarantineItem: toQuarantineItem(e), Record: rec})
	}
	if exp.Audit, err = h.st.AuditAbout(ctx, sub.personID, refs); err != nil {
		return nil, err
	}
	if exp.Audit == nil {
		exp.Audit = []store.AuditEntry{}
	}
	return exp, nil
}
