package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

const offerColumns = `offer_id::text, title, description, points_cost, cash_amount, cash_currency, stock_total, stock_remaining,
	starts_at, ends_at, eligible_tiers, cancel_window_seconds, created_at, archived_at, code_valid_days, COALESCE(min_tier, '')`

func scanOffer(row pgx.Row) (domain.Offer, error) {
	var o domain.Offer
	var cashAmount *int64
	var cashCurrency *string
	var window int64
	err := row.Scan(&o.ID, &o.Title, &o.Description, &o.PointsCost, &cashAmount, &cashCurrency, &o.Stock, &o.StockRemaining,
		&o.StartsAt, &o.EndsAt, &o.EligibleTiers, &window, &o.CreatedAt, &o.ArchivedAt, &o.CodeValidDays, &o.MinTier)
	if err != nil {
		return o, err
	}
	if cashAmount != nil && cashCurrency != nil {
		o.CashPrice = &domain.Money{Amount: *cashAmount, Currency: *cashCurrency}
	}
	if o.EligibleTiers == nil {
		o.EligibleTiers = []string{}
	}
	o.CancelWindowMinutes = window / 60
	o.CreatedAt = o.CreatedAt.UTC()
	if o.ArchivedAt != nil {
		a := o.ArchivedAt.UTC()
		o.ArchivedAt = &a
	}
	return o, nil
}

// CreateOffer adds an offer to the catalog, its whole stock remaining. Creating the same offer id again (a retry)
// returns the first.
func (s *Store) CreateOffer(ctx context.Context, o domain.Offer, actor string) (domain.Offer, error) {
	var amount *int64
	var currency *string
	if o.CashPrice != nil {
		amount, currency = &o.CashPrice.Amount, &o.CashPrice.Currency
	}
	tiers := o.EligibleTiers
	if tiers == nil {
		tiers = []string{}
	}
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO offers (offer_id, title, description, points_cost, cash_amount, cash_currency, stock_total, stock_remaining,
		                    starts_at, ends_at, eligible_tiers, cancel_window_seconds, actor, code_valid_days, min_tier)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, '')) ON CONFLICT (offer_id) DO NOTHING`,
		o.ID, o.Title, o.Description, o.PointsCost, amount, currency, o.Stock, o.StartsAt, o.EndsAt, tiers,
		o.CancelWindowMinutes*60, actor, o.CodeValidDays, o.MinTier); err != nil {
		return domain.Offer{}, wrap("create offer", err)
	}
	return s.GetOffer(ctx, o.ID)
}

// GetOffer reads an offer; unknown → domain.ErrNotFound.
func (s *Store) GetOffer(ctx context.Context, id string) (domain.Offer, error) {
	if !domain.ValidMemberID(id) { // offer ids are UUIDs too
		return domain.Offer{}, domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
	}
	o, err := scanOffer(s.pool.QueryRow(ctx, `SELECT `+offerColumns+` FROM offers WHERE offer_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
	}
	return o, wrap("read offer", err)
}

// AvailableOffers lists, oldest first after the cursor (an offer id), the offers a member of the tier with the
// available points could claim at now: open dates, their tier (one of the eligible tiers, or a minimum tier among
// reached, the program's tiers up to the member's), stock left and enough points; offers with a cash price only when
// cash (card payments are configured).
func (s *Store) AvailableOffers(ctx context.Context, tier string, reached []string, available int64, now time.Time, cash bool, cursor string, limit int) ([]domain.Offer, string, error) {
	var after *time.Time
	if cursor != "" {
		c, err := s.GetOffer(ctx, cursor)
		if err != nil {
			return nil, "", domain.Errorf(domain.ErrInvalid, "unknown cursor")
		}
		after = &c.CreatedAt
	}
	rows, err := s.pool.Query(ctx, `SELECT `+offerColumns+` FROM offers
		WHERE archived_at IS NULL AND (starts_at IS NULL OR starts_at <= $1) AND (ends_at IS NULL OR ends_at > $1)
		  AND (cardinality(eligible_tiers) = 0 OR $2 = ANY (eligible_tiers))
		  AND (min_tier IS NULL OR min_tier = ANY ($8))
		  AND (stock_remaining IS NULL OR stock_remaining > 0)
		  AND points_cost <= $3
		  AND ($4::timestamptz IS NULL OR (created_at, offer_id::text) > ($4, $5))
		  AND ($7 OR cash_amount IS NULL)
		ORDER BY created_at, offer_id::text LIMIT $6`, now, tier, available, after, cursor, limit+1, cash, reached)
	if err != nil {
		return nil, "", wrap("list offers", err)
	}
	offers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Offer, error) { return scanOffer(r) })
	if err != nil {
		return nil, "", wrap("list offers", err)
	}
	next := ""
	if len(offers) > limit {
		offers = offers[:limit]
		next = offers[limit-1].ID
	}
	return offers, next, nil
}

// ReserveStock takes one unit of the offer's stock for the redemption (nothing for unlimited offers), and marks the
// redemption reserved. None left → domain.ErrUnprocessable. Idempotent on the redemption.
func (s *Store) ReserveStock(ctx context.Context, redemptionID, offerID string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO offer_reservations (redemption_id, offer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, redemptionID, offerID)
		if err != nil {
			return wrap("record reservation", err)
		}
		if tag.RowsAffected() == 1 {
			tag, err = tx.Exec(ctx, `UPDATE offers SET stock_remaining = stock_remaining - 1
				WHERE offer_id = $1 AND (stock_remaining IS NULL OR stock_remaining > 0)`, offerID)
			if err != nil {
				return wrap("take stock", err)
			}
			if tag.RowsAffected() == 0 {
				return domain.Errorf(domain.ErrUnprocessable, "this reward is out of stock")
			}
		}
		return setRedemptionStatus(ctx, tx, redemptionID, domain.RedemptionReserved, "")
	})
	return wrap("reserve stock for "+redemptionID, err)
}

// ReleaseStock gives the redemption's unit back to the offer's stock, once. Idempotent; nothing reserved, nothing
// released.
func (s *Store) ReleaseStock(ctx context.Context, redemptionID string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var offerID string
		err := tx.QueryRow(ctx, `UPDATE offer_reservations SET released = true, released_at = now()
			WHERE redemption_id = $1 AND NOT released RETURNING offer_id::text`, redemptionID).Scan(&offerID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return wrap("release reservation", err)
		}
		effectsOf(tx).compensation("release_stock")
		_, err = tx.Exec(ctx, `UPDATE offers SET stock_remaining = stock_remaining + 1 WHERE offer_id = $1 AND stock_remaining IS NOT NULL`, offerID)
		return wrap("return stock", err)
	})
	return wrap("release stock of "+redemptionID, err)
}

// OpenRedemption records a claim as pending. Idempotent on the redemption id.
func (s *Store) OpenRedemption(ctx context.Context, c domain.RedemptionClaim) error {
	var amount *int64
	var currency *string
	if c.Cash != nil {
		amount, currency = &c.Cash.Amount, &c.Cash.Currency
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO redemptions (redemption_id, offer_id, member_id, status, points, cash_amount, cash_currency, cancel_until, created_at)
			VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8) ON CONFLICT (redemption_id) DO NOTHING`,
			c.RedemptionID, c.OfferID, c.MemberID, c.Points, amount, currency, c.CancelUntil, c.ClaimedAt); err != nil {
			return wrap("record redemption", err)
		}
		return notify(ctx, tx, domain.RedemptionEventKey(c.RedemptionID))
	})
	return wrap("open redemption "+c.RedemptionID, err)
}

// RecordPayment records a charge attempt's outcome: charged when it succeeded, awaiting_payment (with the client
// secret the member's app needs) when the card asks for authentication.
func (s *Store) RecordPayment(ctx context.Context, redemptionID string, p domain.PaymentOutcome) error {
	status := domain.RedemptionAwaitingPayment
	if p.Status == "succeeded" {
		status = domain.RedemptionCharged
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE redemptions SET payment_intent_id = $2, client_secret = NULLIF($3, '') WHERE redemption_id = $1`,
			redemptionID, p.PaymentIntentID, p.ClientSecret); err != nil {
			return wrap("record payment", err)
		}
		return setRedemptionStatus(ctx, tx, redemptionID, status, "")
	})
	return wrap("record payment of "+redemptionID, err)
}

// RecordRefund records the refund of a redemption's payment; the first time it is recorded counts as a
// compensation.
func (s *Store) RecordRefund(ctx context.Context, redemptionID, refundID string) error {
	var first bool
	err := s.pool.QueryRow(ctx, `
		UPDATE redemptions r SET refund_id = NULLIF($2, ''), updated_at = now()
		FROM (SELECT refund_id AS old FROM redemptions WHERE redemption_id = $1 FOR UPDATE) o
		WHERE r.redemption_id = $1
		RETURNING o.old IS NULL AND r.refund_id IS NOT NULL`, redemptionID, refundID).Scan(&first)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return wrap("record refund of "+redemptionID, err)
	}
	if first {
		s.metrics.CompensationApplied("refund")
	}
	return nil
}

// FulfilRedemption gives the redemption its coupon code, keeping the first one on a retry, marks it fulfilled and
// returns the code kept. It is what sagas started before IssueCoupon call (their histories hold the code); the code
// is recorded sealed, never in clear, and does not expire.
func (s *Store) FulfilRedemption(ctx context.Context, redemptionID, code string) (string, error) {
	keys, err := s.couponKeys()
	if err != nil {
		return "", err
	}
	var kept string
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var offerID string
		if err := tx.QueryRow(ctx, `SELECT offer_id::text FROM redemptions WHERE redemption_id = $1`, redemptionID).Scan(&offerID); err != nil {
			return wrap("read redemption", err)
		}
		if err := s.insertCoupon(ctx, tx, redemptionID, offerID, code, s.Now().UTC(), nil, true); err != nil {
			return err
		}
		var sealed []byte
		if err := tx.QueryRow(ctx, `SELECT code_sealed FROM coupons WHERE redemption_id = $1`, redemptionID).Scan(&sealed); err != nil {
			return wrap("read coupon", err)
		}
		if kept, err = keys.openCode(redemptionID, sealed); err != nil {
			return err
		}
		return setRedemptionStatus(ctx, tx, redemptionID, domain.RedemptionFulfilled, "")
	})
	return kept, wrap("fulfil "+redemptionID, err)
}

// SetRedemptionStatus moves a redemption to status (with a reason a member can read, for failures).
func (s *Store) SetRedemptionStatus(ctx context.Context, redemptionID string, status domain.RedemptionStatus, reason string) error {
	return wrap("set status of "+redemptionID, s.inTx(ctx, func(tx pgx.Tx) error {
		return setRedemptionStatus(ctx, tx, redemptionID, status, reason)
	}))
}

func setRedemptionStatus(ctx context.Context, tx pgx.Tx, redemptionID string, status domain.RedemptionStatus, reason string) error {
	// A redemption that ended stays ended: a late retry of an earlier step cannot revive it.
	var old domain.RedemptionStatus
	err := tx.QueryRow(ctx, `UPDATE redemptions r SET status = $2, failure_reason = NULLIF($3, ''), updated_at = now()
		FROM (SELECT status AS old FROM redemptions WHERE redemption_id = $1 FOR UPDATE) o
		WHERE r.redemption_id = $1 AND (r.status NOT IN ('failed', 'cancelled') OR $2 IN ('failed', 'cancelled'))
		RETURNING o.old`, redemptionID, status, reason).Scan(&old)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return wrap("set redemption status", err)
	}
	// Counted when it reaches an end (completed, failed, cancelled) it was not at; a completed redemption
	// cancelled within its window counts as completed, then as cancelled.
	if err == nil && old != status && (status == domain.RedemptionCompleted || status == domain.RedemptionFailed || status == domain.RedemptionCancelled) {
		effectsOf(tx).redemption("offer", string(status))
		if err := emitRedemptionEvent(ctx, tx, redemptionID, status, reason); err != nil {
			return err
		}
	}
	return notify(ctx, tx, domain.RedemptionEventKey(redemptionID))
}

// GetRedemption reads a redemption, with its coupon code (decrypted) and where the code stands; unknown →
// domain.ErrNotFound.
func (s *Store) GetRedemption(ctx context.Context, id string) (domain.Redemption, error) {
	if !domain.ValidMemberID(id) {
		return domain.Redemption{}, domain.Errorf(domain.ErrNotFound, "no such redemption")
	}
	r, err := s.scanRedemption(s.pool.QueryRow(ctx, `SELECT `+redemptionColumns+` FROM `+redemptionsWithCoupons+`
		WHERE r.redemption_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, domain.Errorf(domain.ErrNotFound, "no such redemption")
	}
	return r, wrap("read redemption", err)
}

// redemptionColumns are what scanRedemption reads, from redemptionsWithCoupons: the redemption and its coupon.
const (
	redemptionColumns = `r.redemption_id::text, r.offer_id::text, r.member_id::text, r.status, r.points, r.cash_amount,
	r.cash_currency, r.client_secret, r.failure_reason, r.cancel_until, r.created_at, r.updated_at,
	c.code_sealed, c.issued_at, c.expires_at, c.voided_at IS NOT NULL, c.used_at, c.use_id, c.used_store_id`
	redemptionsWithCoupons = `redemptions r LEFT JOIN coupons c ON c.redemption_id = r.redemption_id`
)

// scanRedemption reads a row of redemptionColumns (then extra), decrypting the coupon code.
func (s *Store) scanRedemption(row pgx.Row, extra ...any) (domain.Redemption, error) {
	var r domain.Redemption
	var amount *int64
	var currency, secret, reason *string
	var sealed []byte
	var issuedAt, expiresAt, usedAt *time.Time
	var voided bool
	var useID, useStore *string
	err := row.Scan(append([]any{&r.ID, &r.OfferID, &r.MemberID, &r.Status, &r.Points, &amount, &currency, &secret, &reason,
		&r.CancelUntil, &r.CreatedAt, &r.UpdatedAt, &sealed, &issuedAt, &expiresAt, &voided, &usedAt, &useID, &useStore},
		extra...)...)
	if err != nil {
		return r, err
	}
	if amount != nil && currency != nil {
		r.Cash = &domain.Money{Amount: *amount, Currency: *currency}
	}
	r.FailureReason = deref(reason)
	if r.Status == domain.RedemptionAwaitingPayment {
		r.ClientSecret = deref(secret)
	}
	if sealed != nil {
		if err := s.readCoupon(&r, sealed, *issuedAt, expiresAt, voided, usedAt, deref(useID), deref(useStore)); err != nil {
			return r, err
		}
	}
	r.CancelUntil, r.CreatedAt, r.UpdatedAt = r.CancelUntil.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// readCoupon fills a redemption's code and its coupon status from the redemption's coupon row.
func (s *Store) readCoupon(r *domain.Redemption, sealed []byte, issuedAt time.Time, expiresAt *time.Time, voided bool,
	usedAt *time.Time, useID, useStore string) error {
	keys, err := s.couponKeys()
	if err != nil {
		return err
	}
	if r.Code, err = keys.openCode(r.ID, sealed); err != nil {
		return err
	}
	c := &domain.RedemptionCoupon{IssuedAt: issuedAt.UTC()}
	if expiresAt != nil {
		t := expiresAt.UTC()
		c.ExpiresAt = &t
	}
	if usedAt != nil {
		c.Use = &domain.CouponUse{UseID: useID, StoreID: useStore, UsedAt: usedAt.UTC()}
	}
	c.Status = domain.CouponStatusOf(r.Status, voided, usedAt != nil, c.ExpiresAt, s.Now())
	r.Coupon = c
	return nil
}

// SealClearCoupons moves the codes redemptions held in clear (before coupon codes were sealed) into coupons,
// sealed and hashed, and clears them, in batches; it returns how many it moved. The API and the worker run it when
// they start; it finds nothing to do once done.
func (s *Store) SealClearCoupons(ctx context.Context) (int, error) {
	if _, err := s.couponKeys(); err != nil {
		return 0, err
	}
	total := 0
	for {
		n := 0
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT redemption_id::text, offer_id::text, code, updated_at FROM redemptions
				WHERE code IS NOT NULL ORDER BY redemption_id LIMIT 500 FOR UPDATE SKIP LOCKED`)
			if err != nil {
				return err
			}
			type clear struct {
				id, offer, code string
				at              time.Time
			}
			found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (clear, error) {
				var c clear
				return c, r.Scan(&c.id, &c.offer, &c.code, &c.at)
			})
			if err != nil {
				return err
			}
			for _, c := range found {
				if err := s.insertCoupon(ctx, tx, c.id, c.offer, c.code, c.at, nil, true); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE redemptions SET code = NULL WHERE redemption_id = $1`, c.id); err != nil {
					return err
				}
			}
			n = len(found)
			return nil
		})
		if err != nil {
			return total, wrap("seal clear coupon codes", err)
		}
		total += n
		if n < 500 {
			return total, nil
		}
	}
}

// RedemptionResources is what a redemption holds, for tests and support: its stock reservation and points hold.
type RedemptionResources struct {
	StockReserved bool
	HoldStatus    string // held, committed, released or "" (none)
}

// GetRedemptionResources reads what the redemption holds now.
func (s *Store) GetRedemptionResources(ctx context.Context, id string) (RedemptionResources, error) {
	var r RedemptionResources
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM offer_reservations WHERE redemption_id = $1 AND NOT released),
		COALESCE((SELECT status FROM points_holds WHERE redemption_id = $1), '')`, id).Scan(&r.StockReserved, &r.HoldStatus)
	return r, wrap("read resources of "+id, err)
}

// emitRedemptionEvent reports a redemption reaching an end to webhooks (the failure reason is written for the
// member; it carries no personal data).
func emitRedemptionEvent(ctx context.Context, tx pgx.Tx, redemptionID string, status domain.RedemptionStatus, reason string) error {
	var memberID, offerID string
	var points int64
	var at time.Time
	if err := tx.QueryRow(ctx, `SELECT member_id::text, offer_id::text, points, now() FROM redemptions WHERE redemption_id = $1`, redemptionID).
		Scan(&memberID, &offerID, &points, &at); err != nil {
		return wrap("read redemption for its event", err)
	}
	data := map[string]any{"redemption_id": redemptionID, "member_id": memberID, "offer_id": offerID, "points": points, "status": status}
	if reason != "" {
		data["reason"] = reason
	}
	return EmitEvent(ctx, tx, domain.RedemptionEventType(status), memberID, at, data)
}
