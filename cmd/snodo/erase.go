package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/snodo-hub/snodo/hub/keyring"
	"github.com/snodo-hub/snodo/hub/seal"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/schemas"
)

// subjectHub is a hub opened for a command about one person: its store
// and the territory's key, which pseudonymises the identifier given and
// opens the sealed quarantine items. It starts no pipeline.
type subjectHub struct {
	*pipelineHub
	key identity.Key
}

func openSubjectHub(ctx context.Context, configPath string, stderr io.Writer) (*subjectHub, error) {
	h, err := openPipelineHub(ctx, configPath, stderr, false)
	if err != nil {
		return nil, err
	}
	key, err := keyring.LoadIdentityKey(h.cfg.Path(h.cfg.Keys.Pseudonymisation))
	if err != nil {
		h.close()
		return nil, &exitError{code: exitUsage, err: err}
	}
	return &subjectHub{pipelineHub: h, key: key}, nil
}

// subject is the person a data-protection command is about.
type subject struct {
	personID string
	// code is the identifier given with --identifier, normalised; the
	// zero Code when the person was named by id. It is never printed,
	// logged or stored: identity.Code masks itself when formatted.
	code identity.Code
}

// parseIdentifierFlag reads --identifier KIND:CODE. Its errors never
// quote the code.
func parseIdentifierFlag(v string) (identity.Code, error) {
	kind, code, ok := strings.Cut(v, ":")
	if !ok || kind == "" || code == "" {
		return identity.Code{}, usageError("--identifier takes KIND:CODE, e.g. cf:RSSMRA80A01H501U (kinds: %s, %s, %s, %s)",
			identity.KindCF, identity.KindProvisional, identity.KindSTP, identity.KindENI)
	}
	c, err := identity.ParseKind(identity.Kind(strings.ToLower(strings.TrimSpace(kind))), code)
	if err != nil {
		// *identity.InvalidError names a position, never the code.
		return identity.Code{}, usageError("--identifier: %v", err)
	}
	return c, nil
}

// resolveSubject finds the person of --person or --identifier (exactly
// one is given) in the keyed index. An identifier is pseudonymised with
// the territory's key and looked up by its digest.
func (h *subjectHub) resolveSubject(ctx context.Context, personFlag, identifierFlag string) (subject, error) {
	switch {
	case (personFlag == "") == (identifierFlag == ""):
		return subject{}, usageError("name the person with --person PERSON_ID or --identifier KIND:CODE (one of them)")
	case personFlag != "":
		id := strings.ToUpper(strings.TrimSpace(personFlag))
		if !identity.ValidPersonID(id) {
			// The value is not quoted: it may be an identifier given by
			// mistake.
			return subject{}, usageError("--person: that is not a person id (26 characters, as the API and the dashboard show them); to name a person by codice fiscale or STP/ENI code use --identifier KIND:CODE")
		}
		ok, err := h.st.PersonExists(ctx, id)
		if err != nil {
			return subject{}, &exitError{code: exitUsage, err: err}
		}
		if !ok {
			return subject{}, &exitError{code: exitFindings, err: fmt.Errorf(
				"person %s is not in this hub's keyed index (%s): check the id, or name the person with --identifier KIND:CODE", id, h.cfg.File)}
		}
		return subject{personID: id}, nil
	}
	code, err := parseIdentifierFlag(identifierFlag)
	if err != nil {
		return subject{}, err
	}
	id, found, err := h.st.PersonByDigest(ctx, h.key.Digest(code))
	if err != nil {
		return subject{}, &exitError{code: exitUsage, err: err}
	}
	if !found {
		return subject{}, &exitError{code: exitFindings, err: fmt.Errorf(
			"no person of this hub has that %s: the hub holds nothing found by it (check the code, and that --config names this territory's hub)", code.Kind)}
	}
	return subject{personID: id, code: code}, nil
}

// quarantineMatch is the quarantine items that name a person, and those
// that could not be opened to tell.
type quarantineMatch struct {
	items      []store.QuarantineEntry
	records    [][]byte // the opened record of each item
	unreadable int
}

// matchQuarantine opens every quarantine item (dropped and replayed ones
// too: they still hold the record) and keeps those that name the person:
// an identifier whose keyed digest is one of the person's, their person
// id, or — for a record that is not JSON — the identifier given, in its
// normalised form. Items that do not open (sealed with another key) are
// counted, not matched.
func (h *subjectHub) matchQuarantine(ctx context.Context, sub subject) (quarantineMatch, error) {
	var m quarantineMatch
	ids, err := h.st.PersonIdentifiers(ctx, sub.personID)
	if err != nil {
		return m, &exitError{code: exitUsage, err: err}
	}
	digests := map[string]bool{}
	for _, id := range ids {
		digests[string(id.Digest)] = true
	}
	sealer, err := seal.New(h.key, seal.Quarantine)
	if err != nil {
		return m, &exitError{code: exitUsage, err: err}
	}
	var after int64
	for {
		page, err := h.st.AllQuarantine(ctx, after, 500)
		if err != nil {
			return m, &exitError{code: exitUsage, err: err}
		}
		for _, e := range page {
			raw, err := sealer.Open(e.Raw, e.Source, e.RecordID)
			if err != nil {
				m.unreadable++
				continue
			}
			if namesPerson(raw, sub, digests, h.key) {
				m.items = append(m.items, e)
				m.records = append(m.records, raw)
			}
		}
		if len(page) < 500 {
			return m, nil
		}
		after = page[len(page)-1].ID
	}
}

// namesPerson reports whether a quarantined record refers to the person.
func namesPerson(raw []byte, sub subject, digests map[string]bool, key identity.Key) bool {
	doc, err := schemas.Decode(raw)
	if err != nil {
		// Not JSON: only the identifier given can be looked for.
		return sub.code.Value != "" && bytes.Contains([]byte(identity.Normalise(string(raw))), []byte(sub.code.Value))
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		if found {
			return
		}
		switch n := v.(type) {
		case map[string]any:
			if pid, ok := n["person_id"].(string); ok && strings.EqualFold(strings.TrimSpace(pid), sub.personID) {
				found = true
				return
			}
			if ids, ok := n["identifiers"].(map[string]any); ok {
				for k, val := range ids {
					s, ok := val.(string)
					if !ok {
						continue
					}
					c, err := identity.ParseKind(identity.Kind(k), s)
					if err == nil && digests[string(key.Digest(c))] {
						found = true
						return
					}
					// An invalid code (why the record is quarantined,
					// perhaps) has no digest: compare it as given.
					if err != nil && sub.code.Value != "" && identity.Normalise(s) == sub.code.Value {
						found = true
						return
					}
				}
			}
			for _, item := range n {
				walk(item)
			}
		case []any:
			for _, item := range n {
				walk(item)
			}
		}
	}
	walk(doc)
	return found
}

func newEraseCmd() *cobra.Command {
	var configPath, personFlag, identifierFlag string
	var dryRun, yes, asJSON bool
	cmd := &cobra.Command{
		Use:   "erase (--person PERSON_ID | --identifier KIND:CODE) (--dry-run | --yes) [--config FILE] [--json]",
		Short: "Erase everything the hub holds on one person (right to erasure)",
		Long: `Erase deletes, in one transaction, everything the hub holds on one person: their
records, their entries in the keyed index, their referrals with their status
history, sealed delivery envelopes and pending deliveries, and the quarantined
records that name them. The erasure is written to the audit log with the
person id and the counts only.

Name the person by person id (--person) or by an identifier
(--identifier KIND:CODE, kinds cf, cf-provisional, stp, eni): the identifier is
pseudonymised with the territory's key to find the person, and is never
stored, logged or printed.

It asks no question, so that it can be scripted: --dry-run prints what would
go, and nothing is deleted without --yes. The hub cannot take back what it
has already sent: statistics released before hold no person, and a referral
delivered to another organisation's system must be erased there too. Erase
the person at the source as well, or the next read brings them back (as a
new person id).

Records of other people that refer to the person (a household listing them
as a member) are not deleted: they are counted as "mentioned in", and the
person id there no longer leads to any identifier.

Exit status: 0 done (or nothing to erase), 1 the person is unknown, 2 usage
or I/O error.`,
		Example: `  snodo erase --identifier cf:RSSMRA80A01H501U --dry-run
  snodo erase --person 01J8Z3K4M5N6P7Q8R9S0T1V2W3 --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dryRun == yes {
				return usageError("erasing cannot be undone: run with --dry-run to see what would be deleted, then with --yes to delete it")
			}
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
			m, err := h.matchQuarantine(ctx, sub)
			if err != nil {
				return err
			}
			qids := make([]int64, len(m.items))
			for i, e := range m.items {
				qids[i] = e.ID
			}
			actor := ""
			if !dryRun {
				actor = cliActor()
			}
			e, err := h.st.ErasePerson(context.WithoutCancel(ctx), sub.personID, qids, dryRun, actor)
			if errors.Is(err, store.ErrLogNotCleared) {
				// Erased: the log's copy goes at a later checkpoint.
				fmt.Fprintln(cmd.ErrOrStderr(), "snodo: warning:", store.ErrLogNotCleared)
			} else if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if !dryRun {
				h.log.Info("person erased", "records", e.Records, "identifiers", e.Identifiers, "referrals", e.Referrals,
					"envelopes", e.Envelopes, "quarantine", e.Quarantine)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"person_id": sub.personID, "dry_run": dryRun, "deleted": e,
					"quarantine_unreadable": m.unreadable})
			}
			verb := "erased"
			if dryRun {
				verb = "would erase (dry run: nothing deleted)"
			}
			fmt.Fprintf(out, "person %s: %s\n", sub.personID, verb)
			for _, row := range []struct {
				n    int64
				what string
			}{
				{e.Records, "records"}, {e.Identifiers, "keyed-index entries"}, {e.Referrals, "referrals"},
				{e.ReferralEvents, "referral status events"}, {e.StatusRecords, "status-event records"},
				{e.Envelopes, "sealed delivery envelopes"}, {e.Outbox, "delivery messages"}, {e.Quarantine, "quarantine items"},
			} {
				fmt.Fprintf(out, "  %6d %s\n", row.n, row.what)
			}
			if e.MentionedIn > 0 {
				fmt.Fprintf(out, "  %d records of other people still refer to this person id (a household's members, say): they are kept\n", e.MentionedIn)
			}
			if m.unreadable > 0 {
				fmt.Fprintf(out, "  %d quarantine items could not be opened with this hub's key and were not checked\n", m.unreadable)
			}
			if dryRun {
				fmt.Fprintln(cmd.ErrOrStderr(), "to delete it: run the same command with --yes instead of --dry-run")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&personFlag, "person", "", "the person id")
	cmd.Flags().StringVar(&identifierFlag, "identifier", "", "an identifier of the person, KIND:CODE (cf, cf-provisional, stp, eni)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted; delete nothing")
	cmd.Flags().BoolVar(&yes, "yes", false, "delete (erasure cannot be undone)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
