package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// fakeSignals records the signals accrualSignals sends; while gate is set, each send for m1 waits for a value on it.
type fakeSignals struct {
	mu      sync.Mutex
	sent    [][]domain.Purchase
	reviews []*time.Time
	gate    chan error
	started chan struct{}
}

func (f *fakeSignals) send(_ context.Context, member string, ps []domain.Purchase, review *time.Time) error {
	for _, p := range ps {
		if p.MemberID != member {
			panic("a signal mixes members")
		}
	}
	f.mu.Lock()
	f.sent = append(f.sent, ps)
	f.reviews = append(f.reviews, review)
	f.mu.Unlock()
	if member != "m1" {
		return nil
	}
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.gate != nil {
		return <-f.gate
	}
	return nil
}

func (f *fakeSignals) signals() [][]domain.Purchase {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]domain.Purchase(nil), f.sent...)
}

func testPurchase(member string, i int) domain.Purchase {
	return domain.Purchase{TransactionID: fmt.Sprintf("T-%s-%03d", member, i), MemberID: member}
}

// waitingFor reports how many purchases wait for member's next signal.
func (a *accrualSignals) waitingFor(member string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.members[member]; q != nil {
		return len(q.waiting)
	}
	return -1
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("never: " + what)
		}
	}
}

// While one member's signal is in flight, what arrives for them goes in the next signal, together, bounded by
// maxCount; each request learns its own signal's outcome, and every purchase is sent exactly once.
func TestAccrualSignalsCoalesceWhileOneIsInFlight(t *testing.T) {
	f := &fakeSignals{gate: make(chan error), started: make(chan struct{}, 100)}
	a := newAccrualSignals(f.send)
	a.maxCount = 4

	errs := make(chan error, 20)
	go func() { errs <- a.signal(context.Background(), testPurchase("m1", 0), nil) }()
	<-f.started // the first goes alone, at once
	for i := 1; i <= 6; i++ {
		go func() { errs <- a.signal(context.Background(), testPurchase("m1", i), nil) }()
	}
	// Another member is not held up by m1's signal in flight.
	if err := a.signal(context.Background(), testPurchase("m2", 0), nil); err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "six purchases waiting", func() bool { return a.waitingFor("m1") == 6 })
	f.gate <- nil

	// The first signal was accepted: the next four went together.
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	<-f.started
	if got := a.waitingFor("m1"); got != 2 {
		t.Fatalf("%d still waiting after a batch of 4 left, want 2", got)
	}
	f.gate <- errors.New("refused") // the second signal fails: its four requests say so
	for range 4 {
		if err := <-errs; err == nil || err.Error() != "refused" {
			t.Fatalf("a purchase of the refused signal answered %v", err)
		}
	}
	<-f.started
	f.gate <- nil
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	eventuallyTrue(t, "member forgotten", func() bool { return a.waitingFor("m1") == -1 })

	var sizes []int
	seen := map[string]int{}
	for _, s := range f.signals() {
		if s[0].MemberID != "m1" {
			continue
		}
		sizes = append(sizes, len(s))
		for _, p := range s {
			seen[p.TransactionID]++
		}
	}
	if fmt.Sprint(sizes) != "[1 4 2]" {
		t.Fatalf("signal sizes %v, want [1 4 2]", sizes)
	}
	for i := range 7 {
		if n := seen[testPurchase("m1", i).TransactionID]; n != 1 {
			t.Fatalf("purchase %d sent %d times", i, n)
		}
	}
}

// A request whose context ends while its purchase waits withdraws it: it is never sent.
func TestAccrualSignalsWithdrawAPurchaseWhoseRequestEnded(t *testing.T) {
	f := &fakeSignals{gate: make(chan error), started: make(chan struct{}, 10)}
	a := newAccrualSignals(f.send)
	done := make(chan error, 2)
	go func() { done <- a.signal(context.Background(), testPurchase("m1", 0), nil) }()
	<-f.started
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- a.signal(ctx, testPurchase("m1", 1), nil) }()
	eventuallyTrue(t, "one waiting", func() bool { return a.waitingFor("m1") == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("withdrawn purchase answered %v", err)
	}
	f.gate <- nil
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventuallyTrue(t, "member forgotten", func() bool { return a.waitingFor("m1") == -1 })
	if sent := f.signals(); len(sent) != 1 || len(sent[0]) != 1 || sent[0][0].TransactionID != testPurchase("m1", 0).TransactionID {
		t.Fatalf("sent %v, want only the first purchase", sent)
	}
}

// A batch stops short of maxBytes (a purchase alone may pass it), and carries the latest tier review date any of its
// requests read, for the workflow it may start.
func TestAccrualSignalsBoundTheBytesAndCarryTheLatestReview(t *testing.T) {
	f := &fakeSignals{gate: make(chan error), started: make(chan struct{}, 10)}
	a := newAccrualSignals(f.send)
	big := func(i int) domain.Purchase {
		p := testPurchase("m1", i)
		p.StoreID = strings.Repeat("s", 600)
		return p
	}
	a.maxBytes = purchaseSize(big(1))*2 + 10
	done := make(chan error, 5)
	go func() { done <- a.signal(context.Background(), big(0), nil) }()
	<-f.started
	early, late := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range []*time.Time{&early, &late, nil} {
		go func() { done <- a.signal(context.Background(), big(i+1), r) }()
		eventuallyTrue(t, "queued in order", func() bool { return a.waitingFor("m1") == i+1 })
	}
	for range 2 {
		f.gate <- nil
		<-f.started
	}
	f.gate <- nil
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	sent := f.signals()
	if len(sent) != 3 || len(sent[1]) != 2 || len(sent[2]) != 1 {
		t.Fatalf("signals of %v purchases, want 1, 2, 1", func() (n []int) {
			for _, s := range sent {
				n = append(n, len(s))
			}
			return
		}())
	}
	if r := f.reviews[1]; r == nil || !r.Equal(late) {
		t.Fatalf("the second signal carried review %v, want %v", r, late)
	}
}
