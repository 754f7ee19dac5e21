package api_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// The hardening of issue 21: member tokens short-lived and revocable, request ids of perkflow's own (what a till
// sees of a member is in authz_test.go).

// signedToken signs claims with the stack's member-token secret.
func signedToken(t *testing.T, s *itest.Stack, c jwt.RegisteredClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.JWT.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestMemberTokensAreShortLivedAndRevocable(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "revocable@example.com")
	other := register(t, s, "not-signed-out@example.com")
	now := time.Now()
	claims := func(life time.Duration) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{Subject: id, Issuer: s.JWT.Issuer, Audience: jwt.ClaimStrings{s.JWT.Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(life))}
	}
	mustStatus(t, s.Do("GET", "/v1/members/"+id, signedToken(t, s, claims(api.DefaultMemberTokenMaxTTL)), nil), http.StatusOK, "a token living the maximum")
	mustStatus(t, s.Do("GET", "/v1/members/"+id, signedToken(t, s, claims(30*24*time.Hour)), nil), http.StatusUnauthorized, "a token living 30 days")
	noIAT := claims(time.Hour)
	noIAT.IssuedAt = nil
	mustStatus(t, s.Do("GET", "/v1/members/"+id, signedToken(t, s, noIAT), nil), http.StatusUnauthorized, "a token without iat")
	if _, err := api.MintMemberToken(s.JWT, id, 25*time.Hour, now); err == nil {
		t.Fatal("a 25-hour token was minted")
	}

	// Signing out everywhere refuses every token issued until then, on every route; other members' stay good.
	before, theirs := s.MemberToken(id), s.MemberToken(other)
	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/sign-out", before, `{"all":true}`), http.StatusBadRequest, "sign-out with a body")
	mustStatus(t, s.Do("GET", "/v1/members/"+id, before, nil), http.StatusOK, "a refused sign-out changed nothing")
	res := s.Do("POST", "/v1/members/"+id+"/sign-out", before, nil)
	mustStatus(t, res, http.StatusNoContent, "sign out everywhere")
	for _, path := range []string{"/v1/members/" + id, "/v1/members/" + id + "/history", "/v1/offers/available"} {
		mustStatus(t, s.Do("GET", path, before, nil), http.StatusUnauthorized, "a token from before the sign-out on "+path)
	}
	mustStatus(t, s.Do("GET", "/v1/members/"+other, theirs, nil), http.StatusOK, "another member's token")
	// A token issued after the sign-out works (iat has whole seconds: the second of the sign-out is refused too).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	mustStatus(t, s.Do("GET", "/v1/members/"+id, s.MemberToken(id), nil), http.StatusOK, "a token issued after the sign-out")
	// Support may sign a member out (a lost phone).
	mustStatus(t, s.Do("POST", "/v1/members/"+other+"/sign-out", s.Keys["support"], nil), http.StatusNoContent, "support signs a member out")
	mustStatus(t, s.Do("GET", "/v1/members/"+other, theirs, nil), http.StatusUnauthorized, "the member signed out by support")
	mustStatus(t, s.Do("POST", "/v1/members/"+placeholderMember+"/sign-out", s.Keys["support"], nil), http.StatusNotFound, "sign-out of nobody")
}

func TestOversizedTokensAreRefused(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "oversized@example.com")
	huge := jwt.RegisteredClaims{Subject: id, Issuer: s.JWT.Issuer, Audience: jwt.ClaimStrings{s.JWT.Audience, strings.Repeat("a", 9000)},
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	for name, tok := range map[string]string{
		"a validly signed 9 kB JWT": signedToken(t, s, huge),
		"a 9 kB API key":            "pk_" + strings.Repeat("A", 9000),
	} {
		if res := s.Do("GET", "/v1/members/"+id, tok, nil); res.Status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, res.Status)
		}
	}
}

func TestRequestIDIsPerkflowsOwn(t *testing.T) {
	var sink testkit.SyncBuffer
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true, Log: slog.New(slog.NewJSONHandler(&sink, nil))})
	res := s.Do("GET", "/v1/program", s.Keys["support"], nil, "X-Request-Id", "forged-id of\ta client")
	mustStatus(t, res, http.StatusOK, "read the program")
	own := res.Header.Get("X-Request-Id")
	if own == "" || strings.Contains(own, "forged") {
		t.Fatalf("answered X-Request-Id %q", own)
	}
	again := s.Do("GET", "/v1/program", s.Keys["support"], nil, "X-Request-Id", "forged-id")
	if again.Header.Get("X-Request-Id") == own {
		t.Fatal("two requests with the same client id got the same request id")
	}
	found := false
	sc := bufio.NewScanner(strings.NewReader(sink.String()))
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec["msg"] != "http request" || rec["request_id"] != own {
			continue
		}
		found = true
		if rec["client_request_id"] != "forged-idofaclient" {
			t.Errorf("client_request_id %v, want the client's id cleaned", rec["client_request_id"])
		}
	}
	if !found {
		t.Fatalf("no request line logged under the id answered, %s:\n%s", own, sink.String())
	}
}
