package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/webui"
	"github.com/perkflow/perkflow/store"
)

// request is one signed-in request to a page.
type request struct {
	c    *Console
	w    http.ResponseWriter
	r    *http.Request
	sess store.ConsoleSession
	loc  *time.Location
}

// page is a console route: who may use it, and, for the pages of the navigation, its label. A role a page does not
// list neither sees it in the navigation nor reaches it (403): both come from this one table.
type page struct {
	method, pattern string
	roles           []string
	nav             string
	handle          func(*request)
}

var (
	everyone    = []string{api.RoleMarketer, api.RoleSupport, api.RoleAdmin}
	marketers   = []string{api.RoleMarketer, api.RoleAdmin}
	supporters  = []string{api.RoleSupport, api.RoleAdmin}
	admins      = []string{api.RoleAdmin}
	leaderboard = []string{api.RoleMarketer, api.RoleSupport, api.RoleAdmin}
)

// pageTable lists every page of the console.
func (c *Console) pageTable() []page {
	return []page{
		{"GET", "/", everyone, "Dashboard", c.dashboard},
		{"POST", "/sign-out", everyone, "", c.signOut},

		{"GET", "/rules", marketers, "Rules", c.rulesList},
		{"GET", "/rules/new", marketers, "", c.ruleForm},
		{"POST", "/rules", marketers, "", c.ruleSave},
		{"POST", "/rules/simulate", marketers, "", c.ruleSimulate},
		{"GET", "/rules/{ruleId}", marketers, "", c.ruleForm},
		{"POST", "/rules/{ruleId}", marketers, "", c.ruleSave},
		{"POST", "/rules/{ruleId}/delete", marketers, "", c.ruleDelete},

		{"GET", "/campaigns", marketers, "Campaigns", c.campaignsList},
		{"GET", "/campaigns/new", marketers, "", c.campaignForm},
		{"POST", "/campaigns", marketers, "", c.campaignCreate},
		{"POST", "/campaigns/preview", marketers, "", c.campaignPreview},
		{"GET", "/campaigns/{campaignId}", marketers, "", c.campaignReport},
		{"POST", "/campaigns/{campaignId}/{action}", marketers, "", c.campaignAction},

		{"GET", "/offers", marketers, "Offers", c.offersList},
		{"GET", "/offers/new", marketers, "", c.offerForm},
		{"POST", "/offers", marketers, "", c.offerSave},
		{"GET", "/offers/{offerId}", marketers, "", c.offerForm},
		{"POST", "/offers/{offerId}", marketers, "", c.offerSave},
		{"POST", "/offers/{offerId}/archive", marketers, "", c.offerArchive},

		{"GET", "/challenges", marketers, "Challenges", c.challengesList},
		{"POST", "/challenges", marketers, "", c.challengeCreate},
		{"GET", "/leaderboard", leaderboard, "Leaderboard", c.leaderboardPage},

		{"GET", "/members", supporters, "Members", c.memberFind},
		{"POST", "/members/find", supporters, "", c.memberFindPost},
		{"GET", "/members/{memberId}", supporters, "", c.memberPage},
		{"POST", "/members/{memberId}/adjust", supporters, "", c.memberAdjust},
		{"POST", "/members/{memberId}/redemptions/{redemptionId}/cancel", supporters, "", c.memberCancelRedemption},

		{"GET", "/settings", admins, "Settings", c.settingsPage},
		{"POST", "/settings", admins, "", c.settingsSave},
		{"GET", "/api-keys", admins, "API keys", c.keysPage},
		{"POST", "/api-keys", admins, "", c.keyCreate},
		{"POST", "/api-keys/{name}/revoke", admins, "", c.keyRevoke},
	}
}

// navFor is the navigation a role sees: the pages of the table it may use.
func navFor(role string) []navItem {
	var c Console
	var out []navItem
	for _, p := range c.pageTable() {
		if p.nav != "" && contains(p.roles, role) {
			out = append(out, navItem{Label: p.nav, Path: Prefix + p.pattern})
		}
	}
	return out
}

func (c *Console) routes() http.Handler {
	// The request log names the route pattern only: paths and queries may name members.
	r := webui.NewRouter(webui.Site{Prefix: Prefix, Static: staticFiles, CSP: csp, Log: c.log, LogMessage: "console request",
		NotFound: func(w http.ResponseWriter, r *http.Request) {
			c.renderPage(w, r, http.StatusNotFound, "error", view{Title: "Not found", Error: "There is no such page."})
		}})
	r.Get(Prefix+"/sign-in", c.signInPage)
	r.Post(Prefix+"/sign-in", c.signIn)
	r.Group(func(r chi.Router) {
		r.Use(c.requireSession)
		for _, p := range c.pageTable() {
			r.Method(p.method, Prefix+p.pattern, c.guard(p))
		}
	})
	return r
}

// guard runs a page for a session: 403 for a role the page does not list, 403 for a state-changing request without
// the session's CSRF token; every state-changing request is audited with the key and the status it ended with.
func (c *Console) guard(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, _ := sessionFrom(r.Context())
		if !contains(p.roles, sess.Key.Role) {
			c.forbidden(w, r, "This page is not open to the "+sess.Key.Role+" role.")
			return
		}
		q := &request{c: c, w: w, r: r, sess: sess, loc: time.UTC}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !checkCSRF(r, sess) {
				c.audit(r.Context(), q.actor(), "console.csrf_refused", p.pattern, http.StatusForbidden)
				c.forbidden(w, r, "This form expired or did not come from this console (its CSRF token is missing or wrong). Reload the page and try again.")
				return
			}
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			q.w = ww
			defer func() {
				c.audit(r.Context(), q.actor(), "POST "+Prefix+p.pattern, targetOf(r), ww.Status())
			}()
		}
		q.loc = q.programLocation()
		p.handle(q)
	})
}

// targetOf names what a request acts on: its path's parameters (ids, never personal data).
func targetOf(r *http.Request) string {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return ""
	}
	var parts []string
	for i, k := range rc.URLParams.Keys {
		if k != "*" {
			parts = append(parts, k+"="+rc.URLParams.Values[i])
		}
	}
	return strings.Join(parts, " ")
}

func (q *request) actor() string { return api.KeyPrincipal(q.sess.Key).Actor() }

// programLocation is the program's time zone, in which the console shows and reads times.
func (q *request) programLocation() *time.Location {
	pv, err := q.c.cfg.Store.ProgramAt(q.r.Context(), q.c.now())
	if err != nil {
		return time.UTC
	}
	return pv.Program.Location()
}

// view is the base view of a page of this request.
func (q *request) view(title, active string) view {
	return view{Title: title, Active: active, Nav: navFor(q.sess.Key.Role), Key: q.sess.Key.Name, Role: q.sess.Key.Role,
		CSRF: q.sess.CSRFToken, Loc: q.loc, Errors: map[string]string{}}
}

func (q *request) render(page string, v view) { q.c.renderPage(q.w, q.r, http.StatusOK, page, v) }

// renderStatus renders a page with a status (422 for a form the API refused).
func (q *request) renderStatus(status int, page string, v view) {
	q.c.renderPage(q.w, q.r, status, page, v)
}

func (q *request) partial(page, name string, v view) {
	q.c.renderPartial(q.w, q.r, http.StatusOK, page, name, v)
}

// redirect answers a form with a redirect (303) to a page, with a message for it. The message travels in a
// short-lived cookie of the console's own, not in the URL, so that no link can make a page say what it likes.
func (q *request) redirect(to, flash string) {
	if flash != "" {
		setCookie(q.w, q.r, flashCookie, url.QueryEscape(flash), 60)
	}
	http.Redirect(q.w, q.r, to, http.StatusSeeOther)
}

// fail shows an error the API answered (or any other) on an error page with the API's status.
func (q *request) fail(err error) {
	if e, ok := err.(*apiError); ok && e.Status < 500 {
		v := q.view("Cannot do that", "")
		v.Error = e.Detail
		q.renderStatus(e.Status, "error", v)
		return
	}
	q.c.serverError(q.w, q.r, err)
}

// formFailed shows a form again with the API's field errors beside the fields; anything but a 4xx fails the page.
func (q *request) formFailed(err error, page string, v view) {
	e, ok := err.(*apiError)
	if !ok || e.Status >= 500 {
		q.fail(err)
		return
	}
	v.Error = e.Detail
	for k, m := range e.Fields {
		v.Errors[k] = m
	}
	v.Form = q.r.PostForm
	status := e.Status
	if status == http.StatusBadRequest {
		status = http.StatusUnprocessableEntity
	}
	q.renderStatus(status, page, v)
}

// flash is the message a redirect left for the page, read once.
func (q *request) flash() string {
	ck, err := q.r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	setCookie(q.w, q.r, flashCookie, "", -1)
	msg, err := url.QueryUnescape(ck.Value)
	if err != nil || len(msg) > 300 {
		return ""
	}
	return msg
}
