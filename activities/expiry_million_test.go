package activities_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/worker"
	"github.com/perkflow/perkflow/workflows"
)

// TestExpiryWorkflowOnAMillionLots measures the expiry workflow, run by the real worker on an in-process Temporal
// server, over PERKFLOW_EXPIRY_LOTS lots past their date (10 per member) bulk-inserted in a throwaway database. It
// is a measurement, not part of `make test`:
//
//	PERKFLOW_EXPIRY_LOTS=1000000 go test ./activities -run TestExpiryWorkflowOnAMillionLots -v -timeout 2h
func TestExpiryWorkflowOnAMillionLots(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERKFLOW_EXPIRY_LOTS"))
	if n <= 0 {
		t.Skip("set PERKFLOW_EXPIRY_LOTS (such as 1000000) to measure")
	}
	ctx := context.Background()
	db := pgtest.New(t)
	st := store.New(db.Pool)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "bench"); err != nil {
		t.Fatal(err)
	}
	const perMember = 10
	members := (n + perMember - 1) / perMember
	start := time.Now()
	_, err := db.Pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO members (id, email, name) SELECT md5('x' || i)::uuid, 'x' || i || '@example.com', 'X' FROM generate_series(1, $1) i RETURNING id),
		b AS (INSERT INTO member_balances (member_id, total, lifetime) SELECT id, 10 * $2, 10 * $2 FROM m),
		e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at)
			SELECT m.id, 'adjustment', 10, now() - interval '800 days', now() - interval '1 day' - k * interval '1 minute', 'admin',
			       'seed', 'seed:' || m.id || ':' || k, 10 * k, now() - interval '800 days'
			FROM m CROSS JOIN generate_series(1, $2) k RETURNING id, member_id, available_at, expires_at)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at, expires_at)
		SELECT id, member_id, 10, 10, available_at, expires_at FROM e`, members, perMember)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d lots of %d members in %v", members*perMember, members, time.Since(start))

	tmp, err := itest.StartTemporal()
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Stop()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acts := &activities.Activities{Store: st, Notifier: activities.LogNotifier{Log: log}, Log: log}
	w := worker.New(tmp.Client, "expiry-bench", acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start = time.Now()
	run, err := tmp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "expiry-bench", TaskQueue: "expiry-bench"},
		workflows.ExpiryWorkflowName, workflows.ExpiryInput{})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.ExpiryState
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("expiry workflow: %d lots, %d points expired in %v (%.0f lots/s), %d chunks", res.Stats.LotsExpired, res.Stats.PointsExpired,
		took, float64(res.Stats.LotsExpired)/took.Seconds(), res.Stats.Chunks)
	if res.Stats.LotsExpired != int64(members*perMember) {
		t.Fatalf("expired %d lots, want %d", res.Stats.LotsExpired, members*perMember)
	}
	var left int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE remaining > 0`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d lots left (%v)", left, err)
	}
}
