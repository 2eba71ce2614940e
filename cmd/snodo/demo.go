package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run a demo region with live territories (not available yet)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &exitError{code: exitUsage, err: errors.New("the demo is not available yet in this version: it arrives with the regional dashboard. Meanwhile try \"snodo init DIR --territory CODE --name NAME\" and \"snodo validate\"")}
		},
	}
}
