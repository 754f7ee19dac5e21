// Package api is perkflow's HTTP API: a thin chi router that authenticates and authorises, validates input, then
// starts, signals, updates or queries workflows, and reads views straight from Postgres. It never writes business
// state itself.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
)

// Config holds the API's dependencies.
type Config struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// WaitBudget is how long a request waits for asynchronous work before answering 202.
	WaitBudget time.Duration
	// OnePurchasePerSignal sends each purchase alone in a SignalPurchase, for workers of releases before
	// SignalPurchases (PERKFLOW_PURCHASE_SIGNALS=single); otherwise accrualSignals groups them.
	OnePurchasePerSignal bool
	JWT                  JWTConfig
	Log                  *slog.Logger
	// MemberHistoryLimit overrides the member workflow's history bound (tests); 0 keeps the default.
	MemberHistoryLimit int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// MaxImportBytes bounds an import file (tests); 0 means domain.MaxImportBytes (2 GiB).
	MaxImportBytes int64
	// Limits bound each caller's requests (rate, in flight, writes per member); nil means DefaultLimits().
	Limits *Limits
	// Rewards configures offers, redemptions and the Stripe webhook.
	Rewards RewardsConfig
	// Metrics is where the API registers its request metrics (the process serves it on its metrics listener); nil
	// keeps them private.
	Metrics prometheus.Registerer
	// IDSecret keys the ids derived from clients' Idempotency-Keys (redemptions), so that nobody can compute them
	// (PERKFLOW_ID_SECRET, at least 32 bytes). Without it, claims with an Idempotency-Key answer 500.
	IDSecret []byte
	// ProbeInterval is how often the API checks its dependencies (the readiness probe that feeds the Temporal
	// breaker and the task-queue pollers metric); 0 means every second.
	ProbeInterval time.Duration
	// WebhookAllowPrivate accepts webhook endpoints over http or at non-public addresses (development and tests).
	WebhookAllowPrivate bool
	// Members seals the personal fields of a registration before they enter the member's workflow, and opens what
	// the workflow answers (docs/privacy.md). Required to register members.
	Members *privacy.Members
	// Codec is the payload codec of perkflow's Temporal clients, served to the Temporal UI and CLI at /codec/decode
	// and /codec/encode; nil serves neither (503).
	Codec *privacy.Codec
	// CodecOrigins are the origins (scheme://host[:port]) of Temporal UIs allowed to call the codec endpoints from a
	// browser (CORS).
	CodecOrigins []string
	// Unsubscribe checks the tokens of unsubscribe links (POST /v1/unsubscribe); the worker signs them with the same
	// secret. Without a secret every token is refused (400).
	Unsubscribe domain.Unsubscriber
	// TwilioAuthToken verifies the X-Twilio-Signature of inbound SMS (POST /v1/webhooks/twilio), whose URL is
	// PublicURL + the route; without it every inbound message is refused (403).
	TwilioAuthToken string
	// PublicURL is the API's public base URL (PERKFLOW_PUBLIC_URL), as Twilio and message links see it.
	PublicURL string
}

// RewardsConfig configures the rewards catalog and the redemption saga.
type RewardsConfig struct {
	// PaymentsEnabled says whether Stripe is configured; without it, claims of offers with a cash price are refused.
	PaymentsEnabled bool
	// StripeWebhookSecret verifies the Stripe-Signature of webhook events (whsec_…); empty refuses every event.
	StripeWebhookSecret string
	// PaymentWait is how long a 3-D Secure payment may wait for the member (0 = the workflow's default).
	PaymentWait time.Duration
}

// Server is the HTTP API.
type Server struct {
	cfg     Config
	log     *slog.Logger
	jwks    *jwksCache // the identity provider's keys; nil without PERKFLOW_JWKS_URL
	commits *commitListener
	keys    *keyCache
	guards  *guards
	metrics *requestMetrics
	handler http.Handler
	// temporal is the unguarded client, for the readiness probe; cfg.Temporal is the guarded one (outage.go).
	temporal client.Client
	breaker  *breaker
	// accruals sends accepted purchases to the members' workflows, together when they arrive together.
	accruals *accrualSignals
}

// New builds the API. Call Run to start its background listener.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.WaitBudget <= 0 {
		cfg.WaitBudget = 2 * time.Second
	}
	lim := DefaultLimits()
	if cfg.Limits != nil {
		lim = *cfg.Limits
	}
	// Every log line of the API goes through the redactor, so that no key, token, email or phone number is written
	// in clear, whatever a handler logs; it also adds the request id to lines logged with a request's context.
	log := slog.New(NewRedactingHandler(cfg.Log.Handler()))
	br := &breaker{}
	raw := cfg.Temporal
	cfg.Temporal = &guardedTemporal{Client: raw, br: br, timeout: temporalCallTimeout}
	keys := newKeyCache()
	s := &Server{cfg: cfg, log: log, keys: keys, commits: newCommitListener(cfg.Store.Pool(), log, keys),
		metrics: newMetrics(cfg.Metrics), temporal: raw, breaker: br}
	// A key this process revokes is forgotten at once; one revoked elsewhere is heard by the listener.
	cfg.Store.OnAPIKeyRevoked(func(int64) { keys.forget() })
	s.accruals = newAccrualSignals(s.signalPurchases)
	s.jwks = newMemberKeys(cfg.JWT, log, s.now)
	s.guards = newGuards(cfg.Store, lim, log)
	s.handler = s.routes()
	return s
}

// Run keeps the API's background work going until ctx ends: the commit listener, the guards' housekeeping and the
// readiness probe.
func (s *Server) Run(ctx context.Context) {
	go s.guards.run(ctx) // prunes idempotency keys, forgets idle rate-limit buckets
	go s.probe(ctx)
	s.commits.run(ctx)
}

// Handler is the root HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
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
