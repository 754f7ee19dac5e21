//go:build nodev

package bench

import (
	"context"
	"errors"
	"log/slog"
)

// canEmbedTemporal is false in production builds (-tags nodev), which do not link the Temporal server.
const canEmbedTemporal = false

var errNoEmbeddedTemporal = errors.New("this binary was built with -tags nodev and cannot start its own Temporal server: " +
	"point perkflow bench at one with --temporal host:port (and, to use a running API, --api URL with DATABASE_URL), " +
	"or run the default build (go run ./cmd/perkflow bench)")

func startEmbeddedTemporal(context.Context, string, string, string, *slog.Logger) (func() error, error) {
	return nil, errNoEmbeddedTemporal
}
