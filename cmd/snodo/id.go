package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/snodo-hub/snodo/hub/identity"
	"github.com/spf13/cobra"
)

type idResult struct {
	Code     string `json:"code"`
	Valid    bool   `json:"valid"`
	Kind     string `json:"kind,omitempty"`
	Omocodic bool   `json:"omocodic,omitempty"`
	Place    string `json:"place,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func newIDCmd() *cobra.Command {
	id := &cobra.Command{
		Use:   "id",
		Short: "Work with personal identifiers (codice fiscale, provisional code, STP/ENI)",
	}
	var asJSON bool
	check := &cobra.Command{
		Use:   "check CODE...",
		Short: "Check personal identifiers and say precisely why one is invalid",
		Long: `Check normalises each code (trim, upper case, no inner spaces or hyphens),
detects its kind — codice fiscale (16 characters, omocodia allowed), provisional
code (11 digits), STP or ENI health code — and checks its structure and check
character. It prints one line per code: the normalised code and "valid" with
its kind, or "invalid" with the reason.

Pass "-" to read codes from standard input, one per line: that keeps them out
of your shell history. Nothing is logged or stored.

Exit status: 0 all valid, 1 any invalid, 2 usage error.`,
		Example: `  snodo id check RSSMRA85T10A562S
  snodo id check - < codes.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			places := reg.Places()
			var codes []string
			for _, a := range args {
				if a != "-" {
					codes = append(codes, a)
					continue
				}
				sc := bufio.NewScanner(cmd.InOrStdin())
				for sc.Scan() {
					if strings.TrimSpace(sc.Text()) != "" {
						codes = append(codes, sc.Text())
					}
				}
				if err := sc.Err(); err != nil {
					return usageError("read standard input: %w", err)
				}
			}
			results := make([]idResult, 0, len(codes))
			invalid := 0
			for _, raw := range codes {
				r := idResult{Code: identity.Normalise(raw)}
				c, err := identity.ParseWith(raw, places.PlaceName)
				if err != nil {
					invalid++
					var ie *identity.InvalidError
					if errors.As(err, &ie) && ie.Kind != "" {
						r.Kind = string(ie.Kind)
					}
					r.Reason = err.Error()
				} else {
					r.Valid, r.Kind, r.Omocodic = true, string(c.Kind), c.Omocodic
					if c.Kind == identity.KindCF {
						r.Place = c.Place
						if c.PlaceKnown {
							r.Place += " " + c.PlaceName
						} else {
							r.Place += " (not a current municipality or state: perhaps a former municipality)"
						}
					}
				}
				results = append(results, r)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return usageError("%w", err)
				}
			} else {
				for _, r := range results {
					fmt.Fprintln(out, formatID(r))
				}
			}
			if invalid > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	check.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	id.AddCommand(check)
	return id
}

func formatID(r idResult) string {
	code := r.Code
	if code == "" {
		code = `""`
	}
	if !r.Valid {
		return code + "\tinvalid\t" + r.Reason
	}
	s := code + "\tvalid\t" + r.Kind
	if r.Omocodic {
		s += " (omocodic)"
	}
	if r.Place != "" {
		s += "\tplace " + r.Place
	}
	return s
}
