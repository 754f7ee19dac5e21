package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// The member workflow's registration, its state query, the updates that spend or adjust points, and returns.

func (m *member) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (MemberState, error) {
		s := m.state
		s.PendingTransactionIDs = make([]string, 0, len(m.pending)+len(m.behind))
		for _, p := range m.pending {
			s.PendingTransactionIDs = append(s.PendingTransactionIDs, p.TransactionID)
		}
		for _, p := range m.behind {
			s.PendingTransactionIDs = append(s.PendingTransactionIDs, p.TransactionID)
		}
		s.ParkedPurchases = m.parked.Next - m.parked.Read
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
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateProfile,
		func(ctx workflow.Context, c domain.ProfileChange) error {
			m.state.Stats.ProfileChanges++
			// Runs that took profile changes before the birthday timer followed them would replay without the move.
			if workflow.GetVersion(ctx, "profile-birthday", workflow.DefaultVersion, 1) >= 1 && m.engage && c.Changed("birthdate") {
				m.enqueueEngagement(ctx, engagementItem{Lifecycle: true, Actor: c.Actor})
			}
			return nil
		},
		workflow.UpdateHandlerOptions{Validator: func(c domain.ProfileChange) error {
			if c.Actor == "" || len(c.Fields) == 0 {
				return errors.New("a profile change names its actor and the fields it changed")
			}
			return nil
		}}); err != nil {
		return err
	}
	return workflow.SetUpdateHandler(ctx, UpdateRegistration, func(ctx workflow.Context) (privacy.SealedMember, error) {
		if err := workflow.Await(ctx, func() bool { return m.state.Status != MemberStatusRegistering }); err != nil {
			return privacy.SealedMember{}, err
		}
		if m.state.Status == MemberStatusRejected {
			return privacy.SealedMember{}, temporal.NewApplicationError(m.state.RejectReason, ErrTypeConflict)
		}
		if m.registered == nil {
			return privacy.SealedMember{}, temporal.NewApplicationError("member "+m.in.MemberID+" was registered earlier", ErrTypeConflict)
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

// welcomeWindow is how long the welcome of a member the API registered is tried, in a local activity, before it is
// given up (the notification's own attempts, retry policy activityOptions.notification, fit in it).
const welcomeWindow = 10 * time.Minute

// welcome sends the welcome message to a member the API registered (MemberInput.Registered): the member exists already,
// so the first workflow task has only this to do, and does it in a local activity rather than an activity task's
// round trip. Best effort, as register's: a provider failing for good must not stop the member from earning.
func (m *member) welcome(ctx workflow.Context) {
	n := domain.Notification{Key: domain.WelcomeKey(m.in.MemberID), MemberID: m.in.MemberID, Template: domain.TemplateWelcome}
	lctx := withLocalOptions(ctx, activityOptions.notification, "Send the welcome message", welcomeWindow)
	if err := SendNotification.ExecuteLocal(lctx, n).Get(ctx); err != nil {
		workflow.GetLogger(ctx).Warn("notification not sent", "Key", n.Key, "Error", err)
	}
}

// returnUnknownPurchaseChange is the GetVersion change id of dropping a return whose purchase is not recorded.
const returnUnknownPurchaseChange = "return-unknown-purchase"

// applyReturn applies the oldest queued return, and reports whether it was applied (or refused). A return is taken
// after every purchase queued before it, so one whose purchase is still not recorded names a purchase that was
// never accepted (the API queues a return behind a purchase accepted and not accrued yet): it is dropped, and the
// purchase's claim with it, so that the return's retry answers 404 (a run that failed on such a return before the
// change replays as it ran).
func (m *member) applyReturn(ctx workflow.Context) (bool, error) {
	r := m.returns[0]
	actx := withOptions(ctx, activityOptions.accrual, "Return "+r.ReturnID+" of purchase "+r.TransactionID)
	_, err := ReturnPurchase.Execute(actx, r).Get(ctx)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrTypeNotFound &&
		workflow.GetVersion(ctx, returnUnknownPurchaseChange, workflow.DefaultVersion, 1) >= 1 {
		workflow.GetLogger(ctx).Warn("return dropped: its purchase was never accepted", "ReturnID", r.ReturnID, "TransactionID", r.TransactionID)
		m.returns = m.returns[1:]
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("return %s: %w", r.ReturnID, err)
	}
	m.state.Stats.ReturnsProcessed++
	m.returns = m.returns[1:]
	return true, nil
}
