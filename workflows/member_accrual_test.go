package workflows

import (
	"testing"
	"time"
)

// When the local activity cannot accrue a batch (Postgres down for longer than its window), the batch goes to a
// regular activity, which accrues it; no purchase is lost or accrued twice.
func TestMemberAccrualFallsBackToARegularActivity(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.failLocal = true
	f.register(env)
	env.RegisterDelayedCallback(func() {
		for i := range 3 {
			env.SignalWorkflow(SignalPurchase, testPurchase(i))
		}
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryState)
		if err != nil {
			t.Fatal(err)
		}
		var st MemberState
		if err := v.Get(&st); err != nil {
			t.Fatal(err)
		}
		if st.Stats.PurchasesProcessed != 3 || st.Stats.PointsEarned != 30 || len(st.PendingTransactionIDs) != 0 {
			t.Errorf("state = %+v; want 3 processed, 30 points, nothing pending", st)
		}
		env.CancelWorkflow()
	}, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	if len(f.order) != 3 || f.order[0] != "T-0000" || f.order[2] != "T-0002" {
		t.Fatalf("accrued %v; want T-0000..T-0002 once each, in order", f.order)
	}
	if f.local == 0 || f.regular != f.local {
		t.Fatalf("%d local and %d regular calls; want each failed local batch handed to one regular activity", f.local, f.regular)
	}
}
