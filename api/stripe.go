package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
	"go.temporal.io/api/serviceerror"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// POST /v1/webhooks/stripe: Stripe's payment events for the redemption saga, authenticated by signature.

// stripeWebhook receives Stripe's payment events. It authenticates by the Stripe-Signature header (bad → 400), then
// signals the redemption named in the PaymentIntent's metadata; the saga re-reads the PaymentIntent from Stripe.
func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		fail(w, r, problem(errBodyTooLarge, "the body must be at most 1 MiB"))
		return
	}
	if s.cfg.Rewards.StripeWebhookSecret == "" {
		fail(w, r, problem(domain.ErrInvalid, "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"))
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), s.cfg.Rewards.StripeWebhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		fail(w, r, problem(domain.ErrInvalid, "the Stripe-Signature is missing or does not match"))
		return
	}
	ack := map[string]any{"received": true}
	if !strings.HasPrefix(string(ev.Type), "payment_intent.") || ev.Data == nil {
		writeJSON(w, http.StatusOK, ack)
		return
	}
	var pi stripe.PaymentIntent
	if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
		fail(w, r, problem(domain.ErrInvalid, "the event does not hold a PaymentIntent"))
		return
	}
	id := pi.Metadata["redemption_id"]
	if !domain.ValidMemberID(id) {
		writeJSON(w, http.StatusOK, ack) // not one of ours
		return
	}
	err = s.cfg.Temporal.SignalWorkflow(r.Context(), workflows.RedemptionWorkflowID(id), "", workflows.SignalRedemptionPayment,
		workflows.PaymentEvent{EventID: ev.ID, Type: string(ev.Type), PaymentIntentID: pi.ID})
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		fail(w, r, temporalRefused(err)) // 503: Stripe delivers it again
		return
	}
	writeJSON(w, http.StatusOK, ack)
}
