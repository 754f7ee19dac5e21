package domain

import "time"

// OfferStatus is where an offer stands in the catalog at a given time.
type OfferStatus string

// The statuses of an offer, as marketers filter the catalog by them.
const (
	OfferScheduled OfferStatus = "scheduled" // its starts_at is still ahead
	OfferActive    OfferStatus = "active"    // claimable by its dates (stock and tiers aside)
	OfferEnded     OfferStatus = "ended"     // its ends_at has passed
	OfferArchived  OfferStatus = "archived"  // archived by a marketer: no new claims
)

// OfferStatuses lists every status, in the order a catalog shows them.
var OfferStatuses = []OfferStatus{OfferActive, OfferScheduled, OfferEnded, OfferArchived}

// StatusAt is the offer's status at t. Archiving wins over the dates.
func (o Offer) StatusAt(t time.Time) OfferStatus {
	switch {
	case o.ArchivedAt != nil:
		return OfferArchived
	case o.StartsAt != nil && t.Before(*o.StartsAt):
		return OfferScheduled
	case o.EndsAt != nil && !t.Before(*o.EndsAt):
		return OfferEnded
	}
	return OfferActive
}

// OfferChange is a marketer's edit of an offer: each field set is changed, the others kept. A new points cost or
// cash price applies to claims made after the change (a claim keeps what it was claimed for). StockDelta adds units
// to a limited stock (negative: removes units not claimed yet).
type OfferChange struct {
	Title         *string
	Description   *string
	PointsCost    *int64
	CashPrice     Optional[Money]
	StartsAt      Optional[time.Time]
	EndsAt        Optional[time.Time]
	EligibleTiers *[]string
	// MinTier set to "" clears the minimum tier.
	MinTier             *string
	CancelWindowMinutes *int64
	StockDelta          int64
}

// Optional is a field of a change that may be left as it is, set, or cleared.
type Optional[T any] struct {
	Set   bool // the change names the field
	Value *T   // its new value; nil clears it
}

// Apply returns the offer with the change made (stock aside, which the store changes under its own lock), and
// validates the result as a new offer would be.
func (c OfferChange) Apply(o Offer) (Offer, error) {
	if c.Title != nil {
		o.Title = *c.Title
	}
	if c.Description != nil {
		o.Description = *c.Description
	}
	if c.PointsCost != nil {
		o.PointsCost = *c.PointsCost
	}
	if c.CashPrice.Set {
		o.CashPrice = c.CashPrice.Value
	}
	if c.StartsAt.Set {
		o.StartsAt = c.StartsAt.Value
	}
	if c.EndsAt.Set {
		o.EndsAt = c.EndsAt.Value
	}
	if c.EligibleTiers != nil {
		o.EligibleTiers = *c.EligibleTiers
	}
	if c.MinTier != nil {
		o.MinTier = *c.MinTier
	}
	if c.CancelWindowMinutes != nil {
		o.CancelWindowMinutes = *c.CancelWindowMinutes
	}
	var v Validation
	v.Check(c.StockDelta == 0 || o.Stock != nil, "add_stock", "this offer has unlimited stock")
	v.Check(c.StockDelta >= -1_000_000_000 && c.StockDelta <= 1_000_000_000, "add_stock", "must be between -1000000000 and 1000000000")
	if err := v.Err(); err != nil {
		return o, err
	}
	return o, o.Validate()
}
