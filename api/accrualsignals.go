package api

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// accrualSignals sends accepted purchases to the members' workflows, one SignalPurchases at a time per member: while
// a signal for a member is in flight, the purchases that arrive for them wait and then go together in the next (a
// group commit). Every signal is an event in the run's history and a workflow task's worth of work for Temporal, so a
// member whose purchases arrive many at a time (a store's bulk backfill, a busy corporate account) costs one event
// per round trip rather than one per purchase, and their run stays well inside its history bound. A request answers
// only once the signal carrying its purchase is accepted, so 202 still means durable in Temporal; a purchase alone
// (the usual case) goes at once, as before, in a list of one.
type accrualSignals struct {
	// send signals one member's workflow with a list of purchases, starting the workflow if need be.
	send func(ctx context.Context, memberID string, ps []domain.Purchase, tierReviewAt *time.Time) error
	// maxCount and maxBytes bound one signal: the workflow accrues at most workflows.MaxPurchasesPerBatch at once, and
	// Temporal warns of payloads past 512 KiB.
	maxCount, maxBytes int

	mu sync.Mutex
	// members holds the members with a signal in flight, and what waits for the next.
	members map[string]*memberSignals
}

// memberSignals is one member's queue: its presence in accrualSignals.members means a signal is in flight.
type memberSignals struct {
	waiting []*queuedAccrual
}

// queuedAccrual is a purchase waiting for its member's signal.
type queuedAccrual struct {
	p            domain.Purchase
	size         int
	tierReviewAt *time.Time
	// turn receives the outcome: err for a purchase sent in another's signal, or lead, the batch this request sends.
	turn  chan accrualTurn
	taken bool // guarded by accrualSignals.mu: in a batch being sent, so no longer withdrawable
}

type accrualTurn struct {
	lead []*queuedAccrual
	err  error
}

func newAccrualSignals(send func(context.Context, string, []domain.Purchase, *time.Time) error) *accrualSignals {
	return &accrualSignals{send: send, maxCount: workflows.MaxPurchasesPerSignal, maxBytes: workflows.MaxPurchasesSignalBytes,
		members: map[string]*memberSignals{}}
}

// signal sends p to its member's workflow and returns once Temporal accepted it (nil) or refused it. A request whose
// context ends while its purchase still waits withdraws it (ctx.Err()); once its purchase is in a signal being sent,
// it waits for that signal's outcome, which the guarded client bounds.
func (a *accrualSignals) signal(ctx context.Context, p domain.Purchase, tierReviewAt *time.Time) error {
	a.mu.Lock()
	q, busy := a.members[p.MemberID]
	if !busy {
		a.members[p.MemberID] = &memberSignals{}
		a.mu.Unlock()
		return a.lead(ctx, []*queuedAccrual{{p: p, tierReviewAt: tierReviewAt}})
	}
	me := &queuedAccrual{p: p, size: purchaseSize(p), tierReviewAt: tierReviewAt, turn: make(chan accrualTurn, 1)}
	q.waiting = append(q.waiting, me)
	a.mu.Unlock()

	var t accrualTurn
	select {
	case t = <-me.turn:
	case <-ctx.Done():
		a.mu.Lock()
		if !me.taken {
			q.withdraw(me)
			a.mu.Unlock()
			return ctx.Err()
		}
		a.mu.Unlock()
		t = <-me.turn
	}
	if t.lead != nil {
		return a.lead(ctx, t.lead)
	}
	return t.err
}

// lead sends batch (its first purchase is this request's) in one signal, tells the others their outcome, and hands
// the next batch, if any waits, to its first request.
func (a *accrualSignals) lead(ctx context.Context, batch []*queuedAccrual) error {
	ps := make([]domain.Purchase, len(batch))
	for i, b := range batch {
		ps[i] = b.p
	}
	// The request's context may end meanwhile; the others' purchases ride on this signal. The guarded client bounds
	// the call.
	err := a.send(context.WithoutCancel(ctx), batch[0].p.MemberID, ps, latestReview(batch))
	for _, b := range batch[1:] {
		b.turn <- accrualTurn{err: err}
	}
	a.handOff(batch[0].p.MemberID)
	return err
}

// handOff gives the purchases waiting for memberID's next signal to the first of them to send, or forgets the
// member when none wait.
func (a *accrualSignals) handOff(memberID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.members[memberID]
	if len(q.waiting) == 0 {
		delete(a.members, memberID)
		return
	}
	n, size := 0, 0
	for n < len(q.waiting) && n < a.maxCount && (n == 0 || size+q.waiting[n].size <= a.maxBytes) {
		size += q.waiting[n].size
		n++
	}
	next := q.waiting[:n:n]
	for _, b := range next {
		b.taken = true
	}
	q.waiting = append([]*queuedAccrual(nil), q.waiting[n:]...)
	next[0].turn <- accrualTurn{lead: next}
}

// withdraw removes a purchase that no longer waits (its request ended).
func (q *memberSignals) withdraw(me *queuedAccrual) {
	for i, b := range q.waiting {
		if b == me {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			return
		}
	}
}

// latestReview is the tier review date a workflow the signal starts arms: the latest any of the requests read.
func latestReview(batch []*queuedAccrual) *time.Time {
	var at *time.Time
	for _, b := range batch {
		if b.tierReviewAt != nil && (at == nil || b.tierReviewAt.After(*at)) {
			at = b.tierReviewAt
		}
	}
	return at
}

// purchaseSize is the size of p in a signal's payload.
func purchaseSize(p domain.Purchase) int {
	b, err := json.Marshal(p)
	if err != nil {
		return 0
	}
	return len(b)
}
