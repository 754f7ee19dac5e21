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
	// after the cancel window.
	SignalRedemptionCancel = "cancel"
	// QueryRedemptionState returns the RedemptionState (registered as "state" like every entity workflow).
	QueryRedemptionState = QueryState
)

// Activity names of the saga.
const (
	ActivityOpenRedemption       = "OpenRedemption"
	ActivityHoldPoints           = "HoldPoints"
	ActivityReserveStock         = "ReserveStock"
	ActivityChargePayment        = "ChargePayment"
	ActivityConfirmPayment       = "ConfirmPayment"
	ActivityFulfilRedemption     = "FulfilRedemption"
	ActivityCommitRedemption     = "CommitRedemption"
	ActivityRefundPayment        = "RefundPayment"
	ActivityReleaseStock         = "ReleaseStock"
	ActivityReleasePoints        = "ReleasePoints"
	ActivityFinishRedemption     = "FinishRedemption"
	DefaultRedemptionPaymentWait = 15 * time.Minute
)

// SearchAttrRedemptionStatus is the redemption's status, kept current by the saga so support can search
// `RedemptionStatus = "failed"`.
var SearchAttrRedemptionStatus = temporal.NewSearchAttributeKeyKeyword("RedemptionStatus")

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
	Code            string                  `json:"code,omitempty"`
	// Held lists what the saga holds and would give back on failure, in the order taken.
	Held []string `json:"held"`
	// CancelledBy is who asked for the cancel.
	CancelledBy string `json:"cancelled_by,omitempty"`
}
