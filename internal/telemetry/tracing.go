// Package telemetry traces perkflow with OpenTelemetry: the HTTP API (otelhttp), the Temporal client and worker
// (the SDK's tracing interceptor, so that a trace crosses a signal or an update into the workflow and its
// activities), every SQL statement (pgx's tracer) and the calls to Stripe, SendGrid and Twilio (otelhttp's
// transport), exported with OTLP. Off — no exporter, no interceptor, no wrapper, so no cost — unless an endpoint is
// configured. It also puts the trace id on log lines.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Tracing is how a process traces. The zero value traces nothing and wires nothing.
type Tracing struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// Exporter says where spans go.
type Exporter struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT; empty means no tracing.
	Endpoint string
	// Protocol is "http/protobuf" or "grpc".
	Protocol string
	// Service and Version name the process in its spans (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read by
	// the SDK, take precedence).
	Service, Version string
}

// Start builds the tracing of a process: spans batched and exported over OTLP to e.Endpoint, sampled as the
// standard OTEL_TRACES_SAMPLER variables say. Without an endpoint it returns the zero Tracing. Call Shutdown before
// exit to flush what is batched.
func Start(ctx context.Context, e Exporter) (Tracing, error) {
	if e.Endpoint == "" {
		return Tracing{}, nil
	}
	var client otlptrace.Client
	switch e.Protocol {
	case "grpc":
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpointURL(e.Endpoint))
	case "http/protobuf", "":
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(e.Endpoint))
	default:
		return Tracing{}, fmt.Errorf("OTLP protocol %q: want http/protobuf or grpc", e.Protocol)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return Tracing{}, fmt.Errorf("OTLP exporter to %s: %w", e.Endpoint, err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(semconv.ServiceName(e.Service), semconv.ServiceVersion(e.Version)),
		resource.Environment(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return Tracing{}, fmt.Errorf("trace resource: %w", err)
	}
	// The sampler comes from OTEL_TRACES_SAMPLER(_ARG) when set: the SDK reads them when none is given here.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := New(tp)
	t.shutdown = tp.Shutdown
	return t, nil
}

// New traces to provider (tests give one with a span recorder).
func New(provider trace.TracerProvider) Tracing {
	return Tracing{
		provider:   provider,
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Enabled reports whether anything is traced.
func (t Tracing) Enabled() bool { return t.provider != nil }

// Shutdown flushes and stops the exporter.
func (t Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Handler traces every request to h. The API is public: a caller's traceparent is linked, not adopted, so that no
// client decides what perkflow samples. The span is named for its route once the router has matched it.
func (t Tracing) Handler(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
}

// Transport traces the requests sent through rt (nil: http.DefaultTransport), for the providers' HTTP clients.
func (t Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	if !t.Enabled() {
		return rt
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.provider), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()))
}

// QueryTracer traces every statement of a pgx pool (its text, never its arguments, which carry personal data);
// nil when tracing is off.
func (t Tracing) QueryTracer() pgx.QueryTracer {
	if !t.Enabled() {
		return nil
	}
	return otelpgx.NewTracer(otelpgx.WithTracerProvider(t.provider), otelpgx.WithMeterProvider(noop.NewMeterProvider()),
		otelpgx.WithDisableConnectionDetailsInAttributes())
}

// spanKey is where the Temporal tracing interceptor keeps its span in a workflow context; the cause interceptor
// (cause.go) reads it there.
type spanKey struct{}

// TemporalInterceptors are the interceptors of a Temporal client, and of the workers built on it: the SDK's tracing
// interceptor (client calls, workflows, signals, updates, activities), then the one that puts an activity started
// because of a signal in that signal's trace. Nil when tracing is off.
func (t Tracing) TemporalInterceptors() ([]interceptor.ClientInterceptor, error) {
	if !t.Enabled() {
		return nil, nil
	}
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            t.provider.Tracer("temporal-sdk-go"),
		TextMapPropagator: t.propagator,
		SpanContextKey:    spanKey{},
	})
	if err != nil {
		return nil, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{tracing, &causeInterceptor{key: spanKey{}}}, nil
}
