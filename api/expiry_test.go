package api_test

import (
	"context"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/bench"
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
	if err := bench.SeedLotsPastTheirDate(ctx, s.DB.Pool, "expiry-run-", members, lotsPer); err != nil {
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
