// Package api is perkflow's HTTP API: a thin chi router that authenticates and authorises, validates input, then
// starts, signals, updates or queries workflows, and reads views straight from Postgres. It never writes business
// state itself.
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/store"
)

//go:embed openapi.yaml
var openAPISpec []byte

// Config holds the API's dependencies.
type Config struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// WaitBudget is how long a request waits for asynchronous work before answering 202.
	WaitBudget time.Duration
	JWT        JWTConfig
	Log        *slog.Logger
	// MemberHistoryLimit overrides the member workflow's history bound (tests); 0 keeps the default.
	MemberHistoryLimit int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Limits bound each caller's requests (rate, in flight, writes per member); nil means DefaultLimits().
	Limits *Limits
	// Rewards configures offers, redemptions and the Stripe webhook.
	Rewards RewardsConfig
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	waiter  *accrualWaiter
	guards  *guards
	metrics *metrics
	handler http.Handler
}

// New builds the API. Call Run to start its background listener.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.WaitBudget <= 0 {
		cfg.WaitBudget = 2 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Log, waiter: newAccrualWaiter(cfg.Store.Pool(), cfg.Log)}
	s.guards = newGuards(s)
	s.metrics = newMetrics()
	s.handler = s.routes()
	return s
}

// Run keeps the accrual listener going until ctx ends.
func (s *Server) Run(ctx context.Context) {
	go s.guards.run(ctx) // prunes idempotency keys, forgets idle rate-limit buckets
	s.waiter.run(ctx)
}

// Handler is the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID, s.logRequests, middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusNotFound, "no such route")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, "this method is not allowed on this route")
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", s.metrics.handler())
	r.Get("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPISpec)
	})
	// Stripe authenticates its webhook by signature, not bearer token: outside the authenticated /v1 group.
	r.Post("/v1/webhooks/stripe", s.stripeWebhook)

	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate)
		r.Use(s.guards.middleware()...)
		r.With(allow(RolePOS, RoleAdmin)).Post("/members/register", s.registerMember)
		r.With(allow(RoleMember, RolePOS, RoleSupport, RoleAdmin)).Get("/members/{memberId}", s.getMember)
		r.With(allow(RoleMember, RoleSupport, RoleAdmin)).Get("/members/{memberId}/history", s.memberHistory)
		r.With(allow(RolePOS)).Post("/transactions/accrue", s.accrue)
		r.With(allow(RolePOS, RoleSupport, RoleAdmin)).Get("/transactions/{transactionId}", s.getTransaction)
		r.With(allow(RolePOS)).Post("/transactions/{transactionId}/return", s.returnPurchase)
		r.With(allow(RolePOS)).Post("/transactions/redeem", s.redeemAtTill)
		r.With(allow(RoleSupport, RoleAdmin)).Post("/members/{memberId}/adjustments", s.adjustPoints)
		r.With(allow(RoleMember, RolePOS, RoleMarketer, RoleSupport, RoleAdmin)).Get("/program", s.getProgram)
		r.With(allow(RoleAdmin)).Put("/program", s.putProgram)
		r.With(allow(RoleMarketer, RoleAdmin)).Get("/rules", s.listRules)
		r.With(allow(RoleMarketer, RoleAdmin)).Post("/rules", s.createRule)
		r.With(allow(RoleMarketer, RoleAdmin)).Post("/rules/simulate", s.simulateRules)
		r.With(allow(RoleMarketer, RoleAdmin)).Get("/rules/{ruleId}", s.getRule)
		r.With(allow(RoleMarketer, RoleAdmin)).Put("/rules/{ruleId}", s.updateRule)
		r.With(allow(RoleMarketer, RoleAdmin)).Delete("/rules/{ruleId}", s.deleteRule)
		s.rewardRoutes(r)
		s.campaignRoutes(r)
		s.engagementRoutes(r)
	})
	return r
}

// NewHTTPServer wraps the handler in an http.Server with timeouts, so that slow clients cannot hold connections.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		// Long enough for the largest wait a client may ask for with Prefer: wait.
		WriteTimeout:   maxWait + 10*time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "unmatched"
}

// logRequests logs each request with its route pattern (never the raw path, which may carry ids of members, and
// never headers, which carry keys and tokens).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		s.metrics.observe(routePattern(r), r.Method, ww.Status(), time.Since(start))
		lvl := slog.LevelInfo
		if ww.Status() >= 500 {
			lvl = slog.LevelError
		}
		s.log.Log(r.Context(), lvl, "http request",
			slog.String("request_id", middleware.GetReqID(r.Context())),
			slog.String("method", r.Method), slog.String("route", routePattern(r)),
			slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when Postgres and Temporal both answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "temporal": "ok"}
	ready := true
	if err := s.cfg.Store.Ping(ctx); err != nil {
		checks["postgres"], ready = "unreachable", false
	}
	if _, err := s.cfg.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = "unreachable", false
	}
	status := http.StatusOK
	if !ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ready, "checks": checks})
}
