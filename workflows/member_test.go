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
	"github.com/perkflow/perkflow/privacy"
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
	RegisterMember.fake(env, func(_ context.Context, r privacy.SealedRegistration) (privacy.SealedMember, error) {
		if f.conflict {
			return privacy.SealedMember{}, temporal.NewNonRetryableApplicationError("a member with this email already exists", ErrTypeConflict, nil)
		}
		return privacy.SealedMember{SealedRegistration: r, Status: domain.MemberActive}, nil
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
	reg := privacy.SealedRegistration{MemberID: memberID, Email: "sealed-email", Name: "sealed-name"}
	var registered privacy.SealedMember
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRegistration, "reg-1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { t.Errorf("registration update rejected: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("registration update: %v", err)
					return
				}
				registered = v.(privacy.SealedMember)
			},
		})
		for i := range 5 {
			env.SignalWorkflow(SignalPurchase, testPurchase(i))
		}
		// The same purchase again: the ledger answers it was already accrued.
		env.SignalWorkflow(SignalPurchase, testPurchase(0))
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		st := memberStateOf(t, env)
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

// memberStateOf is the member workflow's state query's answer.
func memberStateOf(t *testing.T, env *testsuite.TestWorkflowEnvironment) MemberState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st MemberState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	return st
}
