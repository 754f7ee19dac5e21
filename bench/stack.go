package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/stripemock"
	"github.com/perkflow/perkflow/migrations"
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
	tc        client.Client
	dbURL     string
	dbName    string // set when the bench created the database (and drops it)
	pool      *pgxpool.Pool
	store     *store.Store
	apiURL    string
	apiKey    string // pos
	keyName   string
	// marketerKey creates offers; jwt mints member tokens the API accepts.
	marketerKey string
	jwt         api.JWTConfig
	stripe      *stripemock.Process
	taskQueue   string
	api         *child
	worker      *child
	external    bool // the API and worker are not ours
	trigger     bool // the visibility trigger is installed
	baseline    *Baseline

	stopTemporal func() error
	logFile      *os.File
}

// child is perkflow api or perkflow worker, run as a separate process so that its memory and CPU are its own.
type child struct {
	role   string
	cmd    *exec.Cmd
	pprof  string // host:port of its profiling endpoint, or ""
	log    string
	exited chan struct{}
	err    error
}

func (c *child) pid() int {
	if c == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
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

	// Temporal.
	s.temporal = opts.TemporalAddr
	if s.temporal == "" {
		if s.external {
			return s, errors.New("--api needs --temporal too: the Temporal floor and the history bound are measured on the API's Temporal server")
		}
		if s.temporal, err = freeAddr(); err != nil {
			return s, err
		}
		progress("starting an embedded Temporal server on %s (SQLite under %s)", s.temporal, s.dir)
		stop, err := startEmbeddedTemporal(ctx, filepath.Join(s.dir, "temporal"), s.temporal, s.namespace, s.log.With("component", "temporal-server"))
		if err != nil {
			return s, err
		}
		s.stopTemporal = stop
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s.tc, err = client.DialContext(dctx, client.Options{
		HostPort: s.temporal, Namespace: s.namespace,
		Logger: sdklog.NewStructuredLogger(s.log.With("component", "temporal-sdk")),
	})
	if err != nil {
		return s, fmt.Errorf("cannot reach Temporal at %s: %w", s.temporal, err)
	}

	// Postgres.
	if s.external {
		s.dbURL = opts.DatabaseURL
		if s.dbURL == "" {
			return s, errors.New("--api needs DATABASE_URL (or --database): the bench creates its API key there and watches accruals commit")
		}
	} else {
		if s.dbURL, s.dbName, err = createDatabase(ctx, opts.PGAdminURL, "perkflow_bench_"+s.runID); err != nil {
			return s, err
		}
		progress("created database %s", s.dbName)
	}
	if s.pool, err = store.OpenPool(ctx, s.dbURL); err != nil {
		return s, err
	}
	s.store = store.New(s.pool)
	if !s.external {
		if err := migrations.Up(ctx, s.pool, s.log); err != nil {
			return s, err
		}
		if err := seedProgram(ctx, s.store); err != nil {
			return s, fmt.Errorf("install the default program: %w", err)
		}
	}
	if err := installVisibilityTrigger(ctx, s.pool); err != nil {
		return s, fmt.Errorf("add the bench's commit trigger on transactions: %w", err)
	}
	s.trigger = true
	s.keyName = "bench-pos-" + s.runID
	if s.apiKey, err = s.store.CreateAPIKey(ctx, s.keyName, "pos"); err != nil {
		return s, fmt.Errorf("create the bench's API key: %w", err)
	}
	if s.marketerKey, err = s.store.CreateAPIKey(ctx, "bench-marketer-"+s.runID, "marketer"); err != nil {
		return s, fmt.Errorf("create the bench's API key: %w", err)
	}
	s.jwt = api.JWTConfig{Secret: []byte(os.Getenv("PERKFLOW_JWT_SECRET")), Issuer: "perkflow", Audience: "perkflow-members"}

	if s.external {
		s.apiURL = strings.TrimRight(opts.APIURL, "/")
		return s, s.waitReady(ctx, nil)
	}

	// perkflow api and perkflow worker, as the deployment runs them.
	s.taskQueue = "perkflow-bench-" + s.runID
	httpAddr, err := freeAddr()
	if err != nil {
		return s, err
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
		"PERKFLOW_JWT_ISSUER="+s.jwt.Issuer,
		"PERKFLOW_JWT_AUDIENCE="+s.jwt.Audience,
		"PERKFLOW_LOG_FORMAT=json",
		"PERKFLOW_LOG_LEVEL="+opts.ChildLogLevel,
		// The bench is one caller with one API key offering load on purpose: the per-caller limits that protect a
		// deployment from a runaway client would measure themselves, not perkflow, so they are off.
		"PERKFLOW_API_KEY_RPS=0", "PERKFLOW_API_KEY_MAX_IN_FLIGHT=0", "PERKFLOW_MEMBER_RPS=0", "PERKFLOW_MEMBER_MAX_WRITES=0",
	)
	// Cash offers are paid through stripe-mock when it is installed.
	if slices.Contains(opts.Scenarios, "redemption") {
		if bin := findStripeMock(opts.StripeMock); bin != "" {
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
	for _, role := range []string{"worker", "api"} {
		c, err := s.startChild(role, env)
		if err != nil {
			return s, err
		}
		if role == "api" {
			s.api = c
		} else {
			s.worker = c
		}
	}
	progress("started perkflow api (pid %d, %s) and perkflow worker (pid %d), task queue %s", s.api.pid(), s.apiURL, s.worker.pid(), s.taskQueue)
	return s, s.waitReady(ctx, s.worker)
}

func (s *stack) startChild(role string, env []string) (*child, error) {
	c := &child{role: role, log: filepath.Join(s.dir, role+".log"), exited: make(chan struct{})}
	if s.opts.PprofDir != "" {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		c.pprof = addr
	}
	args := s.opts.ChildArgs(role, c.pprof)
	c.cmd = exec.Command(s.opts.Exe, args...)
	c.cmd.Env = env
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = f, f
	dieWithParent(c.cmd)
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start perkflow %s: %w", role, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		f.Close()
		close(c.exited)
	}()
	return c, nil
}

// waitReady waits until the API answers /readyz and the worker polls its task queue.
func (s *stack) waitReady(ctx context.Context, w *child) error {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if err := s.childrenAlive(); err != nil {
			return err
		}
		ready := false
		if res, err := hc.Get(s.apiURL + "/readyz"); err == nil {
			ready = res.StatusCode == http.StatusOK
			res.Body.Close()
		}
		if ready && w != nil {
			d, err := s.tc.DescribeTaskQueue(ctx, s.taskQueue, enums.TASK_QUEUE_TYPE_WORKFLOW)
			ready = err == nil && len(d.GetPollers()) > 0
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("perkflow api/worker not ready after 90 s (logs in %s): %w", s.dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// childrenAlive reports a child that has exited, with the end of its log.
func (s *stack) childrenAlive() error {
	for _, c := range []*child{s.api, s.worker} {
		if c == nil {
			continue
		}
		select {
		case <-c.exited:
			tail, _ := os.ReadFile(c.log)
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("perkflow %s exited (%v); its log ends:\n%s", c.role, c.err, tail)
		default:
		}
	}
	return nil
}

func stopChild(c *child) {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// close stops whatever startStack started, in reverse, and removes the database and the temporary directory.
func (s *stack) close() {
	if s == nil {
		return
	}
	stopChild(s.api)
	stopChild(s.worker)
	if s.external && s.store != nil && s.keyName != "" {
		_ = s.store.RevokeAPIKey(context.Background(), s.keyName)
		_ = s.store.RevokeAPIKey(context.Background(), "bench-marketer-"+s.runID)
	}
	s.stripe.Stop()
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

// seedProgram installs what perkflow dev installs on a fresh database: the default program and its earning rules
// (one point per euro), effective from 2000.
func seedProgram(ctx context.Context, st *store.Store) error {
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), epoch, "perkflow bench"); err != nil {
		return err
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, epoch, "perkflow bench"); err != nil {
			return err
		}
	}
	return nil
}

// createDatabase makes a fresh database on the server of adminURL and returns its URL.
func createDatabase(ctx context.Context, adminURL, name string) (string, string, error) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	admin, err := pgx.Connect(cctx, adminURL)
	if err != nil {
		return "", "", fmt.Errorf("the bench makes a fresh database on the Postgres server at %s and cannot reach it "+
			"(start one, or pass --pg-admin URL with a user allowed to CREATE DATABASE): %w", redact(adminURL), err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + name
	return u.String(), name, nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// dbNameOf is the name of the database the stack uses.
func (s *stack) dbNameOf() string {
	if s.dbName != "" {
		return s.dbName
	}
	if u, err := url.Parse(s.dbURL); err == nil {
		return strings.TrimPrefix(u.Path, "/")
	}
	return ""
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

// memory reads the resident memory of the API and worker processes.
func (s *stack) memory() (api, worker *Memory) {
	if pid := s.api.pid(); pid > 0 {
		if m, err := procMemory(pid); err == nil {
			api = &m
		}
	}
	if pid := s.worker.pid(); pid > 0 {
		if m, err := procMemory(pid); err == nil {
			worker = &m
		}
	}
	return
}

// profile fetches a CPU profile of seconds from a child's profiling endpoint into file.
func profileChild(ctx context.Context, c *child, kind string, seconds int, file string) error {
	if c == nil || c.pprof == "" {
		return nil
	}
	u := "http://" + c.pprof + "/debug/pprof/" + kind
	if kind == "profile" {
		u += "?seconds=" + strconv.Itoa(seconds)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, res.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
