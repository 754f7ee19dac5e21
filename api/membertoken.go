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
	// MaxTTL is the longest lifetime (exp − iat) of a token accepted or minted; 0 means DefaultMemberTokenMaxTTL.
	MaxTTL time.Duration
}

// DefaultMemberTokenMaxTTL is the longest lifetime of a member token unless configured otherwise.
const DefaultMemberTokenMaxTTL = 24 * time.Hour

func (c JWTConfig) maxTTL() time.Duration {
	if c.MaxTTL > 0 {
		return c.MaxTTL
	}
	return DefaultMemberTokenMaxTTL
}

// errTokenLifetime: a token lives longer than the configured maximum, or does not say when it was issued.
var errTokenLifetime = errors.New("token lifetime over the maximum, or no iat")

// errTokenRevoked: the token was issued before its member's tokens were revoked (signed out everywhere, erased).
var errTokenRevoked = errors.New("token issued before its member's tokens were revoked")

// memberToken is what a verified member token says.
type memberToken struct {
	memberID string
	issuedAt time.Time
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
	if ttl <= 0 || ttl > cfg.maxTTL() {
		return "", fmt.Errorf("a member token lives at most %s (PERKFLOW_MEMBER_TOKEN_MAX_TTL)", cfg.maxTTL())
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
// audience, expiry, lifetime (exp − iat at most MaxTTL, so that a leaked token is not good for long) and subject,
// and returns the member it speaks for and when it was issued (checked against revocation by authenticate).
func (s *Server) verifyMemberToken(ctx context.Context, raw string) (memberToken, error) {
	jwks := s.jwks
	var methods []string
	if len(s.cfg.JWT.Secret) > 0 {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if jwks != nil {
		methods = append(methods, AsymmetricAlgorithms...)
	}
	if len(methods) == 0 {
		return memberToken{}, errors.New("member tokens are not configured")
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
		return memberToken{}, err
	}
	if !domain.ValidMemberID(claims.Subject) {
		return memberToken{}, errors.New("token subject is not a member id")
	}
	if claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > s.cfg.JWT.maxTTL() {
		return memberToken{}, errTokenLifetime
	}
	return memberToken{memberID: claims.Subject, issuedAt: claims.IssuedAt.Time}, nil
}

// tokenRevoked reports whether the member's tokens issued at or before issuedAt were revoked: tokens are refused
// when issued in the second of their member's revocation or earlier (iat has whole seconds).
func (s *Server) tokenRevoked(ctx context.Context, t memberToken) (bool, error) {
	nb, err := s.cfg.Store.MemberTokensNotBefore(ctx, t.memberID)
	if err != nil || nb.IsZero() {
		return false, err
	}
	return !t.issuedAt.After(nb.Truncate(time.Second)), nil
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
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidClaims, errTokenLifetime, errTokenRevoked,
	} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "invalid"
}
