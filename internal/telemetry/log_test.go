package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func decodeLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// TestLogLinesCarryTheirTrace: a line logged with a traced context gets trace_id and span_id; the Temporal SDK's
// TraceID/SpanID fields become the same keys, once; a line without a trace gets none.
func TestLogLinesCarryTheirTrace(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil)))
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	sc := span.SpanContext()
	span.End()

	log.InfoContext(ctx, "in a request")
	log.With("TraceID", sc.TraceID(), "SpanID", sc.SpanID()).InfoContext(ctx, "from the SDK's logger")
	log.Info("outside any trace")

	lines := decodeLines(t, &buf)
	for _, l := range lines[:2] {
		if l[TraceIDKey] != sc.TraceID().String() || l[SpanIDKey] != sc.SpanID().String() || l["TraceID"] != nil {
			t.Errorf("line %v: want trace_id %s and span_id %s only", l, sc.TraceID(), sc.SpanID())
		}
	}
	if _, ok := lines[2][TraceIDKey]; ok {
		t.Errorf("a line outside any trace has a trace id: %v", lines[2])
	}
	if (Tracing{}).Enabled() || (Tracing{}).QueryTracer() != nil {
		t.Error("the zero Tracing traces")
	}
}
