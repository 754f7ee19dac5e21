package memberapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Passwordless sign-in. A member enters their email; the app records a sign-in link and, when the email is an
// active member's, sends it through the notifier. Whatever the email, the answer is the same page, given at once
// (the message goes out after the answer), so that nobody can learn from the app whether an address is a member's.
//
// A link carries only an opaque 256-bit token (never an email or a member id). The database keeps the token's
// SHA-256 and a keyed hash of the email it was sent to. A link is valid LinkTTL (15 minutes), is spent by its first
// use, and opens a session only while its member still has the email it was sent to (bound to the email). Links
// asked for are limited per email and per client address over an hour (LinksPerEmail, LinksPerAddress), the same
// for members and strangers.
//
// Opening a link shows a page with one button, which spends it: mail scanners that fetch links do not spend them,
// and no other site can sign a browser in (the button's form carries a double-submit CSRF token).

const (
	sessionCookie = "perkflow_app"
	// formCookie carries the CSRF token of the forms shown before there is a session (sign-in, link).
	formCookie = "perkflow_app_form"
	csrfField  = "csrf"
	// tokenPrefix marks sign-in tokens, so that they are recognisable (and never read as a JWT by the log redactor).
	tokenPrefix = "ml_"
)

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// deriveKey derives a key for one purpose from a secret.
func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// tokenHash is what the database keeps of a sign-in token: its SHA-256.
func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// keyedHash is what the database keeps of an email or a client address: an HMAC under the app's key, so that a
// copy of the table cannot be matched against a list of addresses.
func (a *App) keyedHash(kind, v string) []byte {
	m := hmac.New(sha256.New, a.hashKey)
	m.Write([]byte(kind + "\x00" + v))
	return m.Sum(nil)
}

// secure reports whether the request came over TLS, directly or through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix + "/", MaxAge: maxAge, HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// formToken sets a fresh CSRF token for a form shown before sign-in and returns it.
func formToken(w http.ResponseWriter, r *http.Request) string {
	t := randomToken()
	setCookie(w, r, formCookie, t, 1800)
	return t
}

// checkFormToken: a form posted before sign-in carries the token its cookie holds.
func checkFormToken(r *http.Request) bool {
	ck, err := r.Cookie(formCookie)
	return err == nil && sameToken(r.PostFormValue(csrfField), ck.Value)
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) (store.MemberSession, bool) {
	s, ok := ctx.Value(sessionKey{}).(store.MemberSession)
	return s, ok
}

// requireSession lets through requests of a live session; any other is sent to the sign-in page.
func (a *App) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(sessionCookie)
		if err != nil || ck.Value == "" || len(ck.Value) > 100 {
			http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
			return
		}
		sess, err := a.cfg.Store.MemberSessionFor(r.Context(), ck.Value, a.now())
		if domain.CodeOf(err) == domain.ErrUnauthorized {
			setCookie(w, r, sessionCookie, "", -1)
			http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
			return
		}
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
	})
}

type signInView struct {
	Email string
	Error string
}

func (a *App) signInPage(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
		if _, err := a.cfg.Store.MemberSessionFor(r.Context(), ck.Value, a.now()); err == nil {
			http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
			return
		}
	}
	v := a.baseView(r, "signin.title")
	v.CSRF = formToken(w, r)
	v.Data = signInView{}
	a.render(w, r, http.StatusOK, "signin", v)
}

// requestLink records a sign-in link for the email and sends it when the email is an active member's. The answer
// is the same either way.
func (a *App) requestLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !checkFormToken(r) {
		a.renderError(w, r, http.StatusForbidden, "error.csrf")
		return
	}
	email := domain.NormalizeEmail(strings.TrimSpace(r.PostFormValue("email")))
	if len(email) > 254 || !strings.Contains(email, "@") || strings.ContainsAny(email, " \t\r\n") {
		v := a.baseView(r, "signin.title")
		v.CSRF = formToken(w, r)
		v.Data = signInView{Error: v.T("signin.bademail")}
		a.render(w, r, http.StatusUnprocessableEntity, "signin", v)
		return
	}
	sent, err := a.issueLink(r.Context(), email, api.ClientAddress(r), langOf(r))
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if !sent {
		a.renderError(w, r, http.StatusTooManyRequests, "signin.limited")
		return
	}
	v := a.baseView(r, "sent.title")
	a.render(w, r, http.StatusOK, "sent", v)
}

// issueLink applies the rate limits, records the link and (for a member) sends it. ok is false when a limit is
// reached: nothing is recorded nor sent. The message is sent after the answer, on a context of its own: the answer
// takes no longer for a member than for a stranger.
func (a *App) issueLink(ctx context.Context, email, addr, lang string) (ok bool, err error) {
	now := a.now()
	emailHash, ipHash := a.keyedHash("email", email), a.keyedHash("ip", addr)
	byEmail, byIP, err := a.cfg.Store.SignInRequestCounts(ctx, emailHash, ipHash, now.Add(-time.Hour))
	if err != nil {
		return false, err
	}
	if byEmail >= a.cfg.LinksPerEmail || byIP >= a.cfg.LinksPerAddress {
		a.log.WarnContext(ctx, "sign-in link refused: too many asked for", "per_email", byEmail >= a.cfg.LinksPerEmail)
		return false, nil
	}
	memberID, err := a.cfg.Store.ActiveMemberByEmail(ctx, email)
	if err != nil {
		return false, err
	}
	token := tokenPrefix + randomToken()
	if err := a.cfg.Store.RecordSignInLink(ctx, store.SignInLink{TokenHash: tokenHash(token), EmailHash: emailHash,
		IPHash: ipHash, MemberID: memberID, CreatedAt: now, ExpiresAt: now.Add(a.cfg.LinkTTL)}); err != nil {
		return false, err
	}
	if memberID == "" {
		return true, nil
	}
	link := a.cfg.PublicURL + Prefix + "/link?" + url.Values{"token": {token}}.Encode()
	msg := activities.Message{Key: "signin:" + base64.RawURLEncoding.EncodeToString(tokenHash(token)[:12]),
		Channel: domain.ChannelEmail, To: email, Subject: translate(lang, "mail.subject"),
		Body: translate(lang, "mail.body", link, int(a.cfg.LinkTTL/time.Minute))}
	go func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := a.cfg.Notifier.Send(sctx, msg); err != nil {
			a.log.ErrorContext(sctx, "sending a sign-in link failed", "key", msg.Key, "error", err)
			return
		}
		if a.cfg.LogLinks {
			// Development only (no email provider): the link is the one thing the log provider must show.
			a.log.InfoContext(sctx, "member app sign-in link (development: no email provider)", "key", msg.Key, "link", link)
		}
	}()
	return true, nil
}

type linkView struct {
	Token  string
	Usable bool
}

// linkPage shows, for a usable link, the button that spends it; for any other, that it cannot be used.
func (a *App) linkPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	usable := false
	if strings.HasPrefix(token, tokenPrefix) && len(token) < 100 {
		ok, err := a.cfg.Store.SignInLinkUsable(r.Context(), tokenHash(token), a.now())
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		usable = ok
	}
	v := a.baseView(r, "link.title")
	status := http.StatusOK
	if usable {
		v.CSRF = formToken(w, r)
		v.Data = linkView{Token: token, Usable: true}
	} else {
		status = http.StatusGone
		v.Data = linkView{}
	}
	a.render(w, r, status, "link", v)
}

// useLink spends a sign-in link and opens a session for its member.
func (a *App) useLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !checkFormToken(r) {
		a.renderError(w, r, http.StatusForbidden, "error.csrf")
		return
	}
	token := r.PostFormValue("token")
	refuse := func() {
		v := a.baseView(r, "link.title")
		v.Data = linkView{}
		a.render(w, r, http.StatusGone, "link", v)
	}
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 100 {
		refuse()
		return
	}
	now := a.now()
	memberID, emailHash, email, err := a.cfg.Store.UseSignInLink(r.Context(), tokenHash(token), now)
	if domain.CodeOf(err) == domain.ErrUnauthorized {
		refuse()
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	// Bound to the email: a member whose email changed since the link was sent is not signed in by it.
	if email == "" || !hmac.Equal(emailHash, a.keyedHash("email", domain.NormalizeEmail(email))) {
		refuse()
		return
	}
	a.openSession(w, r, memberID, now)
}

// openSession opens a session of the member (signed in by a link or a hand-off) and sends the browser home.
func (a *App) openSession(w http.ResponseWriter, r *http.Request, memberID string, now time.Time) {
	session := randomToken()
	if err := a.cfg.Store.OpenMemberSession(r.Context(), session, memberID, randomToken(), now, now.Add(a.cfg.SessionLifetime)); err != nil {
		a.serverError(w, r, err)
		return
	}
	setCookie(w, r, formCookie, "", -1)
	setCookie(w, r, sessionCookie, session, int(a.cfg.SessionLifetime/time.Second))
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

// signOut ends the session on the server, so that its cookie opens nothing even if it was copied.
func (a *App) signOut(q *request) {
	if ck, err := q.r.Cookie(sessionCookie); err == nil {
		if err := a.cfg.Store.EndMemberSession(q.r.Context(), ck.Value, a.now()); err != nil {
			a.serverError(q.w, q.r, err)
			return
		}
	}
	setCookie(q.w, q.r, sessionCookie, "", -1)
	http.Redirect(q.w, q.r, Prefix+"/sign-in", http.StatusSeeOther)
}
