package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

const memberID = "0b9b6c3e-8f7a-4d2b-9c1e-2f3a4b5c6d7e"

// fakeLedger stands in for the Postgres activities in these unit tests of the workflow layer: it records each
// transaction id once, as the real ledger does.
type fakeLedger struct {
	mu       sync.Mutex
	accrued  map[string]int64
	order    []string
	batches  int
	welcomes int
	conflict bool
	// local and regular count the accrual calls made as a local and as a regular activity; failLocal fails every
	// local call, as a Postgres outage longer than the local activity's window does.
	local, regular int
	failLocal      bool
}

func newFakeLedger() *fakeLedger { return &fakeLedger{accrued: map[string]int64{}} }

func (f *fakeLedger) register(env *testsuite.TestWorkflowEnvironment) {
	RegisterMember.fake(env, func(_ context.Context, r domain.Registration) (domain.Member, error) {
		if f.conflict {
			return domain.Member{}, temporal.NewNonRetryableApplicationError("a member with this email already exists", ErrTypeConflict, nil)
		}
		return domain.Member{Registration: r, Status: domain.MemberActive}, nil
	})
	SendNotification.fake(env, func(context.Context, domain.Notification) error {
		f.mu.Lock()
		f.welcomes++
		f.mu.Unlock()
		return nil
	})
	AccruePurchases.fake(env, func(ctx context.Context, b []domain.Purchase) ([]domain.AccrualOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if activity.GetInfo(ctx).IsLocalActivity {
			f.local++
			if f.failLocal {
				return nil, temporal.NewNonRetryableApplicationError("connection refused", "unavailable", nil)
			}
		} else {
			f.regular++
		}
		f.batches++
		out := make([]domain.AccrualOutcome, len(b))
		for i, p := range b {
			_, seen := f.accrued[p.TransactionID]
			if !seen {
				f.accrued[p.TransactionID] = p.Total.Amount / 100
				f.order = append(f.order, p.TransactionID)
			}
			out[i] = domain.AccrualOutcome{TransactionID: p.TransactionID, Status: "accrued", Points: p.Total.Amount / 100, Replayed: seen}
		}
		return out, nil
	})
}

func testPurchase(i int) domain.Purchase {
	return domain.Purchase{TransactionID: fmt.Sprintf("T-%04d", i), MemberID: memberID, StoreID: "s", Channel: "store",
		OccurredAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Total: domain.Money{Amount: 1000, Currency: "EUR"}}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(MemberWorkflow, workflow.RegisterOptions{Name: MemberWorkflowName})
	return env
}

func TestMemberRegistersWelcomesAndAccruesInOrder(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	reg := domain.Registration{MemberID: memberID, Email: "a@example.com", Name: "A"}
	var registered domain.Member
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRegistration, "reg-1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("registration update rejected: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("registration update: %v", err)
					return
				}
				registered = v.(domain.Member)
			},
		})
		for i := range 5 {
			env.SignalWorkflow(SignalPurchase, testPurchase(i))
		}
		// The same purchase again: the ledger answers it was already accrued.
		env.SignalWorkflow(SignalPurchase, testPurchase(0))
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
		if st.Status != MemberStatusActive || st.Stats.PurchasesProcessed != 6 || st.Stats.PointsEarned != 50 || len(st.PendingTransactionIDs) != 0 {
			t.Errorf("state = %+v; want 6 processed, 50 points (the replay earns nothing)", st)
		}
		env.CancelWorkflow()
	}, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, Registration: &reg})

	if registered.MemberID != memberID {
		t.Fatalf("registration update answered %+v", registered)
	}
	if f.welcomes != 1 {
		t.Fatalf("%d welcome messages, want 1", f.welcomes)
	}
	if len(f.order) != 5 || f.order[0] != "T-0000" || f.order[4] != "T-0004" {
		t.Fatalf("accrued %v, want T-0000..T-0004 in order", f.order)
	}
	if f.batches >= 6 {
		t.Fatalf("%d activity calls for 6 purchases delivered together; queued purchases should share a batch", f.batches)
	}
	if f.local != f.batches || f.regular != 0 {
		t.Fatalf("%d local and %d regular accrual activities; want every batch in a local activity", f.local, f.regular)
	}
}

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

func TestMemberRejectedRegistrationEnds(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.conflict = true
	f.register(env)
	reg := domain.Registration{MemberID: memberID, Email: "taken@example.com", Name: "A"}
	var updateErr error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRegistration, "reg-1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { updateErr = err },
			OnComplete: func(_ any, err error) { updateErr = err },
		})
	}, 0)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, Registration: &reg})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow completed=%v err=%v; a refused registration ends the workflow cleanly", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var appErr *temporal.ApplicationError
	if !errorsAs(updateErr, &appErr) || appErr.Type() != ErrTypeConflict {
		t.Fatalf("update error = %v, want a %s application error", updateErr, ErrTypeConflict)
	}
	if f.welcomes != 0 {
		t.Fatal("a refused member was welcomed")
	}
}

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

	err := env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if !errorsAs(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next MemberInput
	if err := decodeInput(can, &next); err != nil {
		t.Fatal(err)
	}
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

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errorsAs(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next MemberInput
	if err := decodeInput(can, &next); err != nil {
		t.Fatal(err)
	}
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
