package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
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

func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// JWTConfig verifies member tokens: HS256 with Secret, and the issuer and audience below.
type JWTConfig struct {
	Secret   []byte
	Issuer   string
	Audience string
}

// MintMemberToken signs a member token valid for ttl.
func MintMemberToken(cfg JWTConfig, memberID string, ttl time.Duration, now time.Time) (string, error) {
	if len(cfg.Secret) < 32 {
		return "", errors.New("the JWT secret must be at least 32 bytes")
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

func (s *Server) verifyMemberToken(raw string) (string, error) {
	if len(s.cfg.JWT.Secret) == 0 {
		return "", errors.New("member tokens are not configured")
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWT.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(s.cfg.JWT.Issuer),
		jwt.WithAudience(s.cfg.JWT.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second),
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

// authenticate resolves the bearer token into a Principal, or answers 401.
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
		var p Principal
		if strings.HasPrefix(token, store.APIKeyPrefix) {
			k, err := s.cfg.Store.AuthenticateAPIKey(r.Context(), token)
			if domain.CodeOf(err) == domain.ErrUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow", error="invalid_token"`)
				writeProblem(w, http.StatusUnauthorized, "the API key is unknown or revoked")
				return
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			p = Principal{Role: k.Role, KeyName: k.Name}
		} else {
			memberID, err := s.verifyMemberToken(token)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="perkflow", error="invalid_token"`)
				writeProblem(w, http.StatusUnauthorized, "the token is not valid")
				return
			}
			p = Principal{Role: RoleMember, MemberID: memberID}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// allow is a route's access rule: the roles that may call it. When RoleMember is among them and the route has a
// {memberId} parameter, a member may only reach their own: another member's id answers 404, so that a member cannot
// learn whether it exists. Member routes without {memberId} act on the token's member (or on nobody's data).
func allow(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := principalFrom(r.Context())
			if !ok {
				writeProblem(w, http.StatusUnauthorized, "authentication required")
				return
			}
			if !slices.Contains(roles, p.Role) {
				writeProblem(w, http.StatusForbidden, "this route is not open to the "+p.Role+" role")
				return
			}
			if p.Role == RoleMember {
				if id := chi.URLParam(r, "memberId"); id != "" && id != p.MemberID {
					writeProblem(w, http.StatusNotFound, "no such member")
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
