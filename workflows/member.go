package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

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
	m.lastPurchaseAt, m.winbackFor = in.LastPurchaseAt, in.WinbackSentFor
	m.returns = append(m.returns, in.Returns...)
	m.counted = map[string]bool{}
	for _, id := range in.Counted {
		m.countPoints(id)
	}
	if in.Registration != nil {
		m.state.Status = MemberStatusRegistering
	}
	if err := m.setup(ctx); err != nil {
		return err
	}
	return m.run(ctx)
}

type member struct {
	in      MemberInput
	state   MemberState
	pending []domain.Purchase
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
	// life is what the birthday and win-back timers are armed from.
	life *domain.MemberLifecycle
	// lastPurchaseAt is the latest purchase accrued; winbackFor the purchase whose inactivity was announced.
	lastPurchaseAt *time.Time
	winbackFor     *time.Time
	// registered is the member as created, for the registration update's answer.
	registered *domain.Member
}

func (m *member) run(ctx workflow.Context) error {
	if m.in.Registration != nil {
		if err := m.register(ctx); err != nil {
			return err
		}
		if m.state.Status == MemberStatusRejected {
			// Nothing was created; let a pending registration update read the answer before the workflow closes.
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
	}
	// Runs recorded before tier reviews existed replay without them.
	m.tiers = workflow.GetVersion(ctx, "tier-review", workflow.DefaultVersion, 1) >= 1
	purchases := workflow.GetSignalChannel(ctx, SignalPurchase)
	returns := workflow.GetSignalChannel(ctx, SignalReturn)
	m.armReview(ctx)
	m.engage = workflow.GetVersion(ctx, "engagement", workflow.DefaultVersion, 1) >= 1
	m.local = workflow.GetVersion(ctx, "local-accrual", workflow.DefaultVersion, 1) >= 1
	if m.engage {
		m.startEngagement(ctx)
	}
	for {
		if len(m.pending) == 0 && len(m.returns) == 0 && !m.reviewDue {
			m.await(ctx, purchases, returns)
		}
		m.drain(purchases, returns)
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
		if len(m.pending) == 0 && len(m.returns) > 0 {
			r := m.returns[0]
			if err := m.applyReturn(ctx); err != nil {
				return err
			}
			if m.engage {
				m.enqueueEngagement(ctx, engagementItem{Return: &r})
			}
		}
		if m.reviewDue {
			if err := m.reviewTier(ctx); err != nil {
				return err
			}
			m.armReview(ctx)
		}
		if historyFull(ctx, m.in.MaxHistoryEvents) && m.carryable() {
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
		m.pending = append(m.pending, p)
	})
	sel.AddReceive(returns, func(c workflow.ReceiveChannel, _ bool) {
		var r domain.Return
		c.Receive(ctx, &r)
		m.returns = append(m.returns, r)
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
		m.pending = append(m.pending, p)
	}
	for {
		var r domain.Return
		if !returns.ReceiveAsync(&r) {
			break
		}
		m.returns = append(m.returns, r)
	}
}

// The member workflow's registration, its state query, the updates that spend or adjust points, and returns.

func (m *member) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (MemberState, error) {
		s := m.state
		s.PendingTransactionIDs = make([]string, len(m.pending))
		for i, p := range m.pending {
			s.PendingTransactionIDs[i] = p.TransactionID
		}
		s.PendingReturnIDs = make([]string, len(m.returns))
		for i, r := range m.returns {
			s.PendingReturnIDs[i] = r.ReturnID
		}
		s.HistoryLength = workflow.GetInfo(ctx).GetCurrentHistoryLength()
		return s, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRedeem,
		func(ctx workflow.Context, r domain.TillRedemption) (domain.OperationOutcome, error) {
			m.state.Stats.Redemptions++
			summary := fmt.Sprintf("Redeem %d points at store %s (%s)", r.Points, r.StoreID, r.RedemptionID)
			return RedeemAtTill.Execute(withOptions(ctx, activityOptions.operation, summary), r).Get(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: func(r domain.TillRedemption) error {
			if r.MemberID != m.in.MemberID {
				return fmt.Errorf("redemption for member %s sent to member %s", r.MemberID, m.in.MemberID)
			}
			return r.Validate()
		}}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAdjust,
		func(ctx workflow.Context, a domain.Adjustment) (domain.OperationOutcome, error) {
			m.state.Stats.Adjustments++
			summary := fmt.Sprintf("Adjust by %+d points (%s, by %s)", a.Points, a.AdjustmentID, a.Actor)
			return AdjustPoints.Execute(withOptions(ctx, activityOptions.operation, summary), a).Get(ctx)
		},
		workflow.UpdateHandlerOptions{Validator: func(a domain.Adjustment) error {
			if a.MemberID != m.in.MemberID {
				return fmt.Errorf("adjustment for member %s sent to member %s", a.MemberID, m.in.MemberID)
			}
			return a.Validate()
		}}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdateRegistration, func(ctx workflow.Context) (domain.Member, error) {
		if err := workflow.Await(ctx, func() bool { return m.state.Status != MemberStatusRegistering }); err != nil {
			return domain.Member{}, err
		}
		if m.state.Status == MemberStatusRejected {
			return domain.Member{}, temporal.NewApplicationError(m.state.RejectReason, ErrTypeConflict)
		}
		if m.registered == nil {
			return domain.Member{}, temporal.NewApplicationError("member "+m.in.MemberID+" was registered earlier", ErrTypeConflict)
		}
		return *m.registered, nil
	})
}

// register creates the member and welcomes them. A conflicting email or external id rejects the registration.
func (m *member) register(ctx workflow.Context) error {
	actx := withOptions(ctx, activityOptions.registration, "Create member "+m.in.MemberID+" and open their balance")
	created, err := RegisterMember.Execute(actx, *m.in.Registration).Get(ctx)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == ErrTypeConflict || appErr.Type() == ErrTypeInvalid) {
		m.state.Status, m.state.RejectReason = MemberStatusRejected, appErr.Message()
		return nil
	}
	if err != nil {
		return fmt.Errorf("register member: %w", err)
	}
	m.registered = &created
	m.state.Status = MemberStatusActive
	// The welcome is a courtesy: a provider failing for good must not stop the member from earning.
	notify(ctx, activityOptions.notification, domain.Notification{Key: domain.WelcomeKey(m.in.MemberID), MemberID: m.in.MemberID,
		Template: domain.TemplateWelcome}, "Send the welcome message")
	return nil
}

// applyReturn applies the oldest queued return.
func (m *member) applyReturn(ctx workflow.Context) error {
	r := m.returns[0]
	actx := withOptions(ctx, activityOptions.accrual, "Return "+r.ReturnID+" of purchase "+r.TransactionID)
	if _, err := ReturnPurchase.Execute(actx, r).Get(ctx); err != nil {
		return fmt.Errorf("return %s: %w", r.ReturnID, err)
	}
	m.state.Stats.ReturnsProcessed++
	m.returns = m.returns[1:]
	return nil
}

// localAccrualWindow is how long the local activity accruing a batch is retried before the batch goes to a regular
// activity.
const localAccrualWindow = 2 * time.Minute

// carriedCounted is how many of the latest counted transaction ids a run hands to the next.
const carriedCounted = 64

// accrueBatch accrues the oldest queued purchases in one activity and reports whether the tier changed, and the
// purchases that were accrued (first time or replayed: challenges count each transaction once either way).
//
// The fast path is a local activity: it runs in the workflow task that delivered the purchases, so a purchase costs
// the server one workflow task and one marker instead of an activity task's round trip through matching (the
// member workflow's history grew by 18 events per purchase with regular activities, 6 with local ones; see
// BENCHMARKS.md). A local activity cannot retry for ever, so when it has not succeeded within
// localAccrualWindow the same batch goes to a regular activity, retried until Postgres is back however long that
// takes — and visible as such in the Temporal UI. Both are idempotent on each purchase's transaction id, so a
// batch the local attempt partly wrote is finished, not doubled.
func (m *member) accrueBatch(ctx workflow.Context) (bool, []domain.Purchase, error) {
	n := min(len(m.pending), MaxPurchasesPerBatch)
	batch := m.pending[:n]
	summary := accrualSummary(batch)
	var outcomes []domain.AccrualOutcome
	var err error
	if m.local {
		lctx := withLocalOptions(ctx, activityOptions.accrual, summary, localAccrualWindow)
		outcomes, err = AccruePurchases.ExecuteLocal(lctx, batch).Get(ctx)
		if err != nil && ctx.Err() != nil {
			return false, nil, fmt.Errorf("accrue purchases: %w", err)
		}
		if err != nil {
			workflow.GetLogger(ctx).Warn("accrual did not succeed in a local activity; a regular activity retries it until it does", "Error", err)
		}
	}
	if !m.local || err != nil {
		outcomes, err = AccruePurchases.Execute(withOptions(ctx, activityOptions.accrual, summary), batch).Get(ctx)
		if err != nil {
			// Only cancellation ends the retries; the purchases stay queued for the next run.
			return false, nil, fmt.Errorf("accrue purchases: %w", err)
		}
	}
	changed := false
	var accrued []domain.Purchase
	for i, o := range outcomes {
		if i < len(batch) && o.Status == "accrued" && !o.Conflict && batch[i].TransactionID == o.TransactionID {
			accrued = append(accrued, batch[i])
		}
		if o.Conflict {
			workflow.GetLogger(ctx).Warn("transaction id reused with different content; not accrued again", "TransactionID", o.TransactionID)
		}
		if !o.Conflict && m.countPoints(o.TransactionID) {
			m.state.Stats.PointsEarned += o.Points
		}
		m.state.Stats.PurchasesProcessed++
		m.state.Stats.LastTransactionID = o.TransactionID
		if o.TierChange != nil && m.tiers {
			m.tierChanged(ctx, *o.TierChange)
			changed = true
		}
	}
	m.pending = append([]domain.Purchase(nil), m.pending[n:]...)
	return changed, accrued, nil
}

// accrualSummary describes a batch in the Temporal UI.
func accrualSummary(batch []domain.Purchase) string {
	switch {
	case len(batch) == 1:
		return "Accrue purchase " + batch[0].TransactionID
	case len(batch) > 1:
		return fmt.Sprintf("Accrue %d purchases (%s … %s)", len(batch), batch[0].TransactionID, batch[len(batch)-1].TransactionID)
	}
	return ""
}

// countPoints reports whether a purchase's points are still to be added to Stats.PointsEarned, and marks them
// counted. An outcome's Replayed flag cannot say: a local activity's result is lost with the workflow task it ran in
// (a worker crash, or a task completing with a Continue-As-New that a new signal overtook), and its next execution
// finds the purchase written by the lost one. Duplicates that reach the workflow are purchases reported twice while
// the first was in flight (the API answers an already committed transaction itself): they arrive within seconds,
// in this run or at the start of the next, which is why the latest ids are carried over.
func (m *member) countPoints(txID string) bool {
	if m.counted[txID] {
		return false
	}
	m.counted[txID] = true
	m.countedOrder = append(m.countedOrder, txID)
	return true
}

// Temporal refuses a workflow task whose payloads pass 2 MiB, so a run hands at most this much to the next: with a
// backlog above it (purchases arriving faster than one member's accruals commit), the run goes on accruing past its
// history bound until the backlog fits. Carrying every purchase regardless once failed the Continue-As-New with
// 10,000 purchases queued for one member, and the workflow stalled (BENCHMARKS.md, history bound).
const (
	maxCarriedItems = 500
	maxCarriedBytes = 1 << 20
)

// carryable reports whether what is queued fits in the next run's input (runs before "local-accrual" carry all).
func (m *member) carryable() bool {
	if !m.local {
		return true
	}
	if len(m.pending)+len(m.returns) > maxCarriedItems {
		return false
	}
	// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
	b, err := json.Marshal(MemberInput{Pending: m.pending, Returns: m.returns}) //workflowcheck:ignore
	return err != nil || len(b) <= maxCarriedBytes
}

// errBacklog is continueAsNew's answer when what is queued has outgrown the next run's input meanwhile.
var errBacklog = errors.New("backlog too large to carry")

// continueAsNew starts a fresh run carrying every purchase and return received and not yet processed, so none is
// lost, and the tier review date.
func (m *member) continueAsNew(ctx workflow.Context, purchases, returns workflow.ReceiveChannel) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && m.engageQueued == 0 }); err != nil {
		return err
	}
	m.drain(purchases, returns)
	if !m.carryable() {
		return errBacklog // more arrived while the handlers finished: accrue on
	}
	next := MemberInput{
		MemberID:         m.in.MemberID,
		Pending:          m.pending,
		Returns:          m.returns,
		TierReviewAt:     m.state.TierReviewAt,
		LastPurchaseAt:   m.lastPurchaseAt,
		WinbackSentFor:   m.winbackFor,
		Stats:            m.state.Stats,
		Counted:          m.countedOrder[max(0, len(m.countedOrder)-carriedCounted):],
		MaxHistoryEvents: m.in.MaxHistoryEvents,
	}
	return workflow.NewContinueAsNewError(ctx, MemberWorkflowName, next)
}

// The member's engagement: a coroutine beside the main loop keeps the birthday and win-back timers and forwards
// purchases and returns to challenges (member_challenges.go); the main loop reviews the tier on its anniversary.

// engagementItem is work for the engagement coroutine: purchases accrued, or a return applied.
type engagementItem struct {
	Purchases []domain.Purchase
	Return    *domain.Return
}

// maxEngagementQueue bounds the items waiting for the engagement coroutine (the main loop adds at most two per turn).
const maxEngagementQueue = 1 << 16

// startEngagement runs the member's engagement beside the main loop, so that neither a slow challenge nor a birthday
// ever delays a purchase: it forwards purchases and returns to challenges in order, and keeps the birthday and
// win-back timers.
func (m *member) startEngagement(ctx workflow.Context) {
	m.engageCh = workflow.NewBufferedChannel(ctx, maxEngagementQueue)
	workflow.Go(ctx, func(ctx workflow.Context) {
		lt := &lifecycleTimers{}
		m.loadLifecycle(ctx)
		m.armLifecycle(ctx, lt)
		for {
			var item engagementItem
			got := false
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(m.engageCh, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, &item)
				got = true
			})
			lt.addTo(ctx, sel)
			sel.Select(ctx)
			if ctx.Err() != nil {
				return
			}
			switch {
			case got && item.Return != nil:
				m.forwardReturn(ctx, *item.Return)
			case got:
				m.forwardPurchases(ctx, item.Purchases)
				// A pending win-back timer is left to fire: winback re-arms it from the latest purchase then. Re-arming
				// on every purchase cost two history events each (runs before "local-accrual" still do).
				if m.purchased(item.Purchases) && (!m.local || lt.winback == nil) {
					m.armWinback(ctx, lt)
				}
			}
			if got {
				m.engageQueued--
			}
			// A Continue-As-New waits for these too, so that a bonus being credited is never dropped.
			if lt.birthdayDue {
				m.engageQueued++
				m.birthday(ctx, lt)
				m.engageQueued--
			}
			if lt.winbackDue {
				m.engageQueued++
				m.winback(ctx, lt)
				m.engageQueued--
			}
		}
	})
}

// enqueueEngagement hands an item to the engagement coroutine.
func (m *member) enqueueEngagement(ctx workflow.Context, item engagementItem) {
	m.engageQueued++
	m.engageCh.Send(ctx, item)
}

// lifecycleTimers are the member's birthday and win-back timers.
type lifecycleTimers struct {
	birthday, winback             workflow.Future
	cancelBirthday, cancelWinback workflow.CancelFunc
	birthdayAt, winbackFor        time.Time
	birthdayDue, winbackDue       bool
}

func (lt *lifecycleTimers) addTo(ctx workflow.Context, sel workflow.Selector) {
	if lt.birthday != nil {
		sel.AddFuture(lt.birthday, func(f workflow.Future) {
			lt.birthday = nil
			lt.birthdayDue = f.Get(ctx, nil) == nil
		})
	}
	if lt.winback != nil {
		sel.AddFuture(lt.winback, func(f workflow.Future) {
			lt.winback = nil
			lt.winbackDue = f.Get(ctx, nil) == nil
		})
	}
}

// loadLifecycle reads the member's birthdate, the program's birthday and win-back settings and the last purchase.
func (m *member) loadLifecycle(ctx workflow.Context) {
	life, err := MemberLifecycle.Execute(withOptions(ctx, activityOptions.engagement, "Read birthday and win-back settings"), m.in.MemberID).Get(ctx)
	if err != nil {
		workflow.GetLogger(ctx).Warn("member lifecycle not read; no birthday or win-back timers this run", "Error", err)
		m.life = nil
		return
	}
	m.life = &life
	if m.lastPurchaseAt == nil && life.LastPurchaseAt != nil {
		t := life.LastPurchaseAt.UTC()
		m.lastPurchaseAt = &t
	}
}

func (m *member) armLifecycle(ctx workflow.Context, lt *lifecycleTimers) {
	m.armBirthday(ctx, lt)
	m.armWinback(ctx, lt)
}

// armBirthday sets a timer for the member's next birthday (midnight in the program's time zone).
func (m *member) armBirthday(ctx workflow.Context, lt *lifecycleTimers) {
	if lt.cancelBirthday != nil {
		lt.cancelBirthday()
	}
	lt.birthday, lt.cancelBirthday = nil, nil
	if m.life == nil || !m.life.Active || m.life.BirthdayBonusPoints <= 0 || m.life.Birthdate == "" {
		return
	}
	now := workflow.Now(ctx)
	next, ok := domain.NextBirthday(m.life.Birthdate, now, domain.Program{TimeZone: m.life.TimeZone}.Location())
	if !ok {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	lt.birthday = workflow.NewTimerWithOptions(tctx, next.Sub(now), workflow.TimerOptions{Summary: "Birthday bonus on " + next.Format(time.DateOnly)})
	lt.cancelBirthday, lt.birthdayAt = cancel, next
}

// birthday credits the birthday bonus (once a year: keyed by the year) and wishes the member a happy birthday.
func (m *member) birthday(ctx workflow.Context, lt *lifecycleTimers) {
	lt.birthdayDue = false
	year := lt.birthdayAt.Year()
	actx := withOptions(ctx, activityOptions.engagement, fmt.Sprintf("Credit the %d birthday bonus", year))
	if points, err := GrantBirthdayBonus.Execute(actx, m.in.MemberID, year).Get(ctx); err != nil {
		workflow.GetLogger(ctx).Warn("birthday bonus not credited", "Year", year, "Error", err)
	} else if points > 0 {
		notify(ctx, activityOptions.notification, domain.Notification{Key: domain.BirthdayBonusKey(m.in.MemberID, year), MemberID: m.in.MemberID,
			Template: domain.TemplateBirthday, Data: map[string]string{"points": fmt.Sprint(points)}}, "Wish the member a happy birthday")
	}
	m.loadLifecycle(ctx) // settings may have changed over the year
	m.armBirthday(ctx, lt)
}

// armWinback sets a timer for the end of the program's win-back days after the last purchase, unless the member
// was told about this stretch of inactivity already.
func (m *member) armWinback(ctx workflow.Context, lt *lifecycleTimers) {
	if lt.cancelWinback != nil {
		lt.cancelWinback()
	}
	lt.winback, lt.cancelWinback = nil, nil
	if m.life == nil || !m.life.Active || m.life.WinbackDays <= 0 || m.lastPurchaseAt == nil {
		return
	}
	if m.winbackFor != nil && m.winbackFor.Equal(*m.lastPurchaseAt) {
		return
	}
	due := m.lastPurchaseAt.AddDate(0, 0, m.life.WinbackDays)
	tctx, cancel := workflow.WithCancel(ctx)
	lt.winback = workflow.NewTimerWithOptions(tctx, max(due.Sub(workflow.Now(ctx)), time.Second),
		workflow.TimerOptions{Summary: fmt.Sprintf("Win-back after %d days without a purchase", m.life.WinbackDays)})
	lt.cancelWinback, lt.winbackFor = cancel, *m.lastPurchaseAt
}

// winback tells a member who has not bought for the program's win-back days that they are missed.
func (m *member) winback(ctx workflow.Context, lt *lifecycleTimers) {
	lt.winbackDue = false
	last := lt.winbackFor
	m.loadLifecycle(ctx)
	if m.life == nil || m.life.WinbackDays <= 0 || m.lastPurchaseAt == nil || !m.lastPurchaseAt.Equal(last) {
		m.armWinback(ctx, lt)
		return
	}
	if workflow.Now(ctx).Before(last.AddDate(0, 0, m.life.WinbackDays)) {
		m.armWinback(ctx, lt) // the program's win-back days grew
		return
	}
	notify(ctx, activityOptions.notification, domain.Notification{Key: domain.WinbackKey(m.in.MemberID, last), MemberID: m.in.MemberID,
		Template: domain.TemplateWinback, Data: map[string]string{"days": fmt.Sprint(m.life.WinbackDays)}},
		fmt.Sprintf("Win back the member after %d days without a purchase", m.life.WinbackDays))
	m.winbackFor = &last
}

// purchased moves the last purchase forward to the latest accrued and reports whether it moved.
func (m *member) purchased(ps []domain.Purchase) bool {
	moved := false
	for _, p := range ps {
		t := p.OccurredAt.UTC()
		if m.lastPurchaseAt == nil || t.After(*m.lastPurchaseAt) {
			m.lastPurchaseAt, moved = &t, true
		}
	}
	return moved
}

// armReview sets a timer for the tier review on its anniversary, cancelling the one that ran.
func (m *member) armReview(ctx workflow.Context) {
	if m.cancelReview != nil {
		m.cancelReview()
	}
	m.review, m.cancelReview, m.reviewDue = nil, nil, false
	if !m.tiers || m.state.TierReviewAt == nil {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	d := max(m.state.TierReviewAt.Sub(workflow.Now(ctx)), time.Second)
	m.review = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "Tier review on its anniversary"})
	m.cancelReview = cancel
}

// reviewTier reviews the member's tier on its anniversary.
func (m *member) reviewTier(ctx workflow.Context) error {
	at := *m.state.TierReviewAt
	actx := withOptions(ctx, activityOptions.accrual, "Review tier "+m.state.Tier+" on its anniversary")
	rev, err := ReviewTier.Execute(actx, m.in.MemberID, at).Get(ctx)
	if err != nil {
		return fmt.Errorf("review tier: %w", err)
	}
	m.state.TierReviewAt = rev.Tier.ReviewAt
	if rev.Change != nil {
		m.tierChanged(ctx, *rev.Change)
	} else if rev.Tier.Code != "" {
		m.state.Tier = rev.Tier.Code
	}
	return nil
}

// tierChanged records a new tier, makes it searchable and tells the member.
func (m *member) tierChanged(ctx workflow.Context, ch domain.TierChange) {
	m.state.Tier = ch.To
	at := ch.ReviewAt
	m.state.TierReviewAt = &at
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrTier.ValueSet(ch.To)); err != nil {
		workflow.GetLogger(ctx).Warn("tier search attribute not updated", "Error", err)
	}
	notify(ctx, activityOptions.notification, domain.Notification{
		Key: domain.TierChangeKey(m.in.MemberID, ch.To, ch.ReviewAt), MemberID: m.in.MemberID, Template: domain.TemplateTierChange,
		Data: map[string]string{"from": ch.From, "to": ch.To},
	}, "Tell the member about tier "+ch.To)
}

// The member workflow forwards the purchases it accrued and the returns it applied to the member's challenges, from
// its engagement coroutine (member_engagement.go).

// findChallenges asks which of the member's challenges are open at t (in a local activity in runs that accrue
// locally: it runs in the same workflow task as the accrual).
func (m *member) findChallenges(ctx workflow.Context, summary string, t time.Time) ([]domain.ChallengeMatch, error) {
	if !m.local {
		return ChallengesForPurchase.Execute(withOptions(ctx, activityOptions.engagement, summary), m.in.MemberID, t).Get(ctx)
	}
	lctx := withLocalOptions(ctx, activityOptions.engagement, summary, 5*time.Minute)
	return ChallengesForPurchase.ExecuteLocal(lctx, m.in.MemberID, t).Get(ctx)
}

// forwardPurchases sends accrued purchases to the member's challenges: to enrolments that run, and to the
// auto-enrolling challenges they open (starting the enrolment's workflow, which outlives this one).
func (m *member) forwardPurchases(ctx workflow.Context, ps []domain.Purchase) {
	matches, err := m.findChallenges(ctx, fmt.Sprintf("Find the challenges %d purchases count for", len(ps)), workflow.Now(ctx))
	if err != nil {
		workflow.GetLogger(ctx).Warn("purchases not forwarded to challenges", "Error", err)
		return
	}
	var signals []workflow.Future
	for _, match := range matches {
		c := match.Challenge
		var counted []domain.Purchase
		for _, p := range ps {
			if c.OpenAt(p.OccurredAt) {
				counted = append(counted, p)
			}
		}
		if len(counted) == 0 {
			continue
		}
		id := ChallengeWorkflowID(c.ID, m.in.MemberID)
		if !match.Enrolled {
			enrolledAt := counted[0].OccurredAt.UTC()
			for _, p := range counted {
				if p.OccurredAt.Before(enrolledAt) {
					enrolledAt = p.OccurredAt.UTC()
				}
			}
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:            id,
				ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
				WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
				TypedSearchAttributes: temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(m.in.MemberID)),
				StaticSummary:         "Challenge " + c.ID + " for member " + m.in.MemberID,
			})
			child := workflow.ExecuteChildWorkflow(cctx, ChallengeWorkflowName, ChallengeInput{Challenge: c, MemberID: m.in.MemberID, EnrolledAt: enrolledAt})
			if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				// Most often enrolled meanwhile (joined, or an earlier batch): the signals below reach it.
				workflow.GetLogger(ctx).Info("challenge enrolment not started", "ChallengeID", c.ID, "Error", err)
			}
		}
		for _, p := range counted {
			signals = append(signals, workflow.SignalExternalWorkflow(ctx, id, "", SignalChallengePurchase, domain.ChallengePurchaseOf(p)))
		}
	}
	for _, f := range signals {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Info("purchase not delivered to a challenge (ended)", "Error", err)
		}
	}
}

// forwardReturn sends a return to the member's running enrolments, which undo what the purchase contributed.
func (m *member) forwardReturn(ctx workflow.Context, r domain.Return) {
	matches, err := m.findChallenges(ctx, "Find the challenges return "+r.ReturnID+" affects", workflow.Now(ctx))
	if err != nil {
		workflow.GetLogger(ctx).Warn("return not forwarded to challenges", "Error", err)
		return
	}
	var signals []workflow.Future
	for _, match := range matches {
		if match.Enrolled {
			signals = append(signals, workflow.SignalExternalWorkflow(ctx, ChallengeWorkflowID(match.Challenge.ID, m.in.MemberID), "", SignalChallengeReturn, r))
		}
	}
	for _, f := range signals {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Info("return not delivered to a challenge (ended)", "Error", err)
		}
	}
}
