package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/console"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/internal/telemetry"
	"github.com/perkflow/perkflow/internal/version"
	"github.com/perkflow/perkflow/memberapp"
	"github.com/perkflow/perkflow/migrations"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
	"github.com/perkflow/perkflow/workflows"
)

func newLogger(cfg config.Config) *slog.Logger {
	var lvl slog.Level // config.FromEnv accepted only debug, info, warn or error
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	// Every component's logs (API, worker, Temporal SDK) go through the redactor: keys, tokens, emails and phone
	// numbers never reach a log in clear. Lines logged in a traced request or activity carry its trace_id.
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	}
	return slog.New(api.NewRedactingHandler(telemetry.LogHandler(h)))
}

func openPool(ctx context.Context, url string, opts ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	pool, err := store.OpenPool(ctx, url, opts...)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL (%s): %w", redactURL(url), err)
	}
	return pool, nil
}

// redactURL hides the password of a connection string so that it can be printed.
func redactURL(u string) string {
	if cfg, err := pgxpool.ParseConfig(u); err == nil {
		c := cfg.ConnConfig
		return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
	}
	return "(unparseable URL)"
}

// jwtConfig resolves the member-token configuration: the secret is PERKFLOW_JWT_SECRET, else (dev and the token
// command) the one kept under the data dir, created when create is true; none disables HS256 member tokens.
func jwtConfig(cfg config.Config, create bool) (api.JWTConfig, error) {
	j := api.JWTConfig{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, JWKSURL: cfg.JWKSURL, MaxTTL: cfg.MemberTokenMaxTTL}
	if j.JWKSURL != "" {
		if err := api.CheckJWKSURL(j.JWKSURL); err != nil {
			return j, fmt.Errorf("PERKFLOW_JWKS_URL: %w", err)
		}
	}
	secret, err := serverSecret(cfg, "PERKFLOW_JWT_SECRET", cfg.JWTSecret, "jwt-secret", create)
	j.Secret = secret
	return j, err
}

// idSecret resolves PERKFLOW_ID_SECRET, else dev's file under the data dir (created when create is true): the API
// cannot derive redemption ids without it.
func idSecret(cfg config.Config, create bool) ([]byte, error) {
	secret, err := serverSecret(cfg, "PERKFLOW_ID_SECRET", cfg.IDSecret, "id-secret", create)
	if err == nil && secret == nil {
		err = errors.New("PERKFLOW_ID_SECRET is not set: redemption ids cannot be derived without it (e.g. openssl rand -hex 32)")
	}
	return secret, err
}

// withCoupons gives the store the coupon secret — PERKFLOW_COUPON_SECRET, else dev's file under the data dir
// (created when create is true) — without which codes can be neither issued nor looked up, and moves the codes
// redemptions held in clear before into sealed coupons.
func withCoupons(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger, create bool) (*store.Store, error) {
	secret, err := serverSecret(cfg, "PERKFLOW_COUPON_SECRET", cfg.CouponSecret, "coupon-secret", create)
	if err == nil && secret == nil {
		err = errors.New("PERKFLOW_COUPON_SECRET is not set: coupon codes can be neither issued nor looked up without it " +
			"(e.g. openssl rand -hex 32; the API and the worker need the same one)")
	}
	if err != nil {
		return nil, err
	}
	if st, err = st.WithCouponSecret(secret); err != nil {
		return nil, fmt.Errorf("PERKFLOW_COUPON_SECRET: %w", err)
	}
	n, err := st.SealClearCoupons(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		log.Info("coupon codes held in clear moved into sealed coupons", "codes", n)
	}
	return st, nil
}

// unsubscriber resolves what signs and checks unsubscribe links: PERKFLOW_UNSUBSCRIBE_SECRET (else dev's file under
// the data dir, created when create is true) and PERKFLOW_PUBLIC_URL (else the API's own address). Without a
// secret, emails carry no unsubscribe link and every unsubscribe token is refused.
func unsubscriber(cfg config.Config, create bool) (domain.Unsubscriber, error) {
	secret, err := serverSecret(cfg, "PERKFLOW_UNSUBSCRIBE_SECRET", cfg.UnsubscribeSecret, "unsubscribe-secret", create)
	return domain.Unsubscriber{Secret: secret, BaseURL: publicURL(cfg)}, err
}

// serverSecret resolves a secret: the variable's value, else the file under the data dir that `perkflow dev`
// keeps, created (32 random bytes, hex) when create is true; nil when there is neither. At least 32 bytes.
func serverSecret(cfg config.Config, name, value, file string, create bool) ([]byte, error) {
	if value != "" {
		if len(value) < 32 {
			return nil, fmt.Errorf("%s must be at least 32 bytes", name)
		}
		return []byte(value), nil
	}
	path := filepath.Join(cfg.DataDir, file)
	b, err := os.ReadFile(path)
	if err == nil {
		if secret := strings.TrimSpace(string(b)); len(secret) >= 32 {
			return []byte(secret), nil
		}
		return nil, fmt.Errorf("%s holds less than 32 bytes; delete it to have a new one made, or set %s", path, name)
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(secret), nil
}

func listenAPI(cfg config.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on PERKFLOW_HTTP_ADDR=%s: %w", cfg.HTTPAddr, err)
	}
	return ln, nil
}

// serveAPI runs the HTTP API on ln until ctx ends, then drains in-flight requests. Its request metrics go to the
// process's registry, every request is traced when tracing is on.
func serveAPI(ctx context.Context, cfg config.Config, log *slog.Logger, obs *observability, st *store.Store, tc client.Client,
	jwt api.JWTConfig, ids []byte, keys *privacy.Keyring, ln net.Listener) error {
	unsub, err := unsubscriber(cfg, false)
	if err != nil {
		return err
	}
	srv := api.New(api.Config{
		Store: st, Temporal: tc, TaskQueue: cfg.TaskQueue, WaitBudget: cfg.WaitBudget, OnePurchasePerSignal: cfg.OnePurchasePerSignal, JWT: jwt, Log: log, Metrics: obs.reg,
		IDSecret: ids, WebhookAllowPrivate: cfg.WebhookAllowPrivate,
		Unsubscribe: unsub, TwilioAuthToken: cfg.Twilio.AuthToken, PublicURL: publicURL(cfg),
		Members: &privacy.Members{Keys: keys, Store: st}, Codec: privacy.NewCodec(keys), CodecOrigins: cfg.CodecOrigins,
		Rewards: api.RewardsConfig{PaymentsEnabled: cfg.StripeSecretKey != "", StripeWebhookSecret: cfg.StripeWebhookSecret},
		Limits: &api.Limits{
			APIKey:         api.Rate{PerSecond: cfg.APIKeyRPS, Burst: cfg.APIKeyBurst},
			Member:         api.Rate{PerSecond: cfg.MemberRPS, Burst: cfg.MemberBurst},
			APIKeyInFlight: cfg.APIKeyMaxInFlight,
			MemberWrites:   cfg.MemberMaxWrites,
		},
	})
	// The console is served beside the API, on the same address, as a client of the API's handlers.
	con, err := console.New(console.Config{API: srv, Store: st, Log: log, IdleTimeout: cfg.ConsoleIdleTimeout,
		TemporalUIURL: cfg.TemporalUIURL, TemporalNamespace: cfg.TemporalNamespace})
	if err != nil {
		return err
	}
	handler := con.Beside(srv.Handler())
	// The member app too (/app/), a client of the public API with its members' tokens; it mints them with the
	// member-token secret, so without one (an identity provider's JWKS only) it is not served.
	if len(jwt.Secret) > 0 {
		app, err := memberapp.New(memberapp.Config{API: srv, Store: st, JWT: jwt, Log: log, PublicURL: publicURL(cfg),
			Notifier: newNotifier(cfg, log, obs), LogLinks: cfg.SendGrid.APIKey == "" || cfg.SendGrid.From == "",
			StripePublishableKey: cfg.StripePublishableKey, StripeJS: cfg.StripeJSURL})
		if err != nil {
			return err
		}
		handler = app.Beside(handler)
		if cfg.StripePublishableKey != "" && cfg.StripeSecretKey == "" {
			log.Warn("PERKFLOW_STRIPE_PUBLISHABLE_KEY is set without STRIPE_SECRET_KEY: the member app shows cash offers the API refuses to claim")
		}
	} else {
		log.Warn("PERKFLOW_JWT_SECRET is not set: the member app (/app/) is not served")
	}
	hs := api.NewHTTPServer(cfg.HTTPAddr, obs.tracing.Handler(handler))
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(lctx)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String(), "version", version.Version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// publicURL is PERKFLOW_PUBLIC_URL, else (dev) the API's own address.
func publicURL(cfg config.Config) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	return "http://" + cfg.HTTPAddr
}

func newActivities(cfg config.Config, st *store.Store, log *slog.Logger, obs *observability, keys *privacy.Keyring) (*activities.Activities, error) {
	unsub, err := unsubscriber(cfg, false)
	if err != nil {
		return nil, err
	}
	if !unsub.Enabled() || cfg.PublicURL == "" {
		if cfg.SendGrid.APIKey != "" {
			return nil, errors.New("PERKFLOW_PUBLIC_URL and PERKFLOW_UNSUBSCRIBE_SECRET must be set with SENDGRID_API_KEY: " +
				"every email carries an unsubscribe link (the API needs the same secret)")
		}
		if !unsub.Enabled() {
			log.Warn("PERKFLOW_UNSUBSCRIBE_SECRET is not set: emails carry no unsubscribe link")
		}
	}
	acts := &activities.Activities{Store: st, Notifier: newNotifier(cfg, log, obs), Log: log, Metrics: obs.business,
		Unsubscribe: unsub, SMSOptOut: cfg.SMSOptOut, Members: &privacy.Members{Keys: keys, Store: st}}
	// Erasing a member deletes their key: every copy of what was sealed with it, histories included, becomes
	// unreadable (crypto-shredding).
	acts.ShredMemberKey = st.DeleteMemberKey
	acts.Campaigns.AnnouncePerSecond = cfg.AnnounceRate
	acts.Webhooks.AllowPrivate = cfg.WebhookAllowPrivate
	// Cash offers are paid through Stripe (or stripe-mock); without a key only points-only offers can be claimed.
	if cfg.StripeSecretKey != "" {
		acts.Rewards.Payments = activities.NewStripePayments(activities.StripeConfig{
			SecretKey: cfg.StripeSecretKey, APIBase: cfg.StripeAPIBase, Transport: obs.tracing.Transport(nil)})
	}
	return acts, nil
}

// newNotifier sends email through SendGrid and SMS through Twilio when their keys are set, and whatever has no
// provider to the log. Their requests are traced when tracing is on.
func newNotifier(cfg config.Config, log *slog.Logger, obs *observability) activities.Notifier {
	logged := activities.LogNotifier{Log: log}
	ch := activities.Channels{Fallback: logged}
	if sg := cfg.SendGrid; sg.APIKey != "" && sg.From != "" {
		ch.Email = &activities.SendGrid{APIKey: sg.APIKey, BaseURL: sg.APIBase, From: sg.From, FromName: sg.FromName,
			HTTP: &http.Client{Timeout: 10 * time.Second, Transport: obs.tracing.Transport(nil)}}
	} else if sg.APIKey != "" {
		log.Warn("SENDGRID_API_KEY is set without SENDGRID_FROM: emails go to the log")
	}
	if tw := cfg.Twilio; tw.AccountSID != "" && tw.From != "" {
		ch.SMS = &activities.Twilio{AccountSID: tw.AccountSID, AuthToken: tw.AuthToken, From: tw.From, BaseURL: tw.APIBase,
			Transport: obs.tracing.Transport(nil)}
	} else if tw.AccountSID != "" {
		log.Warn("TWILIO_ACCOUNT_SID is set without TWILIO_FROM: SMS go to the log")
	}
	return ch
}

// startWorker registers search attributes and schedules and starts polling the main task queue and the imports';
// stop them with Stop.
func startWorker(ctx context.Context, cfg config.Config, log *slog.Logger, obs *observability, st *store.Store, tc client.Client, keys *privacy.Keyring) (*worker.Workers, error) {
	if err := worker.EnsureSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		return nil, err
	}
	if err := worker.EnsureExpirySchedule(ctx, tc, cfg.TaskQueue); err != nil {
		return nil, err
	}
	if err := worker.EnsureWakeSchedule(ctx, tc, cfg.TaskQueue); err != nil {
		return nil, err
	}
	acts, err := newActivities(cfg, st, log, obs, keys)
	if err != nil {
		return nil, err
	}
	w := worker.NewWorkers(tc, cfg.TaskQueue, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	go worker.RunWebhookDispatcher(ctx, tc, cfg.TaskQueue, acts, log)
	log.Info("worker polling", "task_queue", cfg.TaskQueue, "imports_task_queue", workflows.ImportTaskQueue(cfg.TaskQueue),
		"namespace", cfg.TemporalNamespace)
	return w, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	return migrations.Up(ctx, pool, log)
}
