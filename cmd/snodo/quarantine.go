package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/pipeline"
	"github.com/snodo-hub/snodo/hub/store"
)

func newQuarantineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List, show, replay and drop the records the pipeline could not accept",
		Long: `The quarantine holds the records the pipeline could not accept: a record that
does not follow its schema, an invalid identifier, identifiers of two people in
one record, a record from the wrong source or territory, or a batch the store
kept refusing. Each item keeps every error — a JSON pointer into the record
and a message — and the record itself, encrypted with the territory's key
(it may hold personal identifiers): it is never shown.

After the cause is fixed, "replay" runs the records through the pipeline
again. When the cause was the connector's mapping, fix the mapping, read the
source again ("snodo ingest --connector NAME --once --from-start"), then
replay: the copies the source has now delivered right are cleared.`,
	}
	cmd.AddCommand(newQuarantineListCmd(), newQuarantineShowCmd(), newQuarantineReplayCmd(), newQuarantineDropCmd())
	return cmd
}

// quarantineItem is a quarantine entry as the commands print it: never
// the sealed record, only its size.
type quarantineItem struct {
	ID          int64                   `json:"id"`
	Source      string                  `json:"source"`
	RecordID    string                  `json:"record_id"`
	Schema      string                  `json:"schema"`
	Errors      []store.QuarantineError `json:"errors"`
	SealedBytes int                     `json:"sealed_bytes"`
	CreatedAt   time.Time               `json:"created_at"`
	ReplayedAt  *time.Time              `json:"replayed_at,omitempty"`
	DroppedAt   *time.Time              `json:"dropped_at,omitempty"`
}

func toQuarantineItem(e store.QuarantineEntry) quarantineItem {
	it := quarantineItem{ID: e.ID, Source: e.Source, RecordID: e.RecordID, Schema: e.Schema,
		Errors: e.Errors, SealedBytes: len(e.Raw), CreatedAt: e.CreatedAt}
	if !e.ReplayedAt.IsZero() {
		it.ReplayedAt = &e.ReplayedAt
	}
	if !e.DroppedAt.IsZero() {
		it.DroppedAt = &e.DroppedAt
	}
	if it.Errors == nil {
		it.Errors = []store.QuarantineError{}
	}
	return it
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	return nil
}

func pointerText(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// listQuarantine reads every item the filter selects, page by page.
func listQuarantine(ctx context.Context, st *store.Store, f store.QuarantineFilter) ([]store.QuarantineEntry, error) {
	var out []store.QuarantineEntry
	f.Limit = 1000
	for {
		page, err := st.ListQuarantine(ctx, f)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}

func newQuarantineListCmd() *cobra.Command {
	var configPath, source string
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--source NAME] [--all] [--config FILE] [--json]",
		Short: "List the quarantined records awaiting attention",
		Long: `List prints one line per quarantined record: its id, source, record id, schema
and first error (use "show ID" for all of them). Records replayed already are
left out unless --all is given; dropped ones are never listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := openPipelineHub(ctx, configPath, cmd.ErrOrStderr(), false)
			if err != nil {
				return err
			}
			defer h.close()
			list, err := listQuarantine(ctx, h.st, store.QuarantineFilter{Source: source, PendingOnly: !all})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				items := make([]quarantineItem, len(list))
				for i, e := range list {
					items[i] = toQuarantineItem(e)
				}
				return writeJSON(out, map[string]any{"items": items})
			}
			if len(list) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "the quarantine is empty")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSOURCE\tRECORD\tSCHEMA\tFIRST ERROR")
			for _, e := range list {
				first := ""
				if len(e.Errors) > 0 {
					first = pointerText(e.Errors[0].Pointer) + ": " + e.Errors[0].Message
					if more := len(e.Errors) - 1; more > 0 {
						first += fmt.Sprintf(" (+%d more)", more)
					}
				}
				if !e.ReplayedAt.IsZero() {
					first = "[replayed] " + first
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.Source, orDash(e.RecordID), orDash(e.Schema), first)
			}
			if err := tw.Flush(); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&source, "source", "", "only the records of this connector instance")
	cmd.Flags().BoolVar(&all, "all", false, "include the records replayed already")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// parseIDs reads quarantine item ids.
func parseIDs(args []string) ([]int64, error) {
	ids := make([]int64, len(args))
	for i, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return nil, usageError("%q is not a quarantine item id: give the number \"snodo quarantine list\" shows", a)
		}
		ids[i] = id
	}
	return ids, nil
}

func newQuarantineShowCmd() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID [--config FILE] [--json]",
		Short: "Show every error of a quarantined record",
		Long: `Show prints a quarantined record's source, record id and schema and every error
— its JSON pointer and message. The record itself is kept encrypted and is
never shown: it may hold personal identifiers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ids, h, err := openForItems(cmd, args, configPath, false)
			if err != nil {
				return err
			}
			defer h.close()
			e, ok, err := h.st.Quarantine(ctx, ids[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if !ok {
				return &exitError{code: exitFindings, err: fmt.Errorf("no quarantine item %d", ids[0])}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, toQuarantineItem(e))
			}
			fmt.Fprintf(out, "quarantine item %d\n", e.ID)
			fmt.Fprintf(out, "  source      %s\n", e.Source)
			fmt.Fprintf(out, "  record id   %s\n", orDash(e.RecordID))
			fmt.Fprintf(out, "  schema      %s\n", orDash(e.Schema))
			fmt.Fprintf(out, "  since       %s\n", e.CreatedAt.Local().Format(time.DateTime))
			switch {
			case !e.DroppedAt.IsZero():
				fmt.Fprintf(out, "  dropped     %s\n", e.DroppedAt.Local().Format(time.DateTime))
			case !e.ReplayedAt.IsZero():
				fmt.Fprintf(out, "  replayed    %s\n", e.ReplayedAt.Local().Format(time.DateTime))
			}
			fmt.Fprintf(out, "  record      %d bytes, kept encrypted (never shown)\n", len(e.Raw))
			fmt.Fprintf(out, "errors (%d):\n", len(e.Errors))
			for _, q := range e.Errors {
				fmt.Fprintf(out, "  %s: %s\n", pointerText(q.Pointer), q.Message)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// replayJSON is one replay result, for --json.
type replayJSON struct {
	ID       int64                   `json:"id"`
	Source   string                  `json:"source"`
	RecordID string                  `json:"record_id"`
	Schema   string                  `json:"schema"`
	Outcome  pipeline.ReplayOutcome  `json:"outcome"`
	Stored   string                  `json:"stored,omitempty"`
	Errors   []store.QuarantineError `json:"errors,omitempty"`
	Reason   string                  `json:"reason,omitempty"`
}

func newQuarantineReplayCmd() *cobra.Command {
	var configPath string
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "replay [ID... | --all] [--config FILE] [--json]",
		Short: "Run quarantined records through the pipeline again",
		Long: `Replay opens the quarantined records and runs them through the pipeline's
checks again: those that pass now are stored and leave the quarantine; those
that still fail stay, with the errors they fail with now. A record that the
source has delivered again since, and that is stored, is not overwritten with
the older copy: it leaves the quarantine as superseded.

Replay fixes what the hub decides: the schemas and code lists (after an
upgrade), the territory or connector names in snodo.yaml, the keyed index, a
store that was failing. The records keep what the connector made of the
source's rows: after a fix of the connector's mapping, read the source again
first ("snodo ingest --connector NAME --once --from-start").

Exit status: 0 every record replayed left the quarantine, 1 some still fail
(or were not found), 2 usage or I/O error.`,
		Example: `  snodo quarantine replay 12 13
  snodo quarantine replay --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError("give the ids of the records to replay, or --all")
			}
			ctx := cmd.Context()
			ids, h, err := openForItems(cmd, args, configPath, true)
			if err != nil {
				return err
			}
			defer h.close()
			if all {
				list, err := listQuarantine(ctx, h.st, store.QuarantineFilter{PendingOnly: true})
				if err != nil {
					return err
				}
				for _, e := range list {
					ids = append(ids, e.ID)
				}
			}
			results, rerr := h.p.Replay(ctx, ids...)
			counts := map[pipeline.ReplayOutcome]int{}
			for _, r := range results {
				counts[r.Outcome]++
			}
			detail := map[string]int{"items": len(ids)}
			for o, n := range counts {
				detail[string(o)] = n
			}
			if err := h.st.Audit(context.WithoutCancel(ctx), cliActor(), "quarantine.replay", detail); err != nil {
				h.log.Error("record the replay in the audit log", "error", err)
			}
			if rerr != nil {
				return &exitError{code: exitUsage, err: rerr}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]replayJSON, len(results))
				for i, r := range results {
					list[i] = replayJSON{ID: r.ID, Source: r.Source, RecordID: r.RecordID, Schema: r.Schema,
						Outcome: r.Outcome, Errors: r.Errors, Reason: r.Reason}
					if r.Stored != 0 {
						list[i].Stored = r.Stored.String()
					}
				}
				if err := writeJSON(out, map[string]any{"results": list}); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					line := fmt.Sprintf("%d %s %s: %s", r.ID, r.Source, orDash(r.RecordID), r.Outcome)
					switch r.Outcome {
					case pipeline.ReplayStored:
						line += " (" + r.Stored.String() + ")"
					case pipeline.ReplayFailed:
						parts := make([]string, len(r.Errors))
						for i, q := range r.Errors {
							parts[i] = pointerText(q.Pointer) + ": " + q.Message
						}
						line += ": " + strings.Join(parts, "; ")
					case pipeline.ReplaySkipped:
						line += ": " + r.Reason
					}
					fmt.Fprintln(out, line)
				}
				fmt.Fprintf(out, "%d stored, %d superseded, %d still failing, %d skipped\n",
					counts[pipeline.ReplayStored], counts[pipeline.ReplaySuperseded], counts[pipeline.ReplayFailed], counts[pipeline.ReplaySkipped])
			}
			if n := counts[pipeline.ReplayFailed] + counts[pipeline.ReplaySkipped]; n > 0 {
				if counts[pipeline.ReplayFailed] > 0 && !asJSON {
					fmt.Fprintln(cmd.ErrOrStderr(), `snodo: if the connector's mapping was fixed, read its source again first: snodo ingest --connector NAME --once --from-start`)
				}
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&all, "all", false, "replay every record awaiting attention")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newQuarantineDropCmd() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drop ID... [--config FILE] [--json]",
		Short: "Give up on quarantined records: they are no longer listed or counted",
		Long: `Drop marks quarantined records as given up: they are no longer listed,
counted or replayed. The items stay in the database (encrypted) and every drop
is written to the audit log.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ids, h, err := openForItems(cmd, args, configPath, false)
			if err != nil {
				return err
			}
			defer h.close()
			actor := cliActor()
			dropped := []int64{}
			for _, id := range ids {
				e, ok, err := h.st.Quarantine(ctx, id)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if !ok {
					return &exitError{code: exitFindings, err: fmt.Errorf("no quarantine item %d", id)}
				}
				err = h.st.Write(ctx, func(tx *store.Tx) error {
					if err := tx.MarkDropped(ctx, id); err != nil {
						return err
					}
					return tx.Audit(ctx, actor, "quarantine.drop", map[string]any{
						"id": id, "source": e.Source, "record_id": e.RecordID, "schema": e.Schema, "errors": len(e.Errors)})
				})
				if errors.Is(err, store.ErrNotFound) {
					return &exitError{code: exitFindings, err: err}
				}
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				dropped = append(dropped, id)
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "quarantine item %d dropped\n", id)
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"dropped": dropped})
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// openForItems parses the quarantine ids given and opens the hub (with its
// pipeline when withPipeline), for the subcommands that act on items.
func openForItems(cmd *cobra.Command, args []string, configPath string, withPipeline bool) ([]int64, *pipelineHub, error) {
	ids, err := parseIDs(args)
	if err != nil {
		return nil, nil, err
	}
	h, err := openPipelineHub(cmd.Context(), configPath, cmd.ErrOrStderr(), withPipeline)
	if err != nil {
		return nil, nil, err
	}
	return ids, h, nil
}
