package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/console"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

const wantCSP = "default-src 'none'; script-src 'self'; style-src 'self'"

// TestEveryPageAnswersEachRoleAsItsTableSays: every page is reached by the roles its route lists, and shown in their
// navigation; any other role gets 403 and does not see it; every answer carries the CSP and X-Frame-Options.
func TestEveryPageAnswersEachRoleAsItsTableSays(t *testing.T) {
	cs := newConsoleStack(t, itest.Options{})
	pages := []struct {
		path  string
		roles []string
		nav   string
	}{
		{"/console/", []string{"marketer", "support", "admin"}, ""},
		{"/console/rules", []string{"marketer", "admin"}, "Rules"},
		{"/console/rules/new", []string{"marketer", "admin"}, ""},
		{"/console/campaigns", []string{"marketer", "admin"}, "Campaigns"},
		{"/console/campaigns/new", []string{"marketer", "admin"}, ""},
		{"/console/offers", []string{"marketer", "admin"}, "Offers"},
		{"/console/offers/new", []string{"marketer", "admin"}, ""},
		{"/console/challenges", []string{"marketer", "admin"}, "Challenges"},
		{"/console/leaderboard", []string{"marketer", "support", "admin"}, "Leaderboard"},
		{"/console/members", []string{"support", "admin"}, "Members"},
		{"/console/settings", []string{"admin"}, "Settings"},
		{"/console/api-keys", []string{"admin"}, "API keys"},
	}
	for _, role := range []string{"marketer", "support", "admin"} {
		b := cs.browser(t).signIn(cs.Keys[role])
		home := b.get("/console/")
		for _, p := range pages {
			got := b.get(p.path)
			allowed := contains(p.roles, role)
			if allowed && got.Status != http.StatusOK || !allowed && got.Status != http.StatusForbidden {
				t.Errorf("%s as %s: %d, want %v allowed: %s", p.path, role, got.Status, allowed, problemOf(got.Body))
			}
			if csp := got.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, wantCSP) || got.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s as %s: CSP %q, X-Frame-Options %q", p.path, role, csp, got.Header.Get("X-Frame-Options"))
			}
			if strings.Contains(got.Body, "<script>") || strings.Contains(got.Body, " style=") || strings.Contains(got.Body, "onclick") {
				t.Errorf("%s as %s has inline script or style", p.path, role)
			}
			if p.nav != "" && strings.Contains(home.Body, ">"+p.nav+"</a>") != allowed {
				t.Errorf("the %s navigation shows %q: %v, want %v", role, p.nav, !allowed, allowed)
			}
		}
	}
	if p := cs.browser(t).get("/console/static/htmx.min.js"); p.Status != http.StatusOK || !strings.HasPrefix(p.Header.Get("Content-Security-Policy"), wantCSP) {
		t.Fatalf("htmx: %d", p.Status)
	}
	if p := cs.browser(t).get("/console/static/README.md"); p.Status != http.StatusNotFound {
		t.Fatalf("the static README is served: %d", p.Status)
	}
	for _, path := range []string{"/console/sign-in", "/console/nope"} {
		if p := cs.browser(t).get(path); !strings.HasPrefix(p.Header.Get("Content-Security-Policy"), wantCSP) {
			t.Errorf("%s has no CSP", path)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestSessionsCSRFAndSignOut: the key becomes a session (the cookie holds a token, HttpOnly and SameSite=Strict, not
// the key); a state-changing request without the CSRF token is refused 403 and changes nothing; a forged cookie
// leads to the sign-in page; signing out ends the session on the server, so the old cookie opens nothing; a pos
// key, an unknown key and a revoked key cannot sign in; a revoked key's session ends.
func TestSessionsCSRFAndSignOut(t *testing.T) {
	cs := newConsoleStack(t, itest.Options{})
	b := cs.browser(t)
	token := b.csrf("/console/sign-in")
	p := b.do("POST", "/console/sign-in", url.Values{"csrf": {token}, "api_key": {cs.Keys["support"]}})
	cookie := p.Header.Get("Set-Cookie")
	for _, want := range []string{"perkflow_console=", "HttpOnly", "SameSite=Strict", "Path=/console/"} {
		if !strings.Contains(strings.Join(p.Header.Values("Set-Cookie"), "\n"), want) {
			t.Errorf("session cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(strings.Join(p.Header.Values("Set-Cookie"), "\n"), cs.Keys["support"]) {
		t.Fatal("the key is in a cookie")
	}
	var sessions int
	if err := cs.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM console_sessions WHERE ended_at IS NULL`).Scan(&sessions); err != nil || sessions != 1 {
		t.Fatalf("%d open sessions (%v)", sessions, err)
	}

	// No CSRF token → 403, nothing done; a wrong one too.
	adj := url.Values{"points": {"10"}, "reason": {"csrf test"}, "adjustment_id": {"ADJ-CSRF"}}
	member := registerMember(t, cs, "csrf@example.com")
	if p := b.do("POST", "/console/members/"+member+"/adjust", adj); p.Status != http.StatusForbidden {
		t.Fatalf("adjust without CSRF: %d", p.Status)
	}
	adj.Set("csrf", "forged")
	if p := b.do("POST", "/console/members/"+member+"/adjust", adj); p.Status != http.StatusForbidden {
		t.Fatalf("adjust with a forged CSRF token: %d", p.Status)
	}
	if p := b.do("POST", "/console/members/"+member+"/adjust", adj, "X-CSRF-Token", "forged"); p.Status != http.StatusForbidden {
		t.Fatalf("adjust with a forged CSRF header: %d", p.Status)
	}
	var entries int
	if err := cs.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries`).Scan(&entries); err != nil || entries != 0 {
		t.Fatalf("%d ledger entries after refused adjustments (%v)", entries, err)
	}
	if p := cs.browser(t).do("POST", "/console/sign-in", url.Values{"api_key": {cs.Keys["admin"]}}); p.Status != http.StatusForbidden {
		t.Fatalf("sign-in without its CSRF token: %d", p.Status)
	}

	// A forged session cookie → the sign-in page.
	forged := cs.browser(t)
	u, _ := url.Parse(cs.URL + "/console/")
	forged.client.Jar.SetCookies(u, []*http.Cookie{{Name: "perkflow_console", Value: "forged-session-token", Path: "/console/"}})
	if p := forged.get("/console/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("forged cookie: %d %s", p.Status, p.Header.Get("Location"))
	}
	if p := forged.do("POST", "/console/members/find", url.Values{}, "HX-Request", "true"); p.Header.Get("HX-Redirect") != "/console/sign-in" {
		t.Fatalf("forged cookie, htmx: %d %v", p.Status, p.Header)
	}

	// Sign out ends the session on the server: the cookie taken before opens nothing after.
	stolen := b.client.Jar.Cookies(u)
	if p := b.post("/console/", "/console/sign-out", nil); p.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.Status)
	}
	replay := cs.browser(t)
	replay.client.Jar.SetCookies(u, stolen)
	if p := replay.get("/console/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("the signed-out session's cookie: %d", p.Status)
	}

	for _, key := range []string{cs.Keys["pos"], "pk_unknown", "not-a-key"} {
		sb := cs.browser(t)
		tok := sb.csrf("/console/sign-in")
		if p := sb.do("POST", "/console/sign-in", url.Values{"csrf": {tok}, "api_key": {key}}); p.Status != http.StatusUnauthorized || strings.Contains(p.Body, key) && key != "not-a-key" {
			t.Errorf("sign in with %.8s…: %d", key, p.Status)
		}
	}
	marketer := cs.browser(t).signIn(cs.Keys["marketer"])
	if err := cs.Store.RevokeAPIKey(context.Background(), "itest-marketer"); err != nil {
		t.Fatal(err)
	}
	if p := marketer.get("/console/"); p.Status != http.StatusSeeOther {
		t.Fatalf("a revoked key's session: %d", p.Status)
	}
	actions, err := cs.Store.ConsoleActions(context.Background(), cs.Actors["support"])
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, a := range actions {
		seen = append(seen, a.Action)
	}
	if got := strings.Join(seen, ","); !strings.Contains(got, "console.sign_in") || !strings.Contains(got, "console.csrf_refused") || !strings.Contains(got, "POST /console/sign-out") {
		t.Fatalf("support's console actions: %s", got)
	}
}

func registerMember(t *testing.T, cs *consoleStack, email string) string {
	t.Helper()
	res := cs.Do("POST", "/v1/members/register", cs.Keys["pos"], map[string]any{
		"email": email, "name": "Ada Lovelace", "phone": "+33612345678", "consent": map[string]bool{"email": true}}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var m struct {
		MemberID string `json:"member_id"`
	}
	res.Decode(t, &m)
	return m.MemberID
}

// problemOf is the problem a page shows, or its start.
func problemOf(body string) string {
	if i := strings.Index(body, `class="problem"`); i >= 0 {
		return body[i:min(len(body), i+300)]
	}
	return body[:min(len(body), 300)]
}

// TestSessionsEndWhenIdleAndAreSecureBehindTLS: a session unused for the idle timeout ends; used within it, it goes
// on; behind TLS (as a proxy tells with X-Forwarded-Proto) the cookie is Secure.
func TestSessionsEndWhenIdleAndAreSecureBehindTLS(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, err := console.New(console.Config{API: s.Server, Store: s.Store, Now: clock, IdleTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cs := &consoleStack{Stack: s, Console: c, URL: newServer(t, c.Beside(s.Server.Handler()))}
	b := cs.browser(t).signIn(cs.Keys["admin"])
	for i := 0; i < 3; i++ {
		advance(9 * time.Minute)
		if p := b.get("/console/leaderboard"); p.Status != http.StatusOK {
			t.Fatalf("used every 9 minutes, at %d: %d", i, p.Status)
		}
	}
	advance(11 * time.Minute)
	if p := b.get("/console/leaderboard"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/sign-in" {
		t.Fatalf("after 11 idle minutes: %d", p.Status)
	}

	tls := cs.browser(t)
	tok := tls.csrf("/console/sign-in")
	p := tls.do("POST", "/console/sign-in", url.Values{"csrf": {tok}, "api_key": {cs.Keys["admin"]}}, "X-Forwarded-Proto", "https")
	if cookie := strings.Join(p.Header.Values("Set-Cookie"), "\n"); !strings.Contains(cookie, "perkflow_console=") || !strings.Contains(cookie, "; Secure") {
		t.Fatalf("behind TLS the cookie is not Secure: %s", cookie)
	}
}
