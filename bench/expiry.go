package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/workflows"
)

// Expiry is the nightly expiry run over many lots: Lots past their date (10 per member) bulk-inserted into the bench's
// own database, then expired by the expiry workflow as the daily schedule runs it, on the stack's worker.
type Expiry struct {
	Lots    int           `json:"lots"`
	Members int           `json:"members"`
	Seeding time.Duration `json:"seeding_ns"`
	Took    time.Duration `json:"took_ns"` // from the workflow's start until it completed
	Rate    float64       `json:"lots_per_s"`
	Expired int64         `json:"lots_expired"`
	Points  int64         `json:"points_expired"`
	Chunks  int64         `json:"chunks"`
	Left    int64         `json:"lots_left"` // of the seeded lots, still open afterwards: 0 when all expired
	// CPU is µs of CPU per lot in each process.
	CPU *CPUUse `json:"cpu,omitempty"`
}

// SeedLotsPastTheirDate bulk-inserts members (ids and emails drawn from prefix) holding perMember lots of 10 points
// each, credited 800 days ago and past their expiry date by a day and a few minutes, with their balances and ledger
// entries consistent (the ledger invariants hold), for an expiry run to take: the bench's expiry scenario and the
// tests of the expiry run.
func SeedLotsPastTheirDate(ctx context.Context, pool *pgxpool.Pool, prefix string, members, perMember int) error {
	_, err := pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO members (id, email, name)
			SELECT md5($3 || i)::uuid, $3 || i || '@seed.invalid', 'Seed' FROM generate_series(1, $1) i RETURNING id),
		b AS (INSERT INTO member_balances (member_id, total, lifetime) SELECT id, 10 * $2, 10 * $2 FROM m),
		e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at)
			SELECT m.id, 'adjustment', 10, now() - interval '800 days', now() - interval '1 day' - k * interval '1 minute', 'admin',
			       'seed', 'seed:' || m.id || ':' || k, 10 * k, now() - interval '800 days'
			FROM m CROSS JOIN generate_series(1, $2) k RETURNING id, member_id, available_at, expires_at)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at, expires_at)
		SELECT id, member_id, 10, 10, available_at, expires_at FROM e`, members, perMember, prefix)
	return err
}

// expiryLotsPerMember is how many lots each seeded member holds.
const expiryLotsPerMember = 10

// measureExpiry seeds Options.ExpiryLots lots past their date and times the expiry workflow over them.
func (r *runner) measureExpiry(ctx context.Context) error {
	s, n := r.s, r.opts.ExpiryLots
	if s.dbName == "" {
		return errors.New("the expiry scenario seeds its lots only into a database the bench made (not with --database)")
	}
	members := (n + expiryLotsPerMember - 1) / expiryLotsPerMember
	r.progress("expiry: seeding %d lots past their date (%d members)", members*expiryLotsPerMember, members)
	t0 := time.Now()
	prefix := "exp-" + s.runID + "-"
	err := SeedLotsPastTheirDate(ctx, s.pool, prefix, members, expiryLotsPerMember)
	if err != nil {
		return fmt.Errorf("seed lots: %w", err)
	}
	ex := &Expiry{Lots: members * expiryLotsPerMember, Members: members, Seeding: time.Since(t0)}
	// What autovacuum would do after such a load, over the whole database rather than a list of the tables the seeding
	// writes today: the reads' VACUUM (ANALYZE) left statistics of a few hundred members, and a plan made from them
	// (the foreign-key checks' seq scan of members) scanned 100,000 rows for every lot the run expired. Analyzing also
	// drops the plans cached on the old statistics.
	if _, err := s.pool.Exec(ctx, `ANALYZE`); err != nil {
		return err
	}
	r.progress("  seeded in %s; running the expiry workflow", ex.Seeding.Round(time.Millisecond))
	probe := s.cpuProbe()
	t1 := time.Now()
	run, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "bench-expiry-" + s.runID, TaskQueue: s.taskQueue},
		workflows.ExpiryWorkflowName, workflows.ExpiryInput{})
	if err != nil {
		return fmt.Errorf("start the expiry workflow: %w", err)
	}
	var res workflows.ExpiryState
	if err := run.Get(ctx, &res); err != nil {
		return fmt.Errorf("expiry workflow: %w", err)
	}
	ex.Took = time.Since(t1)
	ex.CPU = probe.stop(ex.Lots)
	ex.Expired, ex.Points, ex.Chunks = res.Stats.LotsExpired, res.Stats.PointsExpired, res.Stats.Chunks
	ex.Rate = float64(ex.Expired) / ex.Took.Seconds()
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots l JOIN members m ON m.id = l.member_id
		WHERE m.email LIKE $1 || '%' AND l.remaining > 0`, prefix).Scan(&ex.Left); err != nil {
		return err
	}
	r.rep.Expiry = ex
	r.progress("  %d lots expired in %s (%.0f lots/s, %d chunks); %d of the seeded lots left open", ex.Expired,
		ex.Took.Round(time.Millisecond), ex.Rate, ex.Chunks, ex.Left)
	return nil
}

func (r *Report) writeExpiry(p printer) {
	ex := r.Expiry
	if ex == nil {
		return
	}
	p("#### Expiry\n\n%d lots past their date (%d members, %d each), expired by the expiry workflow on the worker in **%s** "+
		"(%.0f lots/s, %d chunks; seeded in %s); %d lots expired, %d points; %d of the seeded lots left open.\n\n",
		ex.Lots, ex.Members, expiryLotsPerMember, ex.Took.Round(time.Millisecond), ex.Rate, ex.Chunks,
		ex.Seeding.Round(time.Millisecond), ex.Expired, ex.Points, ex.Left)
	if c := ex.CPU; c != nil {
		p("µs of CPU per lot: worker %.1f, Postgres %.1f, bench (Temporal) %.1f; others used %.2f cores.\n\n",
			c.WorkerMicros, c.PostgresMicros, c.BenchMicros, c.OtherCores)
	}
}
