package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
)

// retentionActor names the daily retention of "snodo run" in the audit
// log: no one typed a command.
const retentionActor = "snodo run (daily retention)"

// retentionInterval is how often "snodo run" applies the retention.
const retentionInterval = 24 * time.Hour

// applyRetention applies the configured retention once and logs what it
// deleted, by schema: counts only, never an id. actor is who the audit log
// names ("" with dryRun, which writes nothing).
func applyRetention(ctx context.Context, st *store.Store, months map[string]int, dryRun bool, actor string, log *slog.Logger) (store.RetentionResult, error) {
	if dryRun {
		actor = ""
	}
	res, err := st.ApplyRetention(ctx, months, time.Now(), dryRun, actor)
	if errors.Is(err, store.ErrLogNotCleared) {
		log.Warn("retention applied; " + store.ErrLogNotCleared.Error())
	} else if err != nil {
		return res, err
	}
	if dryRun {
		return res, nil
	}
	for _, name := range slices.Sorted(maps.Keys(res.Records)) {
		log.Info("retention applied", "schema", name, "months", months[name], "deleted", res.Records[name])
	}
	log.Info("retention applied to what hangs off the records", "referrals", res.Referrals, "referral_events", res.ReferralEvents,
		"envelopes", res.Envelopes, "outbox", res.Outbox, "persons", res.Persons, "identifiers", res.Identifiers)
	return res, nil
}

// retentionLoop applies the retention at once and then daily, until ctx
// ends; "snodo run" runs it next to the referral engine. A failed run is
// logged and tried again the next day: the records stay until then, which
// errs on the side of keeping data, never of losing it unasked.
func retentionLoop(ctx context.Context, h *pipelineHub, every time.Duration) {
	if len(h.cfg.Retention) == 0 {
		return
	}
	log := h.log.With("component", "retention")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := applyRetention(ctx, h.st, h.cfg.Retention, false, retentionActor, log); err != nil && ctx.Err() == nil {
			log.Error("retention failed: the records are kept and it is tried again", "in", every.String(), "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func newRetentionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Delete the records older than the retention of their schema",
		Long: `The retention section of snodo.yaml gives, by schema, how many months records are
kept, counted from their recorded_at (or, for a record without one, from when
the hub first stored it):

  retention:
    person: 120
    referral: 60

"snodo run" applies it at start and then daily. With the records go the
referral history, sealed delivery envelopes and pending deliveries of the
referrals deleted, and the keyed-index entries of the people no record
refers to any more. Schemas not listed are kept. Every run is logged (counts
by schema) and written to the audit log.`,
	}
	cmd.AddCommand(newRetentionRunCmd())
	return cmd
}

func newRetentionRunCmd() *cobra.Command {
	var configPath string
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "run [--dry-run] [--config FILE] [--json]",
		Short: "Apply the retention now and print what was deleted, by schema",
		Long: `Run applies the retention of snodo.yaml now, as "snodo run" does daily, and prints
how many records of each schema it deleted. With --dry-run nothing is deleted
and the counts are what a run would delete now.`,
		Example: `  snodo retention run --dry-run
  snodo retention run --config /srv/snodo/snodo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := openPipelineHub(ctx, configPath, cmd.ErrOrStderr(), false)
			if err != nil {
				return err
			}
			defer h.close()
			if len(h.cfg.Retention) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no retention is configured in %s: nothing is deleted (add, e.g., \"retention: {person: 120}\")\n", h.cfg.File)
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"dry_run": dryRun, "deleted": store.RetentionResult{Records: map[string]int64{}}})
				}
				return nil
			}
			res, err := applyRetention(context.WithoutCancel(ctx), h.st, h.cfg.Retention, dryRun, cliActor(), h.log.With("component", "retention"))
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, map[string]any{"dry_run": dryRun, "deleted": res})
			}
			if dryRun {
				fmt.Fprintln(out, "dry run: nothing deleted; a run now would delete:")
			}
			for _, name := range slices.Sorted(maps.Keys(res.Records)) {
				fmt.Fprintf(out, "%-22s %6d records older than %d months\n", name, res.Records[name], h.cfg.Retention[name])
			}
			fmt.Fprintf(out, "and %d referrals (%d status events, %d envelopes, %d delivery messages), %d people left with no record (%d keyed-index entries)\n",
				res.Referrals, res.ReferralEvents, res.Envelopes, res.Outbox, res.Persons, res.Identifiers)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be deleted; delete nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
