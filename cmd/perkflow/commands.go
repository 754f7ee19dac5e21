package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
)

// production loads configuration and connects to Postgres, for the commands that run against a real deployment.
func production(ctx context.Context) (config.Config, *store.Store, func(), error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return cfg, nil, nil, err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return cfg, nil, nil, err
	}
	return cfg, store.New(pool), pool.Close, nil
}

// process is what the commands that drive workflows run on: the configuration, the logger, the observability (the
// metrics registry, tracing), the store over a (traced) pool and a Temporal client under the process's identity.
type process struct {
	cfg      config.Config
	log      *slog.Logger
	obs      *observability
	st       *store.Store
	tc       client.Client
	identity string
	pool     *pgxpool.Pool
	// keys are the payload keys (PERKFLOW_PAYLOAD_KEYS) of the Temporal client and of members' data keys.
	keys *privacy.Keyring
}

// startProcess sets up a process of the given role (api, worker, expiry); close releases it.
func startProcess(ctx context.Context, role string) (*process, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, err
	}
	p := &process{cfg: cfg, log: newLogger(cfg), identity: processIdentity(role)}
	if p.obs, err = startObservability(ctx, cfg, "perkflow-"+role); err != nil {
		return nil, err
	}
	if p.pool, err = openPool(ctx, cfg.DatabaseURL, p.obs.poolOptions()...); err != nil {
		p.close()
		return nil, err
	}
	p.st = p.obs.watch(store.New(p.pool), role == "worker")
	if p.keys, err = payloadKeys(cfg, false); err != nil {
		p.close()
		return nil, err
	}
	if p.tc, err = dialTemporal(ctx, cfg, p.log, p.obs, p.identity, p.keys); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *process) close() {
	if p.tc != nil {
		p.tc.Close()
	}
	if p.pool != nil {
		p.pool.Close()
	}
	p.obs.stop(p.log)
}

func runAPI(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	p, err := startProcess(ctx, "api")
	if err != nil {
		return err
	}
	defer p.close()
	cfg, log := p.cfg, p.log
	jwt, err := jwtConfig(cfg, false)
	if err != nil {
		return err
	}
	if len(jwt.Secret) == 0 && jwt.JWKSURL == "" {
		log.Warn("neither PERKFLOW_JWT_SECRET nor PERKFLOW_JWKS_URL is set: member tokens are refused")
	}
	ids, err := idSecret(cfg, false)
	if err != nil {
		return err
	}
	if p.st, err = withCoupons(ctx, cfg, p.st, log, false); err != nil {
		return err
	}
	ln, err := listenAPI(cfg)
	if err != nil {
		return err
	}
	// The API's own listener: its metrics (never on the public port) and the same probes as the public port.
	stopOps, err := serveOps(cfg.MetricsAddr, log, p.obs.reg, func(ctx context.Context) error { return apiReady(ctx, p) })
	if err != nil {
		return err
	}
	defer stopOps()
	return serveAPI(ctx, cfg, log, p.obs, p.st, p.tc, jwt, ids, p.keys, ln)
}

// apiReady is the API's readiness: Postgres and Temporal answer.
func apiReady(ctx context.Context, p *process) error {
	if err := p.st.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if _, err := p.tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	return nil
}

func runWorker(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	p, err := startProcess(ctx, "worker")
	if err != nil {
		return err
	}
	defer p.close()
	if p.st, err = withCoupons(ctx, p.cfg, p.st, p.log, false); err != nil {
		return err
	}
	// Listening first: a probe that finds no listener restarts the worker, one that finds it unready waits.
	stopOps, err := serveOps(p.cfg.MetricsAddr, p.log, p.obs.reg, func(ctx context.Context) error { return workerReady(ctx, p) })
	if err != nil {
		return err
	}
	defer stopOps()
	w, err := startWorker(ctx, p.cfg, p.log, p.obs, p.st, p.tc, p.keys)
	if err != nil {
		return err
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// workerReady is the worker's readiness: Postgres answers, and Temporal lists this process among the pollers of
// the task queue (so it is ready only once it polls).
func workerReady(ctx context.Context, p *process) error {
	if err := p.st.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return worker.Polling(ctx, p.tc, p.cfg.TaskQueue, p.identity)
}

func runMigrate(ctx context.Context, args []string) error {
	if len(args) != 0 {
		return errUsage
	}
	cfg, st, closeDB, err := production(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	return migrate(ctx, st.Pool(), newLogger(cfg))
}
