package store

import (
	"context"
	"time"
)

// CountExpiringLots counts the lots an expiry run at now has to go through: those with points left whose date has
// passed (what ExpireLotsChunk selects), so that a run can be shown as lots done out of lots due.
func (s *Store) CountExpiringLots(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE remaining > 0 AND expires_at <= $1`, now).Scan(&n)
	return n, wrap("count expiring lots", err)
}
