package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

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
	// KeyID is the API key's id: its identity. A name may be given again to a new key once the old one is revoked,
	// so nothing is keyed by the name. 0 for members.
	KeyID int64
	// KeyName is the API key's name, shown beside its id in audit records; empty for members.
	KeyName string
	// MemberID is the member a member token speaks for; empty for API keys.
	MemberID string
}

// Subject is the principal's identity, what everything a caller owns is keyed by: its Idempotency-Key records, its
// rate bucket and in-flight count, the ids derived from its keys. "apikey:<id>" (never the name, which a replacement
// key may reuse) or "member:<id>".
func (p Principal) Subject() string {
	if p.Role == RoleMember {
		return "member:" + p.MemberID
	}
	return "apikey:" + strconv.FormatInt(p.KeyID, 10)
}

// Actor names the principal in audit records without revealing a secret: the Subject, and for an API key its name
// beside it ("apikey:17 (till-3)"), so that a leaked key's actions are told apart from its replacement's.
func (p Principal) Actor() string {
	if p.Role == RoleMember {
		return p.Subject()
	}
	return p.Subject() + " (" + p.KeyName + ")"
}

// KeyPrincipal is the principal of an API key: who calls with it, and the actor its actions are recorded under.
func KeyPrincipal(k store.APIKey) Principal {
	return Principal{Role: k.Role, KeyID: k.ID, KeyName: k.Name}
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

// authenticate resolves the bearer token into a Principal, or answers 401 — or 429 once the client's address has
// failed too often (authfailures.go). Neither the token nor anything derived from it is ever logged.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := r.Context().Value(inProcessKey{}).(Principal); ok {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
			return
		}
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow"`)
			fail(w, r, problem(domain.ErrUnauthorized, "send an API key or member token as Authorization: Bearer <token>"))
			return
		}
		now := time.Now()
		addr := ClientAddress(r)
		blocked, retry := s.guards.authFailures.exhausted(addr, now)
		refuse := func(reason, detail string) {
			s.guards.authFailures.take(addr, now)
			if blocked {
				fail(w, r, tooManyRequests(retry, "too many failed authentications from this address; retry after the number of seconds in Retry-After"))
				return
			}
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
			hash := store.HashAPIKey(token)
			if blocked && !s.guards.recentKeys.has(hash, now) {
				refuse("unknown API key from an address over its failure budget", "the API key is unknown or revoked")
				return
			}
			k, cached := s.keys.get(hash, now)
			if !cached {
				gen := s.keys.generation()
				var err error
				k, err = s.cfg.Store.AuthenticateAPIKey(r.Context(), token)
				if domain.CodeOf(err) == domain.ErrUnauthorized {
					refuse("unknown or revoked API key", "the API key is unknown or revoked")
					return
				}
				if err != nil {
					fail(w, r, err)
					return
				}
				s.keys.put(hash, k, gen, now)
			}
			if s.guards.limits.AuthFailures.PerSecond > 0 {
				s.guards.recentKeys.add(hash, now)
			}
			p = KeyPrincipal(k)
		} else {
			mt, err := s.verifyMemberToken(r.Context(), token)
			if err != nil {
				refuse("member token: "+tokenErrorReason(err), "the token is not valid")
				return
			}
			revoked, err := s.tokenRevoked(r.Context(), mt)
			if err != nil {
				fail(w, r, err)
				return
			}
			if revoked {
				refuse("member token: "+errTokenRevoked.Error(), "the token is not valid")
				return
			}
			p = Principal{Role: RoleMember, MemberID: mt.memberID}
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// bearerToken is the token of an Authorization header "Bearer <token>"; the scheme is matched case-insensitively
// (RFC 9110, 11.1), and the token must be there.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
