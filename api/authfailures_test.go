package api_test

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// Failed authentication is limited per client address, and a real key is still served from an address over its
// budget (pen test, issue 21, finding 4).

// fromAddress sends a GET with a bearer token from another loopback source address than the test's default.
func fromAddress(t *testing.T, s *itest.Stack, source, path, token string) int {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.API.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestFailedAuthenticationIsLimitedPerAddress(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{AuthFailures: api.Rate{PerSecond: 0.001, Burst: 3}}})
	id := register(t, s, "authfail@example.com") // the pos key is now known to be valid
	memberToken := s.MemberToken(id)
	unseen, err := s.Store.CreateAPIKey(context.Background(), "never-used", "support")
	if err != nil {
		t.Fatal(err)
	}
	bad := func(i int) string { return "pk_not-a-real-key-" + strconv.Itoa(i) }
	for i := range 3 {
		mustStatus(t, s.Do("GET", "/v1/program", bad(i), nil), http.StatusUnauthorized, "a bad key within the budget")
	}
	res := s.Do("GET", "/v1/program", bad(3), nil)
	mustStatus(t, res, http.StatusTooManyRequests, "a bad key over the budget")
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	mustStatus(t, s.Do("GET", "/v1/program", "not-a-jwt", nil), http.StatusTooManyRequests, "a bad member token over the budget")

	// The real clients behind the same address are still served: a key seen valid lately, a member token.
	mustStatus(t, s.Do("GET", "/v1/members/"+id, s.Keys["pos"], nil), http.StatusOK, "a known key from the blocked address")
	mustStatus(t, s.Do("GET", "/v1/members/"+id, memberToken, nil), http.StatusOK, "a member token from the blocked address")
	// A key this process has not seen valid is not looked up from the blocked address (that is what protects the
	// database), so it waits for Retry-After like the attacker's.
	mustStatus(t, s.Do("GET", "/v1/program", unseen, nil), http.StatusTooManyRequests, "an unseen key from the blocked address")

	// Other addresses are not affected.
	if got := fromAddress(t, s, "127.0.0.2", "/v1/program", bad(4)); got != http.StatusUnauthorized {
		t.Fatalf("a bad key from another address: %d, want 401", got)
	}
	if got := fromAddress(t, s, "127.0.0.2", "/v1/program", unseen); got != http.StatusOK {
		t.Fatalf("the unseen key from another address: %d, want 200", got)
	}
}

func TestAuthorizationSchemeIsCaseInsensitive(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		res := s.Do("GET", "/v1/program", "", nil, "Authorization", scheme+" "+s.Keys["support"])
		if res.Status == http.StatusUnauthorized {
			t.Errorf("scheme %q: 401 %s", scheme, res.Body)
		}
	}
	for _, h := range []string{"Basic " + s.Keys["support"], "Bearer", "Bearer ", s.Keys["support"], "Bearer" + s.Keys["support"]} {
		if res := s.Do("GET", "/v1/program", "", nil, "Authorization", h); res.Status != http.StatusUnauthorized {
			t.Errorf("Authorization %.12q…: %d, want 401", h, res.Status)
		}
	}
}
