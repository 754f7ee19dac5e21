package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Sessions: an API key is exchanged, once, for a server-side session. The browser holds only a random session token
// in a cookie that scripts cannot read (HttpOnly), that no other site's request carries (SameSite=Strict), and that
// travels only over TLS when the console is served behind it (Secure). The database keeps the token's SHA-256; the
// key is never stored, in the browser or on the server. A session ends on sign-out, after IdleTimeout unused, at
// SessionLifetime after sign-in, or when its key is revoked.

const (
	sessionCookie = "perkflow_console"
	// signInCookie carries the sign-in form's CSRF token (double submit): there is no session yet to hold it.
	signInCookie = "perkflow_console_signin"
	// flashCookie carries the message of a redirect to the next page.
	flashCookie = "perkflow_console_flash"
	csrfField   = "csrf"
	csrfHeader  = "X-CSRF-Token"
)

// consoleRoles may sign in; a pos key cannot.
var consoleRoles = []string{api.RoleMarketer, api.RoleSupport, api.RoleAdmin}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// secure reports whether the request came over TLS, directly or through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix + "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

type sessionKey struct{}

// sessionFrom is the session requireSession found for the request.
func sessionFrom(ctx context.Context) (store.ConsoleSession, bool) {
	s, ok := ctx.Value(sessionKey{}).(store.ConsoleSession)
	return s, ok
}

// requireSession lets through requests of a live session; any other (no cookie, a forged or ended one) is sent to
// the sign-in page.
func (c *Console) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil || ck.Value == "" || len(ck.Value) > 100 {
			c.toSignIn(w, r)
			return
		}
		sess, err := c.cfg.Store.ConsoleSessionFor(r.Context(), ck.Value, c.now(), c.cfg.IdleTimeout)
		if domain.CodeOf(err) == domain.ErrUnauthorized {
			setCookie(w, r, sessionCookie, "", -1)
			c.toSignIn(w, r)
			return
		}
		if err != nil {
			c.serverError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

// toSignIn sends the browser to the sign-in page: a redirect, or for an htmx request a full-page redirect.
func (c *Console) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", Prefix+"/sign-in")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
}

// checkCSRF: a state-changing request of a session carries the session's token, in the form or (htmx) a header.
func checkCSRF(r *http.Request, sess store.ConsoleSession) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		got = r.PostFormValue(csrfField)
	}
	return sameToken(got, sess.CSRFToken)
}

type signInView struct {
	CSRF  string
	Error string
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	token := randomToken()
	setCookie(w, r, signInCookie, token, 600)
	c.renderPage(w, r, http.StatusOK, "signin", view{Title: "Sign in", CSRF: token, Data: signInView{CSRF: token}})
}

// signIn exchanges an API key of a console role for a session.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ck, err := r.Cookie(signInCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), ck.Value) {
		c.forbidden(w, r, "The sign-in form expired or did not come from this console. Reload the page and sign in again.")
		return
	}
	refuse := func(msg string) {
		token := randomToken()
		setCookie(w, r, signInCookie, token, 600)
		c.renderPage(w, r, http.StatusUnauthorized, "signin", view{Title: "Sign in", CSRF: token, Data: signInView{CSRF: token, Error: msg}})
	}
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if !strings.HasPrefix(key, store.APIKeyPrefix) || len(key) > 200 {
		refuse("That is not an API key: keys start with pk_.")
		return
	}
	k, err := c.cfg.Store.AuthenticateAPIKey(r.Context(), key)
	if domain.CodeOf(err) == domain.ErrUnauthorized {
		c.audit(r.Context(), "anonymous", "console.sign_in_refused", "", http.StatusUnauthorized)
		refuse("This key is unknown or revoked.")
		return
	}
	if err != nil {
		c.serverError(w, r, err)
		return
	}
	actor := api.KeyPrincipal(k).Actor()
	if !contains(consoleRoles, k.Role) {
		c.audit(r.Context(), actor, "console.sign_in_refused", "", http.StatusForbidden)
		refuse("A " + k.Role + " key cannot use the console: sign in with a marketer, support or admin key.")
		return
	}
	token, now := randomToken(), c.now()
	if err := c.cfg.Store.OpenConsoleSession(r.Context(), token, k.ID, randomToken(), now, now.Add(c.cfg.SessionLifetime)); err != nil {
		c.serverError(w, r, err)
		return
	}
	c.audit(r.Context(), actor, "console.sign_in", "", http.StatusSeeOther)
	setCookie(w, r, signInCookie, "", -1)
	setCookie(w, r, sessionCookie, token, int(c.cfg.SessionLifetime/time.Second))
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// signOut ends the session on the server, so that its cookie opens nothing even if it was copied.
func (c *Console) signOut(q *request) {
	if ck, err := q.r.Cookie(sessionCookie); err == nil {
		if err := c.cfg.Store.EndConsoleSession(q.r.Context(), ck.Value, c.now()); err != nil {
			c.serverError(q.w, q.r, err)
			return
		}
	}
	setCookie(q.w, q.r, sessionCookie, "", -1)
	http.Redirect(q.w, q.r, Prefix+"/sign-in", http.StatusSeeOther)
}

// audit records a console action; a failure to record is logged (the action has happened).
func (c *Console) audit(ctx context.Context, actor, action, target string, status int) {
	err := c.cfg.Store.RecordConsoleAction(context.WithoutCancel(ctx), store.ConsoleAction{At: c.now(), Actor: actor, Action: action, Target: target, Status: status})
	if err != nil {
		c.log.ErrorContext(ctx, "recording a console action failed", "action", action, "error", err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
