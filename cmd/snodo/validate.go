package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/snodo-hub/snodo/hub/records"
	"github.com/snodo-hub/snodo/schemas"
	"github.com/spf13/cobra"
)

// validationResult is one invalid document, for --json.
type validationResult struct {
	records.Position
	Schema string              `json:"schema,omitempty"`
	Errors []schemas.Violation `json:"errors"`
}

type validationReport struct {
	Documents int                `json:"documents"`
	Valid     int                `json:"valid"`
	Invalid   int                `json:"invalid"`
	Results   []validationResult `json:"results"`
	Problems  []string           `json:"problems,omitempty"`
}

func newValidateCmd() *cobra.Command {
	var schemaName string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate [--schema NAME] FILE...",
		Short: "Check documents against the shared schemas",
		Long: `Validate checks documents against the shared data contract. A file holds one
document, a JSON array of documents, or JSON Lines; "-" reads standard input.
Without --schema, each document's "schema" field (its schema's $id) picks the
schema.

It prints one line per invalid document: the file with the array index
(file[3]) or line (file:3), then each error's JSON pointer and message.

Exit status: 0 all valid, 1 any invalid, 2 usage or I/O error.`,
		Example: `  snodo validate referrals.jsonl
  snodo validate --schema referral referral.json
  cat export.json | snodo validate --json -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			var forced *schemas.Schema
			if schemaName != "" {
				s, ok := reg.Lookup(schemaName)
				if !ok {
					return usageError("--schema %q: no such schema; known: %s", schemaName, strings.Join(reg.Names(), ", "))
				}
				forced = s
			}
			rep := validationReport{Results: []validationResult{}}
			for _, name := range args {
				if err := validateFile(cmd, reg, forced, name, &rep); err != nil {
					rep.Problems = append(rep.Problems, err.Error())
				}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			} else {
				for _, r := range rep.Results {
					fmt.Fprintln(out, formatResult(r))
				}
				for _, p := range rep.Problems {
					fmt.Fprintln(cmd.ErrOrStderr(), "snodo:", p)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d documents: %d valid, %d invalid\n", rep.Documents, rep.Valid, rep.Invalid)
			}
			switch {
			case len(rep.Problems) > 0:
				return &exitError{code: exitUsage}
			case rep.Invalid > 0:
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&schemaName, "schema", "", "validate every document against this schema (name or $id)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a machine-readable JSON report")
	_ = cmd.RegisterFlagCompletionFunc("schema", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		reg, err := registry()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		return reg.Names(), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func validateFile(cmd *cobra.Command, reg *schemas.Registry, forced *schemas.Schema, name string, rep *validationReport) error {
	var r io.Reader
	if name == "-" {
		r, name = cmd.InOrStdin(), "<stdin>"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("%s: cannot read: %w", name, unwrapPath(err))
		}
		defer f.Close()
		r = f
	}
	return records.Read(r, name, func(it records.Item) error {
		rep.Documents++
		res := validationResult{Position: it.Pos}
		switch {
		case it.Err != nil:
			res.Errors = []schemas.Violation{{Keyword: "json", Message: it.Err.Error()}}
		case forced != nil:
			res.Schema = forced.Name
			res.Errors = forced.Validate(it.Doc)
		default:
			s, vs := reg.ValidateDocument(it.Doc)
			if s != nil {
				res.Schema = s.Name
			}
			res.Errors = vs
		}
		if len(res.Errors) == 0 {
			rep.Valid++
			return nil
		}
		rep.Invalid++
		rep.Results = append(rep.Results, res)
		return nil
	})
}

func formatResult(r validationResult) string {
	parts := make([]string, len(r.Errors))
	for i, v := range r.Errors {
		if v.Keyword == "json" {
			parts[i] = v.Message
			continue
		}
		parts[i] = v.String()
	}
	return r.Position.String() + ": " + strings.Join(parts, "; ")
}

// unwrapPath drops the path that *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
