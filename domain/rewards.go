package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Offer is a reward in the catalog that members claim with points, and optionally cash. A marketer creates it with a
// points cost (zero when the cash price pays for it all), an optional cash price charged by card, an optional stock
// (nil = unlimited), optional dates and the tiers it is open to (empty = every tier). A claim may be cancelled, with
// everything given back, within CancelWindow of the claim.
type Offer struct {
	ID             string     `json:"offer_id"`
	Title          string     `json:"title"`
	Description    string     `json:"description"`
	PointsCost     int64      `json:"points_cost"`
	CashPrice      *Money     `json:"cash_price,omitempty"`
	Stock          *int64     `json:"stock,omitempty"`
	StockRemaining *int64     `json:"stock_remaining,omitempty"`
	StartsAt       *time.Time `json:"starts_at,omitempty"`
	EndsAt         *time.Time `json:"ends_at,omitempty"`
	// EligibleTiers lists the tiers whose members may claim the offer, exactly (empty: every tier).
	EligibleTiers []string `json:"eligible_tiers"`
	// MinTier opens the offer to members of this tier and of every tier above it in the program's order (empty: no
	// such bound). An offer gives either EligibleTiers or MinTier, not both.
	MinTier string `json:"min_tier,omitempty"`
	// CancelWindowMinutes is how long after a claim the member (or support) may still cancel it.
	CancelWindowMinutes int64 `json:"cancel_window_minutes"`
	// CodeValidDays is how long a claim's coupon code stays valid after it is issued; nil: it does not expire.
	CodeValidDays *int64    `json:"code_valid_days,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	// ArchivedAt is when a marketer archived the offer: it takes no new claim, and claims made before go on.
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

// MaxOfferPoints bounds an offer's points cost.
const MaxOfferPoints int64 = 1_000_000_000

// DefaultCancelWindowMinutes is the cancel window of an offer created without one.
const DefaultCancelWindowMinutes = 30

// Validate checks an offer as a marketer submits it.
func (o Offer) Validate() error {
	var v Validation
	v.Check(strings.TrimSpace(o.Title) != "", "title", "is required")
	v.Check(len(o.Title) <= 200, "title", "must be at most 200 characters")
	v.Check(len(o.Description) <= 4000, "description", "must be at most 4000 characters")
	v.Check(o.PointsCost >= 0 && o.PointsCost <= MaxOfferPoints, "points_cost", "must be between 0 and %d", MaxOfferPoints)
	if o.CashPrice != nil {
		o.CashPrice.validate(&v, "cash_price")
		v.Check(o.CashPrice.Amount > 0, "cash_price.amount", "must be positive")
	}
	v.Check(o.PointsCost > 0 || o.CashPrice != nil, "points_cost", "an offer costs points, cash or both")
	if o.Stock != nil {
		v.Check(*o.Stock >= 0 && *o.Stock <= 1_000_000_000, "stock", "must be between 0 and 1000000000")
	}
	if o.StartsAt != nil && o.EndsAt != nil {
		v.Check(o.EndsAt.After(*o.StartsAt), "ends_at", "must be after starts_at")
	}
	v.Check(len(o.EligibleTiers) <= 50, "eligible_tiers", "at most 50 tiers")
	for _, t := range o.EligibleTiers {
		v.Check(t != "" && len(t) <= 50, "eligible_tiers", "tier codes are 1 to 50 characters")
	}
	v.Check(len(o.MinTier) <= 50, "min_tier", "tier codes are 1 to 50 characters")
	v.Check(o.MinTier == "" || len(o.EligibleTiers) == 0, "min_tier", "give either eligible_tiers (these tiers exactly) or min_tier (this tier and above), not both")
	v.Check(o.CancelWindowMinutes >= 0 && o.CancelWindowMinutes <= 60*24*30, "cancel_window_minutes", "must be between 0 and 43200 (30 days)")
	if o.CodeValidDays != nil {
		v.Check(*o.CodeValidDays >= 1 && *o.CodeValidDays <= MaxCodeValidDays, "code_valid_days", "must be between 1 and %d", MaxCodeValidDays)
	}
	return v.Err()
}

// OpenAt reports whether the offer takes claims at at: not archived, and its dates include at.
func (o Offer) OpenAt(at time.Time) bool {
	return o.ArchivedAt == nil && (o.StartsAt == nil || !at.Before(*o.StartsAt)) && (o.EndsAt == nil || at.Before(*o.EndsAt))
}

// OpenToTier reports whether a member of the tier may claim the offer under the program: the tier is one of its
// eligible tiers, or at or above its minimum tier in the program's order (a minimum tier the program no longer has
// opens the offer to nobody).
func (o Offer) OpenToTier(p Program, tier string) bool {
	if o.MinTier != "" {
		return slices.Contains(p.TiersUpTo(tier), o.MinTier)
	}
	return len(o.EligibleTiers) == 0 || slices.Contains(o.EligibleTiers, tier)
}

// InStock reports whether a unit is left (always, for unlimited offers).
func (o Offer) InStock() bool { return o.StockRemaining == nil || *o.StockRemaining > 0 }

// NeedsPayment reports whether a claim charges a card.
func (o Offer) NeedsPayment() bool { return o.CashPrice != nil && o.CashPrice.Amount > 0 }

// RedemptionStatus is where a redemption saga stands.
type RedemptionStatus string

// The statuses of a redemption, in the order the saga moves through them; failed and cancelled end it after
// compensation, completed ends it with the reward delivered (it can still be cancelled within the cancel window).
const (
	RedemptionPending         RedemptionStatus = "pending"
	RedemptionReserved        RedemptionStatus = "reserved"
	RedemptionAwaitingPayment RedemptionStatus = "awaiting_payment"
	RedemptionCharged         RedemptionStatus = "charged"
	RedemptionFulfilled       RedemptionStatus = "fulfilled"
	RedemptionCompleted       RedemptionStatus = "completed"
	RedemptionFailed          RedemptionStatus = "failed"
	RedemptionCancelled       RedemptionStatus = "cancelled"
)

// Settled reports whether a claim's requester has their answer: the saga ended, delivered, or waits for the member
// to authenticate the payment (3-D Secure).
func (s RedemptionStatus) Settled() bool {
	switch s {
	case RedemptionCompleted, RedemptionFailed, RedemptionCancelled, RedemptionAwaitingPayment:
		return true
	}
	return false
}

// Final reports whether nothing more will happen to the redemption's money, stock or points.
func (s RedemptionStatus) Final() bool { return s == RedemptionFailed || s == RedemptionCancelled }

// Redemption is one member's claim of an offer.
type Redemption struct {
	ID       string           `json:"redemption_id"`
	OfferID  string           `json:"offer_id"`
	MemberID string           `json:"member_id"`
	Status   RedemptionStatus `json:"status"`
	Points   int64            `json:"points"`
	Cash     *Money           `json:"cash,omitempty"`
	// Code is the coupon code, once fulfilled.
	Code string `json:"code,omitempty"`
	// Coupon is where the code stands (valid, used, cancelled, expired), once fulfilled.
	Coupon *RedemptionCoupon `json:"coupon,omitempty"`
	// ClientSecret lets the member's app finish 3-D Secure while awaiting_payment.
	ClientSecret  string    `json:"client_secret,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	CancelUntil   time.Time `json:"cancel_until"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// RedemptionClaim is what the saga starts from: the offer as it was when claimed.
type RedemptionClaim struct {
	RedemptionID  string    `json:"redemption_id"`
	OfferID       string    `json:"offer_id"`
	MemberID      string    `json:"member_id"`
	Title         string    `json:"title"`
	Points        int64     `json:"points"`
	Cash          *Money    `json:"cash,omitempty"`
	PaymentMethod string    `json:"payment_method,omitempty"`
	CancelUntil   time.Time `json:"cancel_until"`
	ClaimedAt     time.Time `json:"claimed_at"`
	// CodeValidDays is the offer's code_valid_days when claimed (0: the code does not expire).
	CodeValidDays int64 `json:"code_valid_days,omitempty"`
}

// CouponExpiry is when a code issued at issuedAt for this claim expires; nil when it does not.
func (c RedemptionClaim) CouponExpiry(issuedAt time.Time) *time.Time {
	if c.CodeValidDays <= 0 {
		return nil
	}
	t := issuedAt.Add(time.Duration(c.CodeValidDays) * 24 * time.Hour).UTC()
	return &t
}

// PointsHoldKey is the idempotency key of the ledger entry that holds a redemption's points.
func PointsHoldKey(redemptionID string) string { return "hold:" + redemptionID }

// PointsReleaseKey is the idempotency key of the ledger entry that gives a redemption's points back.
func PointsReleaseKey(redemptionID string) string { return "release:" + redemptionID }

// ChargeIdempotencyKey is the Stripe Idempotency-Key of a redemption's PaymentIntent: one charge per redemption
// whatever the retries.
func ChargeIdempotencyKey(redemptionID string) string {
	return "redemption-" + redemptionID + "-charge"
}

// RefundIdempotencyKey is the Stripe Idempotency-Key of a redemption's refund.
func RefundIdempotencyKey(redemptionID string) string {
	return "redemption-" + redemptionID + "-refund"
}

// RedemptionEventKey is what the store announces (pg_notify) when a redemption's status changes.
func RedemptionEventKey(redemptionID string) string { return "redemption:" + redemptionID }

// PaymentOutcome is what a charge attempt came to.
type PaymentOutcome struct {
	PaymentIntentID string `json:"payment_intent_id"`
	// Status is Stripe's PaymentIntent status: succeeded, requires_action, processing, …
	Status       string `json:"status"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// FitsProgram refuses (ErrInvalid, naming the fields) an offer the program cannot honour: a cash price in
// another currency than the program's, or an eligible tier the program does not have — an offer nobody could claim.
func (o Offer) FitsProgram(p Program) error {
	var fields []FieldError
	if o.CashPrice != nil && o.CashPrice.Currency != p.Currency {
		fields = append(fields, FieldError{Field: "cash_price.currency", Message: "must be " + p.Currency + ", the program's currency"})
	}
	fields = append(fields, unknownTiers(p, "eligible_tiers", o.EligibleTiers)...)
	if o.MinTier != "" && !slices.ContainsFunc(p.Tiers, func(t Tier) bool { return t.Code == o.MinTier }) {
		fields = append(fields, FieldError{Field: "min_tier", Message: "is not a tier of the program"})
	}
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: ErrInvalid, Message: "the offer does not fit the program", Fields: fields}
}

// unknownTiers names each code in codes (the list field) that is not a tier of the program.
func unknownTiers(p Program, field string, codes []string) []FieldError {
	var fields []FieldError
	for i, c := range codes {
		if !slices.ContainsFunc(p.Tiers, func(t Tier) bool { return t.Code == c }) {
			fields = append(fields, FieldError{Field: field + "[" + strconv.Itoa(i) + "]", Message: "is not a tier of the program"})
		}
	}
	return fields
}
