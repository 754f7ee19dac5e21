//go:build !nodev

package bench

import (
	"context"
	"log/slog"

	"github.com/perkflow/perkflow/devenv"
	"github.com/perkflow/perkflow/worker"
)

// canEmbedTemporal is true in builds that link the Temporal server (all but -tags nodev).
const canEmbedTemporal = true

// startEmbeddedTemporal starts perkflow dev's embedded Temporal server (SQLite in dir, no UI) on addr.
func startEmbeddedTemporal(ctx context.Context, dir, addr, namespace string, log *slog.Logger) (func() error, error) {
	t, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{
		DataDir: dir, FrontendAddr: addr, Namespace: namespace, SearchAttributes: worker.SearchAttributes, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return t.Stop, nil
}
