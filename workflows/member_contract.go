// Package workflows holds perkflow's durable business processes. Each workflow's contract — its id, name, signal,
// update and query names and their inputs — sits in a *_contract.go file that the API and the worker both import,
// so that nobody types a workflow id or a signal name twice.
package workflows

import (
	"time"

	enums "go.temporal.io/api/enums/v1"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// Member workflow contract.
const (
	// MemberWorkflowName is the registered name of MemberWorkflow.
	MemberWorkflowName = "Member"
	// SignalPurchase delivers a domain.Purchase to a member's workflow. Signals are durable as soon as the server
	// accepts them, so a POS's purchase is safe even when no worker runs.
	SignalPurchase = "purchase"
	// SignalPurchases delivers a []domain.Purchase: what the API sends for a member whose accruals arrive together
	// (one signal, one history event, for up to MaxPurchasesPerSignal of them). Queued in the order received, like
	// SignalPurchase's; a worker must know it before an API process sends it (docs/operations.md, upgrading).
	SignalPurchases = "purchases"
	// UpdateRegistration waits for the member's registration to finish and returns the privacy.SealedMember, or an
	// application error of type ErrTypeConflict when the email or external id is taken.
	UpdateRegistration = "registration"
	// SignalReturn delivers a domain.Return of an accrued purchase; returns are processed after the purchases queued
	// before them.
	SignalReturn = "return"
	// UpdateRedeem spends points at a till (domain.TillRedemption → domain.OperationOutcome).
	UpdateRedeem = "redeem"
	// UpdateAdjust applies a manual credit or debit (domain.Adjustment → domain.OperationOutcome).
	UpdateAdjust = "adjust"
	// QueryState returns the MemberState.
	QueryState = "state"
	// UpdateProfile records a change of the member's profile or consent (domain.ProfileChange: who changed which
	// fields, never their values), already written to Postgres; a changed birthdate moves the birthday timer.
	UpdateProfile = "profile"
	// SignalErased tells the member's workflow that the member's personal data was erased: it drops what it holds
	// (the registration it started with, the birthdate its timer was armed from) and continues as new without it.
	SignalErased = "erased"
)

// Activities of the member workflow, by the name the worker registers them under (their method names on
// activities.Activities). SendNotification, which every workflow uses, is in shared.go.
var (
	// RegisterMember creates the member and opens their balance. Its input and result carry the member's personal
	// fields sealed under their own key (docs/privacy.md).
	RegisterMember = newActivity[privacy.SealedRegistration, privacy.SealedMember]("RegisterMember")
	// AccruePurchases accrues a batch of purchases, each once whatever the retries.
	AccruePurchases = newActivity[[]domain.Purchase, []domain.AccrualOutcome]("AccruePurchases")
	// ParkPurchases parks a chunk of a backlog of queued purchases in Postgres for the next run (member_continue.go).
	ParkPurchases = newAction[domain.ParkRequest]("ParkPurchases")
	// UnparkPurchases reads the next batch of parked purchases back.
	UnparkPurchases = newActivity[domain.UnparkRequest, []domain.Purchase]("UnparkPurchases")
	// ReturnPurchase takes back the points of a returned purchase.
	ReturnPurchase = newActivity[domain.Return, domain.OperationOutcome]("ReturnPurchase")
	// RedeemAtTill spends points at a till.
	RedeemAtTill = newActivity[domain.TillRedemption, domain.OperationOutcome]("RedeemAtTill")
	// AdjustPoints applies a manual credit or debit.
	AdjustPoints = newActivity[domain.Adjustment, domain.OperationOutcome]("AdjustPoints")
	// ReviewTier reviews the member's tier (member id, the review date) on its anniversary.
	ReviewTier = newActivity2[string, time.Time, domain.TierReview]("ReviewTier")
	// MemberLifecycle reads what the birthday and win-back timers are armed from (member id).
	MemberLifecycle = newActivity[string, domain.MemberLifecycle]("MemberLifecycle")
	// GrantBirthdayBonus credits the birthday bonus of a year (member id, year), once.
	GrantBirthdayBonus = newActivity2[string, int, int64]("GrantBirthdayBonus")
	// ChallengesForPurchase lists the member's challenges open at a time (member id, time): enrolled, or
	// auto-enrolling.
	ChallengesForPurchase = newActivity2[string, time.Time, []domain.ChallengeMatch]("ChallengesForPurchase")
)

// Application error types that cross from activities into workflows and on to the API: the domain's error codes.
const (
	ErrTypeConflict = string(domain.ErrConflict)
	ErrTypeInvalid  = string(domain.ErrInvalid)
	// ErrTypeNotFound is ReturnPurchase's answer for a purchase that is not recorded.
	ErrTypeNotFound = string(domain.ErrNotFound)
)

// DefaultMaxHistoryEvents bounds a member workflow run's history: past it the workflow continues as new, carrying
// its unprocessed purchases. Well under Temporal's 10k-event warning, so a worker replays a run quickly.
const DefaultMaxHistoryEvents = 4000

// MaxPurchasesPerBatch caps how many queued purchases one accrual activity processes.
const MaxPurchasesPerBatch = 100

// MaxPurchasesPerSignal and MaxPurchasesSignalBytes bound one SignalPurchases (its purchases and their JSON; a
// purchase alone may pass the bytes): a batch's worth, well under the 512 KiB at which Temporal warns of a payload.
const (
	MaxPurchasesPerSignal   = MaxPurchasesPerBatch
	MaxPurchasesSignalBytes = 256 << 10
)

// MemberWorkflowID is the workflow id of a member's workflow.
func MemberWorkflowID(memberID string) string { return "member/" + memberID }

// MemberStartOptions are the options every starter of a member workflow uses (register, SignalWithStart).
func MemberStartOptions(memberID, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    MemberWorkflowID(memberID),
		TaskQueue:             taskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(memberID)),
		StaticSummary:         "Loyalty member " + memberID,
		// A member has one workflow for life: whoever starts it while it runs joins the running one.
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

// MemberInput starts (or continues) a member's workflow.
type MemberInput struct {
	MemberID string `json:"member_id"`
	// Registration is set when the workflow is started by registering; nil when the member already exists
	// (a restart through SignalWithStart, or a Continue-As-New). Its personal fields are sealed under the member's key
	// (privacy.Members.SealRegistration): never in clear in a payload.
	Registration *privacy.SealedRegistration `json:"registration,omitempty"`
	// Registered is set, with Registration, when the API created the member in Postgres before starting the
	// workflow: the run creates nothing and only welcomes them (Registration stays, sealed, the record support reads
	// in the UI of what was registered). Never carried to the next run.
	Registered bool `json:"registered,omitempty"`
	// Pending are purchases received but not yet accrued, carried across Continue-As-New.
	Pending []domain.Purchase `json:"pending,omitempty"`
	// Parked locates the purchases a run parked in Postgres, queued after Pending; nil when none are. Behind are
	// purchases received after those were parked, queued after them.
	Parked *ParkedQueue      `json:"parked,omitempty"`
	Behind []domain.Purchase `json:"behind,omitempty"`
	// Returns are returns received but not yet applied, carried across Continue-As-New.
	Returns []domain.Return `json:"returns,omitempty"`
	// TierReviewAt is when the member's tier is next reviewed (nil at the entry tier).
	TierReviewAt *time.Time `json:"tier_review_at,omitempty"`
	// LastPurchaseAt is the latest purchase accrued (for the win-back timer); WinbackSentFor the purchase whose
	// inactivity the member was last told about, so that one stretch of inactivity sends one message.
	LastPurchaseAt *time.Time `json:"last_purchase_at,omitempty"`
	WinbackSentFor *time.Time `json:"winback_sent_for,omitempty"`
	// Stats carry the running totals across runs; Counted the latest transaction ids their points include.
	Stats   MemberStats `json:"stats"`
	Counted []string    `json:"counted,omitempty"`
	// MaxHistoryEvents overrides DefaultMaxHistoryEvents (tests use a small bound).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
}

// ParkedQueue locates a member's parked purchases (domain.ParkRequest): rows Read … Next-1 of member_backlog are
// queued, in that order, behind the run's Pending and ahead of every purchase signalled since they were parked. The
// rows below Cleared are deleted; those from Cleared to Read were read by earlier runs and are deleted by the next
// read.
type ParkedQueue struct {
	Next    int64 `json:"next"`
	Read    int64 `json:"read"`
	Cleared int64 `json:"cleared"`
}

// MemberStats are counters shown to support in the state query.
type MemberStats struct {
	PurchasesProcessed int64  `json:"purchases_processed"`
	ReturnsProcessed   int64  `json:"returns_processed"`
	Redemptions        int64  `json:"redemptions"`
	Adjustments        int64  `json:"adjustments"`
	ProfileChanges     int64  `json:"profile_changes,omitempty"`
	PointsEarned       int64  `json:"points_earned"`
	LastTransactionID  string `json:"last_transaction_id,omitempty"`
	Runs               int64  `json:"runs"`
}

// Member lifecycle statuses as the workflow sees them.
const (
	MemberStatusRegistering = "registering"
	MemberStatusActive      = "active"
	MemberStatusRejected    = "rejected"
)

// MemberState is the answer to QueryState.
type MemberState struct {
	MemberID string `json:"member_id"`
	Status   string `json:"status"`
	// RejectReason says why registration was refused.
	RejectReason string `json:"reject_reason,omitempty"`
	// PendingTransactionIDs are purchases received and not yet accrued, oldest first.
	PendingTransactionIDs []string `json:"pending_transaction_ids"`
	// ParkedPurchases is how many more are queued in Postgres, parked by an earlier run (member_backlog).
	ParkedPurchases int64 `json:"parked_purchases,omitempty"`
	// PendingReturnIDs are returns received and not yet applied.
	PendingReturnIDs []string `json:"pending_return_ids"`
	// Tier is the member's tier as the workflow last saw it change, and when it is next reviewed.
	Tier          string      `json:"tier,omitempty"`
	TierReviewAt  *time.Time  `json:"tier_review_at,omitempty"`
	Stats         MemberStats `json:"stats"`
	HistoryLength int         `json:"history_length"`
}
