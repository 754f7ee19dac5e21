package workflows

import (
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
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
		st := memberStateOf(t, env)
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

// A burst is accrued by regular activities, which hold no workflow task open while signals stream in (a task open
// while more than 100 arrive is failed by the server, with what its local activities did); a purchase that finds
// few queued is accrued locally.
func TestMemberAccruesABurstInRegularActivities(t *testing.T) {
	for _, burst := range []bool{true, false} {
		env := newEnv(t)
		f := newFakeLedger()
		f.register(env)
		if !burst {
			env.OnGetVersion(parkBacklogChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}
		queued := testPurchases(3 * MaxPurchasesPerBatch)
		env.RegisterDelayedCallback(func() {
			env.SetCurrentHistoryLength(100)
			env.SignalWorkflow(SignalPurchase, testPurchase(9999))
		}, time.Hour)
		env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})
		_ = continuedAs[MemberInput](t, env)
		if len(f.order) != 3*MaxPurchasesPerBatch+1 || f.batches != 4 {
			t.Fatalf("burst %v: %d accrued in %d batches", burst, len(f.order), f.batches)
		}
		// Three batches with more than backlogBatch queued; the signalled purchase alone is local either way.
		regular := map[bool]int{true: 3, false: 0}[burst]
		if f.regular != regular || f.local != 4-regular {
			t.Fatalf("burst %v: %d regular and %d local accruals; want %d regular", burst, f.regular, f.local, regular)
		}
	}
}

// Purchases signalled together (SignalPurchases, the API's group commit) and alone (SignalPurchase, from API
// processes before it) are queued in the order received and each accrued once.
func TestMemberAccruesPurchasesSignalledTogether(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalPurchases, testPurchases(3))
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalPurchase, testPurchase(3))
		env.SignalWorkflow(SignalPurchases, []domain.Purchase{testPurchase(4), testPurchase(5)})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		st := memberStateOf(t, env)
		if st.Stats.PurchasesProcessed != 6 || st.Stats.PointsEarned != 60 || len(st.PendingTransactionIDs) != 0 {
			t.Errorf("state = %+v; want 6 processed, 60 points, nothing pending", st)
		}
		env.CancelWorkflow()
	}, time.Hour)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})
	want := []string{"T-0000", "T-0001", "T-0002", "T-0003", "T-0004", "T-0005"}
	if fmt.Sprint(f.order) != fmt.Sprint(want) {
		t.Fatalf("accrued %v; want %v, once each", f.order, want)
	}
}
