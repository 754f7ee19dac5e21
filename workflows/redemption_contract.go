package workflows

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Redemption workflow contract: one saga per claim of an offer, id redemption/<redemption id>.
const (
	// RedemptionWorkflowName is the registered name of RedemptionWorkflow.
	RedemptionWorkflowName = "Redemption"
	// SignalRedemptionPayment delivers a PaymentEvent (from the Stripe webhook) to a redemption awaiting payment.
	SignalRedemptionPayment = "payment"
	// SignalRedemptionCancel asks for the redemption to be cancelled and compensated (a CancelRequest). Ignored
	// after the cancel window, and refused once the redemption's coupon code was used.
	SignalRedemptionCancel = "cancel"
	// SignalRedemptionCouponUsed tells the saga its coupon code was used at a till (a domain.CouponUse, committed
	// by the store before the signal): the state shows it, and the saga ends, since nothing can cancel it any more.
	SignalRedemptionCouponUsed = "coupon-used"
	// QueryRedemptionState returns the RedemptionState (registered as "state" like every entity workflow).
	QueryRedemptionState = QueryState
)

// DefaultRedemptionPaymentWait is how long a payment that requires 3-D Secure waits for the member by default.
const DefaultRedemptionPaymentWait = 15 * time.Minute

// Activities of the saga (see activity.go): the forward steps, then what compensates them.
var (
	// OpenRedemption records the claim.
	OpenRedemption = newAction[domain.RedemptionClaim]("OpenRedemption")
	// HoldPoints holds the claim's points.
	HoldPoints = newAction[domain.RedemptionClaim]("HoldPoints")
	// ReserveStock reserves one unit of the reward.
	ReserveStock = newAction[domain.RedemptionClaim]("ReserveStock")
	// ChargePayment charges the cash part by card (idempotency key from the redemption).
	ChargePayment = newActivity[domain.RedemptionClaim, domain.PaymentOutcome]("ChargePayment")
	// ConfirmPayment re-reads a payment (redemption id, PaymentIntent id) after 3-D Secure.
	ConfirmPayment = newActivity2[string, string, domain.PaymentOutcome]("ConfirmPayment")
	// FulfilRedemption issues the coupon code and returns it: the step of sagas recorded before IssueCoupon
	// (GetVersion change "coupons").
	FulfilRedemption = newActivity[domain.RedemptionClaim, string]("FulfilRedemption")
	// IssueCoupon issues the coupon code, sealed in the store; the code never enters the history.
	IssueCoupon = newActivity[domain.RedemptionClaim, domain.CouponIssue]("IssueCoupon")
	// VoidCoupon voids the coupon code before the saga gives anything back, or reports it used (redemption id).
	VoidCoupon = newActivity[string, domain.CouponVoid]("VoidCoupon")
	// CommitRedemption spends the held points.
	CommitRedemption = newAction[domain.RedemptionClaim]("CommitRedemption")
	// FindLostPayment finds the PaymentIntent of a charge whose answer was lost (its id, or "" when none took money).
	FindLostPayment = newActivity[domain.RedemptionClaim, string]("FindLostPayment")
	// RefundPayment refunds the payment (redemption id, PaymentIntent id).
	RefundPayment = newActivity2[string, string, string]("RefundPayment")
	// ReleaseStock gives the reserved unit back (redemption id).
	ReleaseStock = newAction[string]("ReleaseStock")
	// ReleasePoints releases the points held (redemption id).
	ReleasePoints = newActivity[string, int64]("ReleasePoints")
	// FinishRedemption records how the redemption ended (redemption id, status, reason).
	FinishRedemption = newAction3[string, domain.RedemptionStatus, string]("FinishRedemption")
)

// RedemptionWorkflowID is the workflow id of a redemption.
func RedemptionWorkflowID(redemptionID string) string { return "redemption/" + redemptionID }

// RedemptionInput starts a redemption saga.
type RedemptionInput struct {
	Claim domain.RedemptionClaim `json:"claim"`
	// PaymentWait is how long a payment that requires 3-D Secure may wait for the member (default
	// DefaultRedemptionPaymentWait); after it the redemption is compensated.
	PaymentWait time.Duration `json:"payment_wait,omitempty"`
}

// RedemptionStartOptions are the options the API starts a redemption with.
func RedemptionStartOptions(c domain.RedemptionClaim, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        RedemptionWorkflowID(c.RedemptionID),
		TaskQueue: taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			SearchAttrMemberID.ValueSet(c.MemberID),
			SearchAttrRedemptionStatus.ValueSet(string(domain.RedemptionPending))),
		StaticSummary: "Redemption of offer " + c.OfferID + " by member " + c.MemberID,
	}
}

// PaymentEvent is what Stripe said about a PaymentIntent (the webhook's event type and the intent id); the saga
// re-reads the intent from Stripe before believing it.
type PaymentEvent struct {
	EventID         string `json:"event_id"`
	Type            string `json:"type"`
	PaymentIntentID string `json:"payment_intent_id"`
}

// CancelRequest asks to cancel a redemption.
type CancelRequest struct {
	Actor string `json:"actor"`
}

// RedemptionState is the answer to the state query, and the workflow's result.
type RedemptionState struct {
	RedemptionID    string                  `json:"redemption_id"`
	MemberID        string                  `json:"member_id"`
	OfferID         string                  `json:"offer_id"`
	Status          domain.RedemptionStatus `json:"status"`
	FailureReason   string                  `json:"failure_reason,omitempty"`
	PaymentIntentID string                  `json:"payment_intent_id,omitempty"`
	// Code is the coupon code of sagas recorded before codes were sealed; newer ones show Coupon instead.
	Code string `json:"code,omitempty"`
	// Coupon is where the coupon code stands (valid, used, cancelled) and its use, without the code.
	Coupon *domain.RedemptionCoupon `json:"coupon,omitempty"`
	// Held lists what the saga holds and would give back on failure, in the order taken.
	Held []string `json:"held"`
	// CancelledBy is who asked for the cancel.
	CancelledBy string `json:"cancelled_by,omitempty"`
	// CancelRefused says why a cancel asked for was refused (the coupon code was used meanwhile).
	CancelRefused string `json:"cancel_refused,omitempty"`
}
