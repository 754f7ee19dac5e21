package bench

import (
	"context"
	"log/slog"

	"github.com/perkflow/perkflow/devenv"
	"github.com/perkflow/perkflow/worker"
)

// startEmbeddedTemporal starts perkflow dev's embedded Temporal server (SQLite in dir, no UI) on addr. The bench is
// linked only into the default build (cmd/perkflow/bench.go), never into the production one (-tags nodev), so it may
// always embed the server.
func startEmbeddedTemporal(ctx context.Context, dir, addr, namespace string, log *slog.Logger) (func() error, error) {
	t, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{
		DataDir: dir, FrontendAddr: addr, Namespace: namespace, SearchAttributes: worker.SearchAttributes, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	return t.Stop, nil
}
