package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

// seedEarners inserts n members, each with one accrual earned at `at` (points = (i*7919) % 5000 + 1, so that many
// members tie), a lot and a balance that agree, straight in SQL (a fixture: the ledger's trigger keeps the
// leaderboard's aggregate as it does for every entry).
func seedEarners(t testing.TB, st *store.Store, n int, at time.Time) {
	t.Helper()
	ctx := context.Background()
	_, err := st.Pool().Exec(ctx, `
		WITH m AS (
			INSERT INTO members (id, email, name, status)
			SELECT md5('m' || i)::uuid, 'm' || i || '@example.com', 'First' || i || ' last' || i, 'active'
			FROM generate_series(1, $1) i RETURNING id, email),
		pts AS (SELECT id, (split_part(split_part(email, '@', 1), 'm', 2)::bigint * 7919) % 5000 + 1 AS p FROM m),
		b AS (INSERT INTO member_balances (member_id, total, lifetime) SELECT id, p, p FROM pts),
		e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at, qualifying_points)
			SELECT id, 'accrual', p, $2, 'purchase', 'seed-' || id, 'accrual:seed-' || id, p, $2, p FROM pts RETURNING id, member_id, points)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at) SELECT id, member_id, points, points, $2 FROM e`,
		n, at)
	if err != nil {
		t.Fatal(err)
	}
}

// truth computes the top of a period by scanning the ledger: what the aggregate must agree with.
func truth(t *testing.T, st *store.Store, from time.Time, limit int) []domain.LeaderboardEntry {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `
		SELECT m.name, sum(e.points) FROM ledger_entries e JOIN members m ON m.id = e.member_id
		WHERE e.kind IN ('accrual', 'bonus', 'return') AND e.occurred_at >= $1 AND m.status = 'active'
		GROUP BY m.id, m.name HAVING sum(e.points) > 0 ORDER BY sum(e.points) DESC, m.id LIMIT $2`, from, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []domain.LeaderboardEntry
	for rows.Next() {
		var name string
		e := domain.LeaderboardEntry{Rank: len(out) + 1}
		if err := rows.Scan(&name, &e.Points); err != nil {
			t.Fatal(err)
		}
		e.DisplayName = domain.DisplayName(name)
		out = append(out, e)
	}
	return out
}

// setupLarge is setup without the invariant check at the end, which scans every member (slow on 100,000).
func setupLarge(t *testing.T) *store.Store {
	t.Helper()
	db := pgtest.New(t)
	st := store.New(db.Pool).WithClock(testClock)
	if _, err := st.SaveProgram(context.Background(), domain.DefaultProgram(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestLeaderboardOnAHundredThousandMembers(t *testing.T) {
	st := setupLarge(t)
	ctx := context.Background()
	// A fixed day whose week began in the previous month (Tuesday 1 December 2026; the week began on Monday
	// 30 November): every earning is seeded inside both the week and the month, whatever day the test runs on.
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	week, _ := domain.PeriodStart(domain.PeriodWeek, now)
	month, _ := domain.PeriodStart(domain.PeriodMonth, now)
	earnedAt := latest(week, month).Add(time.Hour)
	seedEarners(t, st, 100_000, earnedAt)
	// A big earner erased (not shown: they would top every period), and one whose points were earned last year (all
	// time only).
	if _, err := st.Pool().Exec(ctx, `
		WITH e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at, qualifying_points)
			VALUES (md5('m1')::uuid, 'bonus', 1000000, $1, 'campaign', 'big', 'bonus:big', 1002921, $1, 1000000) RETURNING id)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at)
		SELECT id, md5('m1')::uuid, 1000000, 1000000, $1 FROM e`, earnedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE members SET status = 'erased', name = NULL, email = NULL WHERE id = md5('m1')::uuid`); err != nil {
		t.Fatal(err)
	}
	old := newMember(t, st, "old@example.com")
	if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: "not-earned", MemberID: old, Points: 9_000_000, Reason: "adjustments are not earnings", Actor: "t"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GrantBirthdayBonus(ctx, old, 1999, now.AddDate(-1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		period string
		from   time.Time
	}{{domain.PeriodWeek, week}, {domain.PeriodMonth, month}, {domain.PeriodAll, time.Unix(0, 0)}} {
		start := time.Now() // a duration measured, not a date
		got, err := st.Leaderboard(ctx, c.period, now, 50)
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		want := truth(t, st, c.from, 50)
		if len(got) != 50 || len(want) != 50 {
			t.Fatalf("%s: %d ranks, truth %d", c.period, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s rank %d: %+v, want %+v", c.period, i+1, got[i], want[i])
			}
		}
		if got[0].Points != 5000 || got[1].Points != 5000 {
			t.Fatalf("%s: top %+v; the top earners tie on 5000 points", c.period, got[:2])
		}
		t.Logf("leaderboard %s on 100,000 members: %v", c.period, took)
	}
	// The erased member (m1 earned 7920 % 5000 + 1 = 2921) is nowhere; the order of ties is the same on every call.
	again, _ := st.Leaderboard(ctx, domain.PeriodAll, now, 200)
	for _, e := range again {
		if e.DisplayName == "First1 L." {
			t.Fatal("an erased member is shown")
		}
	}
	// The whole aggregate equals the ledger summed by period, entry by entry as the trigger adds them: nothing
	// missing, nothing extra, every entry in the period of its occurred_at.
	var drift int
	if err := st.Pool().QueryRow(ctx, `
		WITH truth AS (
			SELECT p.period, p.start AS period_start, e.member_id, sum(e.points) AS points
			FROM ledger_entries e
			CROSS JOIN LATERAL (VALUES ('week', date_trunc('week', (e.occurred_at AT TIME ZONE 'UTC')::date)::date),
			                           ('month', date_trunc('month', (e.occurred_at AT TIME ZONE 'UTC')::date)::date),
			                           ('all', DATE '1970-01-01')) AS p (period, start)
			WHERE e.kind IN ('accrual', 'bonus', 'return') AND e.points <> 0
			GROUP BY p.period, p.start, e.member_id),
		agg AS (SELECT period, period_start, member_id, points FROM leaderboard_points)
		SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT SELECT * FROM agg) a) +
		       (SELECT count(*) FROM (SELECT * FROM agg EXCEPT SELECT * FROM truth) b)`).Scan(&drift); err != nil {
		t.Fatal(err)
	}
	if drift != 0 {
		t.Fatalf("%d rows of leaderboard_points differ from the ledger summed by period", drift)
	}
	var plan string
	if err := st.Pool().QueryRow(ctx, `EXPLAIN SELECT lp.points FROM leaderboard_points lp JOIN members m ON m.id = lp.member_id
		WHERE lp.period = 'all' AND lp.period_start = '1970-01-01' AND lp.points > 0 AND m.status = 'active'
		ORDER BY lp.points DESC, lp.member_id LIMIT 10`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	t.Logf("plan: %s", plan)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// TestLeaderboardPeriodsAtCalendarEdges runs the leaderboard at fixed moments where weeks, months and years meet,
// with purchases a microsecond either side of each period's start: each period holds exactly what the ledger holds
// from its start, and PeriodStart names the start a person would.
func TestLeaderboardPeriodsAtCalendarEdges(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, time.UTC) }
	for _, c := range []struct {
		name             string
		now, week, month time.Time
	}{
		{"a week that straddles two months", utc(2026, 12, 1, 10, 0), utc(2026, 11, 30, 0, 0), utc(2026, 12, 1, 0, 0)},
		{"the first hour of a month that begins a week", utc(2027, 3, 1, 0, 30), utc(2027, 3, 1, 0, 0), utc(2027, 3, 1, 0, 0)},
		{"the last minute of a year", utc(2026, 12, 31, 23, 59), utc(2026, 12, 28, 0, 0), utc(2026, 12, 1, 0, 0)},
		{"the first instant of a year, its week begun in the last", utc(2027, 1, 1, 0, 0), utc(2026, 12, 28, 0, 0), utc(2027, 1, 1, 0, 0)},
		{"a leap day", utc(2028, 2, 29, 12, 0), utc(2028, 2, 28, 0, 0), utc(2028, 2, 1, 0, 0)},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, _ := setup(t)
			// Members join on the store's clock (testNow, in 2028), up to 27 months after these purchases.
			allowLateClaims(t, st, 1000)
			ctx := context.Background()
			for p, want := range map[string]time.Time{domain.PeriodWeek: c.week, domain.PeriodMonth: c.month} {
				if got, _ := domain.PeriodStart(p, c.now); !got.Equal(want) {
					t.Fatalf("PeriodStart(%s, %v) = %v, want %v", p, c.now, got, want)
				}
			}
			// Each member earns once, at one of the moments that matter; amounts differ so the ranking is total.
			moments := []time.Time{c.week.Add(-time.Microsecond), c.week, c.month.Add(-time.Microsecond), c.month,
				c.now, c.now.AddDate(-1, 0, 0)}
			for i, at := range moments {
				m := newMember(t, st, fmt.Sprintf("edge%d@example.com", i))
				p := basket(fmt.Sprintf("T-EDGE-%d", i), m, at, lineItem("A", "x", 1, int64(1000*(i+1))))
				if _, err := st.AccruePurchase(ctx, p, c.now); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range []struct {
				period string
				from   time.Time
			}{{domain.PeriodWeek, c.week}, {domain.PeriodMonth, c.month}, {domain.PeriodAll, time.Unix(0, 0)}} {
				got, err := st.Leaderboard(ctx, p.period, c.now, 50)
				if err != nil {
					t.Fatal(err)
				}
				want := truth(t, st, p.from, 50)
				in := 0
				for _, at := range moments {
					if !at.Before(p.from) {
						in++
					}
				}
				if len(want) != in || len(got) != len(want) {
					t.Fatalf("%s from %v: %d ranks, truth %d, moments inside %d", p.period, p.from, len(got), len(want), in)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s rank %d: %+v, want %+v", p.period, i+1, got[i], want[i])
					}
				}
			}
		})
	}
}
