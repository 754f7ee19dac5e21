package domain

import (
	"regexp"
	"strings"
	"time"
)

// Coupon codes. A completed redemption gives its member a code that a till checks and uses, once. A code is valid
// while its redemption stands, it has not been used and it has not expired; a cancelled (or failed) redemption
// voids its code, and a used code can no longer be cancelled. A code expires CodeValidDays after it is issued
// when its offer says so. perkflow keeps codes encrypted and finds them by a keyed hash, so that neither a database
// dump nor a log line gives one away.

// CouponStatus is where a coupon code stands.
type CouponStatus string

// The statuses of a coupon code.
const (
	CouponValid     CouponStatus = "valid"
	CouponUsed      CouponStatus = "used"
	CouponCancelled CouponStatus = "cancelled"
	CouponExpired   CouponStatus = "expired"
)

// MaxCodeValidDays bounds an offer's code_valid_days (ten years).
const MaxCodeValidDays = 3650

// CouponUse is a code's one use at a till: the till's use_id (what makes the use idempotent), its store and when.
type CouponUse struct {
	UseID   string    `json:"use_id"`
	StoreID string    `json:"store_id"`
	UsedAt  time.Time `json:"used_at"`
}

// CouponUseRequest is what a till sends to use a code.
type CouponUseRequest struct {
	UseID   string `json:"use_id"`
	StoreID string `json:"store_id"`
}

// Validate checks a use as a till sends it.
func (u CouponUseRequest) Validate() error {
	var v Validation
	v.Check(ValidIdentifier(u.UseID), "use_id", "must be 1-128 letters, digits or . _ : -")
	v.Check(ValidIdentifier(u.StoreID), "store_id", "must be 1-128 letters, digits or . _ : -")
	return v.Err()
}

// RedemptionCoupon is the coupon code of a redemption as its member and support see it beside the redemption (the
// code itself is the redemption's code).
type RedemptionCoupon struct {
	Status    CouponStatus `json:"status"`
	IssuedAt  time.Time    `json:"issued_at"`
	ExpiresAt *time.Time   `json:"expires_at,omitempty"`
	Use       *CouponUse   `json:"use,omitempty"`
}

// Coupon is a code as a till looks it up: where it stands, the offer it is for and until when it is valid.
type Coupon struct {
	Status    CouponStatus `json:"status"`
	Offer     CouponOffer  `json:"offer"`
	IssuedAt  time.Time    `json:"issued_at"`
	ExpiresAt *time.Time   `json:"expires_at,omitempty"`
	Use       *CouponUse   `json:"use,omitempty"`
	// RedemptionID and MemberID are not shown to the till; the API signals the redemption's workflow of a use.
	RedemptionID string `json:"-"`
	MemberID     string `json:"-"`
}

// CouponOffer is the offer a code is for, as a till shows it.
type CouponOffer struct {
	OfferID     string `json:"offer_id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// CouponIssue is what issuing a code records, without the code: when, and until when it is valid.
type CouponIssue struct {
	IssuedAt  time.Time  `json:"issued_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CouponVoid is what voiding a redemption's code found: voided (or there was none), or already used — then the
// redemption stands and cannot be cancelled.
type CouponVoid struct {
	Used bool       `json:"used"`
	Use  *CouponUse `json:"use,omitempty"`
}

// CouponStatusOf is the status of a code: used once used, cancelled once voided or when its redemption failed or was
// cancelled, expired past its expiry, valid otherwise.
func CouponStatusOf(redemption RedemptionStatus, voided, used bool, expiresAt *time.Time, now time.Time) CouponStatus {
	switch {
	case used:
		return CouponUsed
	case voided || redemption.Final():
		return CouponCancelled
	case expiresAt != nil && !now.Before(*expiresAt):
		return CouponExpired
	}
	return CouponValid
}

// couponCodeShape is what a code may look like as a till types or scans it: letters, digits and dashes.
var couponCodeShape = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 \-]{0,62}[A-Za-z0-9]$`)

// NormalizeCouponCode is the form a code is looked up by: upper case, without the dashes and spaces that group its
// characters for people. ok is false for what cannot be a code.
func NormalizeCouponCode(code string) (normalized string, ok bool) {
	if !couponCodeShape.MatchString(code) {
		return "", false
	}
	return strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code)), true
}

// NotificationCouponOf is the Data field of a notification that names the redemption whose coupon code the message
// carries: the code is read (and decrypted) only when the message is composed, so that it never enters a
// workflow's history.
const NotificationCouponOf = "coupon_of"
