package memberapp_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	chrome "github.com/perkflow/perkflow/internal/testkit/browser"
)

// The member app in a real browser: Debian's Chromium, headless, on a 360-px phone screen, driven over the
// DevTools protocol against the real stack. Screenshots of the home, rewards and history pages are written to
// screenshotDir for a reviewer.

// screenshotDir is where the browser test leaves what a reviewer looks at (git-ignored).
const screenshotDir = "testdata/screenshots"

func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return chrome.Start(t, 360, 800, chromedp.Flag("lang", "en-GB"), chromedp.Flag("accept-lang", "en-GB"))
}

// phone opens a tab in a browser context of its own (its own cookies: a person of their own), as a 360-px phone.
func phone(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx := chrome.Tab(t, browser)
	do(t, ctx, "phone screen", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
	return ctx
}

var (
	do                 = chrome.Do
	text               = chrome.Text
	checkAccessibility = chrome.CheckAccessibility
)

// open navigates and returns the answer's status, checking that every page carries the strict CSP.
func open(t *testing.T, ctx context.Context, url string) int64 {
	t.Helper()
	return chrome.Open(t, ctx, url, "default-src 'none'; script-src 'self';")
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	chrome.Screenshot(t, ctx, screenshotDir, name)
}

// signInPhone signs a member in as they would: the email in the form, the link from the (fake) provider's mailbox.
func signInPhone(t *testing.T, as *appStack, ctx context.Context, email string) string {
	t.Helper()
	n := as.Mail.count(email)
	open(t, ctx, as.URL+"/app/")
	do(t, ctx, "ask a sign-in link", chromedp.WaitVisible(chromedp.CSS(`#email`)), chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#sent`)))
	link := as.Mail.waitLink(t, email, n+1)
	open(t, ctx, link)
	do(t, ctx, "use the link", chromedp.Click(chromedp.CSS(`#use-link`)), chromedp.WaitVisible(chromedp.CSS(`#available`)))
	return link
}

// TestMemberAppInABrowser: a member signs in through the emailed link, sees the balance the API gives, claims an
// offer and sees its code, changes a consent and signs out; another member's session cannot see the first's
// history or reward; the same link twice is refused.
func TestMemberAppInABrowser(t *testing.T) {
	browser := startBrowser(t)
	as := newAppStack(t, nil)
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	ada := as.register(t, "ada@example.net", "Ada Lovelace")
	as.adjust(t, grace, 1250, "welcome gift")
	as.adjust(t, ada, 30, "welcome gift")
	offer := as.Do("POST", "/v1/offers", as.Keys["marketer"], map[string]any{"title": "Free coffee", "description": "Any size, any store.",
		"points_cost": 200, "stock": 50})
	if offer.Status != http.StatusCreated {
		t.Fatalf("offer: %d %s", offer.Status, offer.Body)
	}

	g := phone(t, browser)
	link := signInPhone(t, as, g, "grace@example.com")

	// The balance shown is the API's.
	var m struct {
		Balance struct{ Available int64 } `json:"balance"`
	}
	as.Do("GET", "/v1/members/"+grace, as.MemberToken(grace), nil).Decode(t, &m)
	if got, want := strings.ReplaceAll(text(t, g, `#available`), "\u202f", ""), fmt.Sprintf("%d points", m.Balance.Available); got != want || m.Balance.Available != 1250 {
		t.Errorf("home shows %q, the API says %s", got, want)
	}
	screenshot(t, g, "home")
	checkAccessibility(t, g, "home")

	// Claim the offer and see its code.
	open(t, g, as.URL+"/app/rewards")
	screenshot(t, g, "rewards")
	checkAccessibility(t, g, "rewards")
	do(t, g, "claim", chromedp.Click(chromedp.CSS(`.offer form button`)), chromedp.WaitVisible(chromedp.CSS(`#code`)))
	code := text(t, g, `#code`)
	var reds struct {
		Items []struct {
			RedemptionID string `json:"redemption_id"`
			Code         string `json:"code"`
		} `json:"items"`
	}
	as.Do("GET", "/v1/members/"+grace+"/redemptions", as.MemberToken(grace), nil).Decode(t, &reds)
	if len(reds.Items) != 1 || reds.Items[0].Code != code || code == "" {
		t.Fatalf("the page shows code %q; the API has %+v", code, reds.Items)
	}
	redemption := reds.Items[0].RedemptionID

	open(t, g, as.URL+"/app/history")
	hist := text(t, g, `#history`)
	for _, want := range []string{"Spent 200 points on a reward", "1 250 points added by our team — welcome gift"} {
		if !strings.Contains(strings.ReplaceAll(hist, "\u202f", " "), want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	screenshot(t, g, "history")
	checkAccessibility(t, g, "history")

	// Change a consent: email off.
	open(t, g, as.URL+"/app/settings")
	do(t, g, "consent", chromedp.Click(chromedp.CSS(`#consent_email`)), chromedp.Click(chromedp.CSS(`#save-consent`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	var after struct {
		Consent struct{ Email, SMS bool } `json:"consent"`
	}
	as.Do("GET", "/v1/members/"+grace, as.MemberToken(grace), nil).Decode(t, &after)
	if after.Consent.Email {
		t.Errorf("consent after unticking email: %+v", after.Consent)
	}

	// Another member sees none of it.
	a := phone(t, browser)
	signInPhone(t, as, a, "ada@example.net")
	if got := strings.ReplaceAll(text(t, a, `#available`), "\u202f", ""); got != "30 points" {
		t.Errorf("ada's home shows %q", got)
	}
	open(t, a, as.URL+"/app/history")
	if hist := text(t, a, `main`); strings.Contains(hist, "200") || strings.Contains(hist, "1 250") {
		t.Errorf("ada's history shows grace's entries:\n%s", hist)
	}
	if status := open(t, a, as.URL+"/app/redemptions/"+redemption); status != http.StatusNotFound || strings.Contains(text(t, a, `main`), code) {
		t.Errorf("ada opening grace's reward: %d", status)
	}

	// The same link twice: refused.
	x := phone(t, browser)
	if status := open(t, x, link); status != http.StatusGone {
		t.Errorf("the used link opened again: %d", status)
	}
	do(t, x, "refused", chromedp.WaitVisible(chromedp.CSS(`#link-refused`)))

	// Sign out: the app asks to sign in again.
	open(t, g, as.URL+"/app/")
	do(t, g, "sign out", chromedp.Click(chromedp.CSS(`header form button`)), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	open(t, g, as.URL+"/app/rewards")
	do(t, g, "signed out", chromedp.WaitVisible(chromedp.CSS(`#email`)))
}
