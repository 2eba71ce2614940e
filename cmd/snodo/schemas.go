package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/snodo-hub/snodo/schemas"
	"github.com/spf13/cobra"
)

func newSchemasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "List, show and compare the shared schemas",
	}
	cmd.AddCommand(newSchemasListCmd(), newSchemasShowCmd(), newSchemasCompatCmd())
	return cmd
}

func newSchemasListCmd() *cobra.Command {
	var asJSON, codes bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the schemas (name, version, $id), or the code lists with --codes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				Version string `json:"version"`
				ID      string `json:"id"`
				Closed  *bool  `json:"closed,omitempty"`
				Codes   int    `json:"codes,omitempty"`
			}
			var rows []row
			if codes {
				for _, l := range reg.CodeLists() {
					closed := l.Closed
					rows = append(rows, row{Name: l.Name, Version: l.Version, ID: l.System, Closed: &closed, Codes: len(l.Codes)})
				}
			} else {
				for _, s := range reg.Schemas() {
					rows = append(rows, row{Name: s.Name, Version: s.Version, ID: s.ID})
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if codes {
				fmt.Fprintln(tw, "NAME\tVERSION\tKIND\tCODES\tSYSTEM")
				for _, r := range rows {
					kind := "open (coding)"
					if *r.Closed {
						kind = "closed (enum)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.Name, r.Version, kind, r.Codes, r.ID)
				}
			} else {
				fmt.Fprintln(tw, "NAME\tVERSION\t$ID")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Version, r.ID)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&codes, "codes", false, "list the code lists instead of the schemas")
	return cmd
}

func newSchemasShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a schema (or the common definitions, or a code list) as shipped",
		Long: `Show prints an entity schema by name or $id, "common" for the shared
definitions, or a code list by name (e.g. ethos-light).`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			reg, err := registry()
			if err != nil {
				return nil, cobra.ShellCompDirectiveError
			}
			names := append(reg.Names(), "common")
			for _, l := range reg.CodeLists() {
				names = append(names, l.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			name := args[0]
			if s, ok := reg.Lookup(name); ok {
				_, err := out.Write(s.Source())
				return err
			}
			if name == "common" {
				_, err := out.Write(schemas.CommonSource())
				return err
			}
			if l, ok := reg.CodeList(name); ok {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(l)
			}
			return usageError("no schema or code list named %q; see \"snodo schemas list\" and \"snodo schemas list --codes\"", name)
		},
	}
}

func newSchemasCompatCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check-compat OLD NEW",
		Short: "Classify the change between two versions of a schema as patch, minor or major",
		Long: `Check-compat compares two versions of a schema file by the closed-content rules:
adding an optional property is minor; removing or renaming a property, adding a
required one, narrowing a type or an enum is major; changing only titles and
descriptions is a patch. It lists each breaking change with the JSON pointer of
the document fields it affects, and says when the $id's version bump does not
match the change. OLD and NEW are file paths, or names of embedded schemas.

Exit status: 0 patch or minor, 1 major, 2 usage or I/O error.`,
		Example: `  snodo schemas check-compat referral old/referral.schema.json
  snodo schemas check-compat v1/person.schema.json person.schema.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			src := make([][]byte, 2)
			for i, a := range args {
				if s, ok := reg.Lookup(a); ok {
					src[i] = s.Source()
					continue
				}
				b, err := os.ReadFile(a)
				if err != nil {
					return usageError("%s: %w (give a schema file, or the name of an embedded schema)", a, unwrapPath(err))
				}
				src[i] = b
			}
			rep, err := schemas.CheckCompat(src[0], src[1], reg.Resolver())
			if err != nil {
				return usageError("%w", err)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(compatJSON(rep)); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "%s → %s: %s change\n", rep.OldID, rep.NewID, rep.Level)
				for _, c := range rep.Changes {
					p := c.Pointer
					if p == "" {
						p = "/"
					}
					fmt.Fprintf(out, "  %-5s  %s: %s\n", c.Level, p, c.Message)
				}
				if rep.VersionAdvice != "" {
					fmt.Fprintln(out, "  version: "+rep.VersionAdvice)
				}
			}
			if rep.Level == schemas.Major {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func compatJSON(rep *schemas.CompatReport) any {
	type change struct {
		Level   string `json:"level"`
		Pointer string `json:"pointer"`
		Message string `json:"message"`
	}
	changes := make([]change, len(rep.Changes))
	for i, c := range rep.Changes {
		changes[i] = change{c.Level.String(), c.Pointer, c.Message}
	}
	return struct {
		Old           string   `json:"old"`
		New           string   `json:"new"`
		Level         string   `json:"level"`
		Changes       []change `json:"changes"`
		VersionAdvice string   `json:"version_advice,omitempty"`
	}{rep.OldID, rep.NewID, rep.Level.String(), changes, rep.VersionAdvice}
}
