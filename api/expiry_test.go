package api_test

import (
	"context"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

// The expiry run on the stack's worker expires every lot past its date, chunk after chunk (two lots a chunk, one
// chunk per activity call, so that the run makes several calls), and leaves the ledger's invariants whole. Its
// history is recorded for the replay tests.
func TestExpiryRunOnTheWorkerExpiresEveryLotPastItsDate(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	const members, lotsPer = 6, 2
	if _, err := s.DB.Pool.Exec(ctx, `
		WITH m AS (
			INSERT INTO members (id, email, name)
			SELECT md5('expiry-run-' || i)::uuid, 'expiry-run-' || i || '@example.com', 'Expiry' FROM generate_series(1, $1) i RETURNING id),
		b AS (INSERT INTO member_balances (member_id, total, lifetime) SELECT id, 10 * $2, 10 * $2 FROM m),
		e AS (
			INSERT INTO ledger_entries (member_id, kind, points, available_at, expires_at, source_type, source_id, idempotency_key,
			                            balance_after, occurred_at)
			SELECT m.id, 'adjustment', 10, now() - interval '800 days', now() - interval '1 day' - k * interval '1 minute', 'admin',
			       'expiry-run', 'expiry-run:' || m.id || ':' || k, 10 * k, now() - interval '800 days'
			FROM m CROSS JOIN generate_series(1, $2) k RETURNING id, member_id, available_at, expires_at)
		INSERT INTO ledger_lots (entry_id, member_id, points, remaining, available_at, expires_at)
		SELECT id, member_id, 10, 10, available_at, expires_at FROM e`, members, lotsPer); err != nil {
		t.Fatal(err)
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "expiry-test", TaskQueue: s.TaskQueue},
		workflows.ExpiryWorkflowName, workflows.ExpiryInput{ChunkSize: 2, ChunksPerActivity: 1})
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.ExpiryState
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	var open int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE remaining > 0 AND expires_at <= now()`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if st.Phase != workflows.ExpiryPhaseDone || st.Stats.LotsExpired != members*lotsPer || open != 0 {
		t.Fatalf("expiry run ended %+v with %d lots past their date open; want all %d expired", st, open, members*lotsPer)
	}
	if err := s.Store.CheckInvariants(ctx); err != nil {
		t.Fatal(err)
	}
	s.RecordHistory("expiry-test", "", "expiry_partitions")
}
