package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// History returns up to limit ledger entries of a member, newest first, starting after the entry id beforeID
// (0 = from the newest), each with its lot (credits) or the lots it took from (debits), and for the points a
// redemption spent, its coupon code's use once used. An entry's qualifying points are what it counts towards tiers
// under the kinds of credit the program in force lists. The entries' ids are the cursor for the next page.
func (s *Store) History(ctx context.Context, memberID string, beforeID int64, limit int) ([]domain.LedgerEntry, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `
		SELECT e.id, e.member_id::text, e.kind, e.points, e.available_at, e.expires_at, e.source_type, e.source_id,
		       e.balance_after, CASE WHEN `+qualifyingCandidate+` AND `+qualifyingKindOf+` = ANY(`+qualifyingKindsAt("$4", "$5")+`)
		                         THEN `+qualifyingOfEntry+` ELSE 0 END, e.occurred_at, COALESCE(e.actor, ''), COALESCE(e.reason, ''), e.created_at,
		       l.points, l.remaining,
		       COALESCE((SELECT jsonb_agg(jsonb_build_object('lot_id', a.lot_entry_id, 'points', a.points) ORDER BY a.lot_entry_id)
		                 FROM ledger_allocations a WHERE a.entry_id = e.id), '[]'),
		       cu.use_id, cu.used_store_id, cu.used_at
		FROM ledger_entries e LEFT JOIN ledger_lots l ON l.entry_id = e.id
		-- The points a redemption spent show its coupon code's use (the CASE keeps other sources' ids from the cast).
		LEFT JOIN LATERAL (SELECT c.use_id, c.used_store_id, c.used_at FROM coupons c
		                   WHERE e.kind = 'redemption' AND c.used_at IS NOT NULL
		                     AND c.redemption_id = CASE WHEN e.source_type = 'redemption' THEN e.source_id::uuid END) cu ON true
		WHERE e.member_id = $1 AND e.id < $2
		ORDER BY e.id DESC LIMIT $3`, memberID, beforeID, limit, s.Now(), domain.DefaultQualifyingKinds)
	if err != nil {
		return nil, wrap("history", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.LedgerEntry, error) {
		var e domain.LedgerEntry
		var exp *time.Time
		var lotPoints, lotRemaining *int64
		var useID, useStore *string
		var usedAt *time.Time
		err := r.Scan(&e.ID, &e.MemberID, &e.Kind, &e.Points, &e.AvailableAt, &exp, &e.SourceType, &e.SourceID,
			&e.BalanceAfter, &e.QualifyingPoints, &e.OccurredAt, &e.Actor, &e.Reason, &e.CreatedAt,
			&lotPoints, &lotRemaining, jsonScanner{&e.Allocations}, &useID, &useStore, &usedAt)
		e.ExpiresAt = exp
		if usedAt != nil {
			e.CouponUse = &domain.CouponUse{UseID: deref(useID), StoreID: deref(useStore), UsedAt: usedAt.UTC()}
		}
		if lotPoints != nil {
			e.Lot = &domain.Lot{ID: e.ID, Points: *lotPoints, Remaining: *lotRemaining, AvailableAt: e.AvailableAt, ExpiresAt: exp}
		}
		if len(e.Allocations) == 0 {
			e.Allocations = nil
		}
		return e, err
	})
	if out == nil {
		out = []domain.LedgerEntry{}
	}
	return out, wrap("history", err)
}
