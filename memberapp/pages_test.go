package memberapp_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var claimForm = regexp.MustCompile(`action="(/app/rewards/[^"]+/claim)"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="key" value="([^"]+)">`)

// A double tap on Claim sends the same form twice: one redemption, both answers lead to it.
func TestClaimTwiceClaimsOnce(t *testing.T) {
	as := newAppStack(t, nil)
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	as.adjust(t, grace, 500, "gift")
	if res := as.Do("POST", "/v1/offers", as.Keys["marketer"], map[string]any{"title": "Tote bag", "points_cost": 100}); res.Status != http.StatusCreated {
		t.Fatalf("offer: %d %s", res.Status, res.Body)
	}
	c := as.client(t)
	c.signIn(as, "grace@example.com")
	m := claimForm.FindStringSubmatch(c.get("/app/rewards").Body)
	if m == nil {
		t.Fatal("no claim form on the rewards page")
	}
	form := url.Values{"csrf": {m[2]}, "key": {m[3]}}
	first, second := c.do("POST", m[1], form), c.do("POST", m[1], form)
	if first.Status != http.StatusSeeOther || second.Status != http.StatusSeeOther || first.Header.Get("Location") != second.Header.Get("Location") {
		t.Fatalf("two taps: %d %s, %d %s", first.Status, first.Header.Get("Location"), second.Status, second.Header.Get("Location"))
	}
	var reds struct {
		Items []struct{} `json:"items"`
	}
	as.Do("GET", "/v1/members/"+grace+"/redemptions", as.MemberToken(grace), nil).Decode(t, &reds)
	if len(reds.Items) != 1 {
		t.Errorf("%d redemptions after a double tap, want 1", len(reds.Items))
	}
	var mem struct {
		Balance struct{ Available int64 } `json:"balance"`
	}
	as.Do("GET", "/v1/members/"+grace, as.MemberToken(grace), nil).Decode(t, &mem)
	if mem.Balance.Available != 400 {
		t.Errorf("available after one claim of 100: %d", mem.Balance.Available)
	}
	if p := c.get(first.Header.Get("Location")); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="code"`) {
		t.Errorf("the redemption page: %d, with its code: %v", p.Status, strings.Contains(p.Body, `id="code"`))
	}
}

// Pages are never cached and speak French to a French browser; the service worker caches the shell only.
func TestPagesHeadersLanguageAndShell(t *testing.T) {
	as := newAppStack(t, nil)
	as.register(t, "ada@example.net", "Ada Lovelace")
	c := as.client(t)
	req, _ := http.NewRequest("GET", as.URL+"/app/sign-in", nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Content-Language") != "fr" || res.Header.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "default-src 'none'; script-src 'self';") {
		t.Errorf("sign-in page headers: %v", res.Header)
	}
	c.signIn(as, "ada@example.net")
	for _, path := range []string{"/app/", "/app/history", "/app/rewards", "/app/challenges", "/app/settings"} {
		p := c.get(path)
		if p.Status != http.StatusOK || p.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q", path, p.Status, p.Header.Get("Cache-Control"))
		}
		if strings.Contains(p.Body, "style=") || strings.Contains(p.Body, "<script>") {
			t.Errorf("%s has inline style or script, which the CSP refuses", path)
		}
	}
	sw := c.get("/app/sw.js")
	shell := regexp.MustCompile(`const SHELL = \[([^\]]*)\]`).FindStringSubmatch(sw.Body)
	if sw.Status != http.StatusOK || shell == nil {
		t.Fatalf("sw.js: %d", sw.Status)
	}
	for _, f := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(shell[1], -1) {
		if !strings.HasPrefix(f[1], "/app/static/") {
			t.Errorf("the service worker caches %s, which is not the shell", f[1])
		}
		if p := c.get(f[1]); p.Status != http.StatusOK {
			t.Errorf("shell file %s: %d", f[1], p.Status)
		}
	}
	if p := c.get("/app/manifest.webmanifest"); p.Status != http.StatusOK || !strings.Contains(p.Body, `"start_url": "/app/"`) {
		t.Errorf("manifest: %d", p.Status)
	}
}

// "Delete my account" asks for a confirmation, then starts the erasure and ends the session.
func TestDeleteMyAccount(t *testing.T) {
	as := newAppStack(t, nil)
	ada := as.register(t, "ada@example.net", "Ada Lovelace")
	c := as.client(t)
	c.signIn(as, "ada@example.net")
	token := c.csrf("/app/settings/delete")
	if p := c.do("POST", "/app/settings/delete", url.Values{"csrf": {token}}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("without the confirmation: %d", p.Status)
	}
	status := func() string {
		var m struct {
			Status string `json:"status"`
		}
		as.Do("GET", "/v1/members/"+ada, as.Keys["support"], nil).Decode(t, &m)
		return m.Status
	}
	if s := status(); s != "active" {
		t.Fatalf("after a refused delete: %s", s)
	}
	if p := c.do("POST", "/app/settings/delete", url.Values{"csrf": {token}, "confirm": {"on"}}); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="deleted"`) {
		t.Fatalf("delete: %d %s", p.Status, p.Body)
	}
	if s := status(); s != "erased" {
		t.Errorf("after delete: %s, want erased", s)
	}
	if p := c.get("/app/"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/app/sign-in" {
		t.Errorf("the session after delete: %d %s", p.Status, p.Header.Get("Location"))
	}
	// Nothing of the app's is left on them: the erasure deleted their sign-in links (each with a keyed hash of their
	// address) and sessions.
	for _, table := range []string{"member_app_links", "member_app_sessions"} {
		var n int
		if err := as.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE member_id = $1`, ada).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows of %s left for the erased member", n, table)
		}
	}
}
