package workflows

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

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

	next := continuedInput(t, env)
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
	// 4,000 purchases of ten lines with random SKUs: more than a run hands over, even compressed.
	const queuedN = 4000
	rng := rand.New(rand.NewPCG(1, 2))
	var queued []domain.Purchase
	for i := range queuedN {
		p := testPurchase(i)
		for range 10 {
			p.Items = append(p.Items, domain.LineItem{SKU: fmt.Sprintf("%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64()),
				Quantity: 1, UnitPrice: domain.Money{Amount: 100, Currency: "EUR"}})
		}
		queued = append(queued, p)
	}
	if b, _ := packBacklog(backlog{Pending: queued}); len(b) <= maxCarriedBytes {
		t.Fatalf("the backlog packs into %d bytes, not more than a run carries", len(b))
	}
	// The run starts with the backlog queued (as a run before this bound could hand over) and its history full.
	env.SetCurrentHistoryLength(100)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errorsAs(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var raw MemberInput
	if err := decodeInput(can, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Pending) != 0 || len(raw.Backlog) > maxCarriedBytes {
		t.Fatalf("%d purchases carried plain, %d bytes packed; want all packed, in at most %d bytes", len(raw.Pending), len(raw.Backlog), maxCarriedBytes)
	}
	next := continuedInput(t, env)
	if len(f.order)+len(next.Pending) != queuedN {
		t.Fatalf("%d accrued + %d carried, want %d", len(f.order), len(next.Pending), queuedN)
	}
	if len(next.Pending) == 0 || len(f.order) == 0 {
		t.Fatalf("%d accrued, %d carried: want the backlog accrued down to what fits, and that carried", len(f.order), len(next.Pending))
	}
}

// A backlog that fits the next run's input is carried as soon as the history is full, however many purchases it
// holds: a run that kept accruing until fewer than 500 were queued grew to 10,395 events under a one-member burst
// (the bound is 4,000), since purchases kept arriving meanwhile. Runs recorded before that change keep the old rule.
func TestMemberCarriesABacklogThatFitsAtTheBound(t *testing.T) {
	const backlog = 3 * maxCarriedItems // about 300 KiB of small purchases as JSON
	run := func(t *testing.T, version workflow.Version) (accrued int, next MemberInput) {
		env := newEnv(t)
		f := newFakeLedger()
		f.register(env)
		env.OnGetVersion(carryBySizeChange, workflow.DefaultVersion, 1).Return(version)
		var queued []domain.Purchase
		for i := range backlog {
			queued = append(queued, testPurchase(i))
		}
		env.SetCurrentHistoryLength(100)
		env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})
		next = continuedInput(t, env)
		if len(f.order)+len(next.Pending) != backlog {
			t.Fatalf("%d accrued + %d carried, want %d", len(f.order), len(next.Pending), backlog)
		}
		return len(f.order), next
	}
	t.Run("now", func(t *testing.T) {
		accrued, next := run(t, 1)
		if accrued != 0 || len(next.Pending) != backlog {
			t.Fatalf("%d accrued before continuing as new, %d carried: want none accrued, all carried", accrued, len(next.Pending))
		}
	})
	t.Run("runs recorded before", func(t *testing.T) {
		accrued, next := run(t, workflow.DefaultVersion)
		if len(next.Pending) > maxCarriedItems || accrued < backlog-maxCarriedItems {
			t.Fatalf("%d accrued, %d carried: want at most %d carried", accrued, len(next.Pending), maxCarriedItems)
		}
	})
}

// continuedInput is the input of the run the workflow continued as new to (the test fails if it did not).
func continuedInput(t *testing.T, env *testsuite.TestWorkflowEnvironment) MemberInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errorsAs(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next MemberInput
	if err := decodeInput(can, &next); err != nil {
		t.Fatal(err)
	}
	if len(next.Backlog) > 0 {
		b, err := unpackBacklog(next.Backlog)
		if err != nil {
			t.Fatal(err)
		}
		next.Pending = append(b.Pending, next.Pending...)
		next.Returns = append(b.Returns, next.Returns...)
	}
	return next
}
