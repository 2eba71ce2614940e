package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the hash-chained audit log",
		Long: `The audit log records every read of personal records through the API and
every token created or revoked. Each entry holds the hash of the one before
it, so an entry changed, inserted or removed in the middle breaks the chain.`,
	}
	cmd.AddCommand(newAuditVerifyCmd())
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "verify [--config FILE]",
		Short: "Walk the audit log's hash chain: ok with the number of entries, or the first broken entry",
		Long: `Verify recomputes the hash of every audit entry from the first. It prints
"ok" and the number of entries when the chain holds, and exits 1 naming the
first broken entry (seq) when it does not: keep that database for
investigation and restore a backup.`,
		Example: `  snodo audit verify --config /srv/snodo/snodo.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := openHubStore(ctx, configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			head, err := s.AuditHead(ctx)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			err = s.VerifyAudit(ctx)
			var broken *store.AuditBrokenError
			switch {
			case errors.As(err, &broken):
				fmt.Fprintf(cmd.OutOrStdout(), "broken: first broken entry is seq %d (%s)\n", broken.Seq, broken.Reason)
				return &exitError{code: exitFindings, err: err}
			case err != nil:
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: the audit log's chain holds, %d entries\n", head)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	return cmd
}
