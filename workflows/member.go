package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// The member workflow, by concern:
//
//   - member.go: the workflow, its state and its main loop, which takes purchases and returns in the order received;
//   - member_ops.go: registration, the state query and the update handlers (till redemptions, adjustments), returns;
//   - member_accrual.go: accrual, in a local activity with its regular-activity fallback;
//   - member_continue.go: Continue-As-New, and the bound on what a run carries to the next;
//   - member_engagement.go: the engagement coroutine and its timers (birthday, win-back), and the tier review;
//   - member_challenges.go: forwarding purchases and returns to the member's challenges.
//
// Each has its tests beside it (member_test.go, member_ops_test.go, …), and the contract is member_contract.go.

// MemberWorkflow models a member's life in the program: registration and welcome, then every purchase they make,
// accrued exactly once and in the order received. It runs for as long as the member exists, continuing as new
// before its history grows past its bound, carrying any purchase not yet accrued.
func MemberWorkflow(ctx workflow.Context, in MemberInput) error {
	if !domain.ValidMemberID(in.MemberID) {
		return temporal.NewNonRetryableApplicationError("member id "+in.MemberID+" is not a UUID", ErrTypeInvalid, nil)
	}
	m := &member{in: in, state: MemberState{MemberID: in.MemberID, Status: MemberStatusActive, Stats: in.Stats, TierReviewAt: in.TierReviewAt}}
	m.state.Stats.Runs++
	m.pending = append(m.pending, in.Pending...)
	if in.Parked != nil {
		m.parked, m.deleteBelow = *in.Parked, in.Parked.Read
	}
	for _, p := range in.Behind {
		m.enqueue(p)
	}
	m.lastPurchaseAt, m.winbackFor = in.LastPurchaseAt, in.WinbackSentFor
	m.returns = append(m.returns, in.Returns...)
	m.counted = map[string]bool{}
	for _, id := range in.Counted {
		m.countPoints(id)
	}
	if in.Registration != nil && !in.Registered {
		m.state.Status = MemberStatusRegistering
	}
	if err := m.setup(ctx); err != nil {
		return err
	}
	return m.run(ctx)
}

type member struct {
	in    MemberInput
	state MemberState
	// The purchases queued, in the order received: pending, then those parked in Postgres by an earlier run (parked
	// locates them; the rows below deleteBelow, read by earlier runs, are deleted by this run's first read), then
	// behind, what was signalled while parked ones were queued. See member_continue.go.
	pending     []domain.Purchase
	parked      ParkedQueue
	deleteBelow int64
	behind      []domain.Purchase
	// parking is whether this run parks a backlog and accrues a burst in a regular activity (versioned, asked once
	// it has one: 0 until then).
	parking int
	returns []domain.Return
	// tiers is whether this run reviews tiers on their anniversary (versioned: runs recorded before it do not).
	tiers bool
	// review is the tier review timer (nil when none runs), reviewDue whether it has fired.
	review       workflow.Future
	cancelReview workflow.CancelFunc
	reviewDue    bool
	// engage is whether this run forwards purchases and returns to challenges and keeps the birthday and win-back
	// timers (versioned like tiers).
	engage bool
	// local is whether this run accrues purchases and looks up their challenges in local activities, and leaves a
	// pending win-back timer alone when a purchase comes (versioned: runs recorded before it use regular activities
	// and re-arm the timer on every purchase). See accrueBatch.
	local bool
	// counted are the transaction ids whose points this run added to Stats.PointsEarned (with the last few of the
	// previous run's); see countPoints.
	counted      map[string]bool
	countedOrder []string
	// engageCh feeds the engagement coroutine; engageQueued counts items it has not finished.
	engageCh     workflow.Channel
	engageQueued int
	// life is what the birthday and win-back timers are armed from; localLife whether this run reads it in a local
	// activity (versioned: runs recorded before it read it in a regular one).
	life      *domain.MemberLifecycle
	localLife bool
	// lastPurchaseAt is the latest purchase accrued; winbackFor the purchase whose inactivity was announced.
	lastPurchaseAt *time.Time
	winbackFor     *time.Time
	// registered is the member as created, for the registration update's answer.
	registered *privacy.SealedMember
	// erased receives SignalErased; erasing is set once it came: the run continues as new as soon as it can.
	erased  workflow.ReceiveChannel
	erasing bool
	// lists receives SignalPurchases: the purchases an API process sends together (docs/architecture.md, signals).
	lists workflow.ReceiveChannel
}

func (m *member) run(ctx workflow.Context) error {
	if m.in.Registration != nil && !m.in.Registered {
		if err := m.register(ctx); err != nil {
			return err
		}
		if m.state.Status == MemberStatusRejected {
			// Nothing was created; let a pending registration update read the answer before the workflow closes.
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
	} else if m.in.Registered {
		m.welcome(ctx)
	}
	// Runs recorded before tier reviews existed replay without them.
	m.tiers = workflow.GetVersion(ctx, "tier-review", workflow.DefaultVersion, 1) >= 1
	purchases := workflow.GetSignalChannel(ctx, SignalPurchase)
	returns := workflow.GetSignalChannel(ctx, SignalReturn)
	m.erased = workflow.GetSignalChannel(ctx, SignalErased)
	// Getting a channel records nothing: runs recorded before SignalPurchases existed replay unchanged.
	m.lists = workflow.GetSignalChannel(ctx, SignalPurchases)
	m.armReview(ctx)
	m.engage = workflow.GetVersion(ctx, "engagement", workflow.DefaultVersion, 1) >= 1
	m.local = workflow.GetVersion(ctx, "local-accrual", workflow.DefaultVersion, 1) >= 1
	if m.engage {
		m.startEngagement(ctx)
	}
	for {
		if len(m.pending) == 0 && len(m.returns) == 0 && !m.reviewDue && !m.parkedWork() {
			m.await(ctx, purchases, returns)
		}
		m.drain(purchases, returns)
		if len(m.pending) == 0 && m.parkedWork() {
			if err := m.unpark(ctx); err != nil {
				return err
			}
		}
		if len(m.pending) > 0 {
			changed, accrued, err := m.accrueBatch(ctx)
			if err != nil {
				return err
			}
			if changed {
				m.armReview(ctx)
			}
			if m.engage && len(accrued) > 0 {
				m.enqueueEngagement(ctx, engagementItem{Purchases: accrued})
			}
		}
		if m.queueEmpty() && len(m.returns) > 0 {
			r := m.returns[0]
			applied, err := m.applyReturn(ctx)
			if err != nil {
				return err
			}
			if m.engage && applied {
				m.enqueueEngagement(ctx, engagementItem{Return: &r})
			}
		}
		if m.reviewDue {
			if err := m.reviewTier(ctx); err != nil {
				return err
			}
			m.armReview(ctx)
		}
		if (m.erasing || historyFull(ctx, m.in.MaxHistoryEvents)) && (m.carryable() || m.mayPark(ctx)) || m.earlyPark(ctx) {
			if err := m.continueAsNew(ctx, purchases, returns); !errors.Is(err, errBacklog) {
				return err
			}
		}
	}
}

// await blocks until a purchase or a return arrives, or the tier review is due.
func (m *member) await(ctx workflow.Context, purchases, returns workflow.ReceiveChannel) {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(purchases, func(c workflow.ReceiveChannel, _ bool) {
		var p domain.Purchase
		c.Receive(ctx, &p)
		m.enqueue(p)
	})
	sel.AddReceive(m.lists, func(c workflow.ReceiveChannel, _ bool) {
		var ps []domain.Purchase
		c.Receive(ctx, &ps)
		m.enqueue(ps...)
	})
	sel.AddReceive(returns, func(c workflow.ReceiveChannel, _ bool) {
		var r domain.Return
		c.Receive(ctx, &r)
		m.returns = append(m.returns, r)
	})
	sel.AddReceive(m.erased, func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		m.erasing = true
	})
	if m.review != nil {
		sel.AddFuture(m.review, func(f workflow.Future) {
			if f.Get(ctx, nil) == nil {
				m.reviewDue = true
			}
		})
	}
	sel.Select(ctx)
}

// drain moves every purchase and return already delivered into the queues without blocking.
func (m *member) drain(purchases, returns workflow.ReceiveChannel) {
	for {
		var p domain.Purchase
		if !purchases.ReceiveAsync(&p) {
			break
		}
		m.enqueue(p)
	}
	for m.lists != nil {
		var ps []domain.Purchase
		if !m.lists.ReceiveAsync(&ps) {
			break
		}
		m.enqueue(ps...)
	}
	for {
		var r domain.Return
		if !returns.ReceiveAsync(&r) {
			break
		}
		m.returns = append(m.returns, r)
	}
	for m.erased != nil && m.erased.ReceiveAsync(nil) {
		m.erasing = true
	}
}
