package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits on a purchase report, chosen far above any real basket so that no client can make perkflow do unbounded work.
const (
	MaxLineItems    = 500
	MaxLineQuantity = 100_000
	// MaxClockSkew is how far in the future a purchase's occurred_at may be, to allow for POS clocks running fast.
	MaxClockSkew = 10 * time.Minute
)

// earliestPurchase bounds occurred_at from below: nothing older can belong to this program.
var earliestPurchase = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// LineItem is one line of a basket: what was bought and what was paid per unit (after discounts).
type LineItem struct {
	SKU       string `json:"sku"`
	Category  string `json:"category,omitempty"`
	Quantity  int64  `json:"quantity"`
	UnitPrice Money  `json:"unit_price"`
}

// Purchase is a completed sale reported by a POS or e-commerce system. TransactionID is the POS's own id: a purchase
// earns points once per transaction id, whatever the retries.
type Purchase struct {
	TransactionID string     `json:"transaction_id"`
	MemberID      string     `json:"member_id"`
	StoreID       string     `json:"store_id"`
	Channel       string     `json:"channel"`
	OccurredAt    time.Time  `json:"occurred_at"`
	Total         Money      `json:"total"`
	Items         []LineItem `json:"items"`
}

// Channels a purchase can come through.
var Channels = []string{"store", "online", "app"}

// Validate checks a purchase report; now bounds occurred_at.
func (p Purchase) Validate(now time.Time) error {
	var v Validation
	v.Check(ValidIdentifier(p.TransactionID), "transaction_id", "must be 1-128 letters, digits or . _ : -")
	v.Check(ValidMemberID(p.MemberID), "member_id", "must be a member id (UUID)")
	v.Check(ValidIdentifier(p.StoreID), "store_id", "must be 1-128 letters, digits or . _ : -")
	known := false
	for _, c := range Channels {
		known = known || c == p.Channel
	}
	v.Check(known, "channel", "must be one of store, online, app")
	switch {
	case p.OccurredAt.IsZero():
		v.Add("occurred_at", "is required (RFC 3339)")
	case p.OccurredAt.Before(earliestPurchase) || p.OccurredAt.After(now.Add(MaxClockSkew)):
		v.Add("occurred_at", "must be between 2000-01-01 and now")
	}
	p.Total.validate(&v, "total")
	if len(p.Items) > MaxLineItems {
		v.Add("items", "must have at most %d lines", MaxLineItems)
	} else {
		for i, it := range p.Items {
			f := "items[" + strconv.Itoa(i) + "]"
			v.Check(it.SKU != "" && len(it.SKU) <= 64 && utf8.ValidString(it.SKU), f+".sku", "must be 1-64 characters")
			v.Check(len(it.Category) <= 64 && utf8.ValidString(it.Category), f+".category", "must be at most 64 characters")
			v.Check(it.Quantity > 0 && it.Quantity <= MaxLineQuantity, f+".quantity", "must be between 1 and %d", MaxLineQuantity)
			it.UnitPrice.validate(&v, f+".unit_price")
			v.Check(it.UnitPrice.Currency == p.Total.Currency, f+".unit_price.currency", "must be the currency of total")
		}
		// Points are earned on what was paid for the lines: a total above their sum would earn on nothing bought.
		// A total below it is a basket discount, spread over the lines.
		if len(p.Items) > 0 {
			if sum := linesSum(p.Items); p.Total.Amount > sum {
				v.Add("total.amount", "must not exceed the sum of the lines (quantity × unit_price), %d", sum)
			}
		}
	}
	return v.Err()
}

// linesSum is the sum of quantity × unit price over the lines, saturated above MaxAmount (a total can be no more).
func linesSum(items []LineItem) int64 {
	var sum int64
	for _, it := range items {
		if it.Quantity <= 0 || it.UnitPrice.Amount <= 0 {
			continue
		}
		if it.UnitPrice.Amount > (MaxAmount+1)/it.Quantity {
			return MaxAmount + 1
		}
		if sum += it.Quantity * it.UnitPrice.Amount; sum > MaxAmount {
			return MaxAmount + 1
		}
	}
	return sum
}

// Fingerprint is a stable hash of the purchase's content. Two reports with the same transaction id and the same
// fingerprint are the same purchase sent twice; a different fingerprint is a conflicting reuse of the id.
func (p Purchase) Fingerprint() string {
	p.OccurredAt = p.OccurredAt.UTC()
	b, err := json.Marshal(p)
	if err != nil {
		panic("domain: purchase does not marshal: " + err.Error()) // only plain fields; cannot happen
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
