package memberapp_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// identityProvider is a retailer's OIDC provider as the API sees it: an ES256 key published as a JWKS on loopback.
type identityProvider struct {
	key *ecdsa.PrivateKey
	srv *httptest.Server
}

func newIdentityProvider(t *testing.T) *identityProvider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := func(b []byte) string {
		out := make([]byte, 32)
		copy(out[32-len(b):], b)
		return base64.RawURLEncoding.EncodeToString(out)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "idp-1",
		"alg": "ES256", "use": "sig", "x": pad(key.X.Bytes()), "y": pad(key.Y.Bytes())}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &identityProvider{key: key, srv: srv}
}

// token is a member JWT as the provider issues it after its own login: for the API's issuer and audience.
func (p *identityProvider) token(t *testing.T, memberID string, issued time.Time, ttl time.Duration) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Subject: memberID, Issuer: "perkflow",
		Audience: jwt.ClaimStrings{"perkflow-members"}, IssuedAt: jwt.NewNumericDate(issued), ExpiresAt: jwt.NewNumericDate(issued.Add(ttl))})
	tok.Header["kid"] = "idp-1"
	s, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *client) handOff(token string) page {
	c.t.Helper()
	return c.do("POST", "/app/sign-in/token", url.Values{"id_token": {token}})
}

// A retailer with its own identity provider signs its member in there and hands the app a member JWT: the app
// opens a session for that member, once per token, only for a fresh token the API accepts, and never for another
// member than the token's.
func TestSignInHandoff(t *testing.T) {
	idp := newIdentityProvider(t)
	as := s2app(t, itest.NewStack(t, temporal, itest.Options{JWKSURL: idp.srv.URL}), nil)
	ada := as.register(t, "ada@example.com", "Ada Lovelace")
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	as.adjust(t, ada, 1234, "welcome gift")

	t.Run("a fresh token of the provider opens a session of its member", func(t *testing.T) {
		c := as.client(t)
		p := c.handOff(idp.token(t, ada, time.Now(), 10*time.Minute))
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/app/" {
			t.Fatalf("hand-off: %d %s", p.Status, p.Body)
		}
		ck := sessionCookieOf(t, p)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax", ck)
		}
		home := c.get("/app/")
		m := regexp.MustCompile(`id="available">([^<]*)<`).FindStringSubmatch(home.Body)
		if home.Status != http.StatusOK || m == nil || strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, m[1]) != "1234" {
			t.Fatalf("home after the hand-off: %d, want 200 with Ada's 1,234 points\n%s", home.Status, home.Body)
		}
		// The session is Ada's: Grace's redemptions are not hers to see (the API's object-level check).
		if p := c.get("/app/history"); p.Status != http.StatusOK || !strings.Contains(p.Body, "welcome gift") {
			t.Errorf("Ada's history: %d", p.Status)
		}
	})

	t.Run("the same token twice opens one session", func(t *testing.T) {
		tok := idp.token(t, grace, time.Now(), 10*time.Minute)
		if p := as.client(t).handOff(tok); p.Status != http.StatusSeeOther {
			t.Fatalf("first use: %d %s", p.Status, p.Body)
		}
		p := as.client(t).handOff(tok)
		if p.Status != http.StatusGone || sessionCookieOrNil(p) != nil {
			t.Errorf("second use: %d, want 410 and no session", p.Status)
		}
		var n int
		if err := as.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM member_app_sessions WHERE member_id = $1`, grace).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d sessions of Grace, want 1", n)
		}
	})

	t.Run("refused: stale, from the future, forged, another audience, not a member, garbage", func(t *testing.T) {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		forged := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Subject: ada, Issuer: "perkflow",
			Audience: jwt.ClaimStrings{"perkflow-members"}, IssuedAt: jwt.NewNumericDate(time.Now()),
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(5 * time.Minute))})
		forged.Header["kid"] = "idp-1"
		forgedToken, _ := forged.SignedString(other)
		wrongAud := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Subject: ada, Issuer: "perkflow",
			Audience: jwt.ClaimStrings{"another-app"}, IssuedAt: jwt.NewNumericDate(time.Now()),
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(5 * time.Minute))})
		wrongAud.Header["kid"] = "idp-1"
		wrongAudToken, _ := wrongAud.SignedString(idp.key)
		cases := []struct {
			name, token string
			status      int
		}{
			{"issued 6 minutes ago", idp.token(t, ada, time.Now().Add(-6*time.Minute), time.Hour), http.StatusUnauthorized},
			{"issued 2 minutes from now", idp.token(t, ada, time.Now().Add(2*time.Minute), time.Hour), http.StatusUnauthorized},
			{"signed by another key", forgedToken, http.StatusUnauthorized},
			{"for another audience", wrongAudToken, http.StatusUnauthorized},
			{"expired", idp.token(t, ada, time.Now().Add(-2*time.Minute), time.Minute), http.StatusUnauthorized},
			{"nobody's member id", idp.token(t, "00000000-0000-4000-8000-000000000000", time.Now(), time.Hour), http.StatusUnauthorized},
			{"not a JWT", "not-a-token", http.StatusUnauthorized},
			{"empty", "", http.StatusBadRequest},
		}
		for _, tc := range cases {
			p := as.client(t).handOff(tc.token)
			if p.Status != tc.status || sessionCookieOrNil(p) != nil {
				t.Errorf("%s: %d, want %d and no session", tc.name, p.Status, tc.status)
			}
			if p.Status != http.StatusSeeOther && !strings.Contains(p.Body, "could not be used") {
				t.Errorf("%s: the page does not say the sign-in could not be used", tc.name)
			}
		}
		// Five minutes on the app's clock: a token issued just now is no longer fresh.
		tok := idp.token(t, ada, time.Now(), time.Hour)
		as.Clock.advance(5*time.Minute + 10*time.Second)
		defer as.Clock.advance(-5*time.Minute - 10*time.Second)
		if p := as.client(t).handOff(tok); p.Status != http.StatusUnauthorized {
			t.Errorf("a token 5m10s old on the app's clock: %d, want 401", p.Status)
		}
	})

	t.Run("an erased member is not signed in, and their hand-offs go with them", func(t *testing.T) {
		res := as.Do("DELETE", "/v1/members/"+grace, as.Keys["admin"], nil, "Prefer", "wait=20")
		if res.Status >= 300 {
			t.Fatalf("erase: %d %s", res.Status, res.Body)
		}
		if p := as.client(t).handOff(idp.token(t, grace, time.Now().Add(2*time.Second), time.Hour)); p.Status != http.StatusUnauthorized {
			t.Errorf("an erased member's token: %d, want 401", p.Status)
		}
		var n int
		if err := as.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM member_app_handoffs WHERE member_id = $1`, grace).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d hand-offs left for the erased member", n)
		}
	})
}
