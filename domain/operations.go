package domain

import (
	"strconv"
	"unicode/utf8"
)

// MaxPointsPerOperation bounds the points of one redemption or adjustment.
const MaxPointsPerOperation = 1_000_000_000

// ReturnItem is a quantity of one SKU brought back.
type ReturnItem struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// Return is a POS return against a purchase: some of its lines, or an amount refunded without lines. Each return has
// its own ReturnID, so a purchase can be returned in several parts, and a repeated return changes nothing.
type Return struct {
	ReturnID      string       `json:"return_id"`
	TransactionID string       `json:"transaction_id"`
	MemberID      string       `json:"member_id,omitempty"`
	Items         []ReturnItem `json:"items,omitempty"`
	Amount        *int64       `json:"amount,omitempty"`
}

// Validate checks the return's shape; whether it fits the purchase is checked against the recorded purchase.
func (r Return) Validate() error {
	var v Validation
	v.Check(ValidIdentifier(r.ReturnID), "return_id", "must be 1-128 letters, digits or . _ : -")
	switch {
	case len(r.Items) == 0 && r.Amount == nil:
		v.Add("items", "give the returned items, or an amount")
	case len(r.Items) > 0 && r.Amount != nil:
		v.Add("amount", "give items or an amount, not both")
	case r.Amount != nil:
		v.Check(*r.Amount > 0 && *r.Amount <= MaxAmount, "amount", "must be between 1 and %d", MaxAmount)
	}
	v.Check(len(r.Items) <= MaxLineItems, "items", "must have at most %d lines", MaxLineItems)
	for i, it := range r.Items {
		f := "items[" + strconv.Itoa(i) + "]"
		v.Check(it.SKU != "" && len(it.SKU) <= 64 && utf8.ValidString(it.SKU), f+".sku", "must be 1-64 characters")
		v.Check(it.Quantity > 0 && it.Quantity <= MaxLineQuantity, f+".quantity", "must be between 1 and %d", MaxLineQuantity)
	}
	return v.Err()
}

// ReturnKey is the idempotency key of the ledger entry a return writes.
func ReturnKey(returnID string) string { return "return:" + returnID }

// TillRedemption spends points as payment at a till.
type TillRedemption struct {
	RedemptionID string `json:"redemption_id"`
	MemberID     string `json:"member_id"`
	Points       int64  `json:"points"`
	StoreID      string `json:"store_id"`
}

// Validate checks the redemption.
func (r TillRedemption) Validate() error {
	var v Validation
	v.Check(ValidIdentifier(r.RedemptionID), "redemption_id", "must be 1-128 letters, digits or . _ : -")
	v.Check(ValidMemberID(r.MemberID), "member_id", "must be a member id (UUID)")
	v.Check(r.Points > 0 && r.Points <= MaxPointsPerOperation, "points", "must be between 1 and %d", MaxPointsPerOperation)
	v.Check(ValidIdentifier(r.StoreID), "store_id", "must be 1-128 letters, digits or . _ : -")
	return v.Err()
}

// TillRedemptionKey is the idempotency key of a till redemption's ledger entry.
func TillRedemptionKey(id string) string { return "till:" + id }

// Adjustment is a manual credit (positive points) or debit (negative) by support, with the reason and who made it.
type Adjustment struct {
	AdjustmentID string `json:"adjustment_id"`
	MemberID     string `json:"member_id"`
	Points       int64  `json:"points"`
	Reason       string `json:"reason"`
	Actor        string `json:"actor"`
}

// Validate checks the adjustment.
func (a Adjustment) Validate() error {
	var v Validation
	v.Check(ValidIdentifier(a.AdjustmentID), "adjustment_id", "must be 1-128 letters, digits or . _ : -")
	v.Check(a.Points != 0 && a.Points >= -MaxPointsPerOperation && a.Points <= MaxPointsPerOperation, "points", "must be non-zero, between -%d and %d", MaxPointsPerOperation, MaxPointsPerOperation)
	n := utf8.RuneCountInString(a.Reason)
	v.Check(n >= 3 && n <= 500 && utf8.ValidString(a.Reason), "reason", "must be 3-500 characters")
	return v.Err()
}

// AdjustmentKey is the idempotency key of an adjustment's ledger entry.
func AdjustmentKey(id string) string { return "adjustment:" + id }

// ExpiryKey is the idempotency key of the entry that expires a lot.
func ExpiryKey(lotID int64) string { return "expiry:" + strconv.FormatInt(lotID, 10) }
