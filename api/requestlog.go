package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// The request log: one line per request, and the request's logger for code without the Server at hand.

type logKey struct{}

// withLog puts the API's logger in ctx, for code that answers a request without the Server at hand (fail, access
// rules, guards).
func withLog(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// logFrom is the logger withLog put in ctx, else the default logger behind the redactor.
func logFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(NewRedactingHandler(slog.Default().Handler()))
}

// logRequests logs each request with its route pattern (never the raw path, which may carry ids of members, and
// never headers, which carry keys and tokens).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		r = r.WithContext(withLog(r.Context(), s.log))
		next.ServeHTTP(ww, r)
		route := routePattern(r)
		s.metrics.observe(route, r.Method, ww.Status(), time.Since(start))
		// The request's span (when traced) is named for its route, known only now that the router has matched it.
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
		}
		lvl := slog.LevelInfo
		if ww.Status() >= 500 {
			lvl = slog.LevelError
		}
		s.log.Log(r.Context(), lvl, "http request",
			slog.String("request_id", middleware.GetReqID(r.Context())),
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
	})
}
