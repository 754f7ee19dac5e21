package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

func TestExpiryRemindsThenExpiresChunkByChunkAndContinuesAsNew(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(ExpiryWorkflow, workflow.RegisterOptions{Name: ExpiryWorkflowName})
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	reminders := 0
	RemindExpiringPoints.fake(env, func(_ context.Context, r domain.RemindExpiringRequest) (domain.ExpiryStats, error) {
		reminders++
		if !r.Now.Equal(now) {
			t.Errorf("reminders for %v, want the run's time", r.Now)
		}
		return domain.ExpiryStats{LotsReminded: 3, NoticesSent: 2}, nil
	})
	var cursors []domain.ExpiryCursor
	ExpireLots.fake(env, func(_ context.Context, r domain.ExpireLotsRequest) (domain.ExpireLotsResult, error) {
		cursors = append(cursors, r.Cursor)
		next := domain.ExpiryCursor{ExpiresAt: now, LotID: r.Cursor.LotID + 100}
		return domain.ExpireLotsResult{Cursor: next, Stats: domain.ExpiryStats{LotsExpired: 100, Chunks: 1}, Done: next.LotID >= 1000}, nil
	})
	env.SetCurrentHistoryLength(25) // past the bound: the run continues as new after its first expiry call
	env.ExecuteWorkflow(ExpiryWorkflow, ExpiryInput{Now: now, MaxHistoryEvents: 20})
	var can *workflow.ContinueAsNewError
	if !errorsAs(env.GetWorkflowError(), &can) {
		t.Fatalf("want Continue-As-New under a 20-event bound, got %v", env.GetWorkflowError())
	}
	var next ExpiryInput
	if err := decodeInput(can, &next); err != nil {
		t.Fatal(err)
	}
	if !next.Reminded || !next.Now.Equal(now) || next.Cursor.LotID == 0 || next.Stats.LotsExpired != next.Cursor.LotID {
		t.Fatalf("continued with %+v; want the reminders done, the same time and the cursor reached", next)
	}
	for i := 1; i < len(cursors); i++ {
		if cursors[i].LotID != cursors[i-1].LotID+100 {
			t.Fatalf("cursors %v: each call must start where the previous stopped", cursors)
		}
	}
	// The next run finishes from the cursor without reminding again.
	env2 := newEnv(t)
	env2.RegisterWorkflowWithOptions(ExpiryWorkflow, workflow.RegisterOptions{Name: ExpiryWorkflowName})
	RemindExpiringPoints.fake(env2, func(context.Context, domain.RemindExpiringRequest) (domain.ExpiryStats, error) {
		t.Error("reminded twice in one run")
		return domain.ExpiryStats{}, nil
	})
	ExpireLots.fake(env2, func(_ context.Context, r domain.ExpireLotsRequest) (domain.ExpireLotsResult, error) {
		next := domain.ExpiryCursor{ExpiresAt: now, LotID: r.Cursor.LotID + 100}
		return domain.ExpireLotsResult{Cursor: next, Stats: domain.ExpiryStats{LotsExpired: 100, Chunks: 1}, Done: next.LotID >= 1000}, nil
	})
	env2.ExecuteWorkflow(ExpiryWorkflow, next)
	var st ExpiryState
	if err := env2.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != ExpiryPhaseDone || st.Stats.LotsExpired != 1000 || st.Stats.LotsReminded != 3 {
		t.Fatalf("final state %+v; want 1000 lots expired over both runs and the reminders counted once", st)
	}
	if reminders != 1 {
		t.Fatalf("%d reminder runs", reminders)
	}
}
