//go:build nodev

package main

import (
	"context"
	"errors"
)

// runBench is absent from production builds (-tags nodev), which link neither the bench nor its load generator.
func runBench(context.Context, []string) error {
	return errors.New("this binary was built with -tags nodev and has no bench; run the default build " +
		"(go run ./cmd/perkflow bench), with --api and --temporal to measure a running deployment")
}
