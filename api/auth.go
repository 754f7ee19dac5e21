package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

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

type principalKey struct{}

// serverKey carries the *Server to the access rules, which are built before any server exists.
type serverKey struct{}

func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// JWTConfig verifies member tokens: HS256 with Secret (development, and `perkflow token member`), and/or the
// asymmetric algorithms of AsymmetricAlgorithms with the keys published at JWKSURL (an identity provider). Either
// way the token must carry Issuer and Audience, an expiry, and a member id as its subject.
type JWTConfig struct {
	Secret   []byte
	Issuer   string
	Audience string
	// JWKSURL is where the identity provider publishes its signing keys (a JSON Web Key Set). Keys are cached and
	// refreshed (see jwks.go). Empty: only Secret verifies tokens.
	JWKSURL string
}

// Token verification limits.
const (
	// maxTokenBytes bounds the bearer token accepted: far above any real JWT or API key, far below the header limit.
	maxTokenBytes = 8 << 10
	// tokenLeeway absorbs clock skew between the token's issuer and this server.
	tokenLeeway = 30 * time.Second
)

// AsymmetricAlgorithms are the JWS algorithms accepted for tokens verified against the JWKS. The list is pinned: no
// "none", and no HMAC with a public key as its secret (each algorithm also needs a key of its own type).
var AsymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// MintMemberToken signs a member token valid for ttl.
func MintMemberToken(cfg JWTConfig, memberID string, ttl time.Duration, now time.Time) (string, error) {
	if len(cfg.Secret) < 32 {
		return "", errors.New("the JWT secret must be at least 32 bytes")
	}
	if !domain.ValidMemberID(memberID) {
		return "", fmt.Errorf("%q is not a member id", memberID)
	}
	claims := jwt.RegisteredClaims{
		Subject:   memberID,
		Issuer:    cfg.Issuer,
		Audience:  jwt.ClaimStrings{cfg.Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(cfg.Secret)
}

// verifyMemberToken checks a member token's signature (with the algorithm pinned to what is configured), issuer,
// audience, expiry and subject, and returns the member id it speaks for.
func (s *Server) verifyMemberToken(ctx context.Context, raw string) (string, error) {
	jwks := s.guards.jwks
	var methods []string
	if len(s.cfg.JWT.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if jwks != nil {
		methods = append(methods, AsymmetricAlgorithms...)
	}
	if len(methods) == 0 {
		return "", errors.New("member tokens are not configured")
	}
	keyFor := func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); ok {
			return s.cfg.JWT.Secret, nil // only HS256 reaches here, and only with a secret configured
		}
		kid, _ := t.Header["kid"].(string)
		return jwks.key(ctx, kid, t.Method.Alg())
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, keyFor,
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(s.cfg.JWT.Issuer),
		jwt.WithAudience(s.cfg.JWT.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return "", err
	}
	if !domain.ValidMemberID(claims.Subject) {
		return "", errors.New("token subject is not a member id")
	}
	return claims.Subject, nil
}

// authenticate resolves the bearer token into a Principal, or answers 401. Neither the token nor anything derived
// from it is ever logged.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(h, "Bearer ")
		token = strings.TrimSpace(token)
		if !ok || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow"`)
			writeProblem(w, http.StatusUnauthorized, "send an API key or member token as Authorization: Bearer <token>")
			return
		}
		refuse := func(reason, detail string) {
			s.log.InfoContext(r.Context(), "authentication refused", slog.String("reason", reason),
				slog.String("request_id", middleware.GetReqID(r.Context())))
			w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, detail)
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
				s.writeError(w, r, err)
				return
			}
			p = Principal{Role: k.Role, KeyName: k.Name}
		} else {
			memberID, err := s.verifyMemberToken(r.Context(), token)
			if err != nil {
				refuse("member token: "+tokenErrorReason(err), "the token is not valid")
				return
			}
			p = Principal{Role: RoleMember, MemberID: memberID}
		}
		ctx := context.WithValue(context.WithValue(r.Context(), principalKey{}, p), serverKey{}, s)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// tokenErrorReason names why a token was refused, for the log, without quoting any part of it.
func tokenErrorReason(err error) string {
	for _, e := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenExpired,
		jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "invalid"
}

// MemberScope says how a member token relates to the resource of a route that members may call. It is the
// object-level half of a route's access rule (the role list is the function-level half).
type MemberScope string

const (
	// MemberPath: the route's {memberId} path parameter must be the caller's own member id. Another member's id
	// answers 404, so that a member cannot learn whether it exists. allow gives this to member routes with
	// {memberId}.
	MemberPath MemberScope = "path"
	// MemberSelf: the route names no member; it acts on the token's member (POST /v1/offers/{offerId}/claim) or on
	// nobody's data (GET /v1/program). Its handler must take the member from the token, never from the request, and
	// check itself any member-owned resource it reaches — better declared with allowOwner. allow gives this to member
	// routes without {memberId}.
	MemberSelf MemberScope = "self"
	// MemberOwner: the route's resource belongs to a member, found by the route's OwnerLookup (a redemption); it
	// must be the caller, else 404.
	MemberOwner MemberScope = "owner"

	// memberByRoute: MemberPath where the route has {memberId}, else MemberSelf (what allow declares).
	memberByRoute MemberScope = "by-route"
)

// OwnerLookup finds the member who owns the resource a request names. A resource that does not exist answers
// domain.ErrNotFound (→ 404, as for a resource that is not the caller's).
type OwnerLookup func(r *http.Request) (memberID string, err error)

// Access is a route's access rule: who may call it, and for member tokens how their member must relate to it.
type Access struct {
	// Roles may call the route; RoleMember among them admits member tokens, subject to Member.
	Roles []string
	// Member is how a member token's member must relate to the resource; "" when members may not call the route.
	Member MemberScope
	owner  OwnerLookup
}

// allow is a route's access rule: the roles that may call it. When RoleMember is among them and the route has a
// {memberId} parameter, a member may only reach their own: another member's id answers 404, so that a member cannot
// learn whether it exists (MemberPath). Member routes without {memberId} act on the token's member or on nobody's
// data (MemberSelf); a route reaching a resource some member owns should be declared with allowOwner instead.
func allow(roles ...string) func(http.Handler) http.Handler {
	a := Access{Roles: roles}
	if slices.Contains(roles, RoleMember) {
		a.Member = memberByRoute
	}
	return a.middleware
}

// allowOwner is the access rule of a route whose resource belongs to a member, found by owner (MemberOwner): a member
// token reaches only its own member's; another's answers 404.
func allowOwner(owner OwnerLookup, roles ...string) func(http.Handler) http.Handler {
	if owner == nil || !slices.Contains(roles, RoleMember) {
		panic("allowOwner: needs an OwnerLookup, and RoleMember among the roles")
	}
	return Access{Roles: roles, Member: MemberOwner, owner: owner}.middleware
}

// accessRule is a route's handler behind its access rule. Being a type of its own lets RoutesOf find each route's
// rule by walking the router.
type accessRule struct {
	Access
	next http.Handler
}

func (a Access) middleware(next http.Handler) http.Handler { return &accessRule{Access: a, next: next} }

// forRoute resolves memberByRoute for a route with or without a {memberId} parameter.
func (a Access) forRoute(hasMemberID bool) Access {
	if a.Member == memberByRoute {
		a.Member = MemberSelf
		if hasMemberID {
			a.Member = MemberPath
		}
	}
	return a
}

// permitsRole reports whether p's role may call the route and, for MemberPath routes, whether the path names p's own
// member; it is all that can be decided without looking anything up. a is resolved (forRoute).
func (a *Access) permitsRole(p Principal, memberIDParam string) bool {
	if !slices.Contains(a.Roles, p.Role) {
		return false
	}
	return p.Role != RoleMember || a.Member != MemberPath || (memberIDParam != "" && memberIDParam == p.MemberID)
}

func (a *accessRule) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := principalFrom(r.Context())
	if !ok {
		writeProblem(w, http.StatusUnauthorized, "authentication required")
		return
	}
	if !slices.Contains(a.Roles, p.Role) {
		writeProblem(w, http.StatusForbidden, "this route is not open to the "+p.Role+" role")
		return
	}
	if p.Role != RoleMember {
		a.next.ServeHTTP(w, r)
		return
	}
	rctx := chi.RouteContext(r.Context())
	hasMemberID := rctx != nil && slices.Contains(rctx.URLParams.Keys, "memberId")
	switch a.forRoute(hasMemberID).Member {
	case MemberPath:
		if id := chi.URLParam(r, "memberId"); id == "" || id != p.MemberID {
			writeProblem(w, http.StatusNotFound, "no such member")
			return
		}
	case MemberSelf:
	case MemberOwner:
		owner, err := a.owner(r)
		if domain.CodeOf(err) == domain.ErrNotFound || (err == nil && owner != p.MemberID) {
			writeProblem(w, http.StatusNotFound, "not found")
			return
		}
		if err != nil {
			if s, ok := r.Context().Value(serverKey{}).(*Server); ok {
				s.writeError(w, r, fmt.Errorf("find the owner of %s: %w", routePattern(r), err))
			} else {
				writeProblem(w, http.StatusInternalServerError, "an internal error occurred")
			}
			return
		}
	default:
		writeProblem(w, http.StatusNotFound, "not found")
		return
	}
	a.next.ServeHTTP(w, r)
}

// Route is a route the API serves and its access rule (nil for the few public routes, such as /healthz).
type Route struct {
	Method  string
	Pattern string
	Access  *Access
}

// RoutesOf lists the routes of a handler built by New, with each one's access rule, sorted by pattern and method.
// Tests generate their authorisation matrix and fuzz targets from it, so that a route added later is covered.
func RoutesOf(h http.Handler) ([]Route, error) {
	routes, ok := h.(chi.Routes)
	if !ok {
		return nil, errors.New("not a chi router")
	}
	var out []Route
	err := chi.Walk(routes, func(method, pattern string, _ http.Handler, mws ...func(http.Handler) http.Handler) error {
		rt := Route{Method: method, Pattern: pattern}
		for _, mw := range mws {
			if rule, ok := mw(http.NotFoundHandler()).(*accessRule); ok {
				if rt.Access != nil {
					return fmt.Errorf("%s %s has two access rules", method, pattern)
				}
				a := rule.Access.forRoute(strings.Contains(pattern, "{memberId}"))
				rt.Access = &a
			}
		}
		out = append(out, rt)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out, err
}
