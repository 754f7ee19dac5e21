package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// HoldPoints takes a redemption's points out of the member's available points: a 'redemption' debit keyed
// hold:<redemption id>, soonest-expiring lots first, that no other spend can use. Not enough available points →
// domain.ErrUnprocessable, nothing written. Idempotent on the redemption: holding again returns the first hold.
func (s *Store) HoldPoints(ctx context.Context, redemptionID, memberID string, points int64, now time.Time) (int64, error) {
	var entryID int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT hold_entry_id FROM points_holds WHERE redemption_id = $1`, redemptionID).Scan(&entryID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return wrap("read hold", err)
		}
		entryID, _, _, err = led.debit(ctx, debitPlan{
			entry: entry{kind: domain.EntryRedemption, availableAt: now, sourceType: "redemption", sourceID: redemptionID,
				key: domain.PointsHoldKey(redemptionID), occurredAt: now},
			amount: points, requireAll: true,
		}, now)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO points_holds (redemption_id, member_id, points, hold_entry_id, status)
			VALUES ($1, $2, $3, $4, 'held')`, redemptionID, memberID, points, entryID); err != nil {
			return wrap("record hold", err)
		}
		return nil
	})
	if err != nil {
		return 0, wrap("hold points for "+redemptionID, err)
	}
	return entryID, nil
}

// CommitPoints makes a hold final: the points are spent. Idempotent; a released hold cannot be committed.
func (s *Store) CommitPoints(ctx context.Context, redemptionID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE points_holds SET status = 'committed' WHERE redemption_id = $1 AND status <> 'released'`, redemptionID)
	if err != nil {
		return wrap("commit points of "+redemptionID, err)
	}
	if tag.RowsAffected() == 0 {
		var n int
		_ = s.pool.QueryRow(ctx, `SELECT count(*) FROM points_holds WHERE redemption_id = $1`, redemptionID).Scan(&n)
		if n > 0 {
			return domain.Errorf(domain.ErrConflict, "the points of redemption %s were released", redemptionID)
		}
	}
	return nil
}

// ReleasePoints gives a redemption's held (or committed) points back to exactly the lots they came from, with their
// expiry dates: a 'release' entry keyed release:<redemption id>. Idempotent; a redemption without a hold releases
// nothing. It returns the points given back by this call.
func (s *Store) ReleasePoints(ctx context.Context, redemptionID string, now time.Time) (int64, error) {
	var released int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		released = 0
		var memberID, status string
		var holdEntry int64
		err := tx.QueryRow(ctx, `SELECT member_id::text, status, hold_entry_id FROM points_holds WHERE redemption_id = $1`, redemptionID).
			Scan(&memberID, &status, &holdEntry)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return wrap("read hold", err)
		}
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		// Re-read under the member lock: a concurrent release may have won.
		if err := tx.QueryRow(ctx, `SELECT status FROM points_holds WHERE redemption_id = $1 FOR UPDATE`, redemptionID).Scan(&status); err != nil {
			return wrap("lock hold", err)
		}
		if status == "released" {
			return nil
		}
		id, pts, err := led.restore(ctx, holdEntry, entry{kind: domain.EntryRelease, availableAt: now, sourceType: "redemption",
			sourceID: redemptionID, key: domain.PointsReleaseKey(redemptionID), occurredAt: now})
		if err != nil {
			return err
		}
		released = pts
		if pts > 0 {
			effectsOf(tx).compensation("release_points")
		}
		_, err = tx.Exec(ctx, `UPDATE points_holds SET status = 'released', release_entry_id = $2 WHERE redemption_id = $1`, redemptionID, id)
		return wrap("record release", err)
	})
	if err != nil {
		return 0, wrap("release points of "+redemptionID, err)
	}
	return released, nil
}

// restore gives back what a debit took: a positive entry e whose allocations are the debit's, negated, against the
// same lots, whose remaining rises by as much. It opens no lot: the points return to the lots (and expiry dates)
// they came from.
func (l *memberLedger) restore(ctx context.Context, debitEntry int64, e entry) (int64, int64, error) {
	rows, err := l.tx.Query(ctx, `SELECT lot_entry_id, points FROM ledger_allocations WHERE entry_id = $1 ORDER BY lot_entry_id`, debitEntry)
	if err != nil {
		return 0, 0, wrap("read allocations", err)
	}
	takes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (openLot, error) {
		var o openLot
		return o, r.Scan(&o.id, &o.remaining)
	})
	if err != nil {
		return 0, 0, wrap("read allocations", err)
	}
	var total int64
	for _, t := range takes {
		total += t.remaining
	}
	if total <= 0 {
		return 0, 0, nil
	}
	e.points = total
	id, err := l.insertEntry(ctx, e)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range takes {
		if _, err := l.tx.Exec(ctx, `INSERT INTO ledger_allocations (entry_id, lot_entry_id, points) VALUES ($1, $2, $3)`, id, t.id, -t.remaining); err != nil {
			return 0, 0, wrap("record restoring allocation", err)
		}
		if _, err := l.tx.Exec(ctx, `UPDATE ledger_lots SET remaining = remaining + $2 WHERE entry_id = $1`, t.id, t.remaining); err != nil {
			return 0, 0, wrap("restore lot", err)
		}
	}
	l.total += total
	return id, total, l.saveBalance(ctx)
}
