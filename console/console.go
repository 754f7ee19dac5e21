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
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/webui"
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
	return webui.Beside(Prefix, c.handler, next)
}

// csp is the console's Content-Security-Policy: scripts and styles from the console's own files only, nothing
// inline, no framing. With it every answer carries no sniffing, no referrer leaving the page and, but for the static
// files (htmx, the style sheet), no caching of pages that show members (webui.SecurityHeaders).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
