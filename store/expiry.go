package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// ExpiryChunkOptions tune one chunk of an expiry run.
type ExpiryChunkOptions struct {
	// Limit is the number of lots the chunk takes (default DefaultExpiryChunk).
	Limit int
	// MemberID restricts the chunk to one member's lots (ExpireMemberLots); "" takes every member's.
	MemberID string
	// Partition of Partitions restricts the chunk to the members whose id falls in its range (ExpiryPartitionOf), so that
	// several runs over disjoint member sets can expire side by side: each takes only its own members' balance rows,
	// so none waits for another. Partitions <= 1 takes every member.
	Partition, Partitions int
	// BeforeCommit is called in the chunk's transaction once its lots are written off, before it commits (tests
	// inject crashes): an error rolls the whole chunk back.
	BeforeCommit func(domain.ExpiryStats) error
}

type expiringLot struct {
	id        int64
	memberID  string
	remaining int64
	expiresAt time.Time
}

// DefaultExpiryChunk is how many lots a chunk takes unless told: tens of thousands of lots per statement spread the
// statement's fixed costs thin, while a chunk's transaction stays short (a few seconds on a loaded machine; the
// figures are in BENCHMARKS.md).
const DefaultExpiryChunk = 20000

// ExpireLotsChunk expires one chunk of lots whose date has passed at now, taken in (expires_at, lot id) order after
// the cursor, set-based in one transaction: the balance rows of the chunk's members are locked first (in member
// order, the per-member lock every other points write takes, so that no write of theirs runs beside it and two
// chunks never deadlock), then one statement appends one expiry entry per lot (key domain.ExpiryKey, dated at the
// lot's expiry, running balances per member in (expires_at, lot) order), its allocation, empties the lots and moves
// each member's balance once. The key guarantees that a lot is never expired twice, whatever the retries and crashes:
// a lot expired before (its key exists: points given back to it later by a release stay with the member) is
// skipped. It returns the cursor after the chunk and whether more lots may follow.
func (s *Store) ExpireLotsChunk(ctx context.Context, now time.Time, after domain.ExpiryCursor, opts ExpiryChunkOptions) (domain.ExpiryCursor, domain.ExpiryStats, bool, error) {
	if opts.Limit <= 0 {
		opts.Limit = DefaultExpiryChunk
	}
	var stats domain.ExpiryStats
	q := `SELECT entry_id, member_id::text, expires_at FROM ledger_lots
		WHERE remaining > 0 AND expires_at <= $1 AND (expires_at, entry_id) > ($2, $3)`
	args := []any{now, after.ExpiresAt, after.LotID, opts.Limit}
	if opts.MemberID != "" {
		args = append(args, opts.MemberID)
		q += fmt.Sprintf(` AND member_id = $%d`, len(args))
	}
	if opts.Partitions > 1 {
		lo, hi := expiryPartitionBounds(opts.Partition, opts.Partitions)
		args = append(args, lo)
		q += fmt.Sprintf(` AND member_id >= $%d::uuid`, len(args))
		if hi != "" {
			args = append(args, hi)
			q += fmt.Sprintf(` AND member_id < $%d::uuid`, len(args))
		}
	}
	q += ` ORDER BY expires_at, entry_id LIMIT $4`
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return after, stats, false, wrap("select expiring lots", err)
	}
	ids := make([]int64, 0, min(opts.Limit, 1<<16))
	var members []string
	seen := map[string]bool{}
	var (
		last   domain.ExpiryCursor
		member string
	)
	_, err = pgx.ForEachRow(rows, []any{&last.LotID, &member, &last.ExpiresAt}, func() error {
		ids = append(ids, last.LotID)
		if !seen[member] {
			seen[member] = true
			members = append(members, member)
		}
		return nil
	})
	if err != nil {
		return after, stats, false, wrap("select expiring lots", err)
	}
	if len(ids) == 0 {
		return after, stats, false, nil
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		stats = domain.ExpiryStats{}
		// An expiry lost to a server crash right after its commit is simply redone by the next run (the lot is still
		// open, and its key keeps it from being written twice), so the commit need not wait for the disk.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return wrap("expiry commit mode", err)
		}
		// Every row the statement reads or writes is reached by its key from the chunk's lots: a hash or merge join
		// would read a whole table (the lots, the balances) once per chunk, which makes a run grow with the square of
		// the table; nested loops over the keys keep a chunk's cost its own size. JIT compiling the statement cost
		// about 0.2 s of CPU per chunk, for a plan that runs once.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off`); err != nil {
			return wrap("expiry plan settings", err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM member_balances WHERE member_id = ANY($1::uuid[]) ORDER BY member_id FOR UPDATE`,
			members); err != nil {
			return wrap("lock member balances", err)
		}
		var alloc int64
		err := tx.QueryRow(ctx, `
			WITH lot AS (
				SELECT l.entry_id, l.member_id, l.remaining, l.expires_at, 'expiry:' || l.entry_id AS key,
				       EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'expiry:' || l.entry_id) AS done
				FROM unnest($1::bigint[]) AS c (id) JOIN ledger_lots l ON l.entry_id = c.id
				WHERE l.remaining > 0 AND l.expires_at <= $2),
			todo AS (
				SELECT entry_id, member_id, remaining, expires_at, key,
				       sum(remaining) OVER (PARTITION BY member_id ORDER BY expires_at, entry_id) AS taken_so_far
				FROM lot WHERE NOT done),
			entry AS (
				INSERT INTO ledger_entries (member_id, kind, points, available_at, source_type, source_id, idempotency_key,
				                            balance_after, occurred_at)
				SELECT t.member_id, 'expiry', -t.remaining, t.expires_at, 'expiry', t.key, t.key, b.total - t.taken_so_far, t.expires_at
				FROM todo t JOIN member_balances b ON b.member_id = t.member_id
				ORDER BY t.member_id, t.expires_at, t.entry_id
				RETURNING id, source_id, points),
			alloc AS (
				INSERT INTO ledger_allocations (entry_id, lot_entry_id, points)
				SELECT id, substr(source_id, length('expiry:') + 1)::bigint, -points FROM entry
				RETURNING lot_entry_id),
			emptied AS (
				UPDATE ledger_lots SET remaining = 0 FROM todo WHERE ledger_lots.entry_id = todo.entry_id
				RETURNING todo.remaining),
			per_member AS (
				SELECT member_id, sum(remaining) AS points FROM todo GROUP BY member_id),
			moved AS (
				UPDATE member_balances b SET total = b.total - p.points, updated_at = now()
				FROM per_member p WHERE b.member_id = p.member_id
				RETURNING b.member_id)
			SELECT (SELECT count(*) FROM emptied), (SELECT COALESCE(sum(remaining), 0) FROM emptied),
			       (SELECT count(*) FROM lot WHERE done), (SELECT count(*) FROM moved), (SELECT count(*) FROM alloc)`,
			ids, now).Scan(&stats.LotsExpired, &stats.PointsExpired, &stats.LotsSkipped, &stats.MembersExpired, &alloc)
		if err != nil {
			return wrap("expire lots", err)
		}
		if alloc != stats.LotsExpired {
			return fmt.Errorf("expire lots: %d allocations for %d lots", alloc, stats.LotsExpired)
		}
		if stats.PointsExpired > 0 {
			effectsOf(tx).entry(domain.EntryExpiry, "expiry", -stats.PointsExpired)
		}
		if opts.BeforeCommit != nil {
			return opts.BeforeCommit(stats)
		}
		return nil
	})
	if err != nil {
		return after, domain.ExpiryStats{}, true, err
	}
	stats.Chunks = 1
	return last, stats, len(ids) == opts.Limit, nil
}

// expiryPartitionBounds are the member ids of partition p of n: [lo, hi) over the id's first 32 bits (hi "" for the
// last), so that a member's lots are all in one partition and the partitions cover every id. A range, unlike a hash
// of the id, is estimated from the column's statistics: with a hash the planner guessed 0.5 % of the lots and sorted
// the whole table for each chunk (0.9 s per chunk on 1,000,000 lots) instead of reading the cursor's index in order
// (20 ms). Member ids are random or name-based UUIDs, so the ranges hold about as many members each.
func expiryPartitionBounds(p, n int) (lo, hi string) {
	bound := func(p int) string {
		return fmt.Sprintf("%08x-0000-0000-0000-000000000000", (uint64(p)<<32+uint64(n)-1)/uint64(n))
	}
	lo = bound(p)
	if p < n-1 {
		hi = bound(p + 1)
	}
	return lo, hi
}

// ExpiryPartitionOf is the partition (of partitions) that the expiry run puts a member in, by the same bounds
// ExpireLotsChunk queries with (tests use it to know which run takes which member). A member id's text, lower-case as
// perkflow issues it, orders as its bytes do, as Postgres orders uuids.
func ExpiryPartitionOf(memberID string, partitions int) int {
	for p := partitions - 1; p > 0; p-- {
		if lo, _ := expiryPartitionBounds(p, partitions); memberID >= lo {
			return p
		}
	}
	return 0
}

// ExpireMemberLots writes off what is left of every lot of the member whose expiry date has passed at now, by the
// expiry run's own code (ExpireLotsChunk restricted to the member): one expiry entry per lot, idempotent on the lot
// (a lot is never expired twice). It returns the points expired.
func (s *Store) ExpireMemberLots(ctx context.Context, memberID string, now time.Time) (int64, error) {
	var total int64
	cur := domain.ExpiryCursor{}
	for {
		next, st, more, err := s.ExpireLotsChunk(ctx, now, cur, ExpiryChunkOptions{MemberID: memberID})
		if err != nil {
			return total, err
		}
		total += st.PointsExpired
		if !more {
			return total, nil
		}
		cur = next
	}
}

// ExpiryNotice is a reminder to a member that points expire soon.
type ExpiryNotice struct {
	Key       string    `json:"key"`
	MemberID  string    `json:"member_id"`
	Points    int64     `json:"points"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RecordExpiryReminders takes up to limit lots of active members that expire within (now, until] and have not been
// announced, and records them against one notice per member for the run's day (domain.ExpiryNoticeKey). A lot is
// announced once, ever: a later run skips it. It returns the lots recorded (0 when none is left).
func (s *Store) RecordExpiryReminders(ctx context.Context, now, until time.Time, limit int) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT l.entry_id, l.member_id::text, l.remaining, l.expires_at FROM ledger_lots l
			JOIN members m ON m.id = l.member_id AND m.status = 'active'
			WHERE l.remaining > 0 AND l.expires_at > $1 AND l.expires_at <= $2
			  AND NOT EXISTS (SELECT 1 FROM expiry_reminders r WHERE r.lot_entry_id = l.entry_id)
			ORDER BY l.expires_at, l.entry_id LIMIT $3`, now, until, limit)
		if err != nil {
			return wrap("select lots to announce", err)
		}
		lots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (expiringLot, error) {
			var l expiringLot
			return l, r.Scan(&l.id, &l.memberID, &l.remaining, &l.expiresAt)
		})
		if err != nil || len(lots) == 0 {
			return wrap("select lots to announce", err)
		}
		ids := make([]int64, len(lots))
		keys := make([]string, len(lots))
		members := make([]string, len(lots))
		points := make([]int64, len(lots))
		expires := make([]time.Time, len(lots))
		for i, l := range lots {
			ids[i], members[i], points[i], expires[i] = l.id, l.memberID, l.remaining, l.expiresAt
			keys[i] = domain.ExpiryNoticeKey(l.memberID, now)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO expiry_notices (notice_key, member_id, points, expires_at)
			SELECT k, m::uuid, sum(p), min(e) FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[]) AS u (k, m, p, e)
			GROUP BY k, m
			ON CONFLICT (notice_key) DO UPDATE SET points = expiry_notices.points + EXCLUDED.points,
				expires_at = least(expiry_notices.expires_at, EXCLUDED.expires_at)
				WHERE expiry_notices.sent_at IS NULL`, keys, members, points, expires); err != nil {
			return wrap("record expiry notices", err)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO expiry_reminders (lot_entry_id, notice_key)
			SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT DO NOTHING`, ids, keys)
		if err != nil {
			return wrap("record expiry reminders", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}

// UnsentExpiryNotices lists up to limit reminders recorded and not yet sent.
func (s *Store) UnsentExpiryNotices(ctx context.Context, limit int) ([]ExpiryNotice, error) {
	rows, err := s.pool.Query(ctx, `SELECT notice_key, member_id::text, points, expires_at FROM expiry_notices
		WHERE sent_at IS NULL ORDER BY created_at, notice_key LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("unsent expiry notices", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExpiryNotice, error) {
		var n ExpiryNotice
		return n, r.Scan(&n.Key, &n.MemberID, &n.Points, &n.ExpiresAt)
	})
	return out, wrap("unsent expiry notices", err)
}

// MarkExpiryNoticeSent records that a reminder went out.
func (s *Store) MarkExpiryNoticeSent(ctx context.Context, key string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE expiry_notices SET sent_at = $2 WHERE notice_key = $1 AND sent_at IS NULL`, key, at)
	return wrap("mark expiry notice sent", err)
}
