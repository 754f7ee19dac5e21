package activities

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Application error types of payment failures that no retry can fix.
const (
	// ErrTypePaymentDeclined: the card was declined (Stripe card_error); the message is for the member.
	ErrTypePaymentDeclined = "payment_declined"
	// ErrTypePaymentRejected: Stripe refused the request itself (invalid_request_error); a bug or bad configuration.
	ErrTypePaymentRejected = "payment_rejected"
	// ErrTypePaymentsUnavailable: perkflow runs without Stripe, so cash offers cannot be paid.
	ErrTypePaymentsUnavailable = "payments_unavailable"
)

// StripeConfig says how to reach Stripe: the secret key, and the API base (https://api.stripe.com, or stripe-mock).
type StripeConfig struct {
	SecretKey string
	APIBase   string
	// Transport carries the requests (default http.DefaultTransport); the worker gives a traced one.
	Transport http.RoundTripper
}

// StripePayments charges and refunds through Stripe PaymentIntents, with idempotency keys derived from the
// redemption so that retries never charge or refund twice.
type StripePayments struct {
	api *client.API
}

// NewStripePayments builds the Stripe client. stripe-go's own retries are off: Temporal retries the activities.
func NewStripePayments(cfg StripeConfig) *StripePayments {
	base := strings.TrimRight(cfg.APIBase, "/")
	if base == "" {
		base = stripe.APIURL
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(base),
		HTTPClient:        &http.Client{Timeout: 30 * time.Second, Transport: cfg.Transport},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	api := &client.API{}
	api.Init(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	return &StripePayments{api: api}
}

// Charge creates and confirms the redemption's PaymentIntent (Idempotency-Key redemption-<id>-charge): succeeded,
// or requires_action with the client secret for 3-D Secure. A decline is a non-retryable error of type
// ErrTypePaymentDeclined whose message a member can read; outages (5xx, 429, network) stay retryable.
func (p *StripePayments) Charge(ctx context.Context, c domain.RedemptionClaim) (domain.PaymentOutcome, error) {
	params := &stripe.PaymentIntentParams{
		Amount:             stripe.Int64(c.Cash.Amount),
		Currency:           stripe.String(strings.ToLower(c.Cash.Currency)),
		PaymentMethod:      stripe.String(c.PaymentMethod),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		Confirm:            stripe.Bool(true),
		Description:        stripe.String("Reward: " + c.Title),
	}
	params.Context = ctx
	params.AddMetadata("redemption_id", c.RedemptionID)
	params.AddMetadata("offer_id", c.OfferID)
	params.SetIdempotencyKey(domain.ChargeIdempotencyKey(c.RedemptionID))
	pi, err := p.api.PaymentIntents.New(params)
	if err != nil {
		return domain.PaymentOutcome{}, classifyStripe("charge "+c.RedemptionID, err)
	}
	return outcome(pi), nil
}

// PaymentStatus reads a PaymentIntent as Stripe has it now (after 3-D Secure, never trusting a webhook's body).
func (p *StripePayments) PaymentStatus(ctx context.Context, paymentIntentID string) (domain.PaymentOutcome, error) {
	params := &stripe.PaymentIntentParams{}
	params.Context = ctx
	pi, err := p.api.PaymentIntents.Get(paymentIntentID, params)
	if err != nil {
		return domain.PaymentOutcome{}, classifyStripe("read payment "+paymentIntentID, err)
	}
	return outcome(pi), nil
}

// Refund gives the redemption's money back: a refund (Idempotency-Key redemption-<id>-refund) when the payment
// succeeded, a cancellation when it never completed. Already refunded or cancelled → done. It returns the refund id
// ("" when nothing was taken).
func (p *StripePayments) Refund(ctx context.Context, redemptionID, paymentIntentID string) (string, error) {
	pi, err := p.PaymentStatus(ctx, paymentIntentID)
	if err != nil {
		return "", err
	}
	switch pi.Status {
	case string(stripe.PaymentIntentStatusSucceeded):
		params := &stripe.RefundParams{PaymentIntent: stripe.String(paymentIntentID)}
		params.Context = ctx
		params.AddMetadata("redemption_id", redemptionID)
		params.SetIdempotencyKey(domain.RefundIdempotencyKey(redemptionID))
		re, err := p.api.Refunds.New(params)
		var se *stripe.Error
		if errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeAlreadyRefunded {
			return "", nil
		}
		if err != nil {
			return "", classifyStripe("refund "+redemptionID, err)
		}
		return re.ID, nil
	case string(stripe.PaymentIntentStatusCanceled):
		return "", nil
	case string(stripe.PaymentIntentStatusProcessing):
		return "", errors.New("the payment is still processing; retry the refund later")
	default: // never completed: cancel it so that it can never be captured
		params := &stripe.PaymentIntentCancelParams{}
		params.Context = ctx
		params.SetIdempotencyKey("redemption-" + redemptionID + "-cancel")
		if _, err := p.api.PaymentIntents.Cancel(paymentIntentID, params); err != nil {
			var se *stripe.Error
			if errors.As(err, &se) && se.Code == stripe.ErrorCodePaymentIntentUnexpectedState {
				return "", errors.New("the payment changed state while cancelling; retry") // re-read and decide again
			}
			return "", classifyStripe("cancel payment "+paymentIntentID, err)
		}
		return "", nil
	}
}

// FindPayment finds the redemption's PaymentIntent when the charge's answer was lost: the one created since the
// claim (less a margin for clocks) whose metadata['redemption_id'] is the redemption's, read from Stripe's list of
// PaymentIntents (strongly consistent, unlike search, which can lag a new PaymentIntent by a minute). It returns ""
// when none took or may take money: none was created, or it was declined (requires_payment_method) or cancelled.
func (p *StripePayments) FindPayment(ctx context.Context, redemptionID string, claimedAt time.Time) (string, error) {
	params := &stripe.PaymentIntentListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: claimedAt.Add(-10 * time.Minute).Unix()}}
	params.Context = ctx
	params.Limit = stripe.Int64(100)
	it := p.api.PaymentIntents.List(params)
	for it.Next() {
		pi := it.PaymentIntent()
		if pi.Metadata["redemption_id"] != redemptionID {
			continue
		}
		switch pi.Status {
		case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusCanceled:
			return "", nil
		}
		return pi.ID, nil
	}
	if err := it.Err(); err != nil {
		return "", classifyStripe("find the payment of "+redemptionID, err)
	}
	return "", nil
}

func outcome(pi *stripe.PaymentIntent) domain.PaymentOutcome {
	return domain.PaymentOutcome{PaymentIntentID: pi.ID, Status: string(pi.Status), ClientSecret: pi.ClientSecret}
}

// classifyStripe keeps outages retryable and makes Stripe's refusals final.
func classifyStripe(op string, err error) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return err // network: retry
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		msg := se.Msg
		if msg == "" {
			msg = "Your card was declined."
		}
		return temporal.NewNonRetryableApplicationError(msg, ErrTypePaymentDeclined, nil, string(se.Code), string(se.DeclineCode))
	case se.HTTPStatusCode >= 500, se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode == http.StatusConflict,
		se.HTTPStatusCode == 0:
		return errors.New(op + ": stripe unavailable: " + se.Msg)
	}
	return temporal.NewNonRetryableApplicationError(op+": "+se.Msg, ErrTypePaymentRejected, nil)
}
