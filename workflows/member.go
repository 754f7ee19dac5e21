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
	m := &member{in: in, state: MemberState{MemberID: in.MemberID, Status: MemberStatusActive, Stats: in.Stats}}
	m.state.Stats.Runs++
	m.pending = append(m.pending, in.Pending...)
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
		s.HistoryLength = workflow.GetInfo(ctx).GetCurrentHistoryLength()
		return s, nil
	}); err != nil {
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
	log := workflow.GetLogger(ctx)
	if m.in.Registration != nil {
		if err := m.register(ctx); err != nil {
			return err
		}
		if m.state.Status == MemberStatusRejected {
			// Nothing was created; let a pending registration update read the answer before the workflow closes.
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
	}
	purchases := workflow.GetSignalChannel(ctx, SignalPurchase)
	for {
		if len(m.pending) == 0 {
			var p domain.Purchase
			purchases.Receive(ctx, &p)
			m.pending = append(m.pending, p)
		}
		m.drain(purchases)
		n := min(len(m.pending), MaxPurchasesPerBatch)
		batch := m.pending[:n]
		var outcomes []domain.AccrualOutcome
		actx := workflow.WithActivityOptions(ctx, accrualActivityOptions(batch))
		if err := workflow.ExecuteActivity(actx, ActivityAccruePurchases, batch).Get(ctx, &outcomes); err != nil {
			// Only cancellation ends the retries; the purchases stay queued for the next run.
			return fmt.Errorf("accrue purchases: %w", err)
		}
		for _, o := range outcomes {
			if o.Conflict {
				log.Warn("transaction id reused with different content; not accrued again", "TransactionID", o.TransactionID)
			}
			if !o.Replayed {
				m.state.Stats.PointsEarned += o.Points
			}
			m.state.Stats.PurchasesProcessed++
			m.state.Stats.LastTransactionID = o.TransactionID
		}
		m.pending = append([]domain.Purchase(nil), m.pending[n:]...)
		if m.historyFull(ctx) {
			return m.continueAsNew(ctx, purchases)
		}
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
	nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
		Summary:             "Send the welcome message",
	})
	n := domain.Notification{Key: domain.WelcomeKey(m.in.MemberID), MemberID: m.in.MemberID, Template: domain.TemplateWelcome}
	if err := workflow.ExecuteActivity(nctx, ActivitySendNotification, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("welcome message not sent", "Error", err)
	}
	return nil
}

func accrualActivityOptions(batch []domain.Purchase) workflow.ActivityOptions {
	summary := "Accrue purchase " + batch[0].TransactionID
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

// drain moves every purchase already delivered into the queue without blocking.
func (m *member) drain(ch workflow.ReceiveChannel) {
	for {
		var p domain.Purchase
		if !ch.ReceiveAsync(&p) {
			return
		}
		m.pending = append(m.pending, p)
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

// continueAsNew starts a fresh run carrying every purchase received and not yet accrued, so none is lost.
func (m *member) continueAsNew(ctx workflow.Context, purchases workflow.ReceiveChannel) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	m.drain(purchases)
	next := MemberInput{
		MemberID:         m.in.MemberID,
		Pending:          m.pending,
		Stats:            m.state.Stats,
		MaxHistoryEvents: m.in.MaxHistoryEvents,
	}
	return workflow.NewContinueAsNewError(ctx, MemberWorkflowName, next)
}
