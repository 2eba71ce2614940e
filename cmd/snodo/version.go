package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of snodo and of its data contract",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := registry()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "snodo %s (%s, %s/%s), data contract: %d schemas, %d code lists\n",
				buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH, len(reg.Schemas()), len(reg.CodeLists()))
			return nil
		},
	}
}
