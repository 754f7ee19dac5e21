package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Coupon codes: issued by the redemption saga, looked up and used by tills, voided when their redemption is
// cancelled (couponkeys.go says how they are kept). A code is known to tills once its redemption completed (or
// ended failed or cancelled, when it reads as cancelled): while the saga is still running, it is not usable yet.

// errNoSuchCode answers a code that is unknown, or not usable yet. It never quotes the code.
func errNoSuchCode() error { return domain.Errorf(domain.ErrNotFound, "no such coupon code") }

// IssueCoupon records the code the saga drew for the claim's redemption — sealed, and found by its hash — valid
// until the claim's code_valid_days from now, and marks the redemption fulfilled. A retry keeps the code first
// recorded (the new one is dropped). The code is never returned: what is recorded says when it was issued and until
// when it is valid. A code already issued to another redemption → domain.ErrConflict.
func (s *Store) IssueCoupon(ctx context.Context, c domain.RedemptionClaim, code string, now time.Time) (domain.CouponIssue, error) {
	now = now.UTC()
	var issue domain.CouponIssue
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := s.insertCoupon(ctx, tx, c.RedemptionID, c.OfferID, code, now, c.CouponExpiry(now), false); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT issued_at, expires_at FROM coupons WHERE redemption_id = $1`, c.RedemptionID).
			Scan(&issue.IssuedAt, &issue.ExpiresAt); err != nil {
			return wrap("read coupon", err)
		}
		return setRedemptionStatus(ctx, tx, c.RedemptionID, domain.RedemptionFulfilled, "")
	})
	issue.IssuedAt = issue.IssuedAt.UTC()
	return issue, wrap("issue coupon of "+c.RedemptionID, err)
}

// insertCoupon seals and records a redemption's code, unless the redemption has one already. A code a till could
// not type is refused (domain.ErrInvalid) unless legacy: one issued before codes were checked is kept for its member
// to read, under the hash of its upper-cased form.
func (s *Store) insertCoupon(ctx context.Context, tx pgx.Tx, redemptionID, offerID, code string, issuedAt time.Time, expiresAt *time.Time,
	legacy bool) error {
	keys, err := s.couponKeys()
	if err != nil {
		return err
	}
	normalized, ok := domain.NormalizeCouponCode(code)
	if !ok && !legacy {
		return domain.Errorf(domain.ErrInvalid, "the coupon code issued is not a code a till can type")
	} else if !ok {
		normalized = strings.ToUpper(strings.TrimSpace(code))
	}
	sealed, err := keys.sealCode(redemptionID, code)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO coupons (redemption_id, code_hash, code_sealed, offer_id, issued_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (redemption_id) DO NOTHING`,
		redemptionID, keys.lookupHash(normalized), sealed, offerID, issuedAt, expiresAt)
	if uniqueViolation(err) != "" {
		return domain.Errorf(domain.ErrConflict, "this coupon code was issued to another redemption already")
	}
	return wrap("record coupon", err)
}

// couponRow is a coupon with what a till's answer needs of its redemption and offer.
const couponRow = `
	SELECT c.redemption_id::text, r.member_id::text, r.status, c.offer_id::text, o.title, o.description,
	       c.issued_at, c.expires_at, c.voided_at IS NOT NULL, c.used_at, c.use_id, c.used_store_id
	FROM coupons c JOIN redemptions r ON r.redemption_id = c.redemption_id JOIN offers o ON o.offer_id = c.offer_id
	WHERE c.code_hash = $1`

// scanCoupon reads a couponRow and its status at now; a code whose redemption has not ended or completed is not
// found.
func scanCoupon(row pgx.Row, now time.Time) (domain.Coupon, error) {
	var (
		c        domain.Coupon
		status   domain.RedemptionStatus
		voided   bool
		usedAt   *time.Time
		useID    *string
		useStore *string
	)
	err := row.Scan(&c.RedemptionID, &c.MemberID, &status, &c.Offer.OfferID, &c.Offer.Title, &c.Offer.Description,
		&c.IssuedAt, &c.ExpiresAt, &voided, &usedAt, &useID, &useStore)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != domain.RedemptionCompleted && !status.Final()) {
		return domain.Coupon{}, errNoSuchCode()
	}
	if err != nil {
		return domain.Coupon{}, wrap("read coupon", err)
	}
	c.IssuedAt = c.IssuedAt.UTC()
	if c.ExpiresAt != nil {
		t := c.ExpiresAt.UTC()
		c.ExpiresAt = &t
	}
	if usedAt != nil {
		c.Use = &domain.CouponUse{UseID: deref(useID), StoreID: deref(useStore), UsedAt: usedAt.UTC()}
	}
	c.Status = domain.CouponStatusOf(status, voided, usedAt != nil, c.ExpiresAt, now)
	return c, nil
}

// hashOf is the lookup hash of a code as a till sent it; a string that cannot be a code → errNoSuchCode.
func (s *Store) hashOf(code string) ([]byte, error) {
	keys, err := s.couponKeys()
	if err != nil {
		return nil, err
	}
	normalized, ok := domain.NormalizeCouponCode(code)
	if !ok {
		return nil, errNoSuchCode()
	}
	return keys.lookupHash(normalized), nil
}

// LookupCoupon finds a code as a till sends it and says where it stands at now. Unknown (or not usable yet) →
// domain.ErrNotFound.
func (s *Store) LookupCoupon(ctx context.Context, code string, now time.Time) (domain.Coupon, error) {
	hash, err := s.hashOf(code)
	if err != nil {
		return domain.Coupon{}, err
	}
	return scanCoupon(s.pool.QueryRow(ctx, couponRow, hash), now)
}

// UseCoupon uses a code at a till, exactly once: the code's row is locked, so that a use and a cancel of its
// redemption (VoidCoupon) never both succeed. The same use_id again answers the recorded use (replayed true); the
// same use_id from another store, or another use_id once used → domain.ErrConflict; a cancelled or expired code →
// domain.ErrGone; an unknown one → domain.ErrNotFound. The use is one committed change of the coupon's row, announced
// on the redemption's key (domain.RedemptionEventKey): what a webhook of the use is to be written beside.
func (s *Store) UseCoupon(ctx context.Context, code string, use domain.CouponUseRequest, actor string, now time.Time) (c domain.Coupon, replayed bool, err error) {
	hash, err := s.hashOf(code)
	if err != nil {
		return domain.Coupon{}, false, err
	}
	now = now.UTC()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		c, err = scanCoupon(tx.QueryRow(ctx, couponRow+` FOR UPDATE OF c`, hash), now)
		if err != nil {
			return err
		}
		switch c.Status {
		case domain.CouponUsed:
			if c.Use.UseID != use.UseID {
				return domain.Errorf(domain.ErrConflict, "this coupon code was used already, at %s", c.Use.UsedAt.Format(time.RFC3339))
			}
			if c.Use.StoreID != use.StoreID {
				return domain.Errorf(domain.ErrConflict, "use_id %s was used with another store_id", use.UseID)
			}
			replayed = true
			return nil
		case domain.CouponCancelled:
			return domain.Errorf(domain.ErrGone, "this coupon code was cancelled with its redemption")
		case domain.CouponExpired:
			return domain.Errorf(domain.ErrGone, "this coupon code expired at %s", c.ExpiresAt.Format(time.RFC3339))
		}
		if _, err := tx.Exec(ctx, `UPDATE coupons SET used_at = $2, use_id = $3, used_store_id = $4, used_by = $5 WHERE redemption_id = $1`,
			c.RedemptionID, now, use.UseID, use.StoreID, actor); err != nil {
			return wrap("use coupon", err)
		}
		c.Status, c.Use = domain.CouponUsed, &domain.CouponUse{UseID: use.UseID, StoreID: use.StoreID, UsedAt: now}
		return notify(ctx, tx, domain.RedemptionEventKey(c.RedemptionID))
	})
	return c, replayed, err
}

// VoidCoupon voids the code of a redemption being cancelled (or failing), unless it was used: then it says so, and
// the redemption must stand. A redemption without a code has nothing to void. Idempotent.
func (s *Store) VoidCoupon(ctx context.Context, redemptionID string, now time.Time) (domain.CouponVoid, error) {
	var v domain.CouponVoid
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var usedAt *time.Time
		var useID, store *string
		err := tx.QueryRow(ctx, `SELECT used_at, use_id, used_store_id FROM coupons WHERE redemption_id = $1 FOR UPDATE`, redemptionID).
			Scan(&usedAt, &useID, &store)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return wrap("read coupon", err)
		}
		if usedAt != nil {
			v = domain.CouponVoid{Used: true, Use: &domain.CouponUse{UseID: deref(useID), StoreID: deref(store), UsedAt: usedAt.UTC()}}
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE coupons SET voided_at = COALESCE(voided_at, $2) WHERE redemption_id = $1`, redemptionID, now); err != nil {
			return wrap("void coupon", err)
		}
		return notify(ctx, tx, domain.RedemptionEventKey(redemptionID))
	})
	return v, wrap("void coupon of "+redemptionID, err)
}

// RevealCoupon is a redemption's code in clear, for the message that gives it to its member. None → domain.ErrNotFound.
func (s *Store) RevealCoupon(ctx context.Context, redemptionID string) (string, error) {
	keys, err := s.couponKeys()
	if err != nil {
		return "", err
	}
	var sealed []byte
	err = s.pool.QueryRow(ctx, `SELECT code_sealed FROM coupons WHERE redemption_id = $1`, redemptionID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", domain.Errorf(domain.ErrNotFound, "no coupon code for this redemption")
	}
	if err != nil {
		return "", wrap("read coupon", err)
	}
	return keys.openCode(redemptionID, sealed)
}
