package memberapp_test

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/memberapp"
)

// The sign-in link's rules, against the real stack: one use, 15 minutes (on the app's clock), bound to the email,
// stored hashed, limited per email and per address, and the same answer whether or not the email is a member's.
func TestSignInLinks(t *testing.T) {
	as := newAppStack(t, func(c *memberapp.Config) { c.LinksPerEmail = 20 })
	grace := as.register(t, "grace@example.com", "Grace Hopper")

	t.Run("a link signs in once, and is refused after", func(t *testing.T) {
		c := as.client(t)
		if p := c.askLink("Grace@Example.com"); p.Status != http.StatusOK || !strings.Contains(p.Body, `id="sent"`) {
			t.Fatalf("ask: %d %s", p.Status, p.Body)
		}
		link := as.Mail.waitLink(t, "grace@example.com", 1)
		if strings.Contains(link, "grace") || strings.Contains(link, grace) {
			t.Fatalf("the link names the member: %s", link)
		}
		p := c.useLink(link)
		if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/app/" {
			t.Fatalf("first use: %d %s", p.Status, p.Body)
		}
		ck := sessionCookieOf(t, p)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/app/" {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/app/", ck)
		}
		if home := c.get("/app/"); home.Status != http.StatusOK || !strings.Contains(home.Body, `id="available"`) {
			t.Fatalf("home after sign-in: %d %s", home.Status, home.Body)
		}
		// The same link again, in another browser: refused, on opening and on pressing the button.
		other := as.client(t)
		if p := other.get(link); p.Status != http.StatusGone || !strings.Contains(p.Body, `id="link-refused"`) {
			t.Errorf("used link opened again: %d", p.Status)
		}
		u, _ := url.Parse(link)
		form := url.Values{"csrf": {other.csrf("/app/sign-in")}, "token": {u.Query().Get("token")}}
		if p := other.do("POST", "/app/link", form); p.Status != http.StatusGone || sessionCookieOrNil(p) != nil {
			t.Errorf("used link pressed again: %d", p.Status)
		}
	})

	t.Run("a link expires after 15 minutes on the app's clock", func(t *testing.T) {
		c := as.client(t)
		c.askLink("grace@example.com")
		fresh := as.Mail.waitLink(t, "grace@example.com", 2)
		c.askLink("grace@example.com")
		stale := as.Mail.waitLink(t, "grace@example.com", 3)
		as.Clock.advance(14*time.Minute + 50*time.Second)
		if p := c.useLink(fresh); p.Status != http.StatusSeeOther {
			t.Errorf("a link 14m50s old: %d, want 303", p.Status)
		}
		as.Clock.advance(20 * time.Second)
		if p := as.client(t).useLink(stale); p.Status != http.StatusGone {
			t.Errorf("a link 15m10s old: %d, want 410", p.Status)
		}
		as.Clock.advance(-15*time.Minute - 10*time.Second)
	})

	t.Run("tokens and emails are stored hashed", func(t *testing.T) {
		c := as.client(t)
		c.askLink("grace@example.com")
		link := as.Mail.waitLink(t, "grace@example.com", 4)
		u, _ := url.Parse(link)
		token := u.Query().Get("token")
		ctx := context.Background()
		var n int
		sum := sha256.Sum256([]byte(token))
		if err := as.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM member_app_links WHERE token_hash = $1`, sum[:]).Scan(&n); err != nil || n != 1 {
			t.Fatalf("link by its token's SHA-256: %d %v", n, err)
		}
		for _, table := range []string{"member_app_links", "member_app_sessions"} {
			var dump string
			if err := as.DB.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(t::text, ' '), '') FROM `+table+` t`).Scan(&dump); err != nil {
				t.Fatal(err)
			}
			for _, clear := range []string{token, strings.TrimPrefix(token, "ml_"), "grace@example.com", "Grace", "127.0.0.1"} {
				if strings.Contains(dump, clear) {
					t.Errorf("%s holds %q in clear", table, clear)
				}
			}
		}
		// The session cookie's value is not in the table either.
		p := c.useLink(link)
		ck := sessionCookieOf(t, p)
		var dump string
		_ = as.DB.Pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM member_app_sessions t`).Scan(&dump)
		if strings.Contains(dump, ck.Value) {
			t.Error("member_app_sessions holds a session token in clear")
		}
	})

	t.Run("a link is bound to the email it was sent to", func(t *testing.T) {
		c := as.client(t)
		c.askLink("grace@example.com")
		link := as.Mail.waitLink(t, "grace@example.com", 5)
		res := as.Do("PATCH", "/v1/members/"+grace, as.Keys["admin"], map[string]any{"email": "grace.hopper@example.org"}, "Prefer", "wait=20")
		if res.Status != http.StatusOK {
			t.Fatalf("change email: %d %s", res.Status, res.Body)
		}
		if p := c.useLink(link); p.Status != http.StatusGone {
			t.Errorf("a link sent before the email changed: %d, want 410", p.Status)
		}
		as.Do("PATCH", "/v1/members/"+grace, as.Keys["admin"], map[string]any{"email": "grace@example.com"}, "Prefer", "wait=20")
	})

	t.Run("a forged or missing CSRF token is refused", func(t *testing.T) {
		c := as.client(t)
		if p := c.do("POST", "/app/sign-in", url.Values{"email": {"grace@example.com"}, "csrf": {"forged"}}); p.Status != http.StatusForbidden {
			t.Errorf("sign-in without the form's token: %d", p.Status)
		}
		c.signIn(as, "grace@example.com")
		if p := c.do("POST", "/app/settings/consent", url.Values{"consent_email": {"on"}}); p.Status != http.StatusForbidden {
			t.Errorf("a write without the session's token: %d", p.Status)
		}
	})
}

// The answer to a sign-in request tells nothing of whether the email is a member's: same status, same page; only
// the member gets a message.
func TestSignInDoesNotRevealMembers(t *testing.T) {
	as := newAppStack(t, nil)
	as.register(t, "ada@example.net", "Ada Lovelace")
	member := as.client(t).askLink("ada@example.net")
	stranger := as.client(t).askLink("nobody@example.net")
	if member.Status != stranger.Status || member.Body != stranger.Body {
		t.Errorf("member answered %d, stranger %d; bodies equal: %v", member.Status, stranger.Status, member.Body == stranger.Body)
	}
	as.Mail.waitLink(t, "ada@example.net", 1)
	time.Sleep(200 * time.Millisecond)
	if n := as.Mail.count("nobody@example.net"); n != 0 {
		t.Errorf("%d messages to a stranger", n)
	}
}

// Links are limited per email and per client address, the same for members and strangers.
func TestSignInRateLimits(t *testing.T) {
	as := newAppStack(t, func(c *memberapp.Config) { c.LinksPerEmail, c.LinksPerAddress = 3, 7 })
	as.register(t, "ada@example.net", "Ada Lovelace")
	c := as.client(t)
	for _, email := range []string{"ada@example.net", "nobody@example.net"} {
		for i := 1; i <= 4; i++ {
			p := c.askLink(email)
			want := http.StatusOK
			if i == 4 {
				want = http.StatusTooManyRequests
			}
			if p.Status != want {
				t.Errorf("%s, request %d: %d, want %d", email, i, p.Status, want)
			}
		}
	}
	if n := as.Mail.count("ada@example.net"); n > 3 {
		t.Errorf("%d links sent past the limit of 3", n)
	}
	// 6 recorded from this address; the 7th passes, the 8th is over the address's limit whatever the email.
	if p := c.askLink("third@example.net"); p.Status != http.StatusOK {
		t.Errorf("7th from the address: %d", p.Status)
	}
	if p := c.askLink("fourth@example.net"); p.Status != http.StatusTooManyRequests {
		t.Errorf("8th from the address: %d, want 429", p.Status)
	}
	// An hour later (the app's clock), the email may ask again.
	as.Clock.advance(61 * time.Minute)
	if p := c.askLink("ada@example.net"); p.Status != http.StatusOK {
		t.Errorf("an hour later: %d", p.Status)
	}
}

func sessionCookieOrNil(p page) *http.Cookie {
	for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
		if ck.Name == "perkflow_app" && ck.Value != "" {
			return ck
		}
	}
	return nil
}

func sessionCookieOf(t *testing.T, p page) *http.Cookie {
	t.Helper()
	ck := sessionCookieOrNil(p)
	if ck == nil {
		t.Fatalf("no session cookie (%d)", p.Status)
	}
	return ck
}

// In development (no email provider) the log notifier stands in, and the link — the one thing a developer needs —
// is written to the log; the email is not.
func TestDevelopmentLogPrintsTheLink(t *testing.T) {
	var logged testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	as := newAppStack(t, func(c *memberapp.Config) {
		c.Notifier, c.LogLinks, c.Log = activities.LogNotifier{Log: log}, true, log
	})
	as.register(t, "ada@example.net", "Ada Lovelace")
	if p := as.client(t).askLink("ada@example.net"); p.Status != http.StatusOK {
		t.Fatalf("ask: %d", p.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logged.String(), "sign-in link") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := logged.String()
	if !strings.Contains(out, as.URL+"/app/link?token=ml_") {
		t.Errorf("no sign-in link in the log:\n%s", out)
	}
	if strings.Contains(out, "ada@example.net") {
		t.Errorf("the log holds the email in clear:\n%s", out)
	}
}
