// Package itest assembles perkflow's real parts for integration tests: a fresh Postgres database, an in-process
// Temporal server (go.temporal.io/server/temporaltest), the worker and the HTTP API on a loopback port.
package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/metrics"
	"github.com/perkflow/perkflow/internal/telemetry"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
)

// Temporal is one in-process Temporal server shared by a test package.
type Temporal struct {
	Server *temporaltest.TestServer
	Client client.Client
}

// PayloadKeys are the payload keys of every stack: its Temporal clients encrypt every payload under them, as
// perkflow's do (privacy.DataConverter), and its members' data keys are wrapped under them.
var PayloadKeys = func() *privacy.Keyring {
	k, err := privacy.NewKeyring(privacy.Key{ID: "itest1", Secret: []byte("itest-payload-key-32-bytes-long!")})
	if err != nil {
		panic(err)
	}
	return k
}()

// ClientOptions are the options every Temporal client of a stack starts from: perkflow's payload codec.
func ClientOptions() client.Options {
	dc := privacy.DataConverter(PayloadKeys)
	return client.Options{DataConverter: dc, FailureConverter: privacy.FailureConverter(dc)}
}

// StartTemporal starts the server and registers perkflow's search attributes; call Stop when the package is done.
func StartTemporal() (*Temporal, error) {
	ts := temporaltest.NewServer(temporaltest.WithBaseClientOptions(ClientOptions()))
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := worker.EnsureSearchAttributes(ctx, c, ts.GetDefaultNamespace()); err != nil {
		ts.Stop()
		return nil, err
	}
	return &Temporal{Server: ts, Client: c}, nil
}

// Stop shuts the server down.
func (t *Temporal) Stop() { t.Server.Stop() }

// RunWithTemporal is a package's TestMain around one shared server: it starts the server into *temporal, runs the
// tests, stops it and returns the exit code (1 with the reason on stderr when the server does not start).
func RunWithTemporal(m *testing.M, temporal **Temporal) int {
	t, err := StartTemporal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start temporal:", err)
		return 1
	}
	*temporal = t
	code := m.Run()
	t.Stop()
	return code
}

// CouponSecret is the coupon secret of every stack's store.
var CouponSecret = []byte("itest-coupon-secret-itest-coupon-secret")

// Options tune a Stack.
type Options struct {
	// NoWorker leaves the worker stopped; call StartWorker later.
	NoWorker bool
	// MemberHistoryLimit is passed to the API for the member workflows it starts.
	MemberHistoryLimit int
	// WaitBudget is the API's wait budget (default 30s: generous for the race detector on a loaded machine; tests of
	// 202 answers set a short one or run without a worker).
	WaitBudget time.Duration
	// Log receives the API and worker logs (default: discarded).
	Log *slog.Logger
	// Limits are the API's request limits (default: api.DefaultLimits()).
	Limits *api.Limits
	// Tracing traces the stack as a deployment does (telemetry.New over a test provider, e.g. with a span
	// recorder): the API's requests, a Temporal client with the tracing interceptors for the API and the worker, a
	// pool whose every statement is traced.
	Tracing telemetry.Tracing
	// Metrics gives the API and the worker each a registry as their processes have, served at APIMetricsURL and
	// WorkerMetricsURL: the API's request metrics; the business counters, points outstanding, the pool and the
	// Temporal SDK's metrics for the worker.
	Metrics bool
	// Webhooks tunes the worker's webhook deliveries (a short retry schedule, say); its AllowPrivate is the API's
	// too, so that tests can register receivers on loopback.
	Webhooks activities.WebhookOptions
	// CodecOrigins are the Temporal UI origins the codec endpoints answer CORS for.
	CodecOrigins []string
	// Unsubscribe signs (worker) and checks (API) unsubscribe links; TwilioAuthToken and PublicURL verify inbound
	// SMS webhooks (the API's Config fields of the same names).
	Unsubscribe     domain.Unsubscriber
	TwilioAuthToken string
	PublicURL       string
	// MaxImportBytes bounds an import file (api.Config.MaxImportBytes).
	MaxImportBytes int64
	// JWKSURL makes the API verify member tokens against an identity provider's keys too (api.JWTConfig.JWKSURL),
	// beside the stack's HS256 secret.
	JWKSURL string
	// Stripe, when its APIBase is set, takes card payments of cash offers: the worker charges through that Stripe
	// (stripefake, stripe-mock) with a test key, and the API verifies Stripe's webhook with WebhookSecret.
	Stripe Stripe
}

// Stripe is where a stack's card payments go (Options.Stripe).
type Stripe struct {
	APIBase, WebhookSecret string
	// PaymentWait is how long the saga waits for 3-D Secure (the API's RewardsConfig.PaymentWait; 0: its default).
	PaymentWait time.Duration
}

// Stack is the API and worker over a fresh database, on a task queue of their own.
type Stack struct {
	T         testing.TB
	DB        *pgtest.DB
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	API       *httptest.Server
	// Server is the API the stack serves, for clients in the test's process (the console).
	Server *api.Server
	// IDSecret keys the ids the API derives (api.Config.IDSecret).
	IDSecret []byte
	Keys     map[string]string // role → API key
	// Actors are the keys' names in audit records (api.Principal.Actor): role → "apikey:<id> (itest-<role>)".
	Actors map[string]string
	JWT    api.JWTConfig
	// APIMetricsURL and WorkerMetricsURL serve the API's and the worker's registries (Options.Metrics).
	APIMetricsURL, WorkerMetricsURL string
	log                             *slog.Logger
	unsubscribe                     domain.Unsubscriber
	worker                          *worker.Workers
	stopDispatcher                  context.CancelFunc
	business                        *metrics.Business
	webhooks                        activities.WebhookOptions
	stripe                          Stripe
	router                          chi.Routes
	resends                         *atomic.Int64 // shared with the copies For makes
}

var queues atomic.Int64

// NewStack builds a stack for one test.
func NewStack(t testing.TB, tmp *Temporal, opts Options) *Stack {
	t.Helper()
	db := pgtest.New(t)
	st, err := store.New(db.Pool).WithCouponSecret(CouponSecret)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), epoch, "itest"); err != nil {
		t.Fatal(err)
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, epoch, "itest"); err != nil {
			t.Fatal(err)
		}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Stack{resends: new(atomic.Int64),
		T: t, DB: db, Store: st, Temporal: tmp.Client, log: log, unsubscribe: opts.Unsubscribe,
		TaskQueue: fmt.Sprintf("itest-%d-%d", time.Now().UnixNano(), queues.Add(1)),
		Keys:      map[string]string{},
		Actors:    map[string]string{},
		JWT: api.JWTConfig{Secret: []byte("itest-secret-itest-secret-itest-secret"), Issuer: "perkflow", Audience: "perkflow-members",
			JWKSURL: opts.JWKSURL},
		IDSecret: []byte("itest-id-secret-itest-id-secret-itest"),
		webhooks: opts.Webhooks,
		stripe:   opts.Stripe,
	}
	for _, role := range store.Roles {
		k, err := st.CreateAPIKey(ctx, "itest-"+role, role)
		if err != nil {
			t.Fatal(err)
		}
		s.Keys[role] = k
		rec, err := st.AuthenticateAPIKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		s.Actors[role] = api.KeyPrincipal(rec).Actor()
	}
	wb := opts.WaitBudget
	if wb == 0 {
		wb = 30 * time.Second
	}
	apiReg := s.observe(t, opts, tmp.Server.GetDefaultNamespace())
	srv := api.New(api.Config{
		Store: s.Store, Temporal: s.Temporal, TaskQueue: s.TaskQueue, WaitBudget: wb, JWT: s.JWT, Log: log,
		MemberHistoryLimit: opts.MemberHistoryLimit, Limits: opts.Limits, Metrics: apiReg,
		IDSecret: s.IDSecret, WebhookAllowPrivate: opts.Webhooks.AllowPrivate, MaxImportBytes: opts.MaxImportBytes,
		Unsubscribe: opts.Unsubscribe, TwilioAuthToken: opts.TwilioAuthToken, PublicURL: opts.PublicURL,
		Members: s.Members(), Codec: privacy.NewCodec(PayloadKeys), CodecOrigins: opts.CodecOrigins,
		Rewards: api.RewardsConfig{PaymentsEnabled: opts.Stripe.APIBase != "", StripeWebhookSecret: opts.Stripe.WebhookSecret,
			PaymentWait: opts.Stripe.PaymentWait},
	})
	lctx, cancel := context.WithCancel(ctx)
	go srv.Run(lctx)
	s.Server = srv
	router := srv.Handler()
	s.router, _ = router.(chi.Routes)
	h := http.Handler(router)
	if s.router != nil {
		h = recordRoutes(s.router, router)
	}
	s.API = httptest.NewServer(opts.Tracing.Handler(h))
	t.Cleanup(func() {
		s.API.Close()
		cancel()
		s.StopWorker()
	})
	if !opts.NoWorker {
		s.StartWorker()
	}
	return s
}

// observe wires Options.Tracing and Options.Metrics into the stack as cmd/perkflow wires them into a deployment:
// a traced pool, a Temporal client of its own (the shared server's connection, the stack's interceptors and SDK
// metrics), the store counting its committed effects. It returns the API's registry (nil without metrics).
func (s *Stack) observe(t testing.TB, opts Options, namespace string) prometheus.Registerer {
	t.Helper()
	if !opts.Tracing.Enabled() && !opts.Metrics {
		return nil
	}
	if tracer := opts.Tracing.QueryTracer(); tracer != nil {
		pool, err := store.OpenPool(context.Background(), s.DB.URL, func(c *pgxpool.Config) { c.ConnConfig.Tracer = tracer })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		s.Store = store.New(pool)
	}
	interceptors, err := opts.Tracing.TemporalInterceptors()
	if err != nil {
		t.Fatal(err)
	}
	copts := ClientOptions()
	copts.Namespace, copts.Interceptors = namespace, interceptors
	copts.Logger = sdklog.NewStructuredLogger(s.log.With("component", "temporal-sdk"))
	var apiReg *prometheus.Registry
	if opts.Metrics {
		workerReg := prometheus.NewRegistry()
		apiReg = prometheus.NewRegistry()
		if copts.MetricsHandler, err = metrics.TemporalHandler(workerReg); err != nil {
			t.Fatal(err)
		}
		s.business = metrics.NewBusiness(workerReg)
		metrics.RegisterOutstanding(workerReg, s.Store.OutstandingPoints)
		metrics.RegisterPool(workerReg, s.Store.Pool())
		s.Store = s.Store.WithMetrics(s.business)
		s.APIMetricsURL, s.WorkerMetricsURL = serveRegistry(t, apiReg), serveRegistry(t, workerReg)
	}
	c, err := client.NewClientFromExisting(s.Temporal, copts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	s.Temporal = c
	if apiReg == nil {
		return nil
	}
	return apiReg
}

// serveRegistry serves reg as a process's metrics listener does, and returns the URL of its /metrics.
func serveRegistry(t testing.TB, reg *prometheus.Registry) string {
	hs := httptest.NewServer(metrics.Handler(reg))
	t.Cleanup(hs.Close)
	return hs.URL + "/metrics"
}

// For returns the stack reporting to t instead (a subtest, or the *testing.T of a fuzz target's function).
func (s *Stack) For(t testing.TB) *Stack {
	c := *s
	c.T = t
	return &c
}

// StartWorker starts the worker on the stack's task queue.
func (s *Stack) StartWorker() {
	s.T.Helper()
	if s.worker != nil {
		return
	}
	acts := &activities.Activities{Store: s.Store, Notifier: activities.LogNotifier{Log: s.log}, Log: s.log, Metrics: s.business,
		Webhooks: s.webhooks, Members: s.Members(), Unsubscribe: s.unsubscribe, ShredMemberKey: s.Store.DeleteMemberKey}
	if s.stripe.APIBase != "" {
		acts.Rewards.Payments = activities.NewStripePayments(activities.StripeConfig{SecretKey: "sk_test_itest", APIBase: s.stripe.APIBase})
	}
	w := worker.NewWorkers(s.Temporal, s.TaskQueue, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		s.T.Fatal(err)
	}
	s.worker = w
	ctx, cancel := context.WithCancel(context.Background())
	go worker.RunWebhookDispatcher(ctx, s.Temporal, s.TaskQueue, acts, s.log)
	s.stopDispatcher = cancel
}

// Members seals and opens members' personal fields as the stack's API and worker do.
func (s *Stack) Members() *privacy.Members {
	return &privacy.Members{Keys: PayloadKeys, Store: s.Store}
}

// StopWorker stops the worker, if running.
func (s *Stack) StopWorker() {
	if s.stopDispatcher != nil {
		s.stopDispatcher()
		s.stopDispatcher = nil
	}
	if s.worker != nil {
		s.worker.Stop()
		s.worker = nil
	}
}

// Response is an HTTP answer with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body.
func (r Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request with a bearer token (none when token is ""); body is marshalled unless it is []byte or string.
func (s *Stack) Do(method, path, token string, body any, headers ...string) Response {
	s.T.Helper()
	var payload []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	case string:
		payload = []byte(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.T.Fatal(err)
		}
		payload = j
	}
	for attempt := 1; ; attempt++ {
		out, req := s.send(method, path, token, body != nil, payload, headers)
		s.checkContract(req, out)
		// A 503 of a Temporal slower than the API's call deadline (a loaded machine running the race detector) is sent
		// again after its Retry-After, as the answer tells a client to, when sending it again is safe: a read, an
		// erasure, a request with an Idempotency-Key, or a POS operation named by its own id. Anything else is the
		// test's to judge. A test that counts what the workflows were sent reads Resends.
		if out.Status != http.StatusServiceUnavailable || !strings.HasSuffix(problemType(out.Body), "#temporal-unavailable") ||
			!retrySafe(req) || attempt == maxResends+1 {
			return out
		}
		after := retryAfter(out.Header)
		s.resends.Add(1)
		s.T.Logf("%s %s answered 503 temporal-unavailable: sent again after %s (attempt %d), as a client does", method, path, after, attempt)
		time.Sleep(after)
	}
}

// maxResends bounds how many times Do sends a request again after a 503 (each after its Retry-After, 2 s): about
// half a minute of a Temporal too loaded to answer in time.
const maxResends = 15

// retryAfter is the wait a 503's Retry-After asks for (seconds), a second when it has none.
func retryAfter(h http.Header) time.Duration {
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n > 0 && n <= 60 {
		return time.Duration(n) * time.Second
	}
	return time.Second
}

// Resends is how many requests Do has sent again after a 503 temporal-unavailable: a request answered "may have
// been accepted" and sent again reaches its workflow twice, which the workflow's own counters (a member's
// purchases_processed) count.
func (s *Stack) Resends() int64 { return s.resends.Load() }

func (s *Stack) send(method, path, token string, hasBody bool, payload []byte, headers []string) (Response, *http.Request) {
	s.T.Helper()
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, s.API.URL+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.T.Fatal(err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}, req
}

// retrySafe says whether a request may be sent again with no risk of applying twice.
func retrySafe(req *http.Request) bool {
	switch {
	case req.Method == http.MethodGet || req.Method == http.MethodDelete || req.Header.Get("Idempotency-Key") != "":
		return true
	case req.Method != http.MethodPost:
		return false
	}
	p := req.URL.Path
	return p == "/v1/transactions/accrue" || p == "/v1/transactions/redeem" ||
		(strings.HasPrefix(p, "/v1/transactions/") && strings.HasSuffix(p, "/return")) ||
		(strings.HasPrefix(p, "/v1/members/") && strings.HasSuffix(p, "/adjustments"))
}

// problemType is the type of a problem+json body ("" when it is not one).
func problemType(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Type
}

// MemberToken mints a member token accepted by the stack's API.
func (s *Stack) MemberToken(memberID string) string {
	s.T.Helper()
	tok, err := api.MintMemberToken(s.JWT, memberID, time.Hour, time.Now())
	if err != nil {
		s.T.Fatal(err)
	}
	return tok
}

// LedgerInvariants checks the ledger's invariants over the stack's database (store.CheckInvariants).
func (s *Stack) LedgerInvariants() {
	s.T.Helper()
	if err := s.Store.CheckInvariants(context.Background()); err != nil {
		s.T.Fatal(err)
	}
}
