package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/snodo-hub/snodo/hub/territory"
	"github.com/spf13/cobra"
)

func newInitCmd() *cobra.Command {
	var code, name, filesConnector string
	var example, withTLS bool
	cmd := &cobra.Command{
		Use:   "init DIR --territory CODE --name NAME [--tls] [--example [--files-connector PATH]]",
		Short: "Set up a territory hub in a new folder: configuration, keys and database",
		Long: `Init creates DIR/snodo.yaml, the territory's secret keys (pseudonymisation key
and Ed25519 signing key, mode 0600, under DIR/keys/) and the database. It never
overwrites an existing set-up.

Back up DIR/keys/ offline: without the pseudonymisation key the hub cannot
recognise people it has seen before.

With --example it also sets up the file connector, so that data flows at
once: DIR/connectors/files/ gets settings.yaml, mapping.yaml and exports/ with
sample exports of a municipal case system and a volunteer registry (a few
malformed rows and an invalid codice fiscale among them, to show what the
connector skips and what the hub quarantines), and snodo.yaml a connector
instance "files" pinned to the connector's SHA-256. The connector is the
executable --files-connector PATH, or else "` + territory.FilesConnectorName + `" next to snodo,
or else in PATH; build it from a checkout of Snodo with
  go build -o "$(dirname "$(command -v snodo)")/` + territory.FilesConnectorName + `" ./connectors/files
Nothing is written when it cannot be found.

With --tls the API and dashboard serve HTTPS only: DIR/keys/tls.crt is a
self-signed certificate (ECDSA P-256, for 127.0.0.1, localhost and this
machine's host name, valid two years) and DIR/keys/tls.key its key (0600),
and snodo.yaml names both under tls:. Clients trust the certificate file,
e.g. curl --cacert DIR/keys/tls.crt; replace both with a CA's at will.`,
		Example: `  snodo init /srv/snodo --territory SDS-FI-NORDOVEST --name "SdS Firenze Nord-Ovest"
  snodo init ./try --territory SDS-FI-NORDOVEST --name "SdS Firenze Nord-Ovest" --example`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if filesConnector != "" && !example {
				return usageError("--files-connector goes with --example")
			}
			var s *territory.Setup
			var ex *territory.Example
			var err error
			if example {
				self, _ := os.Executable()
				var connector string
				connector, err = territory.FindFilesConnector(filesConnector, self, os.Getenv("PATH"))
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				s, ex, err = territory.InitExample(cmd.Context(), args[0], code, name, connector)
			} else {
				s, err = territory.Init(cmd.Context(), args[0], code, name)
			}
			if err != nil {
				var exists *territory.ExistsError
				if errors.As(err, &exists) {
					return &exitError{code: exitFindings, err: err}
				}
				return &exitError{code: exitUsage, err: err}
			}
			var ts *territory.TLSSetup
			if withTLS {
				if ts, err = territory.AddTLS(s); err != nil {
					return &exitError{code: exitUsage, err: fmt.Errorf("the set-up is made, without TLS: %w", err)}
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Territory hub %s set up in %s\n", code, s.Dir)
			fmt.Fprintf(out, "  configuration     %s\n", s.Config)
			fmt.Fprintf(out, "  database          %s\n", s.Database)
			fmt.Fprintf(out, "  pseudonymisation  %s (secret, 0600: back it up offline)\n", s.PseudoKey)
			fmt.Fprintf(out, "  signing key       %s (secret, 0600)\n", s.SigningKey)
			fmt.Fprintf(out, "  public key        %s (give it to your region to enrol)\n", s.PublicKey)
			if ts != nil {
				fmt.Fprintf(out, "  TLS certificate   %s (self-signed for %s, until %s: clients trust this file)\n",
					ts.Cert, strings.Join(ts.Names, ", "), ts.NotAfter.Format(time.DateOnly))
				fmt.Fprintf(out, "  TLS key           %s (secret, 0600)\n", ts.Key)
			}
			if ex == nil {
				return nil
			}
			fmt.Fprintf(out, "  connector files   %s (sha256 %s)\n", ex.Connector, ex.SHA256)
			fmt.Fprintf(out, "    settings        %s\n", ex.Settings)
			fmt.Fprintf(out, "    mapping         %s\n", ex.Mapping)
			fmt.Fprintf(out, "    sample exports  %s\n", ex.Exports)
			fmt.Fprintln(out, "\nNext:")
			fmt.Fprintf(out, "  snodo doctor --config %s\n", s.Config)
			if c, _, err := cmd.Root().Find([]string{"ingest"}); err == nil && c.Name() == "ingest" {
				fmt.Fprintf(out, "  snodo ingest --once --config %s\n", s.Config)
			} else {
				fmt.Fprintf(out, "  snodo connectors check %s --config %s\n", territory.ExampleConnector, s.Config)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&code, "territory", "", "territory code: 2-32 upper-case letters, digits, hyphens (required)")
	cmd.Flags().StringVar(&name, "name", "", "territory name, e.g. \"SdS Firenze Nord-Ovest\" (required)")
	cmd.Flags().BoolVar(&withTLS, "tls", false, "serve the API over HTTPS with a self-signed certificate written to DIR/keys/")
	cmd.Flags().BoolVar(&example, "example", false, "also set up the file connector with a mapping and sample exports")
	cmd.Flags().StringVar(&filesConnector, "files-connector", "", "the file connector's executable (default: "+territory.FilesConnectorName+" next to snodo, then in PATH)")
	_ = cmd.MarkFlagRequired("territory")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
