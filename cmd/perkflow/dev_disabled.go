//go:build nodev

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// perkflow dev is absent from production builds (-tags nodev), which must not link the Temporal server: the command
// is there only to say so.
func init() {
	addCommand(func() *cobra.Command {
		return absentCommand("dev", "Not in this build: the embedded development stack",
			errors.New("this binary was built with -tags nodev and has no embedded dev stack; use perkflow api and perkflow worker"))
	})
}

// absentCommand is a command left out of this build: whatever its flags and arguments, it fails with why.
func absentCommand(use, short string, why error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ArbitraryArgs,
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true},
		RunE:               func(*cobra.Command, []string) error { return why },
	}
}
