package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Authentication: who is calling. Every /v1 request carries an API key or a member token as a bearer token
// (docs/api.md, "Auth"); what the caller may then do is the route's access rule (access.go).

// Roles of API keys, and the pseudo-role of a member token.
const (
	RolePOS      = "pos"
	RoleMarketer = "marketer"
	RoleSupport  = "support"
	RoleAdmin    = "admin"
	RoleMember   = "member"
)

// Principal is who is calling.
type Principal struct {
	Role string
	// KeyName is the API key's name (for audit); empty for members.
	KeyName string
	// MemberID is the member a member token speaks for; empty for API keys.
	MemberID string
}

// Actor names the principal in audit records without revealing a secret.
func (p Principal) Actor() string {
	if p.Role == RoleMember {
		return "member:" + p.MemberID
	}
	return "apikey:" + p.KeyName
}

// KeyPrincipal is the principal of an API key: who calls with it, and the actor its actions are recorded under.
func KeyPrincipal(k store.APIKey) Principal {
	return Principal{Role: k.Role, KeyName: k.Name}
}

type principalKey struct{}

// inProcessKey marks a request served by ServeAs, with the principal its caller authenticated.
type inProcessKey struct{}

// ServeAs answers r as the API answers a request of p, for a caller in this process that authenticated p itself
// (the console, from its session's API key): no bearer token is read, and everything else a request goes through —
// routing, the access rule, the guards, validation, the handler — is the same. No HTTP request can reach this path:
// only Go code holding the Server can.
func (s *Server) ServeAs(p Principal, w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), inProcessKey{}, p)
	// A fresh routing: the caller's own chi routing state (the console's) must not make the API's router behave as
	// one mounted under it.
	ctx = context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil))
	s.handler.ServeHTTP(w, r.WithContext(ctx))
}

func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// authenticate resolves the bearer token into a Principal, or answers 401. Neither the token nor anything derived
// from it is ever logged.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(inProcessKey{}).(Principal); ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
			return
		}
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow"`)
			fail(w, r, problem(domain.ErrUnauthorized, "send an API key or member token as Authorization: Bearer <token>"))
			return
		}
		refuse := func(reason, detail string) {
			s.log.InfoContext(r.Context(), "authentication refused", slog.String("reason", reason),
				slog.String("request_id", middleware.GetReqID(r.Context())))
			w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow", error="invalid_token"`)
			fail(w, r, problem(domain.ErrUnauthorized, detail))
		}
		if len(token) > maxTokenBytes {
			refuse("token too long", "the token is not valid")
			return
		}
		var p Principal
		if strings.HasPrefix(token, store.APIKeyPrefix) {
			k, err := s.cfg.Store.AuthenticateAPIKey(r.Context(), token)
			if domain.CodeOf(err) == domain.ErrUnauthorized {
				refuse("unknown or revoked API key", "the API key is unknown or revoked")
				return
			}
			if err != nil {
				fail(w, r, err)
				return
			}
			p = KeyPrincipal(k)
		} else {
			memberID, err := s.verifyMemberToken(r.Context(), token)
			if err != nil {
				refuse("member token: "+tokenErrorReason(err), "the token is not valid")
				return
			}
			p = Principal{Role: RoleMember, MemberID: memberID}
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
