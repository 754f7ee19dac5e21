// Package console is perkflow's web console for marketers, support and admins, served under /console/ by
// `perkflow api`: server-rendered pages (html/template, htmx for partial updates, SVG charts drawn here), embedded in
// the binary. It is a client of the API: every page reads and writes through the API's own handlers, called in
// process as the signed-in key (api.Server.ServeAs), and through the store's read functions the handlers use — it
// holds no business rule of its own. Sessions are server-side (console_sessions); the browser holds a random token
// in an HttpOnly, SameSite=Strict cookie, never the key.
package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// Config holds the console's dependencies.
type Config struct {
	// API is the HTTP API whose handlers the console calls in process.
	API   *api.Server
	Store *store.Store
	Log   *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// IdleTimeout ends a session not used for that long (default 30 minutes); SessionLifetime ends any session that
	// long after sign-in (default 12 hours).
	IdleTimeout     time.Duration
	SessionLifetime time.Duration
	// TemporalUIURL is the Temporal UI's base URL for links to a member's workflows ("" shows no links), in
	// TemporalNamespace.
	TemporalUIURL     string
	TemporalNamespace string
}

// Console serves the console's pages.
type Console struct {
	cfg     Config
	log     *slog.Logger
	pages   map[string]*template.Template
	handler http.Handler
}

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil || cfg.Store == nil {
		return nil, fmt.Errorf("console: needs the API and the store")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.TemporalNamespace == "" {
		cfg.TemporalNamespace = "default"
	}
	cfg.TemporalUIURL = strings.TrimRight(cfg.TemporalUIURL, "/")
	c := &Console{cfg: cfg, log: slog.New(api.NewRedactingHandler(cfg.Log.Handler())).With("component", "console")}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.handler = c.routes()
	return c, nil
}

func (c *Console) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// Handler serves the console's routes (paths under /console).
func (c *Console) Handler() http.Handler { return c.handler }

// Beside answers /console and everything under it with the console, and every other path with next (the API).
func (c *Console) Beside(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/") {
			c.handler.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are on every answer of the console: a strict Content-Security-Policy (scripts and styles from the
// console's own files only, nothing inline), no framing, no sniffing, no referrer leaving the page, no caching of
// pages that show members.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request with its route pattern (never the path or the query, which may name members).
func (c *Console) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		c.log.InfoContext(r.Context(), "console request", slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
	})
}

// serveStatic serves the embedded files (htmx, the style sheet), cached for a day: they change only with the binary.
func serveStatic() http.Handler {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".md") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
