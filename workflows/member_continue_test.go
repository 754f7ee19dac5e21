package workflows

import (
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

func TestMemberContinuesAsNewCarryingEveryPendingPurchase(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	// Twenty purchases one at a time; then the history reaches its bound while a burst of 250 is queued: one batch
	// is accrued and the rest must be carried into the next run.
	const trickle, burst = 20, 250
	for i := range trickle {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, testPurchase(i)) }, time.Duration(i+1)*time.Second)
	}
	env.RegisterDelayedCallback(func() {
		env.SetCurrentHistoryLength(100)
		for i := range burst {
			env.SignalWorkflow(SignalPurchase, testPurchase(trickle+i))
		}
	}, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Stats: MemberStats{Runs: 3}})

	next := continuedAs[MemberInput](t, env)
	if next.MemberID != memberID || next.Registration != nil || next.MaxHistoryEvents != 100 || next.Stats.Runs != 4 {
		t.Fatalf("next run input = %+v", next)
	}
	// Nothing lost: what was accrued plus what is carried is exactly what had been delivered, with no overlap.
	seen := map[string]bool{}
	for _, id := range f.order {
		seen[id] = true
	}
	for _, p := range next.Pending {
		if seen[p.TransactionID] {
			t.Fatalf("%s is both accrued and carried over", p.TransactionID)
		}
		seen[p.TransactionID] = true
	}
	if int64(len(f.order)) != next.Stats.PurchasesProcessed {
		t.Fatalf("stats say %d processed, the ledger saw %d", next.Stats.PurchasesProcessed, len(f.order))
	}
	for i := range trickle + burst {
		if !seen[testPurchase(i).TransactionID] {
			t.Fatalf("purchase %d delivered before the continue-as-new is neither accrued nor carried", i)
		}
	}
	if len(next.Pending) == 0 || len(f.order)+len(next.Pending) != trickle+burst {
		t.Fatalf("%d accrued + %d carried, want %d with some carried", len(f.order), len(next.Pending), trickle+burst)
	}
}

// A backlog too large for the next run's input (Temporal refuses a workflow task whose payloads pass 2 MiB) is
// accrued past the history bound until it fits, and only then carried: with 10,000 purchases queued for one member
// a Continue-As-New carrying them all failed and the workflow stalled.
func TestMemberAccruesABacklogDownBeforeCarryingIt(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	const backlog = 3 * maxCarriedItems
	// The run starts with the backlog queued (as a run before this bound could hand over) and its history full.
	var queued []domain.Purchase
	for i := range backlog {
		queued = append(queued, testPurchase(i))
	}
	env.SetCurrentHistoryLength(100)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})

	next := continuedAs[MemberInput](t, env)
	if len(next.Pending) > maxCarriedItems {
		t.Fatalf("%d purchases carried; want at most %d", len(next.Pending), maxCarriedItems)
	}
	if len(f.order)+len(next.Pending) != backlog {
		t.Fatalf("%d accrued + %d carried, want %d", len(f.order), len(next.Pending), backlog)
	}
	if len(f.order) < backlog-maxCarriedItems {
		t.Fatalf("only %d accrued before continuing as new", len(f.order))
	}
}
