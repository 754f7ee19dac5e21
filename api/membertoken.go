package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/domain"
)

// Member tokens: JWTs whose subject is a member id, verified with a development secret and/or an identity
// provider's published keys (jwks.go).

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
	jwks := s.jwks
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

// newMemberKeys is the key cache of cfg's JWKS URL, or nil when none is configured or the URL is not usable (then
// every token that needs it is refused rather than accepted unchecked; the command line validates the URL first).
func newMemberKeys(cfg JWTConfig, log *slog.Logger, now func() time.Time) *jwksCache {
	if cfg.JWKSURL == "" {
		return nil
	}
	c, err := newJWKSCache(cfg.JWKSURL, log, now)
	if err != nil {
		log.Error("member tokens are refused: the JWKS URL is not usable", slog.Any("error", err))
		return nil
	}
	return c
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
