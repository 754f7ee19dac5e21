package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
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
	env.SetCurrentHistoryLength(25)                                                                 // past the bound: the run continues as new after its first expiry call
	env.ExecuteWorkflow(ExpiryWorkflow, ExpiryInput{Now: now, MaxHistoryEvents: 20, Partitions: 1}) // one member set: one cursor
	next := continuedAs[ExpiryInput](t, env)
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

// Since GetVersion "expiry-partitions" the run expires its member sets side by side, each after its own cursor:
// every call names its set, a set's calls follow each other, a set that is done is not called again (not even after
// Continue-As-New, which carries every cursor), and the stats add up over the sets and the runs.
func TestExpiryRunsMemberSetsSideBySideEachWithItsCursor(t *testing.T) {
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	step, last := map[int]int64{0: 100, 1: 50}, map[int]int64{0: 300, 1: 350} // set 0 is done after 3 calls, set 1 after 7
	calls := map[int][]int64{}
	var mu sync.Mutex
	fake := func(env *testsuite.TestWorkflowEnvironment) {
		ExpireLots.fake(env, func(_ context.Context, r domain.ExpireLotsRequest) (domain.ExpireLotsResult, error) {
			if r.Partitions != 2 || r.Partition < 0 || r.Partition > 1 {
				t.Errorf("call for set %d of %d; want one of 2", r.Partition, r.Partitions)
			}
			mu.Lock()
			calls[r.Partition] = append(calls[r.Partition], r.Cursor.LotID)
			mu.Unlock()
			next := domain.ExpiryCursor{ExpiresAt: now, LotID: r.Cursor.LotID + step[r.Partition]}
			return domain.ExpireLotsResult{Cursor: next, Stats: domain.ExpiryStats{LotsExpired: 100, Chunks: 1},
				Done: next.LotID >= last[r.Partition]}, nil
		})
		RemindExpiringPoints.fake(env, func(context.Context, domain.RemindExpiringRequest) (domain.ExpiryStats, error) {
			return domain.ExpiryStats{}, nil
		})
	}
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(ExpiryWorkflow, workflow.RegisterOptions{Name: ExpiryWorkflowName})
	fake(env)
	env.SetCurrentHistoryLength(25) // past the bound: each set stops after one call and the run continues as new
	env.ExecuteWorkflow(ExpiryWorkflow, ExpiryInput{Now: now, MaxHistoryEvents: 20})
	next := continuedAs[ExpiryInput](t, env)
	if next.Partitions != 2 || len(next.PartitionCursors) != 2 || next.PartitionCursors[0].LotID != 100 ||
		next.PartitionCursors[1].LotID != 50 || next.Stats.LotsExpired != 200 || next.Cursor.LotID != 50 {
		t.Fatalf("continued with %+v; want both sets' cursors after one call each", next)
	}
	env2 := newEnv(t)
	env2.RegisterWorkflowWithOptions(ExpiryWorkflow, workflow.RegisterOptions{Name: ExpiryWorkflowName})
	fake(env2)
	env2.ExecuteWorkflow(ExpiryWorkflow, next)
	var st ExpiryState
	if err := env2.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != ExpiryPhaseDone || st.Stats.LotsExpired != 1000 || st.Stats.Chunks != 10 {
		t.Fatalf("final state %+v; want 1000 lots over both sets and both runs", st)
	}
	for p, want := range map[int]int{0: 3, 1: 7} {
		got := calls[p]
		if len(got) != want {
			t.Fatalf("set %d called at %v; want %d calls", p, got, want)
		}
		for i := range got {
			if got[i] != int64(i)*step[p] {
				t.Fatalf("set %d called at %v; each call must start where the set's previous one stopped", p, got)
			}
		}
	}
}
