// Package webui holds what perkflow's two web front ends — the console (/console/) and the member app (/app/) —
// serve alike: the security headers on every answer, the request log by route pattern, the embedded static files,
// the router that wires them under a prefix, and the mounting of a front end beside the API. Each front end keeps
// its own policy (its Content-Security-Policy, its cookies, its pages); only the mechanism is here.
package webui

import (
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Beside answers prefix and every path under it with h, and every other path with next.
func Beside(prefix string, h, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// SecurityHeaders sets, on every answer, the Content-Security-Policy csp, no framing, no sniffing, no referrer
// leaving the page and a same-origin opener policy; every answer but the static files under prefix/static/ (pages,
// which show members) is marked never to be cached.
func SecurityHeaders(prefix, csp string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			if !strings.HasPrefix(r.URL.Path, prefix+"/static/") {
				h.Set("Cache-Control", "no-store")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// LogRequests logs each request as msg with its method, route pattern, status and duration — never the path or
// the query, which may name members or carry a sign-in token.
func LogRequests(log *slog.Logger, msg string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			log.InfoContext(r.Context(), msg, slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
		})
	}
}

// ServeStatic serves the files of the folder "static" of files under prefix/static/, cached for a day (they
// change only with the binary); it lists no folder and serves no .md file.
func ServeStatic(files fs.FS, prefix string) http.Handler {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	fileServer := http.StripPrefix(prefix+"/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(r.URL.Path, ".md") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fileServer.ServeHTTP(w, r)
	})
}

// Site is what a front end gives NewRouter.
type Site struct {
	// Prefix is where the front end is served ("/console"); Static holds its folder "static".
	Prefix string
	Static fs.FS
	// CSP is its Content-Security-Policy.
	CSP string
	// Log and LogMessage are where and as what each request is logged.
	Log        *slog.Logger
	LogMessage string
	// NotFound answers a path the front end does not serve.
	NotFound http.HandlerFunc
}

// NewRouter is a front end's router: SecurityHeaders, LogRequests and chi's Recoverer on every route, s.NotFound
// for unknown paths, the static files under Prefix/static/ and Prefix redirected to Prefix/. The caller adds its
// pages.
func NewRouter(s Site) chi.Router {
	r := chi.NewRouter()
	r.Use(SecurityHeaders(s.Prefix, s.CSP), LogRequests(s.Log, s.LogMessage), middleware.Recoverer)
	r.NotFound(s.NotFound)
	r.Handle(s.Prefix+"/static/*", ServeStatic(s.Static, s.Prefix))
	r.Get(s.Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.Prefix+"/", http.StatusMovedPermanently)
	})
	return r
}
