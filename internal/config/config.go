// Package config reads perkflow's configuration from the environment. Every variable the binary reads is declared
// in Vars, so the README, docker-compose.yml and the code can be checked against one list.
package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
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
	{Name: "PERKFLOW_API_URL", Default: "http://127.0.0.1:8080", Doc: "The API `perkflow import` uploads to."},
	{Name: "PERKFLOW_API_KEY", Default: "", Doc: "The admin API key `perkflow import` uploads with.", Secret: true},
	{Name: "PERKFLOW_UI_ADDR", Default: "127.0.0.1:8233", Doc: "Address of the Temporal UI started by `perkflow dev`; `off` starts none."},
	{Name: "PERKFLOW_DATA_DIR", Default: ".perkflow", Doc: "Where `perkflow dev` keeps its Temporal SQLite files, throwaway Postgres cluster and dev secrets (JWT, ids, coupon codes, payload keys)."},
	{Name: "PERKFLOW_JWT_SECRET", Default: "", Doc: "HMAC secret that signs and verifies member tokens. `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_MEMBER_TOKEN_MAX_TTL", Default: "24h", Doc: "Longest lifetime (`exp` − `iat`) of a member token the API accepts and `perkflow token member --ttl` mints."},
	{Name: "PERKFLOW_ID_SECRET", Default: "", Doc: "Secret (≥ 32 bytes) under which the API derives redemption ids from clients' Idempotency-Keys, so that nobody can compute them. Required by `perkflow api`; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_COUPON_SECRET", Default: "", Doc: "Secret (≥ 32 bytes) keying the hash coupon codes are found by and encrypting them at rest. Required by `perkflow api` and `perkflow worker`, the same for both; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_PAYLOAD_KEYS", Default: "", Doc: "Keys encrypting every payload perkflow sends to Temporal and wrapping members' data keys (docs/privacy.md): comma-separated `id:base64(32 bytes)`, the first one encrypting, every one decrypting (rotation: put a new key first, keep the old ones). Required by `perkflow api`, `perkflow worker` and `perkflow expiry`, the same for all; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_CODEC_ORIGINS", Default: "", Doc: "Comma-separated origins (`https://temporal-ui.example.com`) of Temporal UIs allowed to call the codec endpoints `/codec/decode` and `/codec/encode` from a browser (CORS). `perkflow dev` adds its embedded UI's."},
	{Name: "PERKFLOW_JWT_ISSUER", Default: "perkflow", Doc: "Issuer (`iss`) member tokens must carry."},
	{Name: "PERKFLOW_JWT_AUDIENCE", Default: "perkflow-members", Doc: "Audience (`aud`) member tokens must carry."},
	{Name: "PERKFLOW_WAIT_BUDGET", Default: "2s", Doc: "How long a request waits for asynchronous work before answering 202 (clients may ask for another with `Prefer: wait=N`)."},
	{Name: "PERKFLOW_PURCHASE_SIGNALS", Default: "lists", Doc: "`lists`: the API sends a member's purchases that arrive together in one `purchases` signal (a group commit); `single`: one `purchase` signal each, as releases before did. Set `single` on the API while upgrading from such a release until every worker runs this one (docs/operations.md, upgrading)."},
	{Name: "PERKFLOW_LOG_FORMAT", Default: "json", Doc: "`json` or `text`; `perkflow dev` defaults to text."},
	{Name: "PERKFLOW_LOG_LEVEL", Default: "info", Doc: "`debug`, `info`, `warn` or `error`."},
	{Name: "STRIPE_SECRET_KEY", Default: "", Doc: "Stripe secret key (`sk_test_…` for test mode; any `sk_…` for stripe-mock). Without it, offers with a cash price cannot be claimed; points-only offers work.", Secret: true},
	{Name: "STRIPE_API_BASE", Default: "https://api.stripe.com", Doc: "Base URL of the Stripe API: Stripe itself, or stripe-mock (`http://127.0.0.1:12111`)."},
	{Name: "STRIPE_WEBHOOK_SECRET", Default: "", Doc: "Signing secret (`whsec_…`) of the Stripe webhook endpoint `POST /v1/webhooks/stripe`; without it every event is refused (400).", Secret: true},
	{Name: "PERKFLOW_STRIPE_PUBLISHABLE_KEY", Default: "", Doc: "Stripe publishable key (`pk_test_…`, `pk_live_…`) of the same account as STRIPE_SECRET_KEY. With it, the member app (/app/) shows cash offers and takes the card with Stripe.js; without it, it hides them (claimed in store)."},
	{Name: "PERKFLOW_STRIPE_JS_URL", Default: "https://js.stripe.com/v3/", Doc: "Address of Stripe.js the member app loads on its card pages (and allows in their Content-Security-Policy); https only (http to a loopback address); tests point it at a local stand-in."},
	{Name: "SENDGRID_API_KEY", Default: "", Doc: "SendGrid API key. With it (and SENDGRID_FROM) emails go through SendGrid; without it, to the log.", Secret: true},
	{Name: "SENDGRID_API_BASE", Default: "https://api.sendgrid.com", Doc: "Base URL of the SendGrid API (tests point it at a local fake)."},
	{Name: "SENDGRID_FROM", Default: "", Doc: "Sender address of emails; required with SENDGRID_API_KEY."},
	{Name: "SENDGRID_FROM_NAME", Default: "perkflow", Doc: "Sender name of emails."},
	{Name: "TWILIO_ACCOUNT_SID", Default: "", Doc: "Twilio account SID. With it, TWILIO_AUTH_TOKEN and TWILIO_FROM, SMS go through Twilio; without it, to the log."},
	{Name: "TWILIO_AUTH_TOKEN", Default: "", Doc: "Twilio auth token.", Secret: true},
	{Name: "TWILIO_API_BASE", Default: "https://api.twilio.com", Doc: "Base URL of the Twilio API (tests point it at a local fake)."},
	{Name: "TWILIO_FROM", Default: "", Doc: "Sender number (E.164) or messaging service of SMS; required with TWILIO_ACCOUNT_SID."},
	{Name: "PERKFLOW_WEBHOOK_ALLOW_PRIVATE", Default: "false", Doc: "`true` lets webhook endpoints be http, or at private, loopback and link-local addresses (development and tests only); otherwise they must be https to a public address, checked when an endpoint is made and again at each connection."},
	{Name: "PERKFLOW_PUBLIC_URL", Default: "", Doc: "Public base URL of the API (`https://loyalty.example.com`): unsubscribe links in emails point at it, and Twilio's signature of `POST /v1/webhooks/twilio` is checked against it. Required by `perkflow worker` when SENDGRID_API_KEY is set; `perkflow dev` uses `http://` + PERKFLOW_HTTP_ADDR."},
	{Name: "PERKFLOW_UNSUBSCRIBE_SECRET", Default: "", Doc: "Secret (≥ 32 bytes) signing the tokens of unsubscribe links; the API and the worker need the same one. Required by `perkflow worker` when SENDGRID_API_KEY is set; `perkflow dev` generates one under PERKFLOW_DATA_DIR.", Secret: true},
	{Name: "PERKFLOW_SMS_OPT_OUT", Default: "Reply STOP to opt out.", Doc: "The program's opt-out text, which ends every SMS."},
	{Name: "PERKFLOW_ANNOUNCE_RATE", Default: "50", Doc: "Campaign announcements sent per second at most, per worker, to stay inside the providers' rate limits."},
	{Name: "PERKFLOW_JWKS_URL", Default: "", Doc: "JWKS URL of the identity provider whose member tokens (RS/PS/ES/EdDSA) the API accepts; keys are cached and refreshed. https only (http to a loopback address)."},
	{Name: "PERKFLOW_API_KEY_RPS", Default: "200", Doc: "Requests per second each API key may send on average (429 with Retry-After beyond); 0 = no limit."},
	{Name: "PERKFLOW_API_KEY_BURST", Default: "400", Doc: "Requests each API key may send in a burst above its rate."},
	{Name: "PERKFLOW_API_KEY_MAX_IN_FLIGHT", Default: "256", Doc: "Requests of one API key served at once (429 beyond); 0 = no limit."},
	{Name: "PERKFLOW_MEMBER_RPS", Default: "10", Doc: "Requests per second each member token may send on average (429 beyond); 0 = no limit."},
	{Name: "PERKFLOW_MEMBER_BURST", Default: "40", Doc: "Requests each member token may send in a burst above its rate."},
	{Name: "PERKFLOW_MEMBER_MAX_WRITES", Default: "32", Doc: "Writes concerning one member served at once by one API process, whoever sends them (429 beyond); 0 = no limit."},

	// Operations: the metrics and probe listener, the Temporal connection's security, tracing (operations.go).
	{Name: "PERKFLOW_METRICS_ADDR", Default: "127.0.0.1:9464", Doc: "The process's own listener for Prometheus (`GET /metrics`) and probes (`GET /healthz`, `/readyz`): the worker's only one, the API's second, never public, one (the API port does not serve `/metrics`). `off` serves none."},
	{Name: "TEMPORAL_TLS", Default: "false", Doc: "`true` connects to Temporal over TLS with the system's roots (implied by TEMPORAL_TLS_CERT, TEMPORAL_TLS_CA or TEMPORAL_API_KEY)."},
	{Name: "TEMPORAL_TLS_CERT", Default: "", Doc: "Path of the client certificate (PEM) for mTLS to Temporal (Temporal Cloud or a self-hosted cluster); with TEMPORAL_TLS_KEY."},
	{Name: "TEMPORAL_TLS_KEY", Default: "", Doc: "Path of the client certificate's private key (PEM); the path, not the key, so not a secret itself."},
	{Name: "TEMPORAL_TLS_CA", Default: "", Doc: "Path of the CA bundle (PEM) that signs the Temporal frontend's certificate; the system's roots when unset."},
	{Name: "TEMPORAL_TLS_SERVER_NAME", Default: "", Doc: "Server name checked in the frontend's certificate, when it differs from TEMPORAL_ADDRESS's host."},
	{Name: "TEMPORAL_API_KEY", Default: "", Doc: "API key for Temporal Cloud (sent as a bearer token over TLS), instead of or beside mTLS.", Secret: true},
	{Name: "TEMPORAL_GRPC_COMPRESSION", Default: "none", Doc: "`none` or `gzip`: whether requests to Temporal are gzip-compressed. perkflow's payloads are encrypted, so gzip buys little but costs the API and the worker CPU (BENCHMARKS.md); `gzip` for a link where bytes cost more than CPU."},
	{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Default: "", Doc: "OTLP endpoint traces are exported to (e.g. `http://jaeger:4318`); unset, nothing is traced and tracing costs nothing. The OpenTelemetry SDK reads the other standard `OTEL_*` variables itself."},
	{Name: "OTEL_EXPORTER_OTLP_PROTOCOL", Default: "http/protobuf", Doc: "`http/protobuf` (port 4318) or `grpc` (port 4317)."},
	{Name: "OTEL_EXPORTER_OTLP_HEADERS", Default: "", Doc: "Headers sent with every export (`key=value,…`), e.g. a vendor's API key.", Secret: true},
	{Name: "OTEL_SERVICE_NAME", Default: "", Doc: "Service name of the spans; unset, `perkflow-api`, `perkflow-worker` or `perkflow-dev` by command."},
	{Name: "OTEL_RESOURCE_ATTRIBUTES", Default: "", Doc: "Extra resource attributes of the spans (`key=value,…`), e.g. `deployment.environment=prod`."},
	{Name: "OTEL_TRACES_SAMPLER", Default: "parentbased_always_on", Doc: "Sampler, e.g. `parentbased_traceidratio` with OTEL_TRACES_SAMPLER_ARG."},
	{Name: "OTEL_TRACES_SAMPLER_ARG", Default: "", Doc: "The sampler's argument, e.g. `0.1` to keep one trace in ten."},
	{Name: "PERKFLOW_CONSOLE_IDLE_TIMEOUT", Default: "30m", Doc: "A console session not used for this long ends (sign in again)."},
	{Name: "PERKFLOW_TEMPORAL_UI_URL", Default: "", Doc: "Base URL of the Temporal UI, for the console's links to a member's workflows; `perkflow dev` uses its embedded UI. Empty: no links."},
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
	// PayloadKeys is PERKFLOW_PAYLOAD_KEYS as given (privacy.ParseKeys reads it); CodecOrigins the UI origins
	// allowed to call the codec endpoints.
	PayloadKeys  string
	CodecOrigins []string
	WaitBudget   time.Duration
	// OnePurchasePerSignal is PERKFLOW_PURCHASE_SIGNALS=single.
	OnePurchasePerSignal bool
	LogFormat            string
	LogLevel             string
	// StripeSecretKey, StripeAPIBase and StripeWebhookSecret configure card payments of cash offers.
	StripeSecretKey     string
	StripeAPIBase       string
	StripeWebhookSecret string
	// StripePublishableKey and StripeJSURL let the member app take cards with Stripe.js (no key: cash offers hidden).
	StripePublishableKey string
	StripeJSURL          string
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
	// AnnounceRate is how many campaign announcements a worker sends per second at most.
	AnnounceRate int
	// WebhookAllowPrivate lets webhook endpoints be http or at non-public addresses (development and tests).
	WebhookAllowPrivate bool
	// SendGrid and Twilio configure the notification providers (empty keys: notifications go to the log).
	SendGrid SendGridConfig
	Twilio   TwilioConfig
	// PublicURL, UnsubscribeSecret and SMSOptOut configure opting out: unsubscribe links, Twilio's inbound
	// signature, the text that ends every SMS.
	PublicURL         string
	UnsubscribeSecret string
	SMSOptOut         string
	// Operations: the metrics listener, Temporal's TLS and API key, tracing.
	MetricsAddr string
	TemporalTLS TemporalTLS
	// TemporalGzip compresses requests to Temporal (TEMPORAL_GRPC_COMPRESSION=gzip).
	TemporalGzip bool
	Tracing      Tracing
	// ConsoleIdleTimeout ends console sessions unused for that long; TemporalUIURL is linked to from the console.
	ConsoleIdleTimeout time.Duration
	TemporalUIURL      string
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
		DatabaseURL:          Lookup("DATABASE_URL"),
		TemporalAddress:      Lookup("TEMPORAL_ADDRESS"),
		TemporalNamespace:    Lookup("TEMPORAL_NAMESPACE"),
		TaskQueue:            Lookup("PERKFLOW_TASK_QUEUE"),
		HTTPAddr:             Lookup("PERKFLOW_HTTP_ADDR"),
		UIAddr:               Lookup("PERKFLOW_UI_ADDR"),
		DataDir:              Lookup("PERKFLOW_DATA_DIR"),
		JWTSecret:            Lookup("PERKFLOW_JWT_SECRET"),
		JWTIssuer:            Lookup("PERKFLOW_JWT_ISSUER"),
		JWTAudience:          Lookup("PERKFLOW_JWT_AUDIENCE"),
		IDSecret:             Lookup("PERKFLOW_ID_SECRET"),
		CouponSecret:         Lookup("PERKFLOW_COUPON_SECRET"),
		PayloadKeys:          Lookup("PERKFLOW_PAYLOAD_KEYS"),
		LogFormat:            Lookup("PERKFLOW_LOG_FORMAT"),
		LogLevel:             Lookup("PERKFLOW_LOG_LEVEL"),
		StripeSecretKey:      Lookup("STRIPE_SECRET_KEY"),
		StripeAPIBase:        Lookup("STRIPE_API_BASE"),
		StripeWebhookSecret:  Lookup("STRIPE_WEBHOOK_SECRET"),
		StripePublishableKey: Lookup("PERKFLOW_STRIPE_PUBLISHABLE_KEY"),
		StripeJSURL:          Lookup("PERKFLOW_STRIPE_JS_URL"),
	}
	_, c.DatabaseURLSet = os.LookupEnv("DATABASE_URL")
	switch v := strings.ToLower(Lookup("PERKFLOW_WEBHOOK_ALLOW_PRIVATE")); v {
	case "true", "1":
		c.WebhookAllowPrivate = true
	case "false", "0":
	default:
		return c, fmt.Errorf("PERKFLOW_WEBHOOK_ALLOW_PRIVATE=%q: want true or false", v)
	}
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
	switch v := Lookup("PERKFLOW_PURCHASE_SIGNALS"); v {
	case "lists":
	case "single":
		c.OnePurchasePerSignal = true
	default:
		return c, fmt.Errorf("PERKFLOW_PURCHASE_SIGNALS=%q: want lists or single", v)
	}
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
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
		c.LogLevel = strings.ToLower(c.LogLevel)
	default:
		return c, fmt.Errorf("PERKFLOW_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel)
	}
	if err := readLimits(&c); err != nil {
		return c, err
	}
	if err := readProviders(&c); err != nil {
		return c, err
	}
	if err := readOperations(&c); err != nil {
		return c, err
	}
	idle, err := time.ParseDuration(Lookup("PERKFLOW_CONSOLE_IDLE_TIMEOUT"))
	if err != nil || idle < time.Minute || idle > 24*time.Hour {
		return c, fmt.Errorf("PERKFLOW_CONSOLE_IDLE_TIMEOUT=%q: want a duration between 1m and 24h, such as 30m", Lookup("PERKFLOW_CONSOLE_IDLE_TIMEOUT"))
	}
	c.ConsoleIdleTimeout = idle
	c.TemporalUIURL = Lookup("PERKFLOW_TEMPORAL_UI_URL")
	if c.CodecOrigins, err = origins(Lookup("PERKFLOW_CODEC_ORIGINS")); err != nil {
		return c, fmt.Errorf("PERKFLOW_CODEC_ORIGINS: %w", err)
	}
	return c, nil
}

// origins reads a comma-separated list of web origins: scheme://host[:port], nothing after.
func origins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin such as https://temporal-ui.example.com", o)
		}
		out = append(out, o)
	}
	return out, nil
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
