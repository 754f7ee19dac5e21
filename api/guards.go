package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/domain"
)

// guards holds the protections every authenticated /v1 request passes after authentication, in order: they are the
// one place to add request-wide limits and replay protection.
//
//  1. rate: a token bucket per API key and per member token (429 with Retry-After), and a cap on the requests of
//     one API key in flight;
//  2. route: finds the route the request is for and its access rule — a /v1 route without one is refused, so that
//     forgetting to declare who may call a route closes it rather than opens it;
//  3. memberWrites: a cap on the writes concerning one member in flight (429);
//  4. idempotency: Idempotency-Key on POST (idempotency.go).
//
// The access rule itself is enforced by the route's allow middleware (auth.go), after routing. Guards 3 and 4 only
// engage for requests that rule lets through, so that a refused request writes nothing.
type guards struct {
	s      *Server
	limits Limits
	jwks   *jwksCache

	keyRates    *rateLimiters
	memberRates *rateLimiters
	keyInFlight *concurrency
	writes      *concurrency

	rulesOnce sync.Once
	rules     map[string]*Access // "METHOD pattern" → the route's access rule
}

func newGuards(s *Server) *guards {
	// Every log line of the API goes through the redactor, so that no key, token, email or phone number is written
	// in clear, whatever a handler logs; it also adds the request id to lines logged with a request's context.
	s.log = slog.New(NewRedactingHandler(s.log.Handler()))
	lim := DefaultLimits()
	if s.cfg.Limits != nil {
		lim = *s.cfg.Limits
	}
	g := &guards{
		s: s, limits: lim,
		keyRates: newRateLimiters(lim.APIKey), memberRates: newRateLimiters(lim.Member),
		keyInFlight: newConcurrency(lim.APIKeyInFlight), writes: newConcurrency(lim.MemberWrites),
	}
	if s.cfg.JWT.JWKSURL != "" {
		c, err := newJWKSCache(s.cfg.JWT.JWKSURL, s.log, s.now)
		if err != nil {
			// Refuse every member token rather than accept one unchecked; the command line validates the URL first.
			s.log.Error("member tokens are refused: the JWKS URL is not usable", slog.Any("error", err))
		} else {
			g.jwks = c
		}
	}
	return g
}

// middleware lists the guards applied to every /v1 route, after authentication.
func (g *guards) middleware() []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{g.rate, g.route, g.memberWrites, g.idempotency}
}

// run does the guards' housekeeping until ctx ends: prunes idempotency keys past their 24 hours and forgets idle
// rate-limit buckets.
func (g *guards) run(ctx context.Context) {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		if n, err := g.s.cfg.Store.PruneIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			g.s.log.Warn("pruning idempotency keys failed", slog.Any("error", err))
		} else if n > 0 {
			g.s.log.Info("pruned idempotency keys", slog.Int64("deleted", n))
		}
		now := time.Now()
		g.keyRates.sweep(now)
		g.memberRates.sweep(now)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rate applies the caller's token bucket and, for API keys, the in-flight cap.
func (g *guards) rate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := principalFrom(r.Context())
		limiter, who := g.keyRates, "apikey:"+p.KeyName
		if p.Role == RoleMember {
			limiter, who = g.memberRates, "member:"+p.MemberID
		}
		if ok, wait := limiter.take(who, time.Now()); !ok {
			g.s.log.InfoContext(r.Context(), "rate limited", slog.String("actor", p.Actor()), slog.Duration("retry_after", wait))
			tooManyRequests(w, wait, "too many requests from this caller; retry after the number of seconds in Retry-After")
			return
		}
		if p.Role != RoleMember {
			release, ok := g.keyInFlight.acquire(who)
			if !ok {
				g.s.log.InfoContext(r.Context(), "too many requests in flight", slog.String("actor", p.Actor()))
				tooManyRequests(w, time.Second, "too many requests from this API key are being served at once")
				return
			}
			defer release()
		}
		next.ServeHTTP(w, r)
	})
}

// routeInfo is what the route guard learnt about a request, for the guards after it.
type routeInfo struct {
	pattern string
	params  *chi.Context
	access  *Access
	// permitted: the access rule lets the caller through as far as can be told without a lookup.
	permitted bool
}

type routeInfoKey struct{}

func routeInfoFrom(ctx context.Context) *routeInfo {
	ri, _ := ctx.Value(routeInfoKey{}).(*routeInfo)
	return ri
}

// accessRules maps each route of the API to its access rule, built once from the router itself.
func (g *guards) accessRules() map[string]*Access {
	g.rulesOnce.Do(func() {
		g.rules = map[string]*Access{}
		routes, err := RoutesOf(g.s.handler)
		if err != nil {
			g.s.log.Error("cannot list the API's routes; every /v1 route is closed", slog.Any("error", err))
			return
		}
		for _, rt := range routes {
			if rt.Access != nil {
				g.rules[rt.Method+" "+rt.Pattern] = rt.Access
			}
		}
	})
	return g.rules
}

// route finds the request's route ahead of the router, so that the guards know its pattern, its path parameters
// and its access rule. A request for a route that does not exist goes on to the router's 404 or 405.
func (g *guards) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux, ok := g.s.handler.(*chi.Mux)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		rctx := chi.NewRouteContext()
		path := r.URL.RawPath
		if path == "" {
			path = r.URL.Path
		}
		pattern := mux.Find(rctx, r.Method, path)
		if pattern == "" {
			next.ServeHTTP(w, r)
			return
		}
		access := g.accessRules()[r.Method+" "+pattern]
		if access == nil {
			g.s.log.ErrorContext(r.Context(), "route declares no access rule; refused", slog.String("method", r.Method), slog.String("route", pattern))
			writeProblem(w, http.StatusForbidden, "this route is not open to any caller")
			return
		}
		p, _ := principalFrom(r.Context())
		ri := &routeInfo{pattern: pattern, params: rctx, access: access, permitted: access.permitsRole(p, rctx.URLParam("memberId"))}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeInfoKey{}, ri)))
	})
}

// isWrite reports whether a method changes state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// bufferBody reads the request's body (at most MaxBodyBytes) so that guards can look at it, and puts it back for
// the handler. Over the limit it answers 413 itself and returns false.
func bufferBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeProblem(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body must be at most %d bytes", MaxBodyBytes))
		return nil, false
	}
	if err != nil {
		writeProblem(w, http.StatusBadRequest, "the body could not be read")
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

type bodyKey struct{}

// bodyOf returns the body buffered by an earlier guard, or reads and buffers it now.
func bodyOf(w http.ResponseWriter, r *http.Request) (*http.Request, []byte, bool) {
	if b, ok := r.Context().Value(bodyKey{}).([]byte); ok {
		r.Body = io.NopCloser(bytes.NewReader(b))
		return r, b, true
	}
	b, ok := bufferBody(w, r)
	if !ok {
		return r, nil, false
	}
	if b == nil {
		b = []byte{}
	}
	return r.WithContext(context.WithValue(r.Context(), bodyKey{}, b)), b, true
}

// memberWrites caps the writes concerning one member in flight in this process.
func (g *guards) memberWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := routeInfoFrom(r.Context())
		if ri == nil || !ri.permitted || !isWrite(r.Method) || g.limits.MemberWrites <= 0 {
			next.ServeHTTP(w, r)
			return
		}
		r, body, ok := bodyOf(w, r)
		if !ok {
			return
		}
		var members []string
		add := func(id string) {
			if domain.ValidMemberID(id) && !slices.Contains(members, id) {
				members = append(members, id)
			}
		}
		add(ri.params.URLParam("memberId"))
		var probe struct {
			MemberID string `json:"member_id"`
		}
		if json.Unmarshal(body, &probe) == nil {
			add(probe.MemberID)
		}
		if p, _ := principalFrom(r.Context()); p.Role == RoleMember {
			add(p.MemberID)
		}
		release, ok := g.writes.acquire(members...)
		if !ok {
			g.s.log.InfoContext(r.Context(), "too many writes for one member in flight", slog.String("route", ri.pattern))
			tooManyRequests(w, time.Second, "too many requests concerning this member are being served at once")
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// requestIDFrom is the request id chi's RequestID middleware gave the request.
func requestIDFrom(ctx context.Context) string { return middleware.GetReqID(ctx) }

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
	if id := requestIDFrom(ctx); id != "" && !hasID {
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
