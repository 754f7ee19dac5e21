package workflows

import (
	"errors"
	"fmt"
	"time"

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
	m.returns = append(m.returns, in.Returns...)
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
	// registered is the member as created, for the registration update's answer.
	registered *domain.Member
}

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
			return m.operation(ctx, ActivityRedeemAtTill, fmt.Sprintf("Redeem %d points at store %s (%s)", r.Points, r.StoreID, r.RedemptionID), r)
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
			return m.operation(ctx, ActivityAdjustPoints, fmt.Sprintf("Adjust by %+d points (%s, by %s)", a.Points, a.AdjustmentID, a.Actor), a)
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
	var review workflow.Future
	var cancelReview workflow.CancelFunc
	reviewDue := false
	armReview := func() {
		if cancelReview != nil {
			cancelReview()
		}
		review, cancelReview, reviewDue = nil, nil, false
		if !m.tiers || m.state.TierReviewAt == nil {
			return
		}
		tctx, cancel := workflow.WithCancel(ctx)
		d := max(m.state.TierReviewAt.Sub(workflow.Now(ctx)), time.Second)
		review = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "Tier review on its anniversary"})
		cancelReview = cancel
	}
	armReview()
	for {
		if len(m.pending) == 0 && len(m.returns) == 0 && !reviewDue {
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
			if review != nil {
				sel.AddFuture(review, func(f workflow.Future) {
					if f.Get(ctx, nil) == nil {
						reviewDue = true
					}
				})
			}
			sel.Select(ctx)
		}
		m.drain(purchases, returns)
		if len(m.pending) > 0 {
			changed, err := m.accrueBatch(ctx)
			if err != nil {
				return err
			}
			if changed {
				armReview()
			}
		}
		if len(m.pending) == 0 && len(m.returns) > 0 {
			if err := m.applyReturn(ctx); err != nil {
				return err
			}
		}
		if reviewDue {
			if err := m.reviewTier(ctx); err != nil {
				return err
			}
			armReview()
		}
		if m.historyFull(ctx) {
			return m.continueAsNew(ctx, purchases, returns)
		}
	}
}

// accrueBatch accrues the oldest queued purchases in one activity and reports whether the tier changed.
func (m *member) accrueBatch(ctx workflow.Context) (bool, error) {
	n := min(len(m.pending), MaxPurchasesPerBatch)
	batch := m.pending[:n]
	var outcomes []domain.AccrualOutcome
	actx := workflow.WithActivityOptions(ctx, accrualActivityOptions(batch))
	if err := workflow.ExecuteActivity(actx, ActivityAccruePurchases, batch).Get(ctx, &outcomes); err != nil {
		// Only cancellation ends the retries; the purchases stay queued for the next run.
		return false, fmt.Errorf("accrue purchases: %w", err)
	}
	changed := false
	for _, o := range outcomes {
		if o.Conflict {
			workflow.GetLogger(ctx).Warn("transaction id reused with different content; not accrued again", "TransactionID", o.TransactionID)
		}
		if !o.Replayed {
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
	return changed, nil
}

// applyReturn applies the oldest queued return.
func (m *member) applyReturn(ctx workflow.Context) error {
	r := m.returns[0]
	opts := accrualActivityOptions(nil)
	opts.Summary = "Return " + r.ReturnID + " of purchase " + r.TransactionID
	var out domain.OperationOutcome
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityReturnPurchase, r).Get(ctx, &out); err != nil {
		return fmt.Errorf("return %s: %w", r.ReturnID, err)
	}
	m.state.Stats.ReturnsProcessed++
	m.returns = m.returns[1:]
	return nil
}

// reviewTier reviews the member's tier on its anniversary.
func (m *member) reviewTier(ctx workflow.Context) error {
	at := *m.state.TierReviewAt
	opts := accrualActivityOptions(nil)
	opts.Summary = "Review tier " + m.state.Tier + " on its anniversary"
	var rev domain.TierReview
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), ActivityReviewTier, m.in.MemberID, at).Get(ctx, &rev); err != nil {
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
	m.notify(ctx, domain.Notification{
		Key: domain.TierChangeKey(m.in.MemberID, ch.To, ch.ReviewAt), MemberID: m.in.MemberID, Template: domain.TemplateTierChange,
		Data: map[string]string{"from": ch.From, "to": ch.To},
	}, "Tell the member about tier "+ch.To)
}

// operation runs a member-initiated points operation for an update handler.
func (m *member) operation(ctx workflow.Context, activity, summary string, arg any) (domain.OperationOutcome, error) {
	var out domain.OperationOutcome
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
		Summary:             summary,
	})
	err := workflow.ExecuteActivity(actx, activity, arg).Get(ctx, &out)
	return out, err
}

// notify sends a notification; a provider failing for good must not stop the member's workflow.
func (m *member) notify(ctx workflow.Context, n domain.Notification, summary string) {
	nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
		Summary:             summary,
	})
	if err := workflow.ExecuteActivity(nctx, ActivitySendNotification, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("notification not sent", "Key", n.Key, "Error", err)
	}
}

// register creates the member and welcomes them. A conflicting email or external id rejects the registration.
func (m *member) register(ctx workflow.Context) error {
	reg := *m.in.Registration
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		Summary:             "Create member " + m.in.MemberID + " and open their balance",
	})
	var created domain.Member
	err := workflow.ExecuteActivity(actx, ActivityRegisterMember, reg).Get(ctx, &created)
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
	m.notify(ctx, domain.Notification{Key: domain.WelcomeKey(m.in.MemberID), MemberID: m.in.MemberID, Template: domain.TemplateWelcome},
		"Send the welcome message")
	return nil
}

func accrualActivityOptions(batch []domain.Purchase) workflow.ActivityOptions {
	summary := ""
	if len(batch) == 1 {
		summary = "Accrue purchase " + batch[0].TransactionID
	}
	if len(batch) > 1 {
		summary = fmt.Sprintf("Accrue %d purchases (%s … %s)", len(batch), batch[0].TransactionID, batch[len(batch)-1].TransactionID)
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// A purchase must never be dropped: retry until Postgres is back, however long that takes.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:     summary,
	}
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

func (m *member) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	limit := m.in.MaxHistoryEvents
	if limit <= 0 {
		limit = DefaultMaxHistoryEvents
	}
	return info.GetCurrentHistoryLength() >= limit || info.GetContinueAsNewSuggested()
}

// continueAsNew starts a fresh run carrying every purchase and return received and not yet processed, so none is
// lost, and the tier review date.
func (m *member) continueAsNew(ctx workflow.Context, purchases, returns workflow.ReceiveChannel) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	m.drain(purchases, returns)
	next := MemberInput{
		MemberID:         m.in.MemberID,
		Pending:          m.pending,
		Returns:          m.returns,
		TierReviewAt:     m.state.TierReviewAt,
		Stats:            m.state.Stats,
		MaxHistoryEvents: m.in.MaxHistoryEvents,
	}
	return workflow.NewContinueAsNewError(ctx, MemberWorkflowName, next)
}
