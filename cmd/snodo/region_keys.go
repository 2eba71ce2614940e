package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/region"
	"github.com/snodo-hub/snodo/hub/store"
)

func newRegionKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List the territories' enrolled keys and revoke one",
		Long: `Every envelope names the key that signed it; the region accepts it only if
that key is enrolled for the envelope's territory and not revoked. Revoke a
key whose private half was lost or stolen: envelopes signed with it are
refused from the next one on (401, and a "refused" line in the intake log),
while those already received stay. The territory then enrols a new key
("snodo region enrol"). Revocations are written to the audit log.`,
	}
	cmd.AddCommand(newRegionKeysListCmd(), newRegionKeysRevokeCmd())
	return cmd
}

// regionKeyJSON is a key in "snodo region keys list --json".
type regionKeyJSON struct {
	KeyID      string     `json:"key_id"`
	Territory  string     `json:"territory"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func newRegionKeysListCmd() *cobra.Command {
	var configPath, territory string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [--territory CODE] [--config FILE] [--json]",
		Short:   "List the enrolled keys: id, territory, when enrolled and when revoked",
		Example: `  snodo region keys list --territory ATS-01 --config /srv/snodo-region/region.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if territory != "" {
				if err := region.CheckTerritory(territory); err != nil {
					return usageError("--territory: %v", err)
				}
			}
			_, s, err := openRegionStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.RegionKeys(cmd.Context())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			keys := make([]store.RegionKey, 0, len(all))
			for _, k := range all {
				if territory == "" || k.Territory == territory {
					keys = append(keys, k)
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]regionKeyJSON, 0, len(keys))
				for _, k := range keys {
					list = append(list, regionKeyJSON{KeyID: k.KeyID, Territory: k.Territory, EnrolledAt: k.EnrolledAt, RevokedAt: optTime(k.RevokedAt)})
				}
				return writeJSON(out, map[string]any{"keys": list})
			}
			if len(keys) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), `No keys enrolled: "snodo region enrol --territory CODE --key PUBKEY" enrols one.`)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tTERRITORY\tENROLLED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KeyID, k.Territory, shortTime(k.EnrolledAt), shortTime(k.RevokedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.Flags().StringVar(&territory, "territory", "", "only this territory's keys")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newRegionKeysRevokeCmd() *cobra.Command {
	var configPath, reason string
	cmd := &cobra.Command{
		Use:   "revoke KEY_ID [--reason TEXT] [--config FILE]",
		Short: "Revoke a territory's key: the intake refuses envelopes signed with it from now on",
		Long: `Revoke marks the key revoked in the region's store and writes
"region.key-revoke" (who, the territory, the key id and --reason) to the
audit log. A running "snodo region serve" refuses the key from the next
envelope on; no restart is needed. The reason is one line, at most 200
bytes, and must not name a person: the audit log holds no personal data.

It exits 1 when no key has the id or the key was revoked already (saying
when); "snodo region keys list" shows the keys.`,
		Example: `  snodo region keys revoke ed25519:3f9a…c2 --reason "signing key stolen with a laptop" --config /srv/snodo-region/region.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := openRegionStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			k, err := region.RevokeKey(cmd.Context(), s, cliActor(), args[0], reason)
			var already *region.KeyRevokedError
			switch {
			case errors.Is(err, region.ErrKeyNotEnrolled):
				return &exitError{code: exitFindings, err: fmt.Errorf("%w: \"snodo region keys list\" shows them", err)}
			case errors.As(err, &already):
				return &exitError{code: exitFindings, err: fmt.Errorf("%w: nothing changed", err)}
			case err != nil:
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s of %s at %s: envelopes signed with it are refused from now on\n",
				k.KeyID, k.Territory, k.RevokedAt.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", regionConfigName, "the region's configuration file")
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the audit log (one line, no personal data)")
	return cmd
}
