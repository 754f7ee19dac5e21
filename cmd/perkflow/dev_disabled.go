//go:build nodev

package main

import (
	"context"
	"errors"
)

// runDev is absent from production builds (-tags nodev), which must not link the Temporal server.
func runDev(context.Context, []string) error {
	return errors.New("this binary was built with -tags nodev and has no embedded dev stack; use perkflow api and perkflow worker")
}
