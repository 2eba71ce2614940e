package main

import (
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
)

// statusReport is what "snodo status --json" prints.
type statusReport struct {
	Territory     string            `json:"territory"`
	TerritoryName string            `json:"territory_name"`
	Records       map[string]int64  `json:"records"`
	Quarantine    int64             `json:"quarantine"`
	Connectors    []connectorStatus `json:"connectors"`
}

type connectorStatus struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	// Binary is the state of the executable: ok, missing, unreadable or
	// sha256-mismatch (as "snodo connectors list" says).
	Binary string `json:"binary"`
	// State is what the last run says: ok, degraded, failed or
	// interrupted; "never run", or "disabled" for a disabled instance
	// never run.
	State   string   `json:"state"`
	LastRun *runJSON `json:"last_run,omitempty"`
}

func newStatusCmd() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json] [--config FILE]",
		Short: "Show the territory's records, quarantine and connectors",
		Long: `Status prints what the hub holds — records per schema and the records awaiting
attention in quarantine — and each connector instance: whether it is enabled,
whether its executable matches its pin, and how its last run ended (when, how
many records it read, stored and quarantined, and why it failed).

It reads the database and starts nothing; it works while the hub runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			h, err := openPipelineHub(ctx, configPath, cmd.ErrOrStderr(), false)
			if err != nil {
				return err
			}
			defer h.close()
			rep := statusReport{Territory: h.cfg.Territory.Code, TerritoryName: h.cfg.Territory.Name, Connectors: []connectorStatus{}}
			if rep.Records, err = h.st.CountBySchema(ctx); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if rep.Quarantine, err = h.st.QuarantineCount(ctx); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			runs, err := h.st.LastRuns(ctx)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			for _, k := range h.cfg.Connectors {
				in := inspect(h.cfg, k)
				cs := connectorStatus{Name: k.Name, Enabled: k.IsEnabled(), Binary: in.Status, State: "never run"}
				if r, ok := runs[k.Name]; ok {
					j := toRunJSON(r)
					cs.LastRun, cs.State = &j, r.Outcome
				} else if !cs.Enabled {
					cs.State = "disabled"
				}
				rep.Connectors = append(rep.Connectors, cs)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, rep)
			}
			fmt.Fprintf(out, "Territory %s (%s)\n", rep.Territory, rep.TerritoryName)
			fmt.Fprintln(out, "\nRecords")
			if len(rep.Records) == 0 {
				fmt.Fprintln(out, "  none yet: read the connectors with \"snodo ingest --once\"")
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, name := range slices.Sorted(func(yield func(string) bool) {
				for k := range rep.Records {
					if !yield(k) {
						return
					}
				}
			}) {
				fmt.Fprintf(tw, "  %s\t%d\n", name, rep.Records[name])
			}
			tw.Flush()
			fmt.Fprintf(out, "\nQuarantine: %d records awaiting attention", rep.Quarantine)
			if rep.Quarantine > 0 {
				fmt.Fprint(out, " (snodo quarantine list)")
			}
			fmt.Fprintln(out)
			fmt.Fprintln(out, "\nConnectors")
			if len(rep.Connectors) == 0 {
				fmt.Fprintf(out, "  none configured in %s\n", h.cfg.File)
				return nil
			}
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  NAME\tENABLED\tBINARY\tLAST RUN\tSTATE\tRECORDS\tSTORED\tQUARANTINED")
			for _, c := range rep.Connectors {
				enabled := "yes"
				if !c.Enabled {
					enabled = "no"
				}
				last, records, stored, quarantined := "-", "-", "-", "-"
				if r := c.LastRun; r != nil {
					last = r.FinishedAt.Local().Format(time.DateTime)
					records, stored, quarantined = fmt.Sprint(r.Records), fmt.Sprint(r.Stored), fmt.Sprint(r.Quarantined)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, enabled, c.Binary, last, c.State, records, stored, quarantined)
			}
			tw.Flush()
			for _, c := range rep.Connectors {
				if c.LastRun != nil && c.LastRun.Message != "" {
					fmt.Fprintf(out, "  %s: %s\n", c.Name, c.LastRun.Message)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
