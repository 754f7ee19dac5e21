package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// The catalog as marketers manage it: every offer by status, edits and archiving. (Creation, the member's view and
// the saga's stock moves are in rewards.go.)

// offerStatusWhere is the SQL condition of each status at $1 (now, a timestamptz); "" selects every offer.
var offerStatusWhere = map[domain.OfferStatus]string{
	domain.OfferArchived:  `archived_at IS NOT NULL`,
	domain.OfferScheduled: `archived_at IS NULL AND starts_at > $1`,
	domain.OfferEnded:     `archived_at IS NULL AND ends_at <= $1`,
	domain.OfferActive:    `archived_at IS NULL AND (starts_at IS NULL OR starts_at <= $1) AND (ends_at IS NULL OR ends_at > $1)`,
	"":                    `true`,
}

// ListOffers lists the offers of a status at now ("" for every offer), newest first, after the cursor (an offer id
// of an earlier page), at most limit; it returns the cursor of the next page when there is more.
func (s *Store) ListOffers(ctx context.Context, status domain.OfferStatus, now time.Time, cursor string, limit int) ([]domain.Offer, string, error) {
	where, ok := offerStatusWhere[status]
	if !ok {
		return nil, "", domain.Errorf(domain.ErrInvalid, "unknown offer status %q", status)
	}
	var after *time.Time
	if cursor != "" {
		c, err := s.GetOffer(ctx, cursor)
		if err != nil {
			return nil, "", domain.Errorf(domain.ErrInvalid, "unknown cursor")
		}
		after = &c.CreatedAt
	}
	rows, err := s.pool.Query(ctx, `SELECT `+offerColumns+` FROM offers
		WHERE $1::timestamptz IS NOT NULL AND `+where+` AND ($2::timestamptz IS NULL OR (created_at, offer_id::text) < ($2, $3))
		ORDER BY created_at DESC, offer_id::text DESC LIMIT $4`, now, after, cursor, limit+1)
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

// UpdateOffer makes a marketer's change to an offer, under the offer's row lock so that the saga's stock moves and
// other edits wait: the change is applied to the offer as it is now and validated, and added stock moves its total
// and what remains alike. Removing more units than remain unclaimed → domain.ErrConflict; an archived offer cannot
// be changed (domain.ErrConflict); unknown → domain.ErrNotFound. Claims made before keep what they were claimed for.
func (s *Store) UpdateOffer(ctx context.Context, id string, c domain.OfferChange, actor string) (domain.Offer, error) {
	if !domain.ValidMemberID(id) {
		return domain.Offer{}, domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanOffer(tx.QueryRow(ctx, `SELECT `+offerColumns+` FROM offers WHERE offer_id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
		}
		if err != nil {
			return wrap("read offer", err)
		}
		if cur.ArchivedAt != nil {
			return domain.Errorf(domain.ErrConflict, "offer %s is archived; create a new offer instead", id)
		}
		o, err := c.Apply(cur)
		if err != nil {
			return err
		}
		if c.StockDelta < 0 && *cur.StockRemaining+c.StockDelta < 0 {
			return domain.Errorf(domain.ErrConflict, "only %d units of this offer are left unclaimed; at most that many can be removed", *cur.StockRemaining)
		}
		var amount *int64
		var currency *string
		if o.CashPrice != nil {
			amount, currency = &o.CashPrice.Amount, &o.CashPrice.Currency
		}
		_, err = tx.Exec(ctx, `UPDATE offers SET title = $2, description = $3, points_cost = $4, cash_amount = $5, cash_currency = $6,
			starts_at = $7, ends_at = $8, eligible_tiers = $9, cancel_window_seconds = $10,
			stock_total = stock_total + $11, stock_remaining = stock_remaining + $11, updated_at = now(), updated_by = $12,
			min_tier = NULLIF($13, '')
			WHERE offer_id = $1`, id, o.Title, o.Description, o.PointsCost, amount, currency, o.StartsAt, o.EndsAt,
			o.EligibleTiers, o.CancelWindowMinutes*60, c.StockDelta, actor, o.MinTier)
		return wrap("update offer", err)
	})
	if err != nil {
		return domain.Offer{}, err
	}
	return s.GetOffer(ctx, id)
}

// ArchiveOffer archives an offer at now: no new claims, claims made before go on. Archiving an archived offer keeps
// its first date; unknown → domain.ErrNotFound.
func (s *Store) ArchiveOffer(ctx context.Context, id string, now time.Time, actor string) (domain.Offer, error) {
	if !domain.ValidMemberID(id) {
		return domain.Offer{}, domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE offers SET archived_at = COALESCE(archived_at, $2), updated_at = now(),
		updated_by = CASE WHEN archived_at IS NULL THEN $3 ELSE updated_by END WHERE offer_id = $1`, id, now, actor)
	if err != nil {
		return domain.Offer{}, wrap("archive offer", err)
	}
	if tag.RowsAffected() == 0 {
		return domain.Offer{}, domain.Errorf(domain.ErrNotFound, "offer %s not found", id)
	}
	return s.GetOffer(ctx, id)
}

// MemberRedemption is a redemption as a member's list shows it, with the title of the offer claimed.
type MemberRedemption struct {
	domain.Redemption
	OfferTitle string
}

// MemberRedemptions lists a member's redemptions, newest first, after the cursor (a redemption id of an earlier
// page), at most limit; it returns the cursor of the next page when there is more.
func (s *Store) MemberRedemptions(ctx context.Context, memberID, cursor string, limit int) ([]MemberRedemption, string, error) {
	var after *time.Time
	if cursor != "" {
		c, err := s.GetRedemption(ctx, cursor)
		if err != nil || c.MemberID != memberID {
			return nil, "", domain.Errorf(domain.ErrInvalid, "unknown cursor")
		}
		after = &c.CreatedAt
	}
	rows, err := s.pool.Query(ctx, `SELECT `+redemptionColumns+`, (SELECT title FROM offers o WHERE o.offer_id = r.offer_id)
		FROM `+redemptionsWithCoupons+` WHERE r.member_id = $1
		AND ($2::timestamptz IS NULL OR (r.created_at, r.redemption_id::text) < ($2, $3))
		ORDER BY r.created_at DESC, r.redemption_id::text DESC LIMIT $4`, memberID, after, cursor, limit+1)
	if err != nil {
		return nil, "", wrap("member redemptions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MemberRedemption, error) {
		var m MemberRedemption
		var err error
		m.Redemption, err = s.scanRedemption(r, &m.OfferTitle)
		return m, err
	})
	if err != nil {
		return nil, "", wrap("member redemptions", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}
