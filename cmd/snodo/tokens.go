package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/hub/store"
	"github.com/snodo-hub/snodo/hub/tokens"
)

// openHubStore loads the configuration at configPath and opens its store.
func openHubStore(ctx context.Context, configPath string) (*store.Store, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	return openStoreOf(ctx, cfg)
}

// openStoreOf opens the store of a configuration already loaded.
func openStoreOf(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	s, err := store.Open(ctx, cfg.Path(cfg.Store.Path), store.WithBusyTimeout(cfg.BusyTimeout()))
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return s, nil
}

// cliActor names the person at the command line in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

func newTokensCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke the bearer tokens of the HTTP API",
		Long: `Tokens are the keys to the hub's HTTP API. Each has a name (who or what uses it)
and a role:

  viewer    the hub's state: connectors, record counts, quarantine size
  operator  also records, a person's timeline and the quarantine (every read
            of records is written to the audit log)
  admin     everything, including verifying the audit log

A token is shown once, when it is created: the hub keeps only its SHA-256.
Send it as "Authorization: Bearer TOKEN". Creating and revoking tokens is
written to the audit log.`,
	}
	cmd.AddCommand(newTokensCreateCmd(), newTokensListCmd(), newTokensRevokeCmd())
	return cmd
}

func newTokensCreateCmd() *cobra.Command {
	var configPath, name, role string
	cmd := &cobra.Command{
		Use:   "create --role admin|operator|viewer --name NAME [--config FILE]",
		Short: "Create a token and print it, once",
		Long: `Create makes a token from 32 random bytes, stores its SHA-256 with the name
and role, and prints the token on standard output. It is not shown again:
copy it into the client's configuration now. To replace a token, revoke it
and create a new one (the name may be used again).`,
		Example: `  snodo tokens create --role viewer --name grafana --config /srv/snodo/snodo.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := tokens.ParseRole(role)
			if err != nil {
				return usageError("--role: %v", err)
			}
			if err := tokens.CheckName(name); err != nil {
				return usageError("--name: %v", err)
			}
			s, err := openHubStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			token, err := tokens.Create(cmd.Context(), s, cliActor(), name, r)
			if errors.Is(err, store.ErrTokenNameTaken) {
				return &exitError{code: exitFindings, err: err}
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %q (%s) created. Copy it now: it is not shown again.\n", name, r)
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().StringVar(&role, "role", "", "admin, operator or viewer (required)")
	cmd.Flags().StringVar(&name, "name", "", "who or what uses the token, e.g. grafana (required)")
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// tokenJSON is a token in "snodo tokens list --json": never the token.
type tokenJSON struct {
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func newTokensListCmd() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--config FILE] [--json]",
		Short: "List the tokens: name, role, when created, last used and revoked (never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openHubStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			all, err := s.Tokens(cmd.Context())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]tokenJSON, 0, len(all))
				for _, tk := range all {
					list = append(list, tokenJSON{Name: tk.Name, Role: tk.Role, CreatedAt: tk.CreatedAt,
						LastUsedAt: optTime(tk.LastUsedAt), RevokedAt: optTime(tk.RevokedAt)})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"tokens": list})
			}
			if len(all) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), `No tokens: make one with "snodo tokens create --role viewer --name NAME".`)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tLAST USED\tREVOKED")
			for _, tk := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", tk.Name, tk.Role, shortTime(tk.CreatedAt), shortTime(tk.LastUsedAt), shortTime(tk.RevokedAt))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

func newTokensRevokeCmd() *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "revoke NAME [--config FILE]",
		Short: "Revoke a token: the API refuses it from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openHubStore(cmd.Context(), configPath)
			if err != nil {
				return err
			}
			defer s.Close()
			err = tokens.Revoke(cmd.Context(), s, cliActor(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return usageError("%v (see \"snodo tokens list\")", err)
			}
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Token %q revoked.\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	return cmd
}
