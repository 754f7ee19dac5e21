package api

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/store"
)

// idp is a fake identity provider publishing a JWKS.
type idp struct {
	srv     *httptest.Server
	fetches atomic.Int64
	mu      sync.Mutex
	keys    []map[string]any
	down    bool
}

func newIDP(t *testing.T) *idp {
	p := &idp{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": p.keys})
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) publish(keys ...map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey, alg string) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]any {
	b, _ := k.Bytes() // 0x04 || X || Y
	size := (len(b) - 1) / 2
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(b[1 : 1+size]), "y": b64(b[1+size:])}
}

func edJWK(kid string, k ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
}

// testClock is a settable clock shared by the server and the tokens.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const testMember = "6f1c2a9e-0b7d-4c1e-9a53-2d8e4f6a7b10"

func claimsAt(now time.Time, mut func(*jwt.RegisteredClaims)) jwt.RegisteredClaims {
	c := jwt.RegisteredClaims{
		Subject: testMember, Issuer: "https://idp.example", Audience: jwt.ClaimStrings{"perkflow-members"},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}
	if mut != nil {
		mut(&c)
	}
	return c
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key crypto.PrivateKey, c jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMemberTokensVerifiedAgainstJWKS(t *testing.T) {
	p := newIDP(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p.publish(rsaJWK("rsa-1", &rsaKey.PublicKey, "RS256"), ecJWK("ec-1", &ecKey.PublicKey), edJWK("ed-1", edPub),
		rsaJWK("weak", &weak.PublicKey, ""), map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"})

	clock := &testClock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	secret := []byte("a-development-secret-of-32-bytes!!")
	s := New(Config{Store: store.New(nil), Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		JWT: JWTConfig{Secret: secret, Issuer: "https://idp.example", Audience: "perkflow-members", JWKSURL: p.srv.URL}})
	if s.jwks == nil {
		t.Fatal("JWKS not configured")
	}
	ctx := context.Background()
	now := clock.Now()
	good := claimsAt(now, nil)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)

	accepted := map[string]string{
		"RS256":              sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, good),
		"ES256":              sign(t, jwt.SigningMethodES256, "ec-1", ecKey, good),
		"EdDSA":              sign(t, jwt.SigningMethodEdDSA, "ed-1", edKey, good),
		"HS256 (dev secret)": sign(t, jwt.SigningMethodHS256, "", secret, good),
		"RS256 without kid":  sign(t, jwt.SigningMethodRS256, "", rsaKey, good), // one RSA key usable: unambiguous
	}
	accepted["lifetime of exactly the maximum"] = sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) {
		c.ExpiresAt = jwt.NewNumericDate(now.Add(DefaultMemberTokenMaxTTL))
	}))
	for name, tok := range accepted {
		if mt, err := s.verifyMemberToken(ctx, tok); err != nil || mt.memberID != testMember {
			t.Errorf("%s: %q, %v", name, mt.memberID, err)
		}
	}
	wrongKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good).SignedString(jwt.UnsafeAllowNoneSignatureType)
	refused := map[string]string{
		"alg none":                         none,
		"HS256 keyed with the RSA key":     sign(t, jwt.SigningMethodHS256, "rsa-1", pubDER, good),
		"HS256 keyed with the JWK's n":     sign(t, jwt.SigningMethodHS256, "rsa-1", rsaKey.N.Bytes(), good),
		"HS512 (not pinned)":               sign(t, jwt.SigningMethodHS512, "", secret, good),
		"RS256 under the EC key's kid":     sign(t, jwt.SigningMethodRS256, "ec-1", rsaKey, good),
		"PS256 under an RS256-only key":    sign(t, jwt.SigningMethodPS256, "rsa-1", rsaKey, good),
		"signed by another key":            sign(t, jwt.SigningMethodRS256, "rsa-1", wrongKey, good),
		"a key too weak to publish":        sign(t, jwt.SigningMethodRS256, "weak", weak, good),
		"a key published for encryption":   sign(t, jwt.SigningMethodRS256, "enc", rsaKey, good),
		"expired":                          sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now.Add(-2*time.Hour), nil)),
		"issued in the future":             sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now.Add(time.Hour), nil)),
		"no expiry":                        sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })),
		"another issuer":                   sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" })),
		"another audience":                 sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"other-app"} })),
		"no audience":                      sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Audience = nil })),
		"subject not a member id":          sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Subject = "admin" })),
		"subject in capitals":              sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Subject = strings.ToUpper(testMember) })),
		"unknown kid":                      sign(t, jwt.SigningMethodRS256, "nope", rsaKey, good),
		"garbage":                          "eyJhbGciOiJSUzI1NiJ9.e30.AAAA",
		"header claims alg RS256, body HS": strings.Join(strings.Split(sign(t, jwt.SigningMethodHS256, "", secret, good), ".")[1:], "."),
		"lifetime over the maximum": sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(DefaultMemberTokenMaxTTL + time.Second))
		})),
		"a year-long HS256 token": sign(t, jwt.SigningMethodHS256, "", secret, claimsAt(now, func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(365 * 24 * time.Hour))
		})),
		"no iat (lifetime unknown)":         sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.IssuedAt = nil })),
		"no issuer":                         sign(t, jwt.SigningMethodRS256, "rsa-1", rsaKey, claimsAt(now, func(c *jwt.RegisteredClaims) { c.Issuer = "" })),
		"HS256 signed with an empty secret": sign(t, jwt.SigningMethodHS256, "", []byte{}, good),
	}
	for name, tok := range refused {
		if mt, err := s.verifyMemberToken(ctx, tok); err == nil {
			t.Errorf("%s: accepted as %q", name, mt.memberID)
		}
	}

	// Made-up kids cannot make perkflow hammer the identity provider: at most one fetch per jwksMinRefresh.
	before := p.fetches.Load()
	for i := range 50 {
		_, _ = s.verifyMemberToken(ctx, sign(t, jwt.SigningMethodRS256, "made-up-"+string(rune('a'+i%26)), rsaKey, good))
	}
	if n := p.fetches.Load() - before; n > 1 {
		t.Fatalf("50 tokens with unknown kids caused %d fetches", n)
	}

	// Key rotation: a new key appears; once the refresh interval has passed, its tokens are accepted.
	rotated, _ := rsa.GenerateKey(rand.Reader, 2048)
	p.publish(rsaJWK("rsa-2", &rotated.PublicKey, "RS256"), rsaJWK("rsa-1", &rsaKey.PublicKey, "RS256"))
	clock.Advance(jwksMinRefresh + time.Second)
	if _, err := s.verifyMemberToken(ctx, sign(t, jwt.SigningMethodRS256, "rsa-2", rotated, claimsAt(clock.Now(), nil))); err != nil {
		t.Fatalf("token of a rotated-in key: %v", err)
	}

	// The provider goes down: the keys already known stay in use after they are due for refresh.
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	clock.Advance(jwksMaxAge + time.Minute)
	if _, err := s.verifyMemberToken(ctx, sign(t, jwt.SigningMethodRS256, "rsa-2", rotated, claimsAt(clock.Now(), nil))); err != nil {
		t.Fatalf("known key while the provider is down: %v", err)
	}
}

func TestJWKSURLMustBeHTTPS(t *testing.T) {
	for _, u := range []string{"http://idp.example/jwks", "ftp://idp.example/jwks", "/jwks", "https://"} {
		if err := CheckJWKSURL(u); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://idp.example/.well-known/jwks.json", "http://127.0.0.1:9999/jwks", "http://localhost/jwks", "http://[::1]:80/jwks"} {
		if _, err := newJWKSCache(u, slog.Default(), time.Now); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

func TestWithoutAnyVerifierMemberTokensAreRefused(t *testing.T) {
	s := New(Config{Store: store.New(nil), JWT: JWTConfig{Issuer: "perkflow", Audience: "perkflow-members"}})
	tok := sign(t, jwt.SigningMethodHS256, "", []byte("x"), claimsAt(time.Now(), nil))
	if _, err := s.verifyMemberToken(context.Background(), tok); err == nil {
		t.Fatal("a token signed with an empty secret was accepted by a server with no secret")
	}
}
