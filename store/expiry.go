package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// ExpiryChunkOptions tune one chunk of an expiry run.
type ExpiryChunkOptions struct {
	// Limit is the number of lots the chunk takes (default 1000).
	Limit int
	// Workers expire different members' lots in parallel (default 4): members never share a lock.
	Workers int
	// BeforeMember is called before each member's lots are expired (heartbeats; tests inject crashes). An error stops
	// the chunk: what was committed stays, and a rerun from the same cursor expires only the rest.
	BeforeMember func(memberID string) error
}

type expiringLot struct {
	id        int64
	memberID  string
	remaining int64
	expiresAt time.Time
}

// ExpireLotsChunk expires one chunk of lots whose date has passed at now, taken set-based in (expires_at, lot id)
// order after the cursor. Each member's lots are written off in one transaction through the same per-member
// serialised path as every other points write (the member's balance row locked first); the entry's idempotency key
// domain.ExpiryKey(lot) guarantees that a lot is never expired twice, whatever the retries and crashes. It returns the
// cursor after the chunk and whether more lots may follow.
func (s *Store) ExpireLotsChunk(ctx context.Context, now time.Time, after domain.ExpiryCursor, opts ExpiryChunkOptions) (domain.ExpiryCursor, domain.ExpiryStats, bool, error) {
	if opts.Limit <= 0 {
		opts.Limit = 1000
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	var stats domain.ExpiryStats
	rows, err := s.pool.Query(ctx, `
		SELECT entry_id, member_id::text, remaining, expires_at FROM ledger_lots
		WHERE remaining > 0 AND expires_at <= $1 AND (expires_at, entry_id) > ($2, $3)
		ORDER BY expires_at, entry_id LIMIT $4`, now, after.ExpiresAt, after.LotID, opts.Limit)
	if err != nil {
		return after, stats, false, wrap("select expiring lots", err)
	}
	lots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (expiringLot, error) {
		var l expiringLot
		return l, r.Scan(&l.id, &l.memberID, &l.remaining, &l.expiresAt)
	})
	if err != nil {
		return after, stats, false, wrap("select expiring lots", err)
	}
	if len(lots) == 0 {
		return after, stats, false, nil
	}
	byMember := map[string][]expiringLot{}
	var members []string
	for _, l := range lots {
		if _, ok := byMember[l.memberID]; !ok {
			members = append(members, l.memberID)
		}
		byMember[l.memberID] = append(byMember[l.memberID], l)
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan string)
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				if opts.BeforeMember != nil {
					if err := opts.BeforeMember(m); err != nil {
						mu.Lock()
						firstErr = errors.Join(firstErr, err)
						mu.Unlock()
						continue
					}
				}
				st, err := s.expireLots(ctx, m, byMember[m], now)
				mu.Lock()
				if err != nil {
					firstErr = errors.Join(firstErr, err)
				}
				stats = stats.Add(st)
				mu.Unlock()
			}
		}()
	}
	for _, m := range members {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		work <- m
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return after, stats, true, firstErr
	}
	last := lots[len(lots)-1]
	stats.Chunks = 1
	return domain.ExpiryCursor{ExpiresAt: last.expiresAt, LotID: last.id}, stats, len(lots) == opts.Limit, nil
}

// expireLots writes off what is left of the given lots of one member, in one transaction under the member's lock,
// set-based: one expiry entry per lot (key domain.ExpiryKey, dated at the lot's expiry, running balances in
// (expires_at, lot) order), its allocation, the lot emptied and the balance moved — the same rows the ledger's debit
// primitive writes for an expiry, in a handful of statements instead of six per lot. A lot expired before (its key
// exists: points given back to it later by a release stay with the member) is skipped.
func (s *Store) expireLots(ctx context.Context, memberID string, lots []expiringLot, now time.Time) (domain.ExpiryStats, error) {
	var st domain.ExpiryStats
	ids := make([]int64, len(lots))
	for i, l := range lots {
		ids[i] = l.id
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		st = domain.ExpiryStats{}
		// An expiry lost to a server crash right after its commit is simply redone by the next run (the lot is still
		// open, and its key keeps it from being written twice), so the commit need not wait for the disk: this is
		// what lets a run of a million lots finish in minutes.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return wrap("expiry commit mode", err)
		}
		led, err := lockMember(ctx, tx, memberID)
		if err != nil {
			return err
		}
		var expired, points, skipped int64
		err = tx.QueryRow(ctx, `
			WITH lot AS (
				SELECT l.entry_id, l.remaining, l.expires_at, 'expiry:' || l.entry_id AS key,
				       EXISTS (SELECT 1 FROM ledger_entries e WHERE e.idempotency_key = 'expiry:' || l.entry_id) AS done
				FROM ledger_lots l
				WHERE l.entry_id = ANY($1) AND l.member_id = $2 AND l.remaining > 0 AND l.expires_at <= $4),
			todo AS (
				SELECT entry_id, remaining, expires_at, key,
				       sum(remaining) OVER (ORDER BY expires_at, entry_id) AS taken_so_far
				FROM lot WHERE NOT done),
			entry AS (
				INSERT INTO ledger_entries (member_id, kind, points, available_at, source_type, source_id, idempotency_key,
				                            balance_after, occurred_at)
				SELECT $2, 'expiry', -remaining, expires_at, 'expiry', key, key, $3 - taken_so_far, expires_at
				FROM todo ORDER BY expires_at, entry_id
				RETURNING id, idempotency_key),
			alloc AS (
				INSERT INTO ledger_allocations (entry_id, lot_entry_id, points)
				SELECT entry.id, todo.entry_id, todo.remaining FROM entry JOIN todo ON todo.key = entry.idempotency_key
				RETURNING lot_entry_id),
			emptied AS (
				UPDATE ledger_lots SET remaining = 0 FROM todo WHERE ledger_lots.entry_id = todo.entry_id
				RETURNING todo.remaining)
			SELECT (SELECT count(*) FROM emptied), (SELECT COALESCE(sum(remaining), 0) FROM emptied),
			       (SELECT count(*) FROM lot WHERE done), (SELECT count(*) FROM alloc)`,
			ids, memberID, led.total, now).Scan(&expired, &points, &skipped, new(int64))
		if err != nil {
			return wrap("expire lots", err)
		}
		st.LotsExpired, st.PointsExpired, st.LotsSkipped = expired, points, skipped
		if expired == 0 {
			return nil
		}
		effectsOf(tx).entry(domain.EntryExpiry, "expiry", -points)
		st.MembersExpired = 1
		led.total -= points
		return led.saveBalance(ctx)
	})
	return st, wrap("expire lots of "+memberID, err)
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
