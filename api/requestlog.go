package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
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

// Request ids. Every request gets an id of perkflow's own, logged on each of its lines and answered as X-Request-Id.
// A client's X-Request-Id is never taken as that id (a client could otherwise forge or collide with the ids of
// other requests in the logs): it is kept, cleaned and bounded, as the request log's client_request_id.

type clientRequestIDKey struct{}

// maxClientRequestID bounds the client's X-Request-Id kept in the log.
const maxClientRequestID = 128

var requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func init() {
	var b [6]byte
	_, _ = rand.Read(b[:])
	requestIDs.prefix = hex.EncodeToString(b[:]) + "-"
}

// assignRequestID gives the request perkflow's own id (in the context, where middleware.GetReqID finds it, and in
// the X-Request-Id answer header) and keeps the client's X-Request-Id aside.
func assignRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestIDs.prefix + strconv.FormatUint(requestIDs.n.Add(1), 10)
		ctx := context.WithValue(r.Context(), middleware.RequestIDKey, id)
		if c := cleanClientRequestID(r.Header.Get(middleware.RequestIDHeader)); c != "" {
			ctx = context.WithValue(ctx, clientRequestIDKey{}, c)
		}
		w.Header().Set(middleware.RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// cleanClientRequestID keeps printable ASCII of a client's request id, at most maxClientRequestID bytes.
func cleanClientRequestID(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxClientRequestID; i++ {
		if s[i] >= 0x21 && s[i] <= 0x7e {
			b.WriteByte(s[i])
		}
	}
	return b.String()
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
		attrs := []slog.Attr{slog.String("request_id", middleware.GetReqID(r.Context())),
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start))}
		if c, ok := r.Context().Value(clientRequestIDKey{}).(string); ok {
			attrs = append(attrs, slog.String("client_request_id", c))
		}
		s.log.LogAttrs(r.Context(), lvl, "http request", attrs...)
	})
}
