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
	CreatedAt      time.Time  `json:"created_at"`
}

// AccrualKey is the idempotency key of the ledger entry a purchase earns: one per POS transaction id.
func AccrualKey(transactionID string) string { return "accrual:" + transactionID }

// Balance is a member's points. Available + Pending is the sum of all the member's entries; Pending are credits not
// yet spendable; Lifetime is every point ever earned; Qualifying counts towards tiers and never falls by spending.
type Balance struct {
	Available  int64 `json:"available"`
	Pending    int64 `json:"pending"`
	Lifetime   int64 `json:"lifetime"`
	Qualifying int64 `json:"qualifying"`
}

// AccrualOutcome is what processing one reported purchase came to, as the member workflow records it.
type AccrualOutcome struct {
	TransactionID string  `json:"transaction_id"`
	Status        string  `json:"status"` // accrued or rejected
	Points        int64   `json:"points"`
	Replayed      bool    `json:"replayed,omitempty"`
	Conflict      bool    `json:"conflict,omitempty"`
	Balance       Balance `json:"balance"`
}
