package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/perkflow/perkflow/store"
)

// The Postgres floors: purchases written straight to Postgres with pgx, no API and no Temporal, through a pool
// sized as perkflow's processes size theirs (pgxpool's default).
//
//   - pg-floor is the least a purchase costs the ledger: one transaction that locks the member's balance row, appends
//     the ledger entry and updates the balance.
//   - store is perkflow's own write path, store.AccruePurchase, called directly: program lookup, the transactions row,
//     the ledger entry and balance, the notification and the balance read-back.
type pgFloor struct {
	s       *stack
	pool    *pgxpool.Pool
	store   *store.Store
	members []string
	seq     atomic.Int64
	// occurredAt is set when ledger_entries has an occurred_at column (the points engine's schema).
	occurredAt bool
}

func startPGFloor(ctx context.Context, s *stack, members []string) (*pgFloor, error) {
	pool, err := store.OpenPool(ctx, s.dbURL)
	if err != nil {
		return nil, err
	}
	f := &pgFloor{s: s, pool: pool, store: store.New(pool), members: members}
	err = pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_name = 'ledger_entries' AND column_name = 'occurred_at')`).Scan(&f.occurredAt)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return f, nil
}

func (f *pgFloor) close() { f.pool.Close() }

// writeLedger is the floor's transaction: the ledger entry and the balance, consistent with each other (the balance
// equals the sum of the entries, the entry records the balance after it).
func (f *pgFloor) writeLedger(ctx context.Context, member, key string) error {
	return pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		var total int64
		if err := tx.QueryRow(ctx, `SELECT total FROM member_balances WHERE member_id = $1 FOR UPDATE`, member).Scan(&total); err != nil {
			return err
		}
		const points = 19
		now := time.Now()
		cols, vals := "", ""
		args := []any{member, points, now, now.AddDate(2, 0, 0), key, "benchfloor:" + key, total + points}
		if f.occurredAt {
			cols, vals = ", occurred_at", ", $8"
			args = append(args, now)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id,
			                            idempotency_key, balance_after`+cols+`)
			VALUES ($1, 'accrual', $2, $3, $4, 'bench', $5, $6, $7`+vals+`)`, args...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
			UPDATE member_balances SET total = total + $2, lifetime = lifetime + $2, updated_at = now()
			WHERE member_id = $1`, member, points)
		return err
	})
}

// step writes at rate for dur; kind is "pg-floor" or "store".
func (f *pgFloor) step(ctx context.Context, kind string, rate float64, dur time.Duration) Step {
	rec := newRecorder()
	prefix := fmt.Sprintf("p%s-%d-", f.s.runID, f.seq.Add(1))
	probe := f.s.cpuProbe()
	openLoop(ctx, rate, dur, func(i uint64, due time.Time) {
		id := prefix + strconv.FormatUint(i, 10)
		member := f.members[int(i%uint64(len(f.members)))]
		rec.sentUntracked(due)
		var err error
		if kind == "store" {
			_, err = f.store.AccruePurchase(ctx, purchase(id, member, time.Now()), time.Now())
		} else {
			err = f.writeLedger(ctx, member, id)
		}
		now := time.Now()
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			rec.completeUntracked(now)
		}
		rec.acknowledged("", now.Sub(due), 0, msg)
	})
	st := rec.result(kind, rate, dur, false)
	st.CPU = probe.stop(st.Completed)
	return st
}
