package workflows

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
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

// In runs before parking, a backlog too large for the next run's input (Temporal refuses a workflow task whose
// payloads pass 2 MiB) is accrued past the history bound until it fits, and only then carried: with 10,000 purchases
// queued for one member a Continue-As-New carrying them all failed and the workflow stalled.
func TestMemberAccruesABacklogDownBeforeCarryingIt(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	const backlog = 3 * maxCarriedItems
	// The run starts with the backlog queued (as a run before this bound could hand over) and its history full.
	queued := testPurchases(backlog)
	env.SetCurrentHistoryLength(100)
	env.OnGetVersion(parkBacklogChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})

	next := continuedAs[MemberInput](t, env)
	if next.Parked != nil {
		t.Fatalf("a run before %s parked %+v", parkBacklogChange, *next.Parked)
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

// fakeBacklog is member_backlog as store.ParkPurchases and store.UnparkPurchases keep it.
type fakeBacklog struct {
	mu       sync.Mutex
	rows     map[int64]domain.Purchase
	parks    int
	regular  int // parks run as regular activities
	largest  int // the largest park's purchases, in JSON bytes
	failPark bool
}

func (b *fakeBacklog) register(env *testsuite.TestWorkflowEnvironment) {
	b.rows = map[int64]domain.Purchase{}
	ParkPurchases.fake(env, func(ctx context.Context, r domain.ParkRequest) error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !activity.GetInfo(ctx).IsLocalActivity {
			b.regular++
		}
		if b.failPark {
			return temporal.NewNonRetryableApplicationError("purchase of another member", ErrTypeInvalid, nil)
		}
		b.parks++
		js, _ := json.Marshal(r.Purchases)
		b.largest = max(b.largest, len(js))
		for seq := range b.rows {
			if seq >= r.From {
				delete(b.rows, seq)
			}
		}
		for i, p := range r.Purchases {
			b.rows[r.From+int64(i)] = p
		}
		return nil
	})
	UnparkPurchases.fake(env, func(ctx context.Context, r domain.UnparkRequest) ([]domain.Purchase, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		for seq := range b.rows {
			if seq < min(r.DeleteBelow, r.From) {
				delete(b.rows, seq)
			}
		}
		var out []domain.Purchase
		for seq := r.From; len(out) < r.Limit; seq++ {
			p, ok := b.rows[seq]
			if !ok {
				break
			}
			out = append(out, p)
		}
		return out, nil
	})
}

// newBacklogEnv is a member workflow's test environment with the fake ledger and the fake member_backlog.
func newBacklogEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeLedger, *fakeBacklog) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	b := &fakeBacklog{}
	b.register(env)
	return env, f, b
}

// ids are the transaction ids of rows from..to-1.
func (b *fakeBacklog) ids(from, to int64) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for seq := from; seq < to; seq++ {
		if p, ok := b.rows[seq]; ok {
			out = append(out, p.TransactionID)
		}
	}
	return out
}

func purchaseIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, testPurchase(i).TransactionID)
	}
	return out
}

// A run at its history bound with a backlog its input cannot carry parks the backlog in Postgres, in chunks Temporal
// accepts as payloads, and continues as new at once instead of accruing the backlog down past its bound.
func TestMemberParksABacklogItCannotCarry(t *testing.T) {
	env, f, b := newBacklogEnv(t)
	const backlog = 3 * maxCarriedItems
	var queued []domain.Purchase
	for i := range backlog {
		p := testPurchase(i)
		for range 20 { // about 1.5 KB a purchase: the backlog takes several chunks
			p.Items = append(p.Items, domain.LineItem{SKU: "SKU-0000000001", Category: "books", Quantity: 1, UnitPrice: domain.Money{Amount: 50, Currency: "EUR"}})
		}
		queued = append(queued, p)
	}
	env.SetCurrentHistoryLength(100)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})

	next := continuedAs[MemberInput](t, env)
	if len(f.order) != MaxPurchasesPerBatch {
		t.Fatalf("%d accrued before continuing as new; want one batch, %d", len(f.order), MaxPurchasesPerBatch)
	}
	if len(next.Pending) != 0 || next.Parked == nil || *next.Parked != (ParkedQueue{Next: backlog - MaxPurchasesPerBatch}) {
		t.Fatalf("next run carries %d purchases and parked %+v; want none carried, rows 0..%d parked", len(next.Pending), next.Parked, backlog-MaxPurchasesPerBatch-1)
	}
	if got, want := b.ids(0, backlog), purchaseIDs(MaxPurchasesPerBatch, backlog); !slices.Equal(got, want) {
		t.Fatalf("parked %d purchases %v…; want %d in the order received", len(got), got[:min(3, len(got))], len(want))
	}
	// Each chunk within maxParkedChunkBytes, in regular activities: no workflow task held open.
	if b.parks < 4 || b.regular != b.parks || b.largest > maxParkedChunkBytes {
		t.Fatalf("%d parks (%d regular), the largest %d bytes; want several regular ones within %d", b.parks, b.regular, b.largest, maxParkedChunkBytes)
	}
}

// When parking fails for good the run accrues on, as runs before parking did.
func TestMemberAccruesOnWhenItCannotPark(t *testing.T) {
	env, f, b := newBacklogEnv(t)
	b.failPark = true
	const backlog = 3 * maxCarriedItemsParking
	queued := testPurchases(backlog)
	env.SetCurrentHistoryLength(100)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})

	next := continuedAs[MemberInput](t, env)
	if next.Parked != nil || len(b.rows) != 0 || b.regular == 0 {
		t.Fatalf("parked %+v (%d rows, %d attempts) though every park failed", next.Parked, len(b.rows), b.regular)
	}
	if len(f.order)+len(next.Pending) != backlog || len(next.Pending) > maxCarriedItemsParking {
		t.Fatalf("%d accrued + %d carried, want %d with at most %d carried", len(f.order), len(next.Pending), backlog, maxCarriedItemsParking)
	}
}

// The next run accrues in the order received: what its input carries, then the parked purchases, then what was
// signalled since; a return waits behind the carried and parked ones. It deletes the rows earlier runs read, and once
// the rows it read itself are deleted by its successor, the queue is dropped from the input.
func TestMemberReadsParkedPurchasesBackInOrder(t *testing.T) {
	env, f, b := newBacklogEnv(t)
	// Rows 0..49 were read by an earlier run; 50..299 are parked.
	for i := range 300 {
		b.rows[int64(i)] = testPurchase(1000 + i)
	}
	accruedAtReturn := -1
	ReturnPurchase.fake(env, func(context.Context, domain.Return) (domain.OperationOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		accruedAtReturn = len(f.order)
		return domain.OperationOutcome{ID: "R-1", Status: "applied", Points: 1}, nil
	})
	carried := []domain.Purchase{testPurchase(0), testPurchase(1)}
	for i := range 5 {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, testPurchase(2000+i)) }, time.Duration(i+1)*time.Millisecond)
	}
	env.RegisterDelayedCallback(func() {
		env.SetCurrentHistoryLength(100)
		env.SignalWorkflow(SignalPurchase, testPurchase(3000))
	}, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: carried,
		Returns: []domain.Return{{ReturnID: "R-1", MemberID: memberID, TransactionID: testPurchase(0).TransactionID}},
		Parked:  &ParkedQueue{Next: 300, Read: 50}})

	next := continuedAs[MemberInput](t, env)
	want := append(purchaseIDs(0, 2), purchaseIDs(1050, 1300)...)
	want = append(append(want, purchaseIDs(2000, 2005)...), purchaseIDs(3000, 3001)...)
	if !slices.Equal(f.order, want) {
		t.Fatalf("accrued %d purchases in the order %v…; want %d: carried, parked, signalled", len(f.order), f.order[:min(5, len(f.order))], len(want))
	}
	if accruedAtReturn < 252 {
		t.Fatalf("the return was applied after %d accruals; want after the 252 carried and parked before it", accruedAtReturn)
	}
	if len(b.ids(0, 50)) != 0 || len(b.ids(50, 300)) != 250 {
		t.Fatalf("rows below 50 left: %d, rows 50..299 left: %d; want 0 and 250 (deleted by the next run)", len(b.ids(0, 50)), len(b.ids(50, 300)))
	}
	if next.Parked == nil || *next.Parked != (ParkedQueue{Next: 300, Read: 300, Cleared: 50}) {
		t.Fatalf("next run's parked queue = %+v; want rows 50..299 read, still to delete", next.Parked)
	}

	// The run after deletes them and drops the queue from its input.
	env2 := newEnv(t)
	f2 := newFakeLedger()
	f2.register(env2)
	b.register(env2)
	for seq := int64(50); seq < 300; seq++ {
		b.rows[seq] = testPurchase(int(seq))
	}
	env2.RegisterDelayedCallback(func() {
		env2.SetCurrentHistoryLength(100)
		env2.SignalWorkflow(SignalPurchase, testPurchase(4000))
	}, time.Minute)
	env2.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Parked: next.Parked})
	last := continuedAs[MemberInput](t, env2)
	if last.Parked != nil || len(b.rows) != 0 || !slices.Equal(f2.order, purchaseIDs(4000, 4001)) {
		t.Fatalf("after the cleanup: parked %+v, %d rows left, accrued %v; want none, none, the signalled one", last.Parked, len(b.rows), f2.order)
	}
}

// A run with a backlog its input cannot carry starts parking at three quarters of its bound, so that what arrives
// while it parks and continues as new still fits under the bound; one whose backlog fits waits for the bound.
func TestMemberParksABacklogBeforeItsBound(t *testing.T) {
	for _, backlog := range []int{3 * maxCarriedItemsParking, maxCarriedItems} {
		env, f, _ := newBacklogEnv(t)
		queued := testPurchases(backlog)
		env.SetCurrentHistoryLength(80) // of 100
		env.RegisterDelayedCallback(func() {
			env.SetCurrentHistoryLength(100)
			env.SignalWorkflow(SignalPurchase, testPurchase(backlog))
		}, time.Hour)
		env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, MaxHistoryEvents: 100, Pending: queued})
		next := continuedAs[MemberInput](t, env)
		early := backlog > maxCarriedItems
		if early != (next.Parked != nil) || early != (len(f.order) == MaxPurchasesPerBatch) {
			t.Fatalf("backlog %d: parked %+v after %d accrued", backlog, next.Parked, len(f.order))
		}
	}
}

// testPurchases are testPurchase(0) … testPurchase(n-1).
func testPurchases(n int) []domain.Purchase {
	out := make([]domain.Purchase, n)
	for i := range out {
		out[i] = testPurchase(i)
	}
	return out
}
