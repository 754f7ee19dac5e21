package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/stripemock"
	"github.com/perkflow/perkflow/migrations"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
)

// stack is what the bench runs against: Temporal, a Postgres database, and perkflow's API and worker as child
// processes of this binary — or an external API, when the bench is pointed at one.
type stack struct {
	opts      Options
	log       *slog.Logger
	dir       string // temporary directory: Temporal's SQLite, child logs
	runID     string
	temporal  string // frontend host:port
	namespace string
	// payloadKeys is PERKFLOW_PAYLOAD_KEYS of the api and worker children and of the bench's client.
	payloadKeys string
	tc          client.Client
	dbURL       string
	dbName      string // set when the bench created the database (and drops it)
	pool        *pgxpool.Pool
	store       *store.Store
	apiURL      string
	apiKey      string // pos
	keyName     string
	// marketerKey creates offers; jwt mints member tokens the API accepts.
	marketerKey string
	jwt         api.JWTConfig
	stripe      *stripemock.Process
	taskQueue   string
	api         *child
	workers     []*child // Options.Workers of them
	external    bool     // the API and worker are not ours
	trigger     bool     // the visibility trigger is installed
	baseline    *Baseline

	stopTemporal func() error
	logFile      *os.File
	// traces receives the children's spans with Options.Tracing.
	traces *traceSink
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startStack brings up (or connects to) everything the scenarios need.
func startStack(ctx context.Context, opts Options, progress func(string, ...any)) (s *stack, err error) {
	s = &stack{opts: opts, runID: randomHex(3), namespace: opts.Namespace}
	defer func() {
		if err != nil {
			s.close()
			s = nil
		}
	}()
	if s.dir, err = os.MkdirTemp("", "perkflow-bench-"); err != nil {
		return s, err
	}
	if s.logFile, err = os.Create(filepath.Join(s.dir, "bench.log")); err != nil {
		return s, err
	}
	s.log = slog.New(slog.NewTextHandler(s.logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s.external = opts.APIURL != ""
	if err := s.connectTemporal(ctx, progress); err != nil {
		return s, err
	}
	if err := s.openDatabase(ctx, progress); err != nil {
		return s, err
	}
	if s.external {
		s.apiURL = strings.TrimRight(opts.APIURL, "/")
		return s, s.waitReady(ctx, 0)
	}
	return s, s.startChildren(ctx, progress)
}

// connectTemporal starts the embedded Temporal server (unless Options.TemporalAddr names one) and dials it.
func (s *stack) connectTemporal(ctx context.Context, progress func(string, ...any)) error {
	s.temporal = s.opts.TemporalAddr
	if s.temporal == "" {
		if s.external {
			return errors.New("--api needs --temporal too: the Temporal floor and the history bound are measured on the API's Temporal server")
		}
		var err error
		if s.temporal, err = freeAddr(); err != nil {
			return err
		}
		progress("starting an embedded Temporal server on %s (SQLite under %s)", s.temporal, s.dir)
		stop, err := startEmbeddedTemporal(ctx, filepath.Join(s.dir, "temporal"), s.temporal, s.namespace, s.log.With("component", "temporal-server"))
		if err != nil {
			return err
		}
		s.stopTemporal = stop
	}
	// The payload keys of perkflow's api and worker (a running stack's: PERKFLOW_PAYLOAD_KEYS), which the bench's
	// own client encrypts and decrypts under as they do.
	if s.payloadKeys = os.Getenv("PERKFLOW_PAYLOAD_KEYS"); s.payloadKeys == "" && !s.external {
		var err error
		if s.payloadKeys, err = privacy.NewKeySpec("bench1"); err != nil {
			return err
		}
	}
	keys, err := privacy.ParseKeys(s.payloadKeys)
	if err != nil {
		return fmt.Errorf("PERKFLOW_PAYLOAD_KEYS: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dc := privacy.DataConverter(keys)
	tc, err := client.DialContext(dctx, client.Options{
		HostPort: s.temporal, Namespace: s.namespace,
		Logger:        sdklog.NewStructuredLogger(s.log.With("component", "temporal-sdk")),
		DataConverter: dc, FailureConverter: privacy.FailureConverter(dc),
	})
	if err != nil {
		return fmt.Errorf("cannot reach Temporal at %s: %w", s.temporal, err)
	}
	s.tc = tc
	return nil
}

// openDatabase creates the bench's fresh database (or, pointed at a running API, opens its database), migrates and
// seeds it, installs the commit trigger and creates the bench's API keys.
func (s *stack) openDatabase(ctx context.Context, progress func(string, ...any)) (err error) {
	if s.external {
		s.dbURL = s.opts.DatabaseURL
		if s.dbURL == "" {
			return errors.New("--api needs DATABASE_URL (or --database): the bench creates its API key there and watches accruals commit")
		}
	} else {
		if s.dbURL, s.dbName, err = createDatabase(ctx, s.opts.PGAdminURL, "perkflow_bench_"+s.runID); err != nil {
			return err
		}
		progress("created database %s", s.dbName)
	}
	if s.pool, err = store.OpenPool(ctx, s.dbURL); err != nil {
		return err
	}
	s.store = store.New(s.pool)
	if !s.external {
		if err := migrations.Up(ctx, s.pool, s.log); err != nil {
			return err
		}
		if err := seedProgram(ctx, s.store); err != nil {
			return fmt.Errorf("install the default program: %w", err)
		}
	}
	if err := installVisibilityTrigger(ctx, s.pool); err != nil {
		return fmt.Errorf("add the bench's commit trigger on transactions: %w", err)
	}
	s.trigger = true
	s.keyName = "bench-pos-" + s.runID
	if s.apiKey, err = s.store.CreateAPIKey(ctx, s.keyName, "pos"); err != nil {
		return fmt.Errorf("create the bench's API key: %w", err)
	}
	if s.marketerKey, err = s.store.CreateAPIKey(ctx, "bench-marketer-"+s.runID, "marketer"); err != nil {
		return fmt.Errorf("create the bench's API key: %w", err)
	}
	s.jwt = api.JWTConfig{Secret: []byte(os.Getenv("PERKFLOW_JWT_SECRET")), Issuer: "perkflow", Audience: "perkflow-members"}
	return nil
}

// startChildren runs perkflow api and perkflow worker as the deployment runs them (with stripe-mock for cash
// offers, when it is installed) and waits until they are ready.
func (s *stack) startChildren(ctx context.Context, progress func(string, ...any)) error {
	s.taskQueue = "perkflow-bench-" + s.runID
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	s.apiURL = "http://" + httpAddr
	s.jwt.Secret = []byte(randomHex(32))
	env := append(os.Environ(),
		"DATABASE_URL="+s.dbURL,
		"TEMPORAL_ADDRESS="+s.temporal,
		"TEMPORAL_NAMESPACE="+s.namespace,
		"PERKFLOW_TASK_QUEUE="+s.taskQueue,
		"PERKFLOW_HTTP_ADDR="+httpAddr,
		"PERKFLOW_DATA_DIR="+filepath.Join(s.dir, "data"),
		"PERKFLOW_JWT_SECRET="+string(s.jwt.Secret),
		"PERKFLOW_ID_SECRET="+randomHex(32),
		"PERKFLOW_COUPON_SECRET="+randomHex(32),
		"PERKFLOW_PAYLOAD_KEYS="+s.payloadKeys,
		"PERKFLOW_JWT_ISSUER="+s.jwt.Issuer,
		"PERKFLOW_JWT_AUDIENCE="+s.jwt.Audience,
		"PERKFLOW_LOG_FORMAT=json",
		"PERKFLOW_LOG_LEVEL="+s.opts.ChildLogLevel,
		// The bench is one caller with one API key offering load on purpose: the per-caller limits that protect a
		// deployment from a runaway client would measure themselves, not perkflow, so they are off.
		"PERKFLOW_API_KEY_RPS=0", "PERKFLOW_API_KEY_MAX_IN_FLIGHT=0", "PERKFLOW_MEMBER_RPS=0", "PERKFLOW_MEMBER_MAX_WRITES=0",
	)
	if s.opts.Tracing {
		if s.traces, err = startTraceSink(); err != nil {
			return err
		}
		env = append(env, "OTEL_EXPORTER_OTLP_ENDPOINT="+s.traces.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
		progress("tracing on: the children export every span to %s", s.traces.URL)
	}
	// Cash offers are paid through stripe-mock when it is installed.
	if slices.Contains(s.opts.Scenarios, "redemption") {
		if bin := findStripeMock(s.opts.StripeMock); bin != "" {
			if s.stripe, err = startStripeMock(bin, s.dir); err != nil {
				progress("stripe-mock did not start (%v): cash redemptions are left out", err)
			} else {
				progress("started stripe-mock (%s) for cash redemptions", s.stripe.URL)
				env = append(env, "STRIPE_SECRET_KEY=sk_test_123", "STRIPE_API_BASE="+s.stripe.URL)
			}
		} else {
			progress("stripe-mock is not installed (make test installs it in bin/): cash redemptions are left out")
		}
	}
	for i := range s.opts.Workers {
		name := "worker"
		if i > 0 {
			name = fmt.Sprintf("worker-%d", i+1)
		}
		c, err := s.startChild("worker", name, env)
		if err != nil {
			return err
		}
		s.workers = append(s.workers, c)
	}
	c, err := s.startChild("api", "api", env)
	if err != nil {
		return err
	}
	s.api = c
	progress("started perkflow api (pid %d, %s) and %d perkflow worker process(es) (pid %v), task queue %s",
		s.api.pid(), s.apiURL, len(s.workers), s.workerPIDs(), s.taskQueue)
	return s.waitReady(ctx, len(s.workers))
}

// close stops whatever startStack started, in reverse, and removes the database and the temporary directory.
func (s *stack) close() {
	if s == nil {
		return
	}
	stopChild(s.api)
	for _, w := range s.workers {
		stopChild(w)
	}
	if s.external && s.store != nil && s.keyName != "" {
		_ = s.store.RevokeAPIKey(context.Background(), s.keyName)
		_ = s.store.RevokeAPIKey(context.Background(), "bench-marketer-"+s.runID)
	}
	s.stripe.Stop()
	s.traces.stop()
	if s.external && s.trigger {
		_ = removeVisibilityTrigger(context.Background(), s.pool)
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.dbName != "" {
		if err := dropDatabase(context.Background(), s.opts.PGAdminURL, s.dbName); err != nil && s.log != nil {
			s.log.Warn("drop the bench database", "database", s.dbName, "error", err)
		}
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.stopTemporal != nil {
		_ = s.stopTemporal()
	}
	if s.logFile != nil {
		s.logFile.Close()
	}
	if s.dir != "" && !s.opts.KeepTemp {
		_ = os.RemoveAll(s.dir)
	}
}
