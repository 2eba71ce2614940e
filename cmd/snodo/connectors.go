package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/snodo-hub/snodo/hub/config"
	"github.com/snodo-hub/snodo/plugins/conformance"
	"github.com/snodo-hub/snodo/plugins/host"
	"github.com/snodo-hub/snodo/plugins/scaffold"
)

func newConnectorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connectors",
		Short: "Test, scaffold, list and check connector plugins",
		Long: `Connectors are the plugins that read a territory's systems: separate
executables that the hub starts, pinned by their SHA-256 in snodo.yaml.
See "Writing a connector" in the README.`,
	}
	cmd.AddCommand(newConnectorsTestCmd(), newConnectorsNewCmd(), newConnectorsListCmd(), newConnectorsCheckCmd())
	return cmd
}

func newConnectorsTestCmd() *cobra.Command {
	var settingsFile string
	var asJSON, noWrite, verbose bool
	var timeout time.Duration
	var b strings.Builder
	for _, c := range conformance.Checks() {
		fmt.Fprintf(&b, "  %-24s %s\n", c.Name, c.Description)
	}
	cmd := &cobra.Command{
		Use:   "test PATH [--settings FILE]",
		Short: "Run the conformance suite on a connector executable",
		Long: `Test starts the connector PATH — a binary, or a script with a shebang — as the
hub would (its SHA-256 is taken from the file itself), and runs every check of
the conformance suite against it with the settings in FILE (JSON or YAML; paths
in it are relative to its folder). The settings must point at sample data or a
test instance: the suite reads every record, reads again from every cursor,
and writes one record twice when the connector accepts records (--no-write
skips that).

Checks:
` + b.String() + `
It prints one line per check — PASS, FAIL with why, or SKIP with why — and
last "N passed, M failed" (", K skipped" when some could not run).

Exit status: 0 all passed, 1 any failed, 2 usage or I/O error.`,
		Example: `  snodo connectors test bin/odv-registry --settings connectors/odv-registry/settings.example.json
  snodo connectors test examples/connector-node/connector.js --settings examples/connector-node/settings.example.json --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := executable(args[0])
			if err != nil {
				return err
			}
			opts := conformance.Options{Path: path, Timeout: timeout, SkipWrite: noWrite}
			if settingsFile != "" {
				if opts.Settings, opts.SettingsDir, err = readSettings(settingsFile); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			if verbose {
				opts.Log = cmd.ErrOrStderr()
			}
			rep := conformance.Check(cmd.Context(), opts)
			out := cmd.OutOrStdout()
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
	cmd.Flags().StringVar(&settingsFile, "settings", "", "the instance's settings, a JSON or YAML file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a machine-readable JSON report")
	cmd.Flags().BoolVar(&noWrite, "no-write", false, "skip the Write check (the test system must not receive records)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the connector's log (stderr) and the plugin client's messages on stderr")
	cmd.Flags().DurationVar(&timeout, "timeout", conformance.DefaultTimeout, "bound on each check's calls, a whole read included")
	return cmd
}

// executable checks that path names an executable file and makes it
// absolute (a bare name would otherwise be looked up in PATH).
func executable(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", usageError("connector %s: %v", path, unwrapPath(err))
	}
	if info.IsDir() {
		return "", usageError("connector %s is a folder: give the executable (build a Go connector with go build -o bin/NAME ./DIR)", path)
	}
	if info.Mode()&0o111 == 0 {
		return "", usageError("connector %s is not executable: chmod +x %s", path, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", usageError("connector %s: %v", path, err)
	}
	return abs, nil
}

// readSettings reads an instance's settings file (JSON or YAML) as JSON,
// with the folder relative paths in it are relative to.
func readSettings(file string) ([]byte, string, error) { return config.ReadSettings(file) }

func newConnectorsNewCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "new NAME [--dir DIR]",
		Short: "Write a working connector to start from",
		Long: `New writes a working Go connector named NAME into DIR (default connectors/NAME),
which must not exist or be empty: main.go (it imports only plugins/sdk), a
README saying what to change, settings.example.json with sample data, and a
test running the conformance suite. It builds inside a checkout of Snodo and
passes "snodo connectors test" as generated.

NAME is the connector's name: 2-63 lower-case letters, digits and hyphens.`,
		Example: `  snodo connectors new odv-registry --dir connectors/odv-registry`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if dir == "" {
				dir = filepath.Join("connectors", name)
			}
			if err := scaffold.Generate(dir, name); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			pkg := filepath.ToSlash(dir)
			if !filepath.IsAbs(dir) && !strings.HasPrefix(pkg, "./") && !strings.HasPrefix(pkg, "../") {
				pkg = "./" + pkg
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Connector %s written to %s:\n", name, dir)
			for _, f := range scaffold.Files() {
				fmt.Fprintf(out, "  %s\n", filepath.Join(dir, f))
			}
			fmt.Fprintf(out, "\nBuild and test it (see %s):\n", filepath.Join(dir, "README.md"))
			fmt.Fprintf(out, "  go build -o bin/%s %s\n", name, pkg)
			fmt.Fprintf(out, "  snodo connectors test bin/%s --settings %s\n", name, filepath.Join(dir, "settings.example.json"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "the new connector's folder (default connectors/NAME)")
	return cmd
}

// instance is one configured connector instance, as "connectors list"
// shows it.
type instance struct {
	Name     string `json:"name"`
	Plugin   string `json:"plugin"`
	Settings string `json:"settings,omitempty"`
	Enabled  bool   `json:"enabled"`
	Exists   bool   `json:"exists"`
	// SHA256Matches is whether the executable matches its pin.
	SHA256Matches bool   `json:"sha256_matches"`
	Status        string `json:"status"`
	// Problem explains a status other than ok.
	Problem string `json:"problem,omitempty"`
}

func inspect(cfg *config.Config, k config.Connector) instance {
	in := instance{Name: k.Name, Plugin: cfg.Path(k.Plugin), Enabled: k.IsEnabled(), Status: "ok"}
	if k.Settings != "" {
		in.Settings = cfg.Path(k.Settings)
	}
	sum, err := host.Sum(in.Plugin)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		in.Status = "missing"
		in.Problem = fmt.Sprintf("%s does not exist: build or install the connector there, or fix plugin in %s", in.Plugin, cfg.File)
	case err != nil:
		in.Status = "unreadable"
		in.Problem = fmt.Sprintf("%s: %v", in.Plugin, unwrapPath(err))
		in.Exists = true
	case sum != strings.ToLower(k.SHA256):
		in.Exists = true
		in.Status = "sha256-mismatch"
		in.Problem = fmt.Sprintf("%s has SHA-256 %s, but %s pins %s: the hub will not start it; if the binary was replaced on purpose, put the new sum in %s", in.Plugin, sum, cfg.File, k.SHA256, cfg.File)
	default:
		in.Exists, in.SHA256Matches = true, true
	}
	return in
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	return cfg, nil
}

func newConnectorsListCmd() *cobra.Command {
	var configPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--config FILE]",
		Short: "List the configured connector instances and whether each binary matches its pin",
		Long: `List shows the connector instances of snodo.yaml: name, whether enabled, the
state of the executable (ok, missing, unreadable, sha256-mismatch) and its
path. It never starts a connector.

Exit status: 0 when every enabled instance's executable matches its pin, 1
otherwise, 2 usage or I/O error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			list := make([]instance, 0, len(cfg.Connectors))
			bad := 0
			for _, k := range cfg.Connectors {
				in := inspect(cfg, k)
				if in.Enabled && in.Status != "ok" {
					bad++
				}
				list = append(list, in)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(list); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			} else {
				if len(list) == 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "no connectors configured in %s\n", cfg.File)
					return nil
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tENABLED\tBINARY\tPLUGIN")
				for _, in := range list {
					enabled := "yes"
					if !in.Enabled {
						enabled = "no"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.Name, enabled, in.Status, in.Plugin)
				}
				if err := tw.Flush(); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				for _, in := range list {
					if in.Problem != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "snodo: connector %q: %s\n", in.Name, in.Problem)
					}
				}
			}
			if bad > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newConnectorsCheckCmd() *cobra.Command {
	var configPath string
	var timeout time.Duration
	var verbose bool
	cmd := &cobra.Command{
		Use:   "check NAME [--config FILE]",
		Short: "Start a configured connector instance and ask whether it can reach its system",
		Long: `Check starts the connector instance NAME of snodo.yaml as the hub does — its
executable must match the SHA-256 pinned there — and runs its Check with the
instance's settings file. It prints "ok", or the problem with its class:
config (fix the settings), transient (the system is down or busy: the hub
retries) or fatal.

Exit status: 0 ok, 1 a problem (or the connector would not start), 2 usage or
I/O error.`,
		Example: `  snodo connectors check odv-firenze --config /srv/snodo/snodo.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			k, ok := cfg.Connector(args[0])
			if !ok {
				names := make([]string, len(cfg.Connectors))
				for i, c := range cfg.Connectors {
					names[i] = c.Name
				}
				known := "none is configured"
				if len(names) > 0 {
					known = "configured: " + strings.Join(names, ", ")
				}
				return usageError("no connector %q in %s (%s)", args[0], cfg.File, known)
			}
			var settings []byte
			var dir string
			if k.Settings != "" {
				if settings, dir, err = readSettings(cfg.Path(k.Settings)); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			}
			level := hclog.Warn
			if verbose {
				level = hclog.Debug
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			conn, err := host.Launch(ctx, host.Config{
				Name: k.Name, Path: cfg.Path(k.Plugin), SHA256: k.SHA256,
				Logger: hclog.New(&hclog.LoggerOptions{Name: "connector." + k.Name, Output: cmd.ErrOrStderr(), Level: level}),
			})
			if err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			defer conn.Close()
			m := conn.Manifest()
			out := cmd.OutOrStdout()
			err = conn.Check(ctx, settings, dir)
			if err == nil {
				fmt.Fprintf(out, "ok: %s (%s %s) can reach its system\n", k.Name, m.Name, m.Version)
				return nil
			}
			fmt.Fprintf(out, "%s (%s %s): %s\n", k.Name, m.Name, m.Version, host.DescribeProblem(err))
			return &exitError{code: exitFindings}
		},
	}
	cmd.Flags().StringVar(&configPath, "config", config.FileName, "the hub's configuration")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound on starting the connector and its check")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print the connector's log on stderr")
	return cmd
}
