package main

import (
	"errors"
	"fmt"

	"github.com/snodo-hub/snodo/hub/territory"
	"github.com/spf13/cobra"
)

func newInitCmd() *cobra.Command {
	var code, name string
	cmd := &cobra.Command{
		Use:   "init DIR --territory CODE --name NAME",
		Short: "Set up a territory hub in a new folder: configuration, keys and database",
		Long: `Init creates DIR/snodo.yaml, the territory's secret keys (pseudonymisation key
and Ed25519 signing key, mode 0600, under DIR/keys/) and the database. It never
overwrites an existing set-up.

Back up DIR/keys/ offline: without the pseudonymisation key the hub cannot
recognise people it has seen before.`,
		Example: `  snodo init /srv/snodo --territory SDS-FI-NORDOVEST --name "SdS Firenze Nord-Ovest"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := territory.Init(cmd.Context(), args[0], code, name)
			if err != nil {
				var exists *territory.ExistsError
				if errors.As(err, &exists) {
					return &exitError{code: exitFindings, err: err}
				}
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Territory hub %s set up in %s\n", code, s.Dir)
			fmt.Fprintf(out, "  configuration     %s\n", s.Config)
			fmt.Fprintf(out, "  database          %s\n", s.Database)
			fmt.Fprintf(out, "  pseudonymisation  %s (secret, 0600: back it up offline)\n", s.PseudoKey)
			fmt.Fprintf(out, "  signing key       %s (secret, 0600)\n", s.SigningKey)
			fmt.Fprintf(out, "  public key        %s (give it to your region to enrol)\n", s.PublicKey)
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "territory", "", "territory code: 2-32 upper-case letters, digits, hyphens (required)")
	cmd.Flags().StringVar(&name, "name", "", "territory name, e.g. \"SdS Firenze Nord-Ovest\" (required)")
	_ = cmd.MarkFlagRequired("territory")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
