package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
)

// registerOps adds fakes of the return, redemption, adjustment and tier-review activities, recording calls.
func (f *fakeLedger) registerOps(env *testsuite.TestWorkflowEnvironment, calls *[]string, reviews *[]time.Time) {
	ReturnPurchase.fake(env, func(_ context.Context, r domain.Return) (domain.OperationOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		*calls = append(*calls, "return:"+r.ReturnID)
		return domain.OperationOutcome{ID: r.ReturnID, Status: "applied", Points: 5}, nil
	})
	RedeemAtTill.fake(env, func(_ context.Context, r domain.TillRedemption) (domain.OperationOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		*calls = append(*calls, "redeem:"+r.RedemptionID)
		return domain.OperationOutcome{ID: r.RedemptionID, Status: "applied", Points: r.Points}, nil
	})
	AdjustPoints.fake(env, func(_ context.Context, a domain.Adjustment) (domain.OperationOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		*calls = append(*calls, "adjust:"+a.AdjustmentID)
		return domain.OperationOutcome{ID: a.AdjustmentID, Status: "applied", Points: a.Points}, nil
	})
	ReviewTier.fake(env, func(_ context.Context, member string, at time.Time) (domain.TierReview, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		*reviews = append(*reviews, env.Now())
		next := at.AddDate(1, 0, 0)
		return domain.TierReview{Tier: domain.MemberTier{Code: "silver", ReviewAt: &next},
			Change: &domain.TierChange{From: "gold", To: "silver", ReviewAt: next}}, nil
	})
}

func TestMemberAppliesReturnsAfterTheirPurchaseAndServesUpdates(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	var calls []string
	var reviews []time.Time
	f.registerOps(env, &calls, &reviews)
	var redeemed, adjusted domain.OperationOutcome
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalPurchase, testPurchase(1))
		env.SignalWorkflow(SignalReturn, domain.Return{ReturnID: "R-1", TransactionID: testPurchase(1).TransactionID})
	}, time.Second)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateRedeem, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("redeem rejected: %v", err) },
			OnComplete: func(v any, err error) { redeemed, _ = v.(domain.OperationOutcome) },
		}, domain.TillRedemption{RedemptionID: "TILL-1", MemberID: memberID, Points: 30, StoreID: "s1"})
		env.UpdateWorkflow(UpdateAdjust, "u2", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("adjust rejected: %v", err) },
			OnComplete: func(v any, err error) { adjusted, _ = v.(domain.OperationOutcome) },
		}, domain.Adjustment{AdjustmentID: "ADJ-1", MemberID: memberID, Points: 12, Reason: "goodwill", Actor: "apikey:support"})
		// An update for another member is rejected by the validator, before it reaches history.
		env.UpdateWorkflow(UpdateRedeem, "u3", &testsuite.TestUpdateCallback{
			OnAccept: func() { t.Error("a redemption for another member was accepted") }, OnReject: func(error) {},
			OnComplete: func(any, error) {},
		}, domain.TillRedemption{RedemptionID: "TILL-X", MemberID: "11111111-1111-4111-8111-111111111111", Points: 1, StoreID: "s1"})
	}, 2*time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	if len(f.order) != 1 || len(calls) < 1 || calls[0] != "return:R-1" {
		t.Fatalf("accrued %v, then calls %v: the return must follow its purchase", f.order, calls)
	}
	if redeemed.Points != 30 || adjusted.Points != 12 {
		t.Fatalf("updates answered %+v and %+v", redeemed, adjusted)
	}
}

func TestMemberRejectedRegistrationEnds(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.conflict = true
	f.register(env)
	reg := privacy.SealedRegistration{MemberID: memberID, Email: "sealed-email", Name: "sealed-name"}
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

// TestMemberRegisteredByTheAPIIsWelcomedOnce: a workflow the API started for a member it registered in Postgres
// creates nothing, sends the welcome in a local activity of its first task, and its next run does not send it again.
func TestMemberRegisteredByTheAPIIsWelcomedOnce(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	created, local := 0, 0
	RegisterMember.fake(env, func(context.Context, privacy.SealedRegistration) (privacy.SealedMember, error) {
		created++
		return privacy.SealedMember{}, nil
	})
	env.RegisterActivityWithOptions(func(ctx context.Context, n domain.Notification) error {
		if activity.GetInfo(ctx).IsLocalActivity {
			local++
		}
		if n.Key != domain.WelcomeKey(memberID) || n.Template != domain.TemplateWelcome {
			t.Errorf("notification %+v", n)
		}
		f.welcomes++
		return nil
	}, activity.RegisterOptions{Name: SendNotification.Name(), DisableAlreadyRegisteredCheck: true})
	env.RegisterDelayedCallback(func() {
		env.SetCurrentHistoryLength(100)
		env.SignalWorkflow(SignalPurchase, testPurchase(1))
	}, time.Second)
	reg := privacy.SealedRegistration{MemberID: memberID, Email: "sealed-email", Name: "sealed-name"}
	env.ExecuteWorkflow(MemberWorkflowName, MemberInput{MemberID: memberID, Registration: &reg, Registered: true, MaxHistoryEvents: 100})
	next := continuedAs[MemberInput](t, env)
	if created != 0 || f.welcomes != 1 || local != 1 || next.Registered || next.Registration != nil {
		t.Fatalf("created %d, welcomes %d (%d local), next run %+v", created, f.welcomes, local, next)
	}
}

// A return is taken after every purchase queued before it; one whose purchase is still not recorded then names a
// purchase that was never accepted: it is dropped (GetVersion "return-unknown-purchase"), and the member's workflow
// goes on with what follows instead of failing.
func TestMemberDropsAReturnOfAPurchaseNeverAccepted(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	var returned []string
	ReturnPurchase.fake(env, func(_ context.Context, r domain.Return) (domain.OperationOutcome, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.accrued[r.TransactionID]; !ok {
			return domain.OperationOutcome{}, temporal.NewNonRetryableApplicationError("transaction "+r.TransactionID+" not found", ErrTypeNotFound, nil)
		}
		returned = append(returned, r.ReturnID)
		return domain.OperationOutcome{ID: r.ReturnID, Status: "applied", Points: 5}, nil
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalReturn, domain.Return{ReturnID: "R-0", TransactionID: "NEVER-ACCEPTED"})
		env.SignalWorkflow(SignalPurchase, testPurchase(1))
		env.SignalWorkflow(SignalReturn, domain.Return{ReturnID: "R-1", TransactionID: testPurchase(1).TransactionID})
	}, time.Second)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	if err := env.GetWorkflowError(); err != nil && strings.Contains(err.Error(), "R-0") {
		t.Fatalf("workflow failed on the return: %v", err)
	}
	if len(f.order) != 1 || len(returned) != 1 || returned[0] != "R-1" {
		t.Fatalf("accrued %v, returned %v; want the purchase and its return applied after the dropped one", f.order, returned)
	}
}
