//go:build !nodev

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/devenv"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
)

// devKeyRoles are the roles perkflow dev prints a fresh key for at every start.
var devKeyRoles = []string{"pos", "marketer", "support", "admin"}

func init() {
	addCommand(func() *cobra.Command {
		cmd := readsEnv(&cobra.Command{
			Use:   "dev",
			Short: "Run everything in one process (embedded Temporal, UI, worker, API)",
			Long: "Bring up the whole stack in one process: Postgres (found at DATABASE_URL or started under PERKFLOW_DATA_DIR),\n" +
				"an embedded Temporal server with its UI, migrations, a demo program and catalog, the worker and the API; print\n" +
				"fresh API keys. Ctrl-C stops it all; the next start reuses the state kept under PERKFLOW_DATA_DIR.",
			Args: noArgs,
			RunE: func(c *cobra.Command, _ []string) error {
				if only, _ := c.Flags().GetBool("temporal-only"); only {
					return runDevTemporal(c.Context())
				}
				return runDev(c.Context())
			},
		}, allEnv)
		cmd.Flags().Bool("temporal-only", false, "run only the embedded Temporal server (and its UI unless PERKFLOW_UI_ADDR=off) on TEMPORAL_ADDRESS")
		return cmd
	})
}

// runDev brings up the whole stack in one process: Postgres (found or started), an embedded Temporal server with
// its UI, migrations, a demo program, the worker and the API. Ctrl-C stops it all; the next start reuses the state
// kept under PERKFLOW_DATA_DIR.
func runDev(ctx context.Context) error {
	if os.Getenv("PERKFLOW_LOG_FORMAT") == "" {
		os.Setenv("PERKFLOW_LOG_FORMAT", "text")
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	started := time.Now()
	obs, err := startObservability(ctx, cfg, "perkflow-dev")
	if err != nil {
		return err
	}
	defer obs.stop(log)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}

	pg, err := devenv.EnsurePostgres(ctx, devenv.PostgresOptions{
		DatabaseURL: cfg.DatabaseURL, DatabaseURLSet: cfg.DatabaseURLSet, DataDir: cfg.DataDir, Logger: log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			log.Warn("stopping Postgres", "error", err)
		}
	}()
	log.Info("postgres ready", "source", pg.Source())
	pool, err := openPool(ctx, pg.URL(), obs.poolOptions()...)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := obs.watch(store.New(pool), true)
	if err := migrate(ctx, pool, log); err != nil {
		return err
	}
	if err := seedDemoProgram(ctx, st, log); err != nil {
		return err
	}
	if err := seedDemoCatalog(ctx, st, log); err != nil {
		return err
	}

	payloadKeyring, err := payloadKeys(cfg, true)
	if err != nil {
		return err
	}
	// The embedded UI decodes payloads through the API's codec endpoint, by way of a loopback relay that signs its
	// calls with dev's support key (the UI has no sign-in to send one): support reads payloads in the UI, decoded,
	// and every decode is audited like any other.
	relay, err := newCodecRelay(cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer relay.close()
	if cfg.UIAddr != "" {
		cfg.CodecOrigins = append(cfg.CodecOrigins, "http://"+cfg.UIAddr)
	}
	tsrv, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{
		DataDir: cfg.DataDir, FrontendAddr: cfg.TemporalAddress, UIAddr: devUIAddr(cfg),
		Namespace: cfg.TemporalNamespace, SearchAttributes: worker.SearchAttributes, Logger: log.With("component", "temporal-server"),
		CodecEndpoint: relay.url,
	})
	if err != nil {
		return fmt.Errorf("start embedded Temporal on %s: %w", cfg.TemporalAddress, err)
	}
	defer func() {
		if err := tsrv.Stop(); err != nil {
			log.Warn("stopping Temporal", "error", err)
		}
	}()
	identity := processIdentity("dev")
	tc, err := dialTemporal(ctx, cfg, log, obs, identity, payloadKeyring)
	if err != nil {
		return err
	}
	defer tc.Close()
	jwt, err := jwtConfig(cfg, true)
	if err != nil {
		return err
	}
	ids, err := idSecret(cfg, true)
	if err != nil {
		return err
	}
	// Made now, so that the worker and the API started below find the same unsubscribe secret.
	if _, err := unsubscriber(cfg, true); err != nil {
		return err
	}
	if st, err = withCoupons(ctx, cfg, st, log, true); err != nil {
		return err
	}
	keys, err := freshDevKeys(ctx, st)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.role == "support" {
			relay.key.Store(&k.key)
		}
	}

	// One listener for the worker's and the API's metrics; ready once the worker polls.
	stopOps, err := serveOps(cfg.MetricsAddr, log, obs.reg, func(ctx context.Context) error {
		return worker.Polling(ctx, tc, cfg.TaskQueue, identity)
	})
	if err != nil {
		return err
	}
	defer stopOps()
	w, err := startWorker(ctx, cfg, log, obs, st, tc, payloadKeyring)
	if err != nil {
		return err
	}
	defer w.Stop()
	ln, err := listenAPI(cfg)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Add(1)
	if cfg.TemporalUIURL == "" {
		cfg.TemporalUIURL = tsrv.UIURL() // the console links to the embedded UI
	}
	go func() { defer wg.Done(); errc <- serveAPI(runCtx, cfg, log, obs, st, tc, jwt, ids, payloadKeyring, ln) }()

	printBanner(cfg, tsrv.UIURL(), pg.Source(), keys, time.Since(started))
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping perkflow dev")
	case runErr = <-errc:
	}
	cancel()
	wg.Wait()
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return nil
}

// seedDemoProgram installs the default program on a fresh database, effective from 2000 so that back-dated demo
// purchases are judged by it too.
func seedDemoProgram(ctx context.Context, st *store.Store, log *slog.Logger) error {
	_, err := st.ProgramAt(ctx, time.Now())
	if err == nil {
		return nil
	}
	if domain.CodeOf(err) != domain.ErrNotFound {
		return err
	}
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), epoch, "perkflow dev"); err != nil {
		return err
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, epoch, "perkflow dev"); err != nil {
			return err
		}
	}
	log.Info("demo program installed", "earn", "1 point per EUR", "tiers", "member, silver (1000), gold (5000)")
	return nil
}

// demoOffers are the demo catalog: points-only rewards (cash offers need Stripe), one limited, one for gold members.
func demoOffers() []domain.Offer {
	stock := int64(50)
	return []domain.Offer{
		{ID: "5d1c3c0e-0b7a-4f4e-9a43-000000000001", Title: "Free coffee", Description: "Any hot drink, any size.", PointsCost: 150, EligibleTiers: []string{}},
		{ID: "5d1c3c0e-0b7a-4f4e-9a43-000000000002", Title: "Tote bag", Description: "The canvas tote, while stock lasts.", PointsCost: 600, Stock: &stock, EligibleTiers: []string{}},
		{ID: "5d1c3c0e-0b7a-4f4e-9a43-000000000003", Title: "Gold lounge pass", Description: "A day in the members' lounge.", PointsCost: 2000, EligibleTiers: []string{"gold"}},
	}
}

// seedDemoCatalog puts the demo offers in an empty catalog, once: a catalog with any offer is left as it is.
func seedDemoCatalog(ctx context.Context, st *store.Store, log *slog.Logger) error {
	existing, _, err := st.ListOffers(ctx, "", time.Now(), "", 1)
	if err != nil || len(existing) > 0 {
		return err
	}
	for _, o := range demoOffers() {
		o.CancelWindowMinutes = domain.DefaultCancelWindowMinutes
		if _, err := st.CreateOffer(ctx, o, "perkflow dev"); err != nil {
			return err
		}
	}
	log.Info("demo catalog installed", "offers", len(demoOffers()))
	return nil
}

type devKey struct{ role, name, key string }

// freshDevKeys revokes the previous start's dev keys and creates new ones, so that a key is only ever printed once.
func freshDevKeys(ctx context.Context, st *store.Store) ([]devKey, error) {
	var out []devKey
	for _, role := range devKeyRoles {
		name := "dev-" + role
		if err := st.RevokeAPIKey(ctx, name); err != nil && domain.CodeOf(err) != domain.ErrNotFound {
			return nil, err
		}
		k, err := st.CreateAPIKey(ctx, name, role)
		if err != nil {
			return nil, err
		}
		out = append(out, devKey{role: role, name: name, key: k})
	}
	return out, nil
}

func printBanner(cfg config.Config, uiURL, pgSource string, keys []devKey, took time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nperkflow dev is ready (%s)\n\n", took.Round(time.Millisecond))
	fmt.Fprintf(&b, "  API          http://%s (reference at /docs)\n", cfg.HTTPAddr)
	fmt.Fprintf(&b, "  Console      http://%s/console/ (sign in with the marketer, support or admin key below)\n", cfg.HTTPAddr)
	fmt.Fprintf(&b, "  Member app   http://%s/app/ (sign in with a member's email: the link is printed in the log)\n", cfg.HTTPAddr)
	if cfg.MetricsAddr != config.MetricsOff {
		fmt.Fprintf(&b, "  Metrics      http://%s/metrics\n", cfg.MetricsAddr)
	}
	if cfg.Tracing.Endpoint != "" {
		fmt.Fprintf(&b, "  Traces       %s (OTLP)\n", cfg.Tracing.Endpoint)
	}
	fmt.Fprintf(&b, "  Temporal     %s (namespace %s)\n", cfg.TemporalAddress, cfg.TemporalNamespace)
	if uiURL != "" {
		fmt.Fprintf(&b, "  Temporal UI  %s\n", uiURL)
	}
	fmt.Fprintf(&b, "  Postgres     %s\n", pgSource)
	fmt.Fprintf(&b, "  State        %s/ (delete it to start over)\n", cfg.DataDir)
	if cfg.StripeSecretKey == "" {
		fmt.Fprintf(&b, "  Payments     none: points-only offers work; cash offers need STRIPE_SECRET_KEY (Stripe test mode, or stripe-mock with STRIPE_API_BASE)\n\n")
	} else {
		fmt.Fprintf(&b, "  Payments     Stripe at %s\n\n", cfg.StripeAPIBase)
	}
	fmt.Fprintf(&b, "API keys for this run (shown once; the previous run's are revoked):\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-9s %s\n", k.role, k.key)
	}
	fmt.Fprintf(&b, "\nMember tokens: perkflow token member MEMBER_ID\nCtrl-C stops everything.\n\n")
	fmt.Fprint(os.Stdout, b.String())
}

// runDevTemporal runs only perkflow dev's embedded Temporal server (and its UI unless PERKFLOW_UI_ADDR is "off"), on
// TEMPORAL_ADDRESS with its SQLite state under PERKFLOW_DATA_DIR, until it is stopped: a Temporal server of its own
// process for perkflow api and perkflow worker run beside it (the fault suite kills it and starts it again).
func runDevTemporal(ctx context.Context) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", cfg.DataDir, err)
	}
	tsrv, err := devenv.StartTemporal(ctx, devenv.TemporalOptions{
		DataDir: cfg.DataDir, FrontendAddr: cfg.TemporalAddress, UIAddr: devUIAddr(cfg),
		Namespace: cfg.TemporalNamespace, SearchAttributes: worker.SearchAttributes, Logger: log.With("component", "temporal-server"),
	})
	if err != nil {
		return fmt.Errorf("start embedded Temporal on %s: %w", cfg.TemporalAddress, err)
	}
	log.Info("temporal ready", "address", tsrv.FrontendAddr(), "ui", tsrv.UIURL(), "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	return tsrv.Stop()
}

// devUIAddr is where the embedded Temporal UI listens; "" (none) when PERKFLOW_UI_ADDR is "off".
func devUIAddr(cfg config.Config) string {
	if cfg.UIAddr == "off" {
		return ""
	}
	return cfg.UIAddr
}
