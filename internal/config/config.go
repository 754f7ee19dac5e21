// Package config reads perkflow's configuration from the environment. Every variable the binary reads is declared
// in Vars, so the README, docker-compose.yml and the code can be checked against one list.
package config

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// Var is one environment variable perkflow reads.
type Var struct {
	Name    string
	Default string
	Doc     string
	// Secret marks values that must never be printed or logged.
	Secret bool
}

// Vars lists every environment variable perkflow reads, with its default.
var Vars = []Var{
	{Name: "DATABASE_URL", Default: "postgres://postgres@127.0.0.1:5432/perkflow?sslmode=disable", Doc: "Postgres connection string. `perkflow dev` falls back to a throwaway cluster under PERKFLOW_DATA_DIR when nothing answers.", Secret: true},
	{Name: "TEMPORAL_ADDRESS", Default: "127.0.0.1:7233", Doc: "Temporal frontend host:port. `perkflow dev` serves its embedded server here."},
	{Name: "TEMPORAL_NAMESPACE", Default: "default", Doc: "Temporal namespace for every workflow."},
	{Name: "PERKFLOW_TASK_QUEUE", Default: "perkflow", Doc: "Task queue the worker polls and the API starts workflows on."},
	{Name: "PERKFLOW_HTTP_ADDR", Default: "127.0.0.1:8080", Doc: "Address the HTTP API listens on."},
	{Name: "PERKFLOW_UI_ADDR", Default: "127.0.0.1:8233", Doc: "Address of the Temporal UI started by `perkflow dev`."},
	{Name: "PERKFLOW_DATA_DIR", Default: ".perkflow", Doc: "Where `perkflow dev` keeps its Temporal SQLite files, throwaway Postgres cluster and dev secrets (JWT, ids, coupon codes)."},
	{Name: "PERKFLOW_JWT_SECRET", Default: "", Doc: "HMAC secret that signs and verifies member tokens. `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_MEMBER_TOKEN_MAX_TTL", Default: "24h", Doc: "Longest lifetime (`exp` − `iat`) of a member token the API accepts and `perkflow token member --ttl` mints."},
	{Name: "PERKFLOW_ID_SECRET", Default: "", Doc: "Secret (≥ 32 bytes) under which the API derives redemption ids from clients' Idempotency-Keys, so that nobody can compute them. Required by `perkflow api`; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_COUPON_SECRET", Default: "", Doc: "Secret (≥ 32 bytes) keying the hash coupon codes are found by and encrypting them at rest. Required by `perkflow api` and `perkflow worker`, the same for both; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_JWT_ISSUER", Default: "perkflow", Doc: "Issuer (`iss`) member tokens must carry."},
	{Name: "PERKFLOW_JWT_AUDIENCE", Default: "perkflow-members", Doc: "Audience (`aud`) member tokens must carry."},
	{Name: "PERKFLOW_WAIT_BUDGET", Default: "2s", Doc: "How long a request waits for asynchronous work before answering 202 (clients may ask for another with `Prefer: wait=N`)."},
	{Name: "PERKFLOW_LOG_FORMAT", Default: "json", Doc: "`json` or `text`; `perkflow dev` defaults to text."},
	{Name: "PERKFLOW_LOG_LEVEL", Default: "info", Doc: "`debug`, `info`, `warn` or `error`."},
	{Name: "STRIPE_SECRET_KEY", Default: "", Doc: "Stripe secret key (`sk_test_…` for test mode; any `sk_…` for stripe-mock). Without it, offers with a cash price cannot be claimed; points-only offers work.", Secret: true},
	{Name: "STRIPE_API_BASE", Default: "https://api.stripe.com", Doc: "Base URL of the Stripe API: Stripe itself, or stripe-mock (`http://127.0.0.1:12111`)."},
	{Name: "STRIPE_WEBHOOK_SECRET", Default: "", Doc: "Signing secret (`whsec_…`) of the Stripe webhook endpoint `POST /v1/webhooks/stripe`; without it every event is refused (400).", Secret: true},
	{Name: "SENDGRID_API_KEY", Default: "", Doc: "SendGrid API key. With it (and SENDGRID_FROM) emails go through SendGrid; without it, to the log.", Secret: true},
	{Name: "SENDGRID_API_BASE", Default: "https://api.sendgrid.com", Doc: "Base URL of the SendGrid API (tests point it at a local fake)."},
	{Name: "SENDGRID_FROM", Default: "", Doc: "Sender address of emails; required with SENDGRID_API_KEY."},
	{Name: "SENDGRID_FROM_NAME", Default: "perkflow", Doc: "Sender name of emails."},
	{Name: "TWILIO_ACCOUNT_SID", Default: "", Doc: "Twilio account SID. With it, TWILIO_AUTH_TOKEN and TWILIO_FROM, SMS go through Twilio; without it, to the log."},
	{Name: "TWILIO_AUTH_TOKEN", Default: "", Doc: "Twilio auth token.", Secret: true},
	{Name: "TWILIO_API_BASE", Default: "https://api.twilio.com", Doc: "Base URL of the Twilio API (tests point it at a local fake)."},
	{Name: "TWILIO_FROM", Default: "", Doc: "Sender number (E.164) or messaging service of SMS; required with TWILIO_ACCOUNT_SID."},
	{Name: "PERKFLOW_ANNOUNCE_RATE", Default: "50", Doc: "Campaign announcements sent per second at most, per worker, to stay inside the providers' rate limits."},
	{Name: "PERKFLOW_JWKS_URL", Default: "", Doc: "JWKS URL of the identity provider whose member tokens (RS/PS/ES/EdDSA) the API accepts; keys are cached and refreshed. https only (http to a loopback address)."},
	{Name: "PERKFLOW_API_KEY_RPS", Default: "200", Doc: "Requests per second each API key may send on average (429 with Retry-After beyond); 0 = no limit."},
	{Name: "PERKFLOW_API_KEY_BURST", Default: "400", Doc: "Requests each API key may send in a burst above its rate."},
	{Name: "PERKFLOW_API_KEY_MAX_IN_FLIGHT", Default: "256", Doc: "Requests of one API key served at once (429 beyond); 0 = no limit."},
	{Name: "PERKFLOW_MEMBER_RPS", Default: "10", Doc: "Requests per second each member token may send on average (429 beyond); 0 = no limit."},
	{Name: "PERKFLOW_MEMBER_BURST", Default: "40", Doc: "Requests each member token may send in a burst above its rate."},
	{Name: "PERKFLOW_MEMBER_MAX_WRITES", Default: "32", Doc: "Writes concerning one member served at once by one API process, whoever sends them (429 beyond); 0 = no limit."},
}

// Config is the resolved configuration.
type Config struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string
	TaskQueue         string
	HTTPAddr          string
	UIAddr            string
	DataDir           string
	JWTSecret         string
	JWTIssuer         string
	JWTAudience       string
	// MemberTokenMaxTTL caps the lifetime (exp − iat) of member tokens.
	MemberTokenMaxTTL time.Duration
	// IDSecret and CouponSecret are the server's secrets for derived ids and for coupon codes ("" = not set here).
	IDSecret     string
	CouponSecret string
	WaitBudget   time.Duration
	LogFormat    string
	LogLevel     string
	// StripeSecretKey, StripeAPIBase and StripeWebhookSecret configure card payments of cash offers.
	StripeSecretKey     string
	StripeAPIBase       string
	StripeWebhookSecret string
	// DatabaseURLSet is true when DATABASE_URL came from the environment rather than the default.
	DatabaseURLSet bool
	// JWKSURL is where member tokens' verification keys are published ("" = HMAC secret only).
	JWKSURL string
	// Request limits; 0 means no limit of that kind.
	APIKeyRPS         float64
	APIKeyBurst       int
	APIKeyMaxInFlight int
	MemberRPS         float64
	MemberBurst       int
	MemberMaxWrites   int
}

// Lookup returns the value of a declared variable from the environment or its default.
func Lookup(name string) string {
	for _, v := range Vars {
		if v.Name == name {
			if s, ok := os.LookupEnv(name); ok && s != "" {
				return s
			}
			return v.Default
		}
	}
	panic("config: undeclared variable " + name)
}

// FromEnv reads the configuration from the environment.
func FromEnv() (Config, error) {
	c := Config{
		DatabaseURL:         Lookup("DATABASE_URL"),
		TemporalAddress:     Lookup("TEMPORAL_ADDRESS"),
		TemporalNamespace:   Lookup("TEMPORAL_NAMESPACE"),
		TaskQueue:           Lookup("PERKFLOW_TASK_QUEUE"),
		HTTPAddr:            Lookup("PERKFLOW_HTTP_ADDR"),
		UIAddr:              Lookup("PERKFLOW_UI_ADDR"),
		DataDir:             Lookup("PERKFLOW_DATA_DIR"),
		JWTSecret:           Lookup("PERKFLOW_JWT_SECRET"),
		JWTIssuer:           Lookup("PERKFLOW_JWT_ISSUER"),
		JWTAudience:         Lookup("PERKFLOW_JWT_AUDIENCE"),
		IDSecret:            Lookup("PERKFLOW_ID_SECRET"),
		CouponSecret:        Lookup("PERKFLOW_COUPON_SECRET"),
		LogFormat:           Lookup("PERKFLOW_LOG_FORMAT"),
		LogLevel:            Lookup("PERKFLOW_LOG_LEVEL"),
		StripeSecretKey:     Lookup("STRIPE_SECRET_KEY"),
		StripeAPIBase:       Lookup("STRIPE_API_BASE"),
		StripeWebhookSecret: Lookup("STRIPE_WEBHOOK_SECRET"),
	}
	_, c.DatabaseURLSet = os.LookupEnv("DATABASE_URL")
	wb := Lookup("PERKFLOW_WAIT_BUDGET")
	d, err := time.ParseDuration(wb)
	if err != nil {
		// Accept a bare number of seconds too.
		n, nerr := strconv.Atoi(wb)
		if nerr != nil {
			return c, fmt.Errorf("PERKFLOW_WAIT_BUDGET=%q: want a duration such as 2s", wb)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > time.Minute {
		return c, fmt.Errorf("PERKFLOW_WAIT_BUDGET=%q: must be between 0 and 1m", wb)
	}
	c.WaitBudget = d
	ttl, err := time.ParseDuration(Lookup("PERKFLOW_MEMBER_TOKEN_MAX_TTL"))
	if err != nil || ttl < time.Minute || ttl > 30*24*time.Hour {
		return c, fmt.Errorf("PERKFLOW_MEMBER_TOKEN_MAX_TTL=%q: want a duration between 1m and 720h", Lookup("PERKFLOW_MEMBER_TOKEN_MAX_TTL"))
	}
	c.MemberTokenMaxTTL = ttl
	switch c.LogFormat {
	case "json", "text":
	default:
		return c, fmt.Errorf("PERKFLOW_LOG_FORMAT=%q: want json or text", c.LogFormat)
	}
	if err := readLimits(&c); err != nil {
		return c, err
	}
	return c, nil
}

// readLimits reads the JWKS URL and the request limits: non-negative numbers, 0 meaning no limit.
func readLimits(c *Config) error {
	c.JWKSURL = Lookup("PERKFLOW_JWKS_URL")
	rates := []struct {
		name string
		dst  *float64
	}{{"PERKFLOW_API_KEY_RPS", &c.APIKeyRPS}, {"PERKFLOW_MEMBER_RPS", &c.MemberRPS}}
	for _, r := range rates {
		v, err := strconv.ParseFloat(Lookup(r.name), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("%s=%q: want a number of requests per second, 0 for no limit", r.name, Lookup(r.name))
		}
		*r.dst = v
	}
	counts := []struct {
		name string
		dst  *int
	}{
		{"PERKFLOW_API_KEY_BURST", &c.APIKeyBurst}, {"PERKFLOW_API_KEY_MAX_IN_FLIGHT", &c.APIKeyMaxInFlight},
		{"PERKFLOW_MEMBER_BURST", &c.MemberBurst}, {"PERKFLOW_MEMBER_MAX_WRITES", &c.MemberMaxWrites},
	}
	for _, n := range counts {
		v, err := strconv.Atoi(Lookup(n.name))
		if err != nil || v < 0 {
			return fmt.Errorf("%s=%q: want a whole number, 0 or more", n.name, Lookup(n.name))
		}
		*n.dst = v
	}
	return nil
}
