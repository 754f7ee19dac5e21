package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// RedeemAtTill spends available points as payment at a till, soonest-expiring lots first. Not enough available
// points → the redemption is recorded as rejected (and replays as rejected). Idempotent on redemption_id.
func (s *Store) RedeemAtTill(ctx context.Context, r domain.TillRedemption, now time.Time) (domain.OperationOutcome, error) {
	fp := TillRedemptionFingerprint(r)
	var out domain.OperationOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = domain.OperationOutcome{ID: r.RedemptionID}
		led, err := lockMember(ctx, tx, r.MemberID)
		if err != nil {
			return err
		}
		if done, err := replayOperation(ctx, tx, &out, `SELECT fingerprint, status, COALESCE(reject_reason, ''), points, 0
			FROM till_redemptions WHERE redemption_id = $1`, tillRefusals, r.RedemptionID, fp, r.MemberID, now); done || err != nil {
			return err
		}
		id, _, _, err := led.debit(ctx, debitPlan{
			entry: entry{kind: domain.EntryRedemption, availableAt: now, sourceType: "till", sourceID: r.RedemptionID,
				key: domain.TillRedemptionKey(r.RedemptionID), occurredAt: now},
			amount: r.Points, requireAll: true,
		}, now)
		status, reason := OpApplied, ""
		if domain.CodeOf(err) == domain.ErrUnprocessable {
			status, reason = OpRejected, err.Error()
		} else if err != nil {
			return err
		}
		var eid *int64
		if id != 0 {
			eid = &id
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO till_redemptions (redemption_id, member_id, store_id, points, fingerprint, status, reject_reason, entry_id)
			VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8)`, r.RedemptionID, r.MemberID, r.StoreID, r.Points, fp, status, reason, eid); err != nil {
			return wrap("record till redemption", err)
		}
		effectsOf(tx).redemption("till", status)
		out.Status, out.Reason, out.Points = status, reason, r.Points
		out.Balance, err = balance(ctx, tx, r.MemberID, now)
		return err
	})
	if err != nil {
		return domain.OperationOutcome{}, wrap("redeem "+r.RedemptionID, err)
	}
	return out, nil
}

// Adjust applies a manual credit or debit by support, recorded with its reason and actor. A credit opens a lot that
// expires by the program's policy counted from now and does not count towards tiers; a debit takes available points
// soonest-expiring first and is rejected when they do not cover it. Idempotent on adjustment_id.
func (s *Store) Adjust(ctx context.Context, a domain.Adjustment, now time.Time) (domain.OperationOutcome, error) {
	fp := AdjustmentFingerprint(a)
	var out domain.OperationOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = domain.OperationOutcome{ID: a.AdjustmentID}
		led, err := lockMember(ctx, tx, a.MemberID)
		if err != nil {
			return err
		}
		if done, err := replayOperation(ctx, tx, &out, `SELECT fingerprint, status, COALESCE(reject_reason, ''), points, 0
			FROM adjustments WHERE adjustment_id = $1`, adjustmentRefusals, a.AdjustmentID, fp, a.MemberID, now); done || err != nil {
			return err
		}
		e := entry{kind: domain.EntryAdjustment, availableAt: now, sourceType: "admin", sourceID: a.AdjustmentID,
			key: domain.AdjustmentKey(a.AdjustmentID), occurredAt: now, actor: a.Actor, reason: a.Reason}
		var id int64
		status, reason := OpApplied, ""
		if a.Points > 0 {
			pv, err := programAt(ctx, tx, now)
			if err != nil {
				return err
			}
			e.points, e.expiresAt = a.Points, pv.Program.ExpiresAt(now)
			if id, err = led.credit(ctx, e); err != nil {
				return err
			}
		} else {
			id, _, _, err = led.debit(ctx, debitPlan{entry: e, amount: -a.Points, requireAll: true}, now)
			if domain.CodeOf(err) == domain.ErrUnprocessable {
				status, reason = OpRejected, err.Error()
			} else if err != nil {
				return err
			}
		}
		var eid *int64
		if id != 0 {
			eid = &id
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO adjustments (adjustment_id, member_id, points, reason, actor, fingerprint, status, reject_reason, entry_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''), $9)`,
			a.AdjustmentID, a.MemberID, a.Points, a.Reason, a.Actor, fp, status, reason, eid); err != nil {
			return wrap("record adjustment", err)
		}
		out.Status, out.Reason, out.Points = status, reason, a.Points
		out.Balance, err = balance(ctx, tx, a.MemberID, now)
		return err
	})
	if err != nil {
		return domain.OperationOutcome{}, wrap("adjust "+a.AdjustmentID, err)
	}
	return out, nil
}
