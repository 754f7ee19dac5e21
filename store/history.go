package store

import (
	"context"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// History returns up to limit ledger entries of a member, newest first, starting after the entry id beforeID
// (0 = from the newest). The entries' ids are the cursor for the next page.
func (s *Store) History(ctx context.Context, memberID string, beforeID int64, limit int) ([]domain.LedgerEntry, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, member_id::text, kind, points, available_at, expires_at, source_type, source_id, balance_after, created_at
		FROM ledger_entries WHERE member_id = $1 AND id < $2
		ORDER BY id DESC LIMIT $3`, memberID, beforeID, limit)
	if err != nil {
		return nil, wrap("history", err)
	}
	defer rows.Close()
	out := []domain.LedgerEntry{}
	for rows.Next() {
		var e domain.LedgerEntry
		var exp *time.Time
		if err := rows.Scan(&e.ID, &e.MemberID, &e.Kind, &e.Points, &e.AvailableAt, &exp, &e.SourceType, &e.SourceID,
			&e.BalanceAfter, &e.CreatedAt); err != nil {
			return nil, wrap("history", err)
		}
		e.ExpiresAt = exp
		out = append(out, e)
	}
	return out, wrap("history", rows.Err())
}
