package memberapp

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Cash offers: an offer with a cash price is paid by card. The card never touches perkflow: Stripe.js (loaded
// from Stripe, on the pages that take a card only) turns it into a PaymentMethod (pm_…), which the claim form sends
// to the API's claim (payment_method). When the bank asks for 3-D Secure, the redemption page hands the
// redemption's client_secret to Stripe.js (stripe.handleNextAction) and then polls the redemption until the saga,
// told by Stripe's webhook, completes or fails it. Without a publishable key cash offers are not shown.

// DefaultStripeJS is where Stripe.js is loaded from, unless Config.StripeJS says otherwise.
const DefaultStripeJS = "https://js.stripe.com/v3/"

// stripeOrigin is Stripe.js's own origin: its card field and 3-D Secure frames come from it and its subdomains and
// from hooks.stripe.com, and it talks to api.stripe.com.
const stripeOrigin = "https://js.stripe.com"

// setUpStripe checks the Stripe settings and makes the CSP of the pages that load Stripe.js.
func (a *App) setUpStripe() error {
	key := a.cfg.StripePublishableKey
	if key == "" {
		return nil
	}
	if !strings.HasPrefix(key, "pk_") {
		return fmt.Errorf("memberapp: the Stripe key given to members' browsers must be a publishable key (pk_…)")
	}
	if a.cfg.StripeJS == "" {
		a.cfg.StripeJS = DefaultStripeJS
	}
	policy, err := stripePolicy(a.cfg.StripeJS)
	if err != nil {
		return err
	}
	a.stripeCSP = policy
	return nil
}

// stripePolicy is the app's CSP with Stripe.js allowed: its script, its frames (the card field, 3-D Secure) and the
// API it calls. Still nothing inline, and no other origin.
func stripePolicy(jsURL string) (string, error) {
	u, err := url.Parse(jsURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("memberapp: the address of Stripe.js %q is not an http(s) URL", jsURL)
	}
	// The script that takes members' cards comes over TLS; plain http only from this machine (tests, a local proxy).
	if ip := net.ParseIP(u.Hostname()); u.Scheme == "http" && u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("memberapp: the address of Stripe.js %q must use https (http only to a loopback address)", jsURL)
	}
	origin := u.Scheme + "://" + u.Host
	script, frame, connect := origin, origin, origin
	if origin == stripeOrigin {
		script = stripeOrigin + " https://*.js.stripe.com"
		frame = stripeOrigin + " https://*.js.stripe.com https://hooks.stripe.com"
		connect = "https://api.stripe.com"
	}
	return "default-src 'none'; script-src 'self' " + script + "; style-src 'self'; img-src 'self' data:; connect-src 'self' " + connect +
		"; frame-src " + frame + "; manifest-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", nil
}

// cashShown says whether the app takes cards (a publishable key is configured).
func (a *App) cashShown() bool { return a.stripeCSP != "" }

// useStripe makes the page being answered load Stripe.js, under the CSP that allows it.
func (q *request) useStripe(v *view) {
	q.w.Header().Set("Content-Security-Policy", q.a.stripeCSP)
	v.StripeJS, v.StripeKey = q.a.cfg.StripeJS, q.a.cfg.StripePublishableKey
}

// claimBody is the claim's body: the PaymentMethod Stripe.js made for a cash offer, or none.
func claimBody(r *http.Request) any {
	if pm := r.PostFormValue("payment_method"); pm != "" {
		return map[string]string{"payment_method": pm}
	}
	return nil
}

// redemptionStatus answers the status of a redemption as JSON, for the redemption page's script to poll while
// the payment is confirmed (never the client_secret, never the code: the page reloads to show them).
func (a *App) redemptionStatus(q *request) {
	var red struct {
		Status string `json:"status"`
	}
	q.w.Header().Set("Content-Type", "application/json")
	_, err := q.call("GET", "/v1/redemptions/"+url.PathEscape(chi.URLParam(q.r, "redemptionId")), nil, &red)
	if err != nil {
		status := http.StatusInternalServerError
		if e, ok := err.(*apiError); ok && e.Status < 500 {
			status = e.Status
		} else {
			a.log.ErrorContext(q.r.Context(), "member app error", "error", err)
		}
		q.w.WriteHeader(status)
		_, _ = q.w.Write([]byte(`{"status":""}`))
		return
	}
	_ = json.NewEncoder(q.w).Encode(red)
}
