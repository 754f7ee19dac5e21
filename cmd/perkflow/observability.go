package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/config"
	"github.com/perkflow/perkflow/internal/metrics"
	"github.com/perkflow/perkflow/internal/telemetry"
	"github.com/perkflow/perkflow/internal/version"
	"github.com/perkflow/perkflow/store"
)

// observability is what a process reports through: one Prometheus registry (the API's request metrics, the
// business counters, the Temporal SDK's metrics, the pool, points outstanding) and its tracing.
type observability struct {
	reg      *prometheus.Registry
	business *metrics.Business
	sdk      client.MetricsHandler
	tracing  telemetry.Tracing
}

// startObservability builds the registry and, when OTEL_EXPORTER_OTLP_ENDPOINT is set, the tracing of the process
// named service (perkflow-api, perkflow-worker, perkflow-dev).
func startObservability(ctx context.Context, cfg config.Config, service string) (*observability, error) {
	tr, err := telemetry.Start(ctx, telemetry.Exporter{
		Endpoint: cfg.Tracing.Endpoint, Protocol: cfg.Tracing.Protocol,
		Service: cmp.Or(cfg.Tracing.ServiceName, service), Version: version.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	reg := metrics.NewRegistry()
	sdk, err := metrics.TemporalHandler(reg)
	if err != nil {
		return nil, err
	}
	return &observability{reg: reg, business: metrics.NewBusiness(reg), sdk: sdk, tracing: tr}, nil
}

// stop flushes the spans still batched.
func (o *observability) stop(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tracing.Shutdown(ctx); err != nil {
		log.Warn("flushing traces", "error", err)
	}
}

// poolOptions trace every statement of the pool when tracing is on.
func (o *observability) poolOptions() []func(*pgxpool.Config) {
	t := o.tracing.QueryTracer()
	if t == nil {
		return nil
	}
	return []func(*pgxpool.Config){func(c *pgxpool.Config) { c.ConnConfig.Tracer = t }}
}

// watch registers the pool's statistics — and, with outstanding, points outstanding: the workers report it, one
// query per scrape, not every API replica — and returns the store counting its committed effects.
func (o *observability) watch(st *store.Store, outstanding bool) *store.Store {
	metrics.RegisterPool(o.reg, st.Pool())
	if outstanding {
		metrics.RegisterOutstanding(o.reg, st.OutstandingPoints)
	}
	return st.WithMetrics(o.business)
}

// serveOps serves the process's own listener on addr (PERKFLOW_METRICS_ADDR): GET /metrics, GET /healthz (the
// process is up) and GET /readyz (ready says whether it can take work). "off" serves nothing. It returns once
// listening; stop shuts it down.
func serveOps(addr string, log *slog.Logger, reg prometheus.Gatherer, ready func(context.Context) error) (stop func(), err error) {
	if addr == config.MetricsOff {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on PERKFLOW_METRICS_ADDR=%s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		opsJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			opsJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": err.Error()})
			return
		}
		opsJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "error", err)
		}
	}()
	log.Info("metrics and probes listening", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func opsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
