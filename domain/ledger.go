package domain

import "time"

// EntryKind says why a ledger entry exists.
type EntryKind string

// The kinds of ledger entries. A credit has positive points, a debit negative.
const (
	EntryAccrual    EntryKind = "accrual"
	EntryReturn     EntryKind = "return"
	EntryRedemption EntryKind = "redemption"
	EntryRelease    EntryKind = "release"
	EntryExpiry     EntryKind = "expiry"
	EntryAdjustment EntryKind = "adjustment"
	EntryBonus      EntryKind = "bonus"
)

// LedgerEntry is one append-only row of a member's points ledger. Entries are never updated or deleted; the balance
// is always the sum of a member's entries. IdempotencyKey is derived from the business event (never random), so an
// event retried any number of times is written once.
type LedgerEntry struct {
	ID             int64      `json:"id"`
	MemberID       string     `json:"member_id"`
	Kind           EntryKind  `json:"kind"`
	Points         int64      `json:"points"`
	AvailableAt    time.Time  `json:"available_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	SourceType     string     `json:"source_type"`
	SourceID       string     `json:"source_id"`
	IdempotencyKey string     `json:"-"`
	BalanceAfter   int64      `json:"balance_after"`
	// QualifyingPoints is what the entry counts towards tiers.
	QualifyingPoints int64     `json:"qualifying_points"`
	OccurredAt       time.Time `json:"occurred_at"`
	Actor            string    `json:"actor,omitempty"`
	Reason           string    `json:"reason,omitempty"`
	// Lot is the lot a credit opened; Allocations what a debit took from lots (or a release gave back).
	Lot         *Lot         `json:"lot,omitempty"`
	Allocations []Allocation `json:"allocations,omitempty"`
	// CouponUse is, on the entry of the points a redemption spent, the use of the redemption's coupon code at a
	// till, once used.
	CouponUse *CouponUse `json:"coupon_use,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// Lot is what is left of a credit, and when it becomes available and expires.
type Lot struct {
	ID          int64      `json:"lot_id"`
	Points      int64      `json:"points"`
	Remaining   int64      `json:"remaining"`
	AvailableAt time.Time  `json:"available_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Allocation is the part of a lot a debit took (positive) or gave back (negative).
type Allocation struct {
	LotID  int64 `json:"lot_id"`
	Points int64 `json:"points"`
}

// AccrualKey is the idempotency key of the ledger entry a purchase earns: one per POS transaction id.
func AccrualKey(transactionID string) string { return "accrual:" + transactionID }

// Balance is a member's points. Available can be spent now (negative only when a return took more than the member
// had, under a program that allows it); Pending are credits not yet spendable; Lifetime is what the member earned,
// net of returns (every credit less what returns reversed; spending and expiry do not lower it); Qualifying counts
// towards tiers over the tier window (the credit kinds the program lists) and never falls by spending. Total is the
// sum of all the member's ledger entries.
type Balance struct {
	Available  int64 `json:"available"`
	Pending    int64 `json:"pending"`
	Lifetime   int64 `json:"lifetime"`
	Qualifying int64 `json:"qualifying"`
	Total      int64 `json:"total"`
}

// AccrualOutcome is what processing one reported purchase came to, as the member workflow records it.
type AccrualOutcome struct {
	TransactionID string  `json:"transaction_id"`
	Status        string  `json:"status"` // accrued or rejected
	Points        int64   `json:"points"`
	Replayed      bool    `json:"replayed,omitempty"`
	Conflict      bool    `json:"conflict,omitempty"`
	Balance       Balance `json:"balance"`
	// Tier is the member's tier after the accrual, when it changed.
	TierChange *TierChange `json:"tier_change,omitempty"`
}

// TierChange is a member moving to another tier, with the date of the next review.
type TierChange struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	ReviewAt time.Time `json:"review_at"`
}

// MemberTier is the tier a member holds and when it is next reviewed (zero for the entry tier, never reviewed).
type MemberTier struct {
	Code     string     `json:"code"`
	ReviewAt *time.Time `json:"review_at,omitempty"`
}

// TierReview is what a tier review on its anniversary decided.
type TierReview struct {
	Tier   MemberTier  `json:"tier"`
	Change *TierChange `json:"change,omitempty"`
}

// OperationOutcome is what a return, till redemption or adjustment came to.
type OperationOutcome struct {
	ID     string `json:"id"`
	Status string `json:"status"` // applied or rejected
	// Reason says why it was rejected.
	Reason string `json:"reason,omitempty"`
	// Points moved: reversed by a return, spent by a redemption, credited (+) or debited (-) by an adjustment.
	Points int64 `json:"points"`
	// NotRecovered is what a return could not take back because it had been spent, under a no-negative policy.
	NotRecovered int64   `json:"not_recovered,omitempty"`
	Replayed     bool    `json:"replayed,omitempty"`
	Conflict     bool    `json:"conflict,omitempty"`
	Balance      Balance `json:"balance"`
}
