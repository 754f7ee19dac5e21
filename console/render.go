package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/perkflow/perkflow/internal/webui"
)

// Rendering: every page is the layout around the page's own template; partials (for htmx) are templates of a page
// executed alone.

// view is what every template gets.
type view struct {
	Title  string
	Nav    []navItem
	Active string
	Key    string // the signed-in key's name
	Role   string
	CSRF   string
	Flash  string
	Error  string
	Errors map[string]string // field → message, from the API's problem
	Form   url.Values        // what was submitted, to show again
	Loc    *time.Location
	Data   any
}

// Err is the message of a field, or "".
func (v view) Err(field string) string { return v.Errors[field] }

// Val is the submitted value of a field, or def.
func (v view) Val(field, def string) string {
	if v.Form != nil {
		if vs, ok := v.Form[field]; ok {
			return vs[0]
		}
	}
	return def
}

// Has reports whether a checkbox or option value was submitted for the field (or, before any submission, is in def).
func (v view) Has(field, value string, def ...string) bool {
	vals := def
	if v.Form != nil {
		vals = v.Form[field]
	}
	for _, x := range vals {
		if x == value {
			return true
		}
	}
	return false
}

type navItem struct {
	Label, Path string
}

var funcs = template.FuncMap{
	"points": formatPoints,
	"money": func(amount int64, currency string) string {
		sign := ""
		if amount < 0 {
			sign, amount = "−", -amount
		}
		return fmt.Sprintf("%s%d.%02d %s", sign, amount/100, amount%100, currency)
	},
	"when": func(loc *time.Location, t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.In(loc).Format("2006-01-02 15:04")
		case *time.Time:
			if v == nil {
				return "—"
			}
			return v.In(loc).Format("2006-01-02 15:04")
		}
		return "—"
	},
	"day":        func(loc *time.Location, t time.Time) string { return t.In(loc).Format("Mon 2 Jan") },
	"localInput": localInput,
	"join":       strings.Join,
	"pathEscape": url.PathEscape,
	"add":        func(a, b int) int { return a + b },
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"itoa":  func(n int64) string { return strconv.FormatInt(n, 10) },
	"int64": func(n int) int64 { return int64(n) },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"list":              func(s ...string) []string { return s },
	"cat":               func(s ...string) string { return strings.Join(s, "") },
	"hasCampaignPrefix": func(id string) bool { return strings.HasPrefix(id, "campaign:") },
	"describeAction":    describeAction,
	"opts": func(kv ...string) [][2]string {
		var out [][2]string
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, [2]string{kv[i], kv[i+1]})
		}
		return out
	},
}

// formatPoints writes points with thin spaces between thousands (12 345).
var formatPoints = webui.FormatPoints

// localInput is a time as a datetime-local input shows it, in the program's time zone.
func localInput(loc *time.Location, t any) string {
	switch v := t.(type) {
	case time.Time:
		if !v.IsZero() {
			return v.In(loc).Format("2006-01-02T15:04")
		}
	case *time.Time:
		if v != nil {
			return v.In(loc).Format("2006-01-02T15:04")
		}
	}
	return ""
}

func (c *Console) parseTemplates() error {
	pages, err := webui.ParsePages(templateFiles, funcs, "console", "templates/layout.html", "templates/partials.html")
	c.pages = pages
	return err
}

// renderPage writes a whole page: the layout with the page's content.
func (c *Console) renderPage(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	c.execute(w, r, status, page, "layout", v)
}

// renderPartial writes one template of a page alone (an htmx swap).
func (c *Console) renderPartial(w http.ResponseWriter, r *http.Request, status int, page, name string, v view) {
	c.execute(w, r, status, page, name, v)
}

func (c *Console) execute(w http.ResponseWriter, r *http.Request, status int, page, name string, v view) {
	t, ok := c.pages[page]
	if !ok {
		c.serverError(w, r, fmt.Errorf("no template %q", page))
		return
	}
	if v.Loc == nil {
		v.Loc = time.UTC
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		c.serverError(w, r, fmt.Errorf("render %s/%s: %w", page, name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (c *Console) serverError(w http.ResponseWriter, r *http.Request, err error) {
	c.log.ErrorContext(r.Context(), "console error", "error", err)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("The console met an internal error; it has been logged.\n"))
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	v := view{Title: "Not allowed", Error: msg}
	if s, ok := sessionFrom(r.Context()); ok {
		v.Key, v.Role, v.CSRF, v.Nav = s.Key.Name, s.Key.Role, s.CSRFToken, navFor(s.Key.Role)
	}
	c.renderPage(w, r, http.StatusForbidden, "error", v)
}

// describeAction says an earning rule's action in words.
func describeAction(a map[string]any) string {
	n := func(k string) string { return jsonScalar(a[k]) }
	switch a["type"] {
	case "multiplier":
		return "× " + n("percent") + " % of base points"
	case "earn_rate":
		return n("points") + " points per " + n("per_amount") + " minor units"
	case "bonus":
		return n("points") + " bonus points a purchase"
	}
	return jsonScalar(a["type"])
}
