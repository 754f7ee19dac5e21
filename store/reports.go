package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reports over the whole ledger: what is owed to members now (the liability) and what moved per period.

// Liability is the points outstanding at one instant, read in one statement (one snapshot). Balance is the sum of
// every ledger entry (each member's balance is the sum of theirs: store.CheckInvariants), and it splits exactly into
// Available + Pending + AwaitingExpiry. Held are points debited by redemptions still in flight, which a failure or a
// cancel would give back.
type Liability struct {
	AsOf time.Time
	// Balance is the sum of the ledger: every member's balance added up.
	Balance int64
	// Available is spendable now, less any debt a return left (so it may be below the lots' sum).
	Available int64
	// Pending is credited but not spendable yet.
	Pending int64
	// AwaitingExpiry is past its expiry date, not yet taken off by the daily expiry run.
	AwaitingExpiry int64
	// Held is debited by redemptions in flight (given back if they fail or are cancelled).
	Held int64
	// Expiring30, 60 and 90 are the points of lots that expire within so many days from AsOf (each includes the
	// shorter spans).
	Expiring30, Expiring60, Expiring90 int64
	// Members is how many members have a balance other than zero.
	Members int64
}

// Liability reads the points outstanding at now.
func (s *Store) Liability(ctx context.Context, now time.Time) (Liability, error) {
	l := Liability{AsOf: now.UTC()}
	var debt, availLots int64
	err := s.pool.QueryRow(ctx, `
		WITH lots AS (
			SELECT
				COALESCE(sum(remaining) FILTER (WHERE available_at <= $1 AND (expires_at IS NULL OR expires_at > $1)), 0) AS available,
				COALESCE(sum(remaining) FILTER (WHERE available_at > $1 AND (expires_at IS NULL OR expires_at > $1)), 0) AS pending,
				COALESCE(sum(remaining) FILTER (WHERE expires_at <= $1), 0) AS lapsed,
				COALESCE(sum(remaining) FILTER (WHERE expires_at > $1 AND expires_at <= $1 + interval '30 days'), 0) AS e30,
				COALESCE(sum(remaining) FILTER (WHERE expires_at > $1 AND expires_at <= $1 + interval '60 days'), 0) AS e60,
				COALESCE(sum(remaining) FILTER (WHERE expires_at > $1 AND expires_at <= $1 + interval '90 days'), 0) AS e90
			FROM ledger_lots WHERE remaining > 0
		), balances AS (
			SELECT COALESCE(sum(total), 0) AS total, COALESCE(sum(debt), 0) AS debt, count(*) FILTER (WHERE total <> 0) AS members
			FROM member_balances
		)
		SELECT b.total, b.debt, b.members, l.available, l.pending, l.lapsed, l.e30, l.e60, l.e90,
		       (SELECT COALESCE(sum(points), 0) FROM points_holds WHERE status = 'held')
		FROM lots l, balances b`, now).
		Scan(&l.Balance, &debt, &l.Members, &availLots, &l.Pending, &l.AwaitingExpiry, &l.Expiring30, &l.Expiring60, &l.Expiring90, &l.Held)
	if err != nil {
		return l, wrap("liability", err)
	}
	l.Available = availLots - debt
	return l, nil
}

// PointsFlow is what moved in the ledger over one period, in points (all positive numbers except Net). Issued is
// split by where it came from; Redeemed counts what claims and tills took, Released what failed or cancelled claims
// gave back; Net is the sum of every entry of the period, so that Issued − Returned − Redeemed + Released − Expired
// − AdjustedDown = Net.
type PointsFlow struct {
	Start                                          time.Time
	Accrual, Bonus, Campaign, Challenge, Adjusted  int64
	Returned, Redeemed, Released, Expired, AdjDown int64
	Net                                            int64
}

// Issued is every point credited over the period (releases aside).
func (f PointsFlow) Issued() int64 {
	return f.Accrual + f.Bonus + f.Campaign + f.Challenge + f.Adjusted
}

// PointsFlows sums the ledger entries that occurred in [from, to) by period (date_trunc's "day", "week" or "month",
// weeks starting on Monday) in the time zone loc, oldest first; periods in which nothing moved are left out.
func (s *Store) PointsFlows(ctx context.Context, from, to time.Time, interval string, loc *time.Location) ([]PointsFlow, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT date_trunc($3, occurred_at AT TIME ZONE $4) AS period,
		       COALESCE(sum(points) FILTER (WHERE kind = 'accrual'), 0),
		       COALESCE(sum(points) FILTER (WHERE kind = 'bonus' AND source_type NOT IN ('campaign', 'challenge')), 0),
		       COALESCE(sum(points) FILTER (WHERE kind = 'bonus' AND source_type = 'campaign'), 0),
		       COALESCE(sum(points) FILTER (WHERE kind = 'bonus' AND source_type = 'challenge'), 0),
		       COALESCE(sum(points) FILTER (WHERE kind = 'adjustment' AND points > 0), 0),
		       COALESCE(-sum(points) FILTER (WHERE kind = 'return'), 0),
		       COALESCE(-sum(points) FILTER (WHERE kind = 'redemption'), 0),
		       COALESCE(sum(points) FILTER (WHERE kind = 'release'), 0),
		       COALESCE(-sum(points) FILTER (WHERE kind = 'expiry'), 0),
		       COALESCE(-sum(points) FILTER (WHERE kind = 'adjustment' AND points < 0), 0),
		       sum(points)
		FROM ledger_entries WHERE occurred_at >= $1 AND occurred_at < $2
		GROUP BY 1 ORDER BY 1`, from, to, interval, loc.String())
	if err != nil {
		return nil, wrap("points flows", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PointsFlow, error) {
		var f PointsFlow
		var local time.Time
		err := r.Scan(&local, &f.Accrual, &f.Bonus, &f.Campaign, &f.Challenge, &f.Adjusted, &f.Returned, &f.Redeemed,
			&f.Released, &f.Expired, &f.AdjDown, &f.Net)
		// date_trunc of a local timestamp: the wall-clock start of the period, read back in loc.
		f.Start = time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
		return f, err
	})
	return out, wrap("points flows", err)
}
