package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5/middleware"
)

// Log redaction. Handlers log errors that can quote what a client sent, so rather than trusting every call site the
// API's logger scrubs each record on its way out.

var (
	apiKeyPattern = regexp.MustCompile(`pk_[A-Za-z0-9_\-]{8,}`)
	jwtPattern    = regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]*)?`)
	emailPattern  = regexp.MustCompile(`[A-Za-z0-9.!#$%&'*+/=?^_{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+`)
	phonePattern  = regexp.MustCompile(`\+[1-9][0-9]{6,14}`)
)

// sensitiveKeys are attribute names whose values are never logged, whatever they look like.
var sensitiveKeys = []string{"authorization", "token", "access_token", "api_key", "apikey", "password", "secret", "email", "phone", "cookie"}

// maxLoggedString bounds any one string in a log record, so that a client cannot flood the logs through a value
// that gets logged (a request id, an error quoting input).
const maxLoggedString = 2048

// Redact hides API keys, JWTs, email addresses and phone numbers in s: keys and tokens entirely, addresses and
// numbers down to what tells them apart without identifying anyone (a***@example.com, ***78).
func Redact(s string) string {
	if len(s) > maxLoggedString {
		s = strings.ToValidUTF8(s[:maxLoggedString], "") + "…(truncated)"
	}
	if !strings.Contains(s, "pk_") && !strings.Contains(s, "eyJ") && !strings.Contains(s, "@") && !strings.Contains(s, "+") {
		return s
	}
	s = apiKeyPattern.ReplaceAllString(s, "pk_[REDACTED]")
	s = jwtPattern.ReplaceAllString(s, "[REDACTED-JWT]")
	s = emailPattern.ReplaceAllStringFunc(s, func(e string) string {
		at := strings.LastIndexByte(e, '@')
		return e[:1] + "***" + e[at:]
	})
	s = phonePattern.ReplaceAllStringFunc(s, func(p string) string { return "***" + p[len(p)-2:] })
	return s
}

// NewRedactingHandler wraps h so that every record it passes on has its message and attributes put through Redact
// (and the values of sensitiveKeys dropped), and carries the request id of the context it was logged with.
func NewRedactingHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*redactingHandler); ok {
		return h
	}
	return &redactingHandler{next: h}
}

type redactingHandler struct {
	next slog.Handler
}

func (h *redactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, Redact(rec.Message), rec.PC)
	hasID := false
	rec.Attrs(func(a slog.Attr) bool {
		hasID = hasID || a.Key == "request_id"
		out.AddAttrs(redactAttr(a))
		return true
	})
	if id := middleware.GetReqID(ctx); id != "" && !hasID {
		out.AddAttrs(slog.String("request_id", Redact(id)))
	}
	return h.next.Handle(ctx, out)
}

func (h *redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = redactAttr(a)
	}
	return &redactingHandler{next: h.next.WithAttrs(red)}
}

func (h *redactingHandler) WithGroup(name string) slog.Handler {
	return &redactingHandler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	if slices.Contains(sensitiveKeys, strings.ToLower(a.Key)) {
		return slog.String(a.Key, "[REDACTED]")
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		group := v.Group()
		red := make([]any, len(group))
		for i, g := range group {
			red[i] = redactAttr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, Redact(x.String()))
		case []byte:
			return slog.String(a.Key, Redact(string(x)))
		default:
			// Structured values stay structured unless their text holds something to hide.
			b, err := json.Marshal(x)
			if err != nil {
				return slog.String(a.Key, Redact(fmt.Sprintf("%+v", x)))
			}
			if r := Redact(string(b)); r != string(b) {
				return slog.String(a.Key, r)
			}
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
