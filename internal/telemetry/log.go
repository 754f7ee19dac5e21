package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys of the trace a line belongs to.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// LogHandler adds trace_id and span_id to every line logged with a context that carries a span (a request's, an
// activity's), and renames the TraceID and SpanID fields the Temporal SDK's tracing interceptor adds to its own
// loggers, so that every line of a trace is found by one key.
func LogHandler(h slog.Handler) slog.Handler { return &logHandler{next: h} }

type logHandler struct {
	next slog.Handler
	// traced is true when WithAttrs already gave this handler a trace id.
	traced bool
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
	traced := h.traced
	rec.Attrs(func(a slog.Attr) bool {
		a = renameTraceAttr(a)
		traced = traced || a.Key == TraceIDKey
		out.AddAttrs(a)
		return true
	})
	if sc := trace.SpanContextFromContext(ctx); !traced && sc.IsValid() {
		out.AddAttrs(slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	return h.next.Handle(ctx, out)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	renamed := make([]slog.Attr, len(attrs))
	traced := h.traced
	for i, a := range attrs {
		renamed[i] = renameTraceAttr(a)
		traced = traced || renamed[i].Key == TraceIDKey
	}
	return &logHandler{next: h.next.WithAttrs(renamed), traced: traced}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name), traced: h.traced}
}

// renameTraceAttr turns the SDK's TraceID/SpanID (trace.TraceID and trace.SpanID values) into trace_id/span_id
// strings.
func renameTraceAttr(a slog.Attr) slog.Attr {
	switch a.Key {
	case "TraceID":
		return slog.String(TraceIDKey, fmt.Sprint(a.Value.Any()))
	case "SpanID":
		return slog.String(SpanIDKey, fmt.Sprint(a.Value.Any()))
	}
	return a
}
