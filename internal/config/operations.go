package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// SendGridConfig configures email through SendGrid.
type SendGridConfig struct {
	APIKey, APIBase, From, FromName string
}

// TwilioConfig configures SMS through Twilio.
type TwilioConfig struct {
	AccountSID, AuthToken, APIBase, From string
}

// TemporalTLS says how the Temporal client secures its connection: TLS (with the system's roots or CA), a client
// certificate for mTLS, an API key (Temporal Cloud).
type TemporalTLS struct {
	Enabled    bool
	CertFile   string
	KeyFile    string
	CAFile     string
	ServerName string
	APIKey     string
}

// Tracing is where spans go: nowhere when Endpoint is empty.
type Tracing struct {
	Endpoint string
	// Protocol is "http/protobuf" or "grpc".
	Protocol string
	// ServiceName overrides the command's default service name.
	ServiceName string
}

// MetricsOff is the PERKFLOW_METRICS_ADDR value that serves no metrics listener.
const MetricsOff = "off"

// readProviders reads the notification providers' settings and the announcement pace.
func readProviders(c *Config) error {
	rate := Lookup("PERKFLOW_ANNOUNCE_RATE")
	n, err := strconv.Atoi(rate)
	if err != nil || n <= 0 {
		return fmt.Errorf("PERKFLOW_ANNOUNCE_RATE=%q: want a whole number of messages per second, 1 or more", rate)
	}
	c.AnnounceRate = n
	c.SendGrid = SendGridConfig{
		APIKey: Lookup("SENDGRID_API_KEY"), APIBase: Lookup("SENDGRID_API_BASE"),
		From: Lookup("SENDGRID_FROM"), FromName: Lookup("SENDGRID_FROM_NAME"),
	}
	c.Twilio = TwilioConfig{
		AccountSID: Lookup("TWILIO_ACCOUNT_SID"), AuthToken: Lookup("TWILIO_AUTH_TOKEN"),
		APIBase: Lookup("TWILIO_API_BASE"), From: Lookup("TWILIO_FROM"),
	}
	c.PublicURL, c.UnsubscribeSecret, c.SMSOptOut = Lookup("PERKFLOW_PUBLIC_URL"), Lookup("PERKFLOW_UNSUBSCRIBE_SECRET"), Lookup("PERKFLOW_SMS_OPT_OUT")
	if c.PublicURL != "" {
		if err := checkBaseURL("PERKFLOW_PUBLIC_URL", c.PublicURL); err != nil {
			return err
		}
	}
	// The publishable key is sent to every member's browser: a secret key there would hand out the account.
	if k := c.StripePublishableKey; k != "" && !strings.HasPrefix(k, "pk_") {
		return fmt.Errorf("PERKFLOW_STRIPE_PUBLISHABLE_KEY: want a publishable key (pk_…); it is sent to members' browsers, never put a secret key (sk_…, rk_…) there")
	}
	for _, name := range []string{"SENDGRID_API_BASE", "TWILIO_API_BASE", "STRIPE_API_BASE", "PERKFLOW_STRIPE_JS_URL"} {
		if err := checkBaseURL(name, Lookup(name)); err != nil {
			return err
		}
	}
	return nil
}

func checkBaseURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s=%q: want an http(s) URL such as https://api.example.com", name, raw)
	}
	return nil
}

// readOperations reads the metrics listener, the Temporal connection's TLS and API key, and the tracing exporter.
func readOperations(c *Config) error {
	c.MetricsAddr = Lookup("PERKFLOW_METRICS_ADDR")
	if c.MetricsAddr != MetricsOff {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return fmt.Errorf("PERKFLOW_METRICS_ADDR=%q: want host:port, or off", c.MetricsAddr)
		}
	}
	tlsOn, err := strconv.ParseBool(Lookup("TEMPORAL_TLS"))
	if err != nil {
		return fmt.Errorf("TEMPORAL_TLS=%q: want true or false", Lookup("TEMPORAL_TLS"))
	}
	t := TemporalTLS{
		CertFile: Lookup("TEMPORAL_TLS_CERT"), KeyFile: Lookup("TEMPORAL_TLS_KEY"), CAFile: Lookup("TEMPORAL_TLS_CA"),
		ServerName: Lookup("TEMPORAL_TLS_SERVER_NAME"), APIKey: Lookup("TEMPORAL_API_KEY"),
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both for mTLS, or neither")
	}
	t.Enabled = tlsOn || t.CertFile != "" || t.CAFile != "" || t.APIKey != ""
	switch v := Lookup("TEMPORAL_GRPC_COMPRESSION"); v {
	case "none":
	case "gzip":
		c.TemporalGzip = true
	default:
		return fmt.Errorf("TEMPORAL_GRPC_COMPRESSION=%q: want none or gzip", v)
	}
	c.TemporalTLS = t
	c.Tracing = Tracing{
		Endpoint: Lookup("OTEL_EXPORTER_OTLP_ENDPOINT"), Protocol: Lookup("OTEL_EXPORTER_OTLP_PROTOCOL"),
		ServiceName: Lookup("OTEL_SERVICE_NAME"),
	}
	switch c.Tracing.Protocol {
	case "http/protobuf", "grpc":
	default:
		return fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: want http/protobuf or grpc", c.Tracing.Protocol)
	}
	if c.Tracing.Endpoint != "" {
		if err := checkBaseURL("OTEL_EXPORTER_OTLP_ENDPOINT", c.Tracing.Endpoint); err != nil {
			return err
		}
	}
	return checkSampler()
}

// checkSampler refuses a sampler the OpenTelemetry SDK would ignore with a log line (falling back to sampling
// everything), so that a typo does not silently send every trace.
func checkSampler() error {
	sampler, arg := Lookup("OTEL_TRACES_SAMPLER"), Lookup("OTEL_TRACES_SAMPLER_ARG")
	switch sampler {
	case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		return nil
	case "traceidratio", "parentbased_traceidratio":
		if arg == "" {
			return nil // the SDK's default ratio, 1
		}
		if r, err := strconv.ParseFloat(arg, 64); err != nil || r < 0 || r > 1 {
			return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a ratio between 0 and 1", arg)
		}
		return nil
	}
	return fmt.Errorf("OTEL_TRACES_SAMPLER=%q: want always_on, always_off, traceidratio or their parentbased_ forms", strings.TrimSpace(sampler))
}
