package memberapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/perkflow/perkflow/internal/testkit"
	chrome "github.com/perkflow/perkflow/internal/testkit/browser"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/internal/testkit/stripefake"
	"github.com/perkflow/perkflow/memberapp"
)

// Cash offers: the card is taken by Stripe.js. The browser test loads a stand-in for Stripe.js from a loopback
// port of its own (the app's StripeJS setting); stripefake is the Stripe API behind the worker.

const (
	testPublishableKey = "pk_test_perkflow_app"
	testWebhookSecret  = "whsec_perkflow_app_test"
)

// strictCSP is the start of the CSP of every page that takes no card.
const strictCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src"

// cashStack is the real stack with card payments through stripefake, and the app with (key set) or without a
// publishable key, loading Stripe.js from jsURL.
func cashStack(t *testing.T, fake *stripefake.Server, key, jsURL string, log *slog.Logger) *appStack {
	t.Helper()
	s := itest.NewStack(t, temporal, itest.Options{Log: log, Stripe: itest.Stripe{APIBase: fake.URL, WebhookSecret: testWebhookSecret}})
	return s2app(t, s, func(c *memberapp.Config) {
		c.StripePublishableKey, c.StripeJS = key, jsURL
		if log != nil {
			c.Log = log
		}
	})
}

func (as *appStack) cashOffer(t *testing.T, title string) {
	t.Helper()
	res := as.Do("POST", "/v1/offers", as.Keys["marketer"], map[string]any{"title": title, "points_cost": 100,
		"cash_price": map[string]any{"amount": 500, "currency": "EUR"}, "stock": 5})
	if res.Status != http.StatusCreated {
		t.Fatalf("cash offer: %d %s", res.Status, res.Body)
	}
}

func (as *appStack) redemptions(t *testing.T, member string) []redemptionOut {
	t.Helper()
	var reds struct {
		Items []redemptionOut `json:"items"`
	}
	as.Do("GET", "/v1/members/"+member+"/redemptions", as.MemberToken(member), nil).Decode(t, &reds)
	return reds.Items
}

type redemptionOut struct {
	RedemptionID string `json:"redemption_id"`
	Status       string `json:"status"`
	Code         string `json:"code"`
}

func (as *appStack) available(t *testing.T, member string) int64 {
	t.Helper()
	var m struct {
		Balance struct{ Available int64 } `json:"balance"`
	}
	as.Do("GET", "/v1/members/"+member, as.MemberToken(member), nil).Decode(t, &m)
	return m.Balance.Available
}

// Without a publishable key the app shows no cash offer, says they are claimed in store, and every page keeps the
// strict CSP — today's behaviour, even though the API takes card payments.
func TestCashOffersHiddenWithoutAPublishableKey(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	as := cashStack(t, fake, "", "", nil)
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	as.adjust(t, grace, 500, "gift")
	as.cashOffer(t, "Cinema ticket")
	if res := as.Do("POST", "/v1/offers", as.Keys["marketer"], map[string]any{"title": "Tote bag", "points_cost": 100}); res.Status != http.StatusCreated {
		t.Fatalf("offer: %d %s", res.Status, res.Body)
	}
	c := as.client(t)
	c.signIn(as, "grace@example.com")
	p := c.get("/app/rewards")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Tote bag") {
		t.Fatalf("rewards: %d %s", p.Status, p.Body)
	}
	for _, unwanted := range []string{"Cinema ticket", "data-cash", "data-stripe-key", "EUR"} {
		if strings.Contains(p.Body, unwanted) {
			t.Errorf("the rewards page without a publishable key shows %q", unwanted)
		}
	}
	if !strings.Contains(p.Body, "Rewards with a card payment are claimed in store.") {
		t.Error("the rewards page does not say that cash offers are claimed in store")
	}
	if csp := p.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, strictCSP) || strings.Contains(csp, "frame-src") {
		t.Errorf("the rewards page's CSP without a publishable key: %q", csp)
	}
	if _, err := memberapp.New(memberapp.Config{API: as.Server, Store: as.Store, JWT: as.JWT, Notifier: as.Mail,
		StripePublishableKey: "sk_test_oops"}); err == nil {
		t.Error("the app took a secret key as its publishable key")
	}
	if _, err := memberapp.New(memberapp.Config{API: as.Server, Store: as.Store, JWT: as.JWT, Notifier: as.Mail,
		StripePublishableKey: "pk_test_ok", StripeJS: "http://js.example.com/v3/"}); err == nil {
		t.Error("the app took a Stripe.js address over plain http to another machine")
	}
}

var cashForm = regexp.MustCompile(`action="(/app/rewards/[^"]+/claim)" data-once data-cash>\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="key" value="([^"]+)">`)

// With a publishable key: the cash offer is shown with its price, its page alone allows Stripe.js, a form sent
// without the card (no JavaScript) says it needs JavaScript and claims nothing, and the same form sent twice with
// a card claims once and charges once.
func TestCashClaimFormTwiceClaimsOnce(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	as := cashStack(t, fake, testPublishableKey, "", nil)
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	as.adjust(t, grace, 500, "gift")
	as.cashOffer(t, "Cinema ticket")
	c := as.client(t)
	c.signIn(as, "grace@example.com")
	p := c.get("/app/rewards")
	if !strings.Contains(html.UnescapeString(p.Body), "100 points + 5.00 EUR") || !strings.Contains(p.Body, `data-stripe-key="`+testPublishableKey+`"`) ||
		!strings.Contains(p.Body, `<script src="https://js.stripe.com/v3/"></script>`) || !strings.Contains(p.Body, "Paying by card needs JavaScript") {
		t.Fatalf("the rewards page lacks the cash offer's price, the key, Stripe.js or the no-JavaScript note:\n%s", p.Body)
	}
	want := "default-src 'none'; script-src 'self' https://js.stripe.com https://*.js.stripe.com; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self' https://api.stripe.com; frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com; " +
		"manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if got := p.Header.Get("Content-Security-Policy"); got != want {
		t.Errorf("the rewards page's CSP:\n got %s\nwant %s", got, want)
	}
	for _, path := range []string{"/app/", "/app/history", "/app/settings"} {
		if got := c.get(path); !strings.HasPrefix(got.Header.Get("Content-Security-Policy"), strictCSP) || strings.Contains(got.Body, "stripe") {
			t.Errorf("%s (no card taken there) has CSP %q or loads Stripe.js", path, got.Header.Get("Content-Security-Policy"))
		}
	}
	m := cashForm.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatal("no cash claim form on the rewards page")
	}
	// Without JavaScript the form carries no card.
	if got := c.do("POST", m[1], url.Values{"csrf": {m[2]}, "key": {m[3]}, "payment_method": {""}}); got.Status != http.StatusBadRequest ||
		!strings.Contains(got.Body, "Paying by card needs JavaScript") {
		t.Errorf("a cash claim without a card: %d %s", got.Status, got.Body)
	}
	if n := len(as.redemptions(t, grace)); n != 0 || fake.Created() != 0 {
		t.Fatalf("a claim without a card made %d redemptions, %d charges", n, fake.Created())
	}
	form := url.Values{"csrf": {m[2]}, "key": {m[3]}, "payment_method": {"pm_card_visa"}}
	first, second := c.do("POST", m[1], form), c.do("POST", m[1], form)
	if first.Status != http.StatusSeeOther || second.Status != http.StatusSeeOther || first.Header.Get("Location") != second.Header.Get("Location") {
		t.Fatalf("two taps: %d %s, %d %s", first.Status, first.Header.Get("Location"), second.Status, second.Header.Get("Location"))
	}
	if reds := as.redemptions(t, grace); len(reds) != 1 || reds[0].Status != "completed" || fake.Created() != 1 || as.available(t, grace) != 400 {
		t.Fatalf("after two taps: %+v, %d charges, %d points available", reds, fake.Created(), as.available(t, grace))
	}
	page := c.get(first.Header.Get("Location"))
	if !strings.Contains(page.Body, `id="code"`) || !strings.Contains(page.Body, "Card payment: 5.00 EUR") ||
		!strings.HasPrefix(page.Header.Get("Content-Security-Policy"), strictCSP) || strings.Contains(page.Body, "data-client-secret") {
		t.Errorf("the paid redemption's page (no card step left, so the strict CSP):\n%s", page.Body)
	}
	if st := c.get(first.Header.Get("Location") + "/status"); st.Status != http.StatusOK || strings.TrimSpace(st.Body) != `{"status":"completed"}` {
		t.Errorf("the redemption's status for the page's script: %d %s", st.Status, st.Body)
	}
}

// stripeJS is a stand-in for Stripe.js, served on a loopback port as the app's StripeJS: Stripe(key) gives an
// object whose elements().create("card").mount() frames a page of the stand-in's (so the CSP must allow its frames),
// whose createPaymentMethod asks the stand-in (connect-src) for the test's next token, and whose handleNextAction
// hands the client_secret to the stand-in, which completes 3-D Secure on stripefake and delivers Stripe's signed
// webhook to the API, as the member's bank and Stripe would.
type stripeJS struct {
	*httptest.Server
	fake   *stripefake.Server
	apiURL string

	mu                       sync.Mutex
	next                     string // the PaymentMethod createPaymentMethod returns next
	scripts, frames          int
	keys, secrets, addresses []string
	errs                     []error
}

const standInJS = `"use strict";
(function () {
  var origin = %q;
  var post = function (path, body) {
    return fetch(origin + path, { method: "POST", body: body }).then(function (r) { return r.json(); });
  };
  window.Stripe = function (key) {
    return {
      elements: function () {
        return { create: function () {
          return { mount: function (el) {
            var f = document.createElement("iframe");
            f.src = origin + "/elements/card";
            f.title = "Card (test stand-in)";
            el.appendChild(f);
          } };
        } };
      },
      createPaymentMethod: function (opts) { return post("/payment_methods", key + " " + opts.type); },
      handleNextAction: function (opts) { return post("/next_action", opts.clientSecret); }
    };
  };
})();
`

func startStripeJS(t *testing.T, fake *stripefake.Server) *stripeJS {
	s := &stripeJS{fake: fake}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stripeJS) setNext(pm string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = pm
}

func (s *stripeJS) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.addresses = append(s.addresses, r.RequestURI)
	s.mu.Unlock()
	w.Header().Set("Access-Control-Allow-Origin", "*")
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == "GET" && r.URL.Path == "/v3/":
		s.mu.Lock()
		s.scripts++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprintf(w, standInJS, "http://"+r.Host)
	case r.Method == "GET" && r.URL.Path == "/elements/card":
		s.mu.Lock()
		s.frames++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>card</title><p>4242 4242 4242 4242</p>`)
	case r.Method == "POST" && r.URL.Path == "/payment_methods":
		s.mu.Lock()
		s.keys = append(s.keys, string(body))
		pm := s.next
		s.mu.Unlock()
		writeJSON(w, map[string]any{"paymentMethod": map[string]any{"id": pm, "object": "payment_method", "type": "card"}})
	case r.Method == "POST" && r.URL.Path == "/next_action":
		secret := string(body)
		s.mu.Lock()
		s.secrets = append(s.secrets, secret)
		s.mu.Unlock()
		pi, err := s.authenticate(secret)
		if err != nil {
			s.mu.Lock()
			s.errs = append(s.errs, err)
			s.mu.Unlock()
			writeJSON(w, map[string]any{"error": map[string]any{"message": err.Error()}})
			return
		}
		writeJSON(w, map[string]any{"paymentIntent": pi})
	default:
		http.NotFound(w, r)
	}
}

// authenticate completes 3-D Secure of the PaymentIntent of clientSecret on stripefake and delivers the signed
// payment_intent.succeeded event to the API's webhook.
func (s *stripeJS) authenticate(clientSecret string) (json.RawMessage, error) {
	id, ok := strings.CutSuffix(clientSecret, "_secret_fake")
	if !ok {
		return nil, fmt.Errorf("not a client secret of stripefake: %q", clientSecret)
	}
	payload, err := s.fake.Authenticate(id, true)
	if err != nil {
		return nil, err
	}
	event, _ := json.Marshal(map[string]any{"id": "evt_" + id, "object": "event", "type": "payment_intent.succeeded",
		"api_version": "2023-10-16", "data": map[string]any{"object": json.RawMessage(payload)}})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: testWebhookSecret})
	req, _ := http.NewRequest("POST", s.apiURL+"/v1/webhooks/stripe", bytes.NewReader(event))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", signed.Header)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("the webhook answered %d %s", res.StatusCode, b)
	}
	return payload, nil
}

// within runs steps as do does, failing after d rather than the tab's three minutes.
func within(t *testing.T, ctx context.Context, d time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	do(t, ctx, what, steps...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// TestCashOfferInABrowser: a member claims a cash offer in Chromium with a card that needs 3-D Secure — Stripe.js
// (the stand-in) makes the PaymentMethod, the claim asks for the bank's check, the redemption page hands its
// client_secret to handleNextAction, Stripe's webhook tells the API, and the page ends showing the code; a card that
// is declined shows why; the card pages allow the stand-in's origin in their CSP and no other page does; the
// client_secret is in no address and no log.
func TestCashOfferInABrowser(t *testing.T) {
	browser := startBrowser(t)
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	js := startStripeJS(t, fake)
	logs := &testkit.SyncBuffer{}
	as := cashStack(t, fake, testPublishableKey, js.URL+"/v3/", slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	js.apiURL = as.API.URL
	grace := as.register(t, "grace@example.com", "Grace Hopper")
	as.adjust(t, grace, 1000, "welcome gift")
	as.cashOffer(t, "Cinema ticket")
	if res := as.Do("POST", "/v1/offers", as.Keys["marketer"], map[string]any{"title": "Free coffee", "points_cost": 50}); res.Status != http.StatusCreated {
		t.Fatalf("offer: %d %s", res.Status, res.Body)
	}
	origin := js.URL
	cardCSP := "default-src 'none'; script-src 'self' " + origin + "; style-src 'self'; img-src 'self' data:; connect-src 'self' " + origin +
		"; frame-src " + origin + "; manifest-src 'self';"

	g := phone(t, browser)
	signInPhone(t, as, g, "grace@example.com") // the home page, with the strict CSP (open checks it)

	// A card that asks for 3-D Secure.
	js.setNext("pm_card_threeDSecure2Required")
	chrome.Open(t, g, as.URL+"/app/rewards", cardCSP)
	within(t, g, time.Minute, "the card field", chromedp.WaitVisible(chromedp.CSS(`form[data-cash] [data-card-field] iframe`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-cash] button`)))
	if price := text(t, g, `form[data-cash]`); strings.Contains(price, "needs JavaScript") {
		t.Errorf("the cash form says it needs JavaScript in a browser that runs it: %q", price)
	}
	if got := strings.ReplaceAll(text(t, g, `.offers`), "\u202f", " "); !strings.Contains(got, "100 points + 5.00 EUR") || !strings.Contains(got, "50 points") {
		t.Errorf("the rewards page shows %q", got)
	}
	screenshot(t, g, "rewards-cash")
	checkAccessibility(t, g, "rewards with a cash offer")
	// A double tap: the script sends the form once.
	if _, err := chromedp.Run(g, chromedp.Evaluate[bool](`(() => { const b = document.querySelector("form[data-cash] button"); b.click(); b.click(); return true; })()`)); err != nil {
		t.Fatalf("pay and claim: %v", err)
	}
	within(t, g, 2*time.Minute, "3-D Secure, then the code", chromedp.WaitVisible(chromedp.CSS(`#code`)))
	code := text(t, g, `#code`)
	reds := as.redemptions(t, grace)
	if len(reds) != 1 || reds[0].Code != code || code == "" || reds[0].Status != "completed" {
		t.Fatalf("the page shows code %q; the API has %+v", code, reds)
	}
	intents := fake.Intents()
	if len(intents) != 1 || intents[0].Status != "succeeded" || intents[0].PaymentMethod != "pm_card_threeDSecure2Required" || intents[0].Amount != 500 {
		t.Fatalf("payment intents: %+v", intents)
	}
	if got := as.available(t, grace); got != 900 {
		t.Errorf("available after a claim of 100 points + 5.00 EUR: %d", got)
	}
	js.mu.Lock()
	secrets, keys, frames, scripts, errs := append([]string(nil), js.secrets...), append([]string(nil), js.keys...), js.frames, js.scripts, js.errs
	js.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("the stand-in's 3-D Secure: %v", errs)
	}
	if len(secrets) != 1 || secrets[0] != intents[0].ID+"_secret_fake" || len(keys) != 1 || keys[0] != testPublishableKey+" card" || frames < 1 || scripts < 2 {
		t.Fatalf("Stripe.js was asked for payment methods %v, next actions %v; served %d scripts, %d card frames", keys, secrets, scripts, frames)
	}
	// The finished redemption's page takes no card: the strict CSP again.
	open(t, g, as.URL+"/app/redemptions/"+reds[0].RedemptionID)
	do(t, g, "the code again", chromedp.WaitVisible(chromedp.CSS(`#code`)))

	// A card that is declined: the page says so, the points come back.
	js.setNext("pm_card_chargeDeclined")
	chrome.Open(t, g, as.URL+"/app/rewards", cardCSP)
	within(t, g, time.Minute, "pay with a declined card", chromedp.WaitVisible(chromedp.CSS(`form[data-cash] [data-card-field] iframe`)),
		chromedp.Click(chromedp.CSS(`form[data-cash] button`)), chromedp.WaitVisible(chromedp.CSS(`main p.error`)))
	if got := text(t, g, `main p.error`); got != "This reward could not be given: Your card was declined." {
		t.Errorf("the declined claim's page says %q", got)
	}
	if got := as.available(t, grace); got != 900 {
		t.Errorf("available after a declined claim: %d, want 900", got)
	}
	screenshot(t, g, "redemption-declined")

	// The client_secret went into the page only: no address the browser asked for, no log line.
	secret := secrets[0]
	js.mu.Lock()
	addresses := strings.Join(js.addresses, "\n")
	js.mu.Unlock()
	for where, text := range map[string]string{"the app's requests": as.Requests.String(), "the stand-in's requests": addresses, "the logs": logs.String()} {
		if strings.Contains(text, secret) || strings.Contains(text, "_secret_") {
			t.Errorf("the client_secret is in %s", where)
		}
	}
	if !strings.Contains(logs.String(), "member app request") {
		t.Error("the app's log was not captured: the check above proves nothing")
	}
}
