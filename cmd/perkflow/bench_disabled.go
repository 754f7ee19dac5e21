//go:build nodev

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// perkflow bench is absent from production builds (-tags nodev), which link neither the bench nor its load
// generator: the command is there only to say so.
func init() {
	addCommand(func() *cobra.Command {
		return absentCommand("bench", "Not in this build: the bench",
			errors.New("this binary was built with -tags nodev and has no bench; run the default build "+
				"(go run ./cmd/perkflow bench), with --api and --temporal to measure a running deployment"))
	})
}
