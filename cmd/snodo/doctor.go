package main

import (
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/doctor"
)

func newDoctorCmd() *cobra.Command {
	var configPath string
	var asJSON, verbose bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "doctor [--config FILE]",
		Short: "Check that the hub's set-up can run: configuration, keys, database, connectors, disk, clock",
		Long: `Doctor runs a checklist on the set-up of snodo.yaml and prints one line per
check — ✓ passed, ✗ failed with what to do, – skipped with why — then
"N passed, M failed":

  config               snodo.yaml loads and is valid
  key pseudonymisation present, a regular file, owned by the user running snodo,
  key signing          mode 0600 (nobody else may read it), loadable
  database             present, opens read-only, mode 0600
  database integrity   PRAGMA integrity_check is ok
  migrations           the schema version is the one this snodo knows
  audit chain          the audit log's hash chain verifies
  connector NAME       each enabled instance: its executable matches its pin,
                       starts, and its Check passes with its settings
  disk                 at least 1 GiB and 10% free where the database is
  clock                not before this build, nor before the newest time stored

It only reads: the database is never created, migrated or changed, so it can
run beside a running hub.

Exit status: 0 every check passed, 1 any failed, 2 usage or I/O error.`,
		Example: `  snodo doctor --config /srv/snodo/snodo.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := doctor.Options{ConnectorTimeout: timeout}
			if verbose {
				opts.ConnectorLog = cmd.ErrOrStderr()
			}
			rep := doctor.Run(cmd.Context(), configPath, opts)
			out := cmd.OutOrStdout()
			var err error
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				_, err = rep.WriteTo(out)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if !rep.OK() {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a machine-readable JSON report")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the connectors' log on stderr")
	cmd.Flags().DurationVar(&timeout, "timeout", doctor.DefaultConnectorTimeout, "bound on starting each connector and its check")
	return cmd
}
