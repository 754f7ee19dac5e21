// Package memberapp is perkflow's member web app, served under /app/ by `perkflow api`: a small, installable (PWA)
// app in which members see their points, tier, history, rewards and challenges, claim rewards and manage their
// profile and consent. Server-rendered pages (html/template), embedded in the binary, in English and French.
//
// It is a reference client of the public API: every page reads and writes through the API's own routes, called
// in process with a short member JWT minted for the signed-in member, so that what the app shows and does is what
// the API answers to any app holding that member's token. It holds no business rule of its own.
//
// Members sign in without a password: they enter their email and receive a one-time sign-in link (signin.go), or
// the retailer's own identity provider hands the app a member JWT for them (handoff.go).
// Sessions are server-side (member_app_sessions); the browser holds a random token in an HttpOnly, SameSite=Lax
// cookie.
package memberapp

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/webui"
	"github.com/perkflow/perkflow/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Prefix is where the app is served.
const Prefix = "/app"

// Config holds the app's dependencies.
type Config struct {
	// API is the HTTP API whose routes the app calls in process.
	API   *api.Server
	Store *store.Store
	// JWT is the API's member-token configuration: the app mints the short member tokens it calls the API with,
	// so it needs its HS256 secret.
	JWT api.JWTConfig
	// Notifier sends the sign-in links (SendGrid in production; the log in development).
	Notifier activities.Notifier
	// LogLinks writes each sign-in link to the log as well: development, where no email provider is configured
	// and the log notifier does not write bodies (`make dev` prints the link).
	LogLinks bool
	// PublicURL is the address members reach perkflow at (PERKFLOW_PUBLIC_URL): sign-in links point there.
	PublicURL string
	Log       *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// LinkTTL is how long a sign-in link is valid (default 15 minutes); SessionLifetime how long a session lasts
	// after sign-in (default 7 days).
	LinkTTL         time.Duration
	SessionLifetime time.Duration
	// LinksPerEmail and LinksPerAddress bound the sign-in links asked for in an hour for one email and from one
	// client address (defaults 5 and 30).
	LinksPerEmail, LinksPerAddress int
	// HandoffMaxAge is how old (since its iat) a member JWT handed over by the retailer's identity provider may be
	// to open a session (POST /app/sign-in/token; default 5 minutes).
	HandoffMaxAge time.Duration
	// StripePublishableKey (pk_…, PERKFLOW_STRIPE_PUBLISHABLE_KEY) lets members claim cash offers, the card taken by
	// Stripe.js from StripeJS (PERKFLOW_STRIPE_JS_URL, default DefaultStripeJS); without a key cash offers are not
	// shown (cash.go).
	StripePublishableKey string
	StripeJS             string
}

// App serves the member app's pages.
type App struct {
	cfg       Config
	log       *slog.Logger
	pages     map[string]*template.Template
	handler   http.Handler
	hashKey   []byte
	apiRouter http.Handler
	// stripeCSP is the CSP of the pages that load Stripe.js ("" without a publishable key).
	stripeCSP string
}

// New builds the app.
func New(cfg Config) (*App, error) {
	if cfg.API == nil || cfg.Store == nil || cfg.Notifier == nil {
		return nil, fmt.Errorf("memberapp: needs the API, the store and a notifier")
	}
	if len(cfg.JWT.Secret) < 32 {
		return nil, fmt.Errorf("memberapp: needs the member-token secret (PERKFLOW_JWT_SECRET) to call the API as its members")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 15 * time.Minute
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 7 * 24 * time.Hour
	}
	if cfg.LinksPerEmail <= 0 {
		cfg.LinksPerEmail = 5
	}
	if cfg.LinksPerAddress <= 0 {
		cfg.LinksPerAddress = 30
	}
	if cfg.HandoffMaxAge <= 0 {
		cfg.HandoffMaxAge = 5 * time.Minute
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	a := &App{cfg: cfg, log: slog.New(api.NewRedactingHandler(cfg.Log.Handler())).With("component", "memberapp"),
		hashKey: deriveKey(cfg.JWT.Secret, "perkflow member app hashes v1"), apiRouter: cfg.API.Handler()}
	if err := a.setUpStripe(); err != nil {
		return nil, err
	}
	if err := a.parseTemplates(); err != nil {
		return nil, err
	}
	a.handler = a.routes()
	return a, nil
}

func (a *App) now() time.Time {
	if a.cfg.Now != nil {
		return a.cfg.Now()
	}
	return time.Now()
}

// Handler serves the app's routes (paths under /app).
func (a *App) Handler() http.Handler { return a.handler }

// Beside answers /app and everything under it with the app, and every other path with next.
func (a *App) Beside(next http.Handler) http.Handler { return webui.Beside(Prefix, a.handler, next) }

// csp is the app's Content-Security-Policy: scripts, styles, the manifest and the service worker from the app's own
// files only, nothing inline, no framing. Pages (which show a member's points and personal data) are never cached,
// by the browser or its service worker; only the shell's static files (style sheet, script, icons) are
// (webui.SecurityHeaders, webui.ServeStatic).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// serveFile serves one embedded file at a path of its own (the service worker must be served from /app/ to control
// /app/; the manifest beside it).
func serveFile(name, contentType string) http.HandlerFunc {
	b, err := staticFiles.ReadFile("static/" + name)
	if err != nil {
		panic(err)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

func (a *App) routes() http.Handler {
	// The request log names the route pattern only: the query of /app/link carries a sign-in token.
	r := webui.NewRouter(webui.Site{Prefix: Prefix, Static: staticFiles, CSP: csp, Log: a.log, LogMessage: "member app request",
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			a.renderError(w, r, http.StatusNotFound, "error.notfound")
		}})
	r.Get(Prefix+"/sw.js", serveFile("sw.js", "text/javascript; charset=utf-8"))
	r.Get(Prefix+"/manifest.webmanifest", serveFile("manifest.webmanifest", "application/manifest+json"))
	r.Get(Prefix+"/sign-in", a.signInPage)
	r.Post(Prefix+"/sign-in", a.requestLink)
	r.Get(Prefix+"/link", a.linkPage)
	r.Post(Prefix+"/link", a.useLink)
	r.Post(Prefix+"/sign-in/token", a.handOff)
	r.Group(func(r chi.Router) {
		r.Use(a.requireSession)
		for _, p := range a.pageTable() {
			r.Method(p.method, Prefix+p.pattern, a.guard(p))
		}
	})
	return r
}
