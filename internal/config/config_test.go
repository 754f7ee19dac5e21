package config

import (
	"strings"
	"testing"
)

// cleanEnv gives every declared variable its default, so that the developer's own environment stays out.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, v := range Vars {
		t.Setenv(v.Name, v.Default)
	}
}

func TestFromEnvDefaults(t *testing.T) {
	cleanEnv(t)
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "info" || c.AnnounceRate != 50 || c.MetricsAddr != "127.0.0.1:9464" || c.TemporalTLS.Enabled ||
		c.Tracing.Endpoint != "" || c.Tracing.Protocol != "http/protobuf" || c.SendGrid.APIBase != "https://api.sendgrid.com" {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestFromEnvRefusesBadValues: a value the code cannot use stops the process at start with the variable's name,
// instead of being ignored.
func TestFromEnvRefusesBadValues(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"PERKFLOW_LOG_LEVEL", "verbose", "PERKFLOW_LOG_LEVEL"},
		{"PERKFLOW_LOG_LEVEL", "warn+1", "PERKFLOW_LOG_LEVEL"},
		{"PERKFLOW_LOG_FORMAT", "xml", "PERKFLOW_LOG_FORMAT"},
		{"PERKFLOW_ANNOUNCE_RATE", "fast", "PERKFLOW_ANNOUNCE_RATE"},
		{"PERKFLOW_ANNOUNCE_RATE", "0", "PERKFLOW_ANNOUNCE_RATE"},
		{"PERKFLOW_ANNOUNCE_RATE", "-5", "PERKFLOW_ANNOUNCE_RATE"},
		{"SENDGRID_API_BASE", "api.sendgrid.com", "SENDGRID_API_BASE"},
		{"TWILIO_API_BASE", "ftp://twilio", "TWILIO_API_BASE"},
		{"PERKFLOW_METRICS_ADDR", "9464", "PERKFLOW_METRICS_ADDR"},
		{"TEMPORAL_TLS", "maybe", "TEMPORAL_TLS"},
		{"TEMPORAL_GRPC_COMPRESSION", "zstd", "TEMPORAL_GRPC_COMPRESSION"},
		{"TEMPORAL_TLS_CERT", "/etc/perkflow/tls.crt", "TEMPORAL_TLS_KEY"},
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4318", "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"OTEL_TRACES_SAMPLER", "sometimes", "OTEL_TRACES_SAMPLER"},
		{"PERKFLOW_STRIPE_PUBLISHABLE_KEY", "sk_test_secret", "PERKFLOW_STRIPE_PUBLISHABLE_KEY"},
		{"PERKFLOW_STRIPE_JS_URL", "js.stripe.com/v3/", "PERKFLOW_STRIPE_JS_URL"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			cleanEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := FromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromEnv with %s=%q: %v, want an error naming %s", tc.name, tc.value, err, tc.want)
			}
		})
	}
}

func TestFromEnvAcceptsGoodValues(t *testing.T) {
	cleanEnv(t)
	t.Setenv("PERKFLOW_LOG_LEVEL", "DEBUG")
	t.Setenv("PERKFLOW_ANNOUNCE_RATE", "200")
	t.Setenv("PERKFLOW_METRICS_ADDR", "off")
	t.Setenv("TEMPORAL_API_KEY", "key")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
	t.Setenv("TWILIO_ACCOUNT_SID", "AC1")
	t.Setenv("SENDGRID_FROM", "loyalty@example.com")
	t.Setenv("PERKFLOW_STRIPE_PUBLISHABLE_KEY", "pk_test_perkflow")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != "debug" || c.AnnounceRate != 200 || c.MetricsAddr != MetricsOff || !c.TemporalTLS.Enabled ||
		c.TemporalTLS.APIKey != "key" || c.Tracing.Protocol != "grpc" || c.Twilio.AccountSID != "AC1" ||
		c.SendGrid.From != "loyalty@example.com" || c.StripePublishableKey != "pk_test_perkflow" || c.StripeJSURL != "https://js.stripe.com/v3/" {
		t.Fatalf("read: %+v", c)
	}
}
