package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/internal/version"
)

func init() {
	addCommand(func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the version (as perkflow --version does)",
			Args:  noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				fmt.Fprintln(c.OutOrStdout(), "perkflow", version.Version)
				return nil
			},
		}
	})
}
