package memberapp

import (
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
)

// Sign-in hand-off. A retailer with its own identity provider (an OIDC login on its site or in its app) need not
// send its members a link: once its member has signed in there, it hands the app a member JWT for them — the kind
// the API accepts, signed with a key of the JWKS at PERKFLOW_JWKS_URL (or with the HS256 secret) for the API's
// issuer and audience, `sub` the member id — by a form POST to /app/sign-in/token with the token in the field
// `id_token` (as OIDC's form_post does: a token never travels in a URL). The app opens a session for that member.
//
// The token is checked by the API itself: the app reads the member through GET /v1/members/{sub} with the token as
// its bearer, so the signature, the algorithm, issuer, audience, expiry, lifetime, revocation ("signed out
// everywhere", erased) and the failed-authentication budget per client address are the API's own rules. On top,
// a hand-off must be fresh — issued at most HandoffMaxAge before (5 minutes unless configured), not in the future —
// and opens one session only: the token's SHA-256 is recorded (member_app_handoffs) until it is past its freshness,
// and the same token again is refused. The member must be active.
//
// The POST comes from the retailer's own site, so it cannot carry the app's CSRF token: a site that obtained a
// fresh token of its own member could sign a visitor's browser in as that member (login CSRF), as with any form_post
// hand-off; freshness and single use bound it, and nothing of the visitor's own is shown by it.

const (
	handoffField = "id_token"
	// handoffClockSkew is how far in the future a hand-off token's iat may be (the identity provider's clock ahead
	// of ours).
	handoffClockSkew = time.Minute
)

// handOff opens a session for the member of a fresh member JWT handed over by the retailer's identity provider.
func (a *App) handOff(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	token := r.PostFormValue(handoffField)
	refuse := func(status int) { a.renderError(w, r, status, "handoff.refused") }
	if token == "" || len(token) > 8<<10 {
		refuse(http.StatusBadRequest)
		return
	}
	// What the token says, read before it is verified (the API verifies it next): the member it names, and when it
	// was issued.
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil || !domain.ValidMemberID(claims.Subject) ||
		claims.IssuedAt == nil || claims.ExpiresAt == nil {
		refuse(http.StatusUnauthorized)
		return
	}
	now := a.now()
	issued := claims.IssuedAt.Time
	if issued.After(now.Add(handoffClockSkew)) || now.Sub(issued) > a.cfg.HandoffMaxAge {
		refuse(http.StatusUnauthorized)
		return
	}
	var m member
	if _, err := a.callAPIWith(r, token, "GET", "/v1/members/"+claims.Subject, nil, &m); err != nil {
		if e, ok := err.(*apiError); ok && e.Status < 500 {
			// 401 (not a valid member token, revoked), 403, 404 (not this member), 429 (too many failures from
			// this address): all the same to the browser.
			status := http.StatusUnauthorized
			if e.Status == http.StatusTooManyRequests {
				status = e.Status
			}
			refuse(status)
			return
		}
		a.serverError(w, r, err)
		return
	}
	if m.MemberID != claims.Subject || m.Status != "active" {
		refuse(http.StatusUnauthorized)
		return
	}
	until := issued.Add(a.cfg.HandoffMaxAge)
	if exp := claims.ExpiresAt.Time; exp.Before(until) {
		until = exp
	}
	err := a.cfg.Store.UseSignInHandoff(r.Context(), tokenHash(token), m.MemberID, now, until.Add(handoffClockSkew))
	if domain.CodeOf(err) == domain.ErrUnauthorized {
		a.log.WarnContext(r.Context(), "sign-in hand-off refused: its token was used before", "client", api.ClientAddress(r))
		refuse(http.StatusGone)
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.openSession(w, r, m.MemberID, now)
}
