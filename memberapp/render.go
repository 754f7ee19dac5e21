package memberapp

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/perkflow/perkflow/internal/webui"
)

// Rendering: every page is the layout around the page's own template, in the member's language.

// view is what every template gets.
type view struct {
	Lang   string
	Title  string
	Nav    []navItem
	Active string
	Signed bool
	CSRF   string
	Flash  string
	Error  string
	Errors map[string]string // field → message, from the API's problem
	Loc    *time.Location
	Data   any
	// StripeJS and StripeKey make the page load Stripe.js (request.useStripe): only the pages that take a card.
	StripeJS, StripeKey string
}

// T is the message of key in the view's language, with args filled in.
func (v view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Err is the message of a field, or "".
func (v view) Err(field string) string { return v.Errors[field] }

// Points writes points with the language's thousands separator.
func (v view) Points(n int64) string { return formatPoints(n) }

// When writes a moment as the member reads it, in the program's time zone.
func (v view) When(t any) string {
	loc := v.Loc
	if loc == nil {
		loc = time.UTC
	}
	layout := "2 Jan 2006, 15:04"
	if v.Lang == "fr" {
		layout = "02/01/2006 15:04"
	}
	switch x := t.(type) {
	case time.Time:
		if !x.IsZero() {
			return x.In(loc).Format(layout)
		}
	case *time.Time:
		if x != nil {
			return x.In(loc).Format(layout)
		}
	}
	return "—"
}

// Day writes a date as the member reads it.
func (v view) Day(t any) string {
	loc := v.Loc
	if loc == nil {
		loc = time.UTC
	}
	layout := "2 Jan 2006"
	if v.Lang == "fr" {
		layout = "02/01/2006"
	}
	switch x := t.(type) {
	case time.Time:
		return x.In(loc).Format(layout)
	case *time.Time:
		if x != nil {
			return x.In(loc).Format(layout)
		}
	}
	return "—"
}

// Money writes an amount of minor units.
func (v view) Money(amount int64, currency string) string {
	sep := "."
	if v.Lang == "fr" {
		sep = ","
	}
	sign := ""
	if amount < 0 {
		sign, amount = "−", -amount
	}
	return fmt.Sprintf("%s%d%s%02d %s", sign, amount/100, sep, amount%100, currency)
}

type navItem struct {
	Key, Path string
}

var funcs = template.FuncMap{
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"neg": func(n int64) int64 { return -n },
}

// formatPoints writes points with narrow no-break spaces between thousands (12 345).
var formatPoints = webui.FormatPoints

func (a *App) parseTemplates() error {
	pages, err := webui.ParsePages(templateFiles, funcs, "member app", "templates/layout.html")
	a.pages = pages
	return err
}

// baseView is the view of a page before sign-in.
func (a *App) baseView(r *http.Request, title string) view {
	lang := langOf(r)
	return view{Lang: lang, Title: translate(lang, title), Errors: map[string]string{}, Loc: time.UTC}
}

func (a *App) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := a.pages[page]
	if !ok {
		a.serverError(w, r, fmt.Errorf("no template %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.serverError(w, r, fmt.Errorf("render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.Lang)
	w.Header().Set("Vary", "Accept-Language")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// renderError shows a message (a key of the messages) on an error page with status.
func (a *App) renderError(w http.ResponseWriter, r *http.Request, status int, key string) {
	v := a.baseView(r, "error.title")
	v.Error = v.T(key)
	if s, ok := sessionFrom(r.Context()); ok {
		v.Signed, v.CSRF, v.Nav = true, s.CSRFToken, nav
	}
	a.render(w, r, status, "error", v)
}

func (a *App) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "member app error", "error", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("Something went wrong on our side; it has been logged. / Une erreur est survenue de notre côté.\n"))
}
