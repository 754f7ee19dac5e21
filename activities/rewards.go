package activities

import (
	"context"
	"crypto/rand"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Rewards holds what the redemption saga needs beyond the store.
type Rewards struct {
	// Payments charges the cash part of offers; nil when perkflow runs without Stripe (points-only offers work,
	// cash offers fail with ErrTypePaymentsUnavailable).
	Payments *StripePayments
	// IssueCode issues the reward's coupon code; nil issues a random, unguessable one. The claim's redemption id
	// is the idempotency key for a partner that issues codes itself.
	IssueCode func(ctx context.Context, c domain.RedemptionClaim) (string, error)
}

// ErrTypeFulfilment: the reward could not be issued.
const ErrTypeFulfilment = "fulfilment_failed"

// OpenRedemption records the claim as pending, so that the API can show it.
func (a *Activities) OpenRedemption(ctx context.Context, c domain.RedemptionClaim) error {
	return classify(a.Store.OpenRedemption(ctx, c))
}

// HoldPoints holds the claim's points (ledger key hold:<redemption id>); too few → non-retryable "unprocessable".
func (a *Activities) HoldPoints(ctx context.Context, c domain.RedemptionClaim) error {
	_, err := a.Store.HoldPoints(ctx, c.RedemptionID, c.MemberID, c.Points, a.Store.Now())
	if domain.CodeOf(err) == domain.ErrUnprocessable {
		return temporal.NewNonRetryableApplicationError("You do not have enough points available for this reward.", string(domain.ErrUnprocessable), nil)
	}
	return classify(err)
}

// ReserveStock takes one unit of the offer for the claim; none left → non-retryable "unprocessable".
func (a *Activities) ReserveStock(ctx context.Context, c domain.RedemptionClaim) error {
	err := a.Store.ReserveStock(ctx, c.RedemptionID, c.OfferID)
	if domain.CodeOf(err) == domain.ErrUnprocessable {
		return temporal.NewNonRetryableApplicationError("This reward is out of stock.", string(domain.ErrUnprocessable), nil)
	}
	return classify(err)
}

// ChargePayment charges the claim's cash part through Stripe and records the outcome (charged, or
// awaiting_payment for 3-D Secure).
func (a *Activities) ChargePayment(ctx context.Context, c domain.RedemptionClaim) (domain.PaymentOutcome, error) {
	if a.Rewards.Payments == nil {
		return domain.PaymentOutcome{}, temporal.NewNonRetryableApplicationError(
			"Card payments are not available right now; this reward cannot be paid for.", ErrTypePaymentsUnavailable, nil)
	}
	p, err := a.Rewards.Payments.Charge(ctx, c)
	if err != nil {
		return p, err
	}
	if p.Status != "succeeded" && p.Status != "requires_action" {
		return p, temporal.NewNonRetryableApplicationError("The payment did not go through (status "+p.Status+").", ErrTypePaymentDeclined, nil)
	}
	if err := a.Store.RecordPayment(ctx, c.RedemptionID, p); err != nil {
		return p, classify(err)
	}
	// The client secret goes to the member's app through the API (from the store), never into workflow history.
	p.ClientSecret = ""
	return p, nil
}

// ConfirmPayment reads the PaymentIntent from Stripe after 3-D Secure and records it when it succeeded.
func (a *Activities) ConfirmPayment(ctx context.Context, redemptionID, paymentIntentID string) (domain.PaymentOutcome, error) {
	if a.Rewards.Payments == nil {
		return domain.PaymentOutcome{}, temporal.NewNonRetryableApplicationError("card payments are not configured", ErrTypePaymentsUnavailable, nil)
	}
	p, err := a.Rewards.Payments.PaymentStatus(ctx, paymentIntentID)
	if err != nil || p.Status != "succeeded" {
		return p, err
	}
	return p, classify(a.Store.RecordPayment(ctx, redemptionID, p))
}

// IssueCoupon issues the reward's coupon code — recorded sealed, keeping the first one on a retry, valid for the
// offer's code_valid_days — and marks the redemption fulfilled. The code itself is not returned, so that it never
// enters the saga's history: its member reads it from the redemption, and the message that tells them carries it
// from the store (domain.NotificationCouponOf).
func (a *Activities) IssueCoupon(ctx context.Context, c domain.RedemptionClaim) (domain.CouponIssue, error) {
	code, err := a.drawCode(ctx, c)
	if err != nil {
		return domain.CouponIssue{}, err
	}
	issued, err := a.Store.IssueCoupon(ctx, c, code, a.Store.Now())
	return issued, classify(err)
}

// FulfilRedemption issues the reward's coupon code as IssueCoupon does, and returns it: what sagas started before
// IssueCoupon existed call (their recorded histories hold the code already).
func (a *Activities) FulfilRedemption(ctx context.Context, c domain.RedemptionClaim) (string, error) {
	code, err := a.drawCode(ctx, c)
	if err != nil {
		return "", err
	}
	kept, err := a.Store.FulfilRedemption(ctx, c.RedemptionID, code)
	return kept, classify(err)
}

// VoidCoupon voids the redemption's code before the redemption is given back, or reports that it was used (then the
// redemption stands).
func (a *Activities) VoidCoupon(ctx context.Context, redemptionID string) (domain.CouponVoid, error) {
	v, err := a.Store.VoidCoupon(ctx, redemptionID, a.Store.Now())
	return v, classify(err)
}

func (a *Activities) drawCode(ctx context.Context, c domain.RedemptionClaim) (string, error) {
	issue := a.Rewards.IssueCode
	if issue == nil {
		issue = randomCode
	}
	return issue(ctx, c)
}

// codeAlphabet leaves out letters and digits that people confuse (0/O, 1/I/L).
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// randomCode draws a 16-character code from crypto/rand: 31^16 ≈ 7·10^23 codes, so none can be guessed.
func randomCode(context.Context, domain.RedemptionClaim) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	out := make([]byte, 0, 19)
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		// 256 is not a multiple of 31; the bias (at most 1/8 for a few letters) leaves ~10^23 likely codes.
		out = append(out, codeAlphabet[int(x)%len(codeAlphabet)])
	}
	return string(out), nil
}

// CommitRedemption makes the held points spent and marks the redemption completed.
func (a *Activities) CommitRedemption(ctx context.Context, c domain.RedemptionClaim) error {
	if c.Points > 0 {
		if err := a.Store.CommitPoints(ctx, c.RedemptionID); err != nil {
			return classify(err)
		}
	}
	return classify(a.Store.SetRedemptionStatus(ctx, c.RedemptionID, domain.RedemptionCompleted, ""))
}

// RefundPayment gives the money back (refund, or cancel of an unfinished payment). Retried until it succeeds.
func (a *Activities) RefundPayment(ctx context.Context, redemptionID, paymentIntentID string) (string, error) {
	if a.Rewards.Payments == nil {
		return "", fmt.Errorf("cannot refund %s: Stripe is not configured", redemptionID)
	}
	id, err := a.Rewards.Payments.Refund(ctx, redemptionID, paymentIntentID)
	if err != nil {
		return "", err
	}
	if id != "" {
		if err := a.Store.RecordRefund(ctx, redemptionID, id); err != nil {
			return id, err
		}
	}
	return id, nil
}

// FindLostPayment finds the PaymentIntent of a claim whose charge never answered (its retries ran out), so that the
// compensation can refund it: its id, or "" when no payment took or may take money.
func (a *Activities) FindLostPayment(ctx context.Context, c domain.RedemptionClaim) (string, error) {
	if a.Rewards.Payments == nil {
		return "", nil
	}
	return a.Rewards.Payments.FindPayment(ctx, c.RedemptionID, c.ClaimedAt)
}

// ReleaseStock gives the reserved unit back. Idempotent.
func (a *Activities) ReleaseStock(ctx context.Context, redemptionID string) error {
	return a.Store.ReleaseStock(ctx, redemptionID)
}

// ReleasePoints gives the held points back to the lots they came from. Idempotent.
func (a *Activities) ReleasePoints(ctx context.Context, redemptionID string) (int64, error) {
	return a.Store.ReleasePoints(ctx, redemptionID, a.Store.Now())
}

// FinishRedemption records how a compensated redemption ended (failed or cancelled) and why.
func (a *Activities) FinishRedemption(ctx context.Context, redemptionID string, status domain.RedemptionStatus, reason string) error {
	return a.Store.SetRedemptionStatus(ctx, redemptionID, status, reason)
}
