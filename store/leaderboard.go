package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Leaderboard lists the top earners of the period holding now ("week", "month" or "all"): points earned (accruals
// and bonuses, less returns) as maintained by the ledger's trigger in leaderboard_points, highest first, ties broken
// by member id so that the order is stable. Members are shown by display name only; erased members are left out.
// The query walks the (period, period_start, points DESC, member_id) index: its cost does not grow with the number
// of members.
func (s *Store) Leaderboard(ctx context.Context, period string, now time.Time, limit int) ([]domain.LeaderboardEntry, error) {
	start, ok := domain.PeriodStart(period, now)
	if !ok {
		return nil, domain.Errorf(domain.ErrInvalid, "period must be week, month or all")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT COALESCE(m.name, ''), lp.points FROM leaderboard_points lp
		JOIN members m ON m.id = lp.member_id
		WHERE lp.period = $1 AND lp.period_start = $2 AND lp.points > 0 AND m.status = 'active'
		ORDER BY lp.points DESC, lp.member_id
		LIMIT $3`, period, start, limit)
	if err != nil {
		return nil, wrap("leaderboard", err)
	}
	i := 0
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.LeaderboardEntry, error) {
		var name string
		var e domain.LeaderboardEntry
		if err := r.Scan(&name, &e.Points); err != nil {
			return e, err
		}
		i++
		e.Rank, e.DisplayName = i, domain.DisplayName(name)
		return e, nil
	})
	return out, wrap("leaderboard", err)
}
