package workflows

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// sagaFakes are the saga's activities, recording the order of calls; each step can be made to fail.
type sagaFakes struct {
	mu     sync.Mutex
	calls  []string
	fail   map[string]error
	charge domain.PaymentOutcome
	// confirm is what ConfirmPayment reads from Stripe after 3-D Secure.
	confirm  domain.PaymentOutcome
	statuses []domain.RedemptionStatus
	// used is what VoidCoupon finds: the code used at a till (nil: not used).
	used *domain.CouponUse
	// notified holds the data of each notification sent.
	notified []map[string]string
	// lost is the PaymentIntent FindLostPayment finds in Stripe ("": none).
	lost string
}

func (f *sagaFakes) record(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.fail[name]
}

func (f *sagaFakes) register(env *testsuite.TestWorkflowEnvironment) {
	for _, a := range []Action[domain.RedemptionClaim]{OpenRedemption, HoldPoints, ReserveStock, CommitRedemption} {
		a.fake(env, func(context.Context, domain.RedemptionClaim) error { return f.record(a.Name()) })
	}
	ChargePayment.fake(env, func(context.Context, domain.RedemptionClaim) (domain.PaymentOutcome, error) {
		return f.charge, f.record(ChargePayment.Name())
	})
	FindLostPayment.fake(env, func(context.Context, domain.RedemptionClaim) (string, error) {
		return f.lost, f.record(FindLostPayment.Name())
	})
	ConfirmPayment.fake(env, func(context.Context, string, string) (domain.PaymentOutcome, error) {
		return f.confirm, f.record(ConfirmPayment.Name())
	})
	FulfilRedemption.fake(env, func(context.Context, domain.RedemptionClaim) (string, error) {
		return "CODE-1234", f.record(FulfilRedemption.Name())
	})
	IssueCoupon.fake(env, func(_ context.Context, c domain.RedemptionClaim) (domain.CouponIssue, error) {
		return domain.CouponIssue{IssuedAt: c.ClaimedAt, ExpiresAt: c.CouponExpiry(c.ClaimedAt)}, f.record(IssueCoupon.Name())
	})
	VoidCoupon.fake(env, func(context.Context, string) (domain.CouponVoid, error) {
		f.mu.Lock()
		used := f.used
		f.mu.Unlock()
		return domain.CouponVoid{Used: used != nil, Use: used}, f.record(VoidCoupon.Name())
	})
	RefundPayment.fake(env, func(_ context.Context, _, pi string) (string, error) {
		return "re_1", f.record(RefundPayment.Name() + ":" + pi)
	})
	ReleaseStock.fake(env, func(context.Context, string) error { return f.record(ReleaseStock.Name()) })
	ReleasePoints.fake(env, func(context.Context, string) (int64, error) { return 0, f.record(ReleasePoints.Name()) })
	FinishRedemption.fake(env, func(_ context.Context, _ string, s domain.RedemptionStatus, _ string) error {
		f.mu.Lock()
		f.statuses = append(f.statuses, s)
		f.mu.Unlock()
		return f.record(FinishRedemption.Name())
	})
	SendNotification.fake(env, func(_ context.Context, n domain.Notification) error {
		f.mu.Lock()
		f.notified = append(f.notified, n.Data)
		f.mu.Unlock()
		return f.record(SendNotification.Name())
	})
}

func newSagaEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *sagaFakes) {
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RedemptionWorkflow, workflow.RegisterOptions{Name: RedemptionWorkflowName})
	f := &sagaFakes{fail: map[string]error{}, charge: domain.PaymentOutcome{PaymentIntentID: "pi_1", Status: "succeeded"}}
	f.register(env)
	return env, f
}

func testClaim(env *testsuite.TestWorkflowEnvironment, cash bool, window time.Duration) RedemptionInput {
	c := domain.RedemptionClaim{RedemptionID: "00000000-0000-4000-8000-000000000001", OfferID: "00000000-0000-4000-8000-000000000002",
		MemberID: memberID, Title: "Coffee", Points: 100, ClaimedAt: env.Now(), CancelUntil: env.Now().Add(window)}
	if cash {
		c.Cash = &domain.Money{Amount: 500, Currency: "EUR"}
		c.PaymentMethod = "pm_card_visa"
	}
	return RedemptionInput{Claim: c, PaymentWait: 10 * time.Minute}
}

func sagaResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) RedemptionState {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the saga did not end")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("saga error: %v", err)
	}
	var st RedemptionState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// forward is what a saga's steps look like when nothing fails.
var forward = []string{OpenRedemption.Name(), HoldPoints.Name(), ReserveStock.Name(), ChargePayment.Name(), IssueCoupon.Name(), CommitRedemption.Name(), SendNotification.Name()}

func TestRedemptionHappyPathCommitsAndNotifies(t *testing.T) {
	env, f := newSagaEnv(t)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
	st := sagaResult(t, env)
	if st.Status != domain.RedemptionCompleted || st.Code != "" || st.Coupon == nil || st.Coupon.Status != domain.CouponValid || st.PaymentIntentID != "pi_1" {
		t.Fatalf("state %+v", st)
	}
	if !slices.Equal(f.calls, forward) {
		t.Fatalf("calls %v, want %v", f.calls, forward)
	}
	// The message names the redemption whose sealed code it carries: no code in the history.
	if len(f.notified) != 1 || f.notified[0][domain.NotificationCouponOf] == "" || f.notified[0]["code"] != "" {
		t.Fatalf("notified %v", f.notified)
	}
}

func TestRedemptionPointsOnlyNeverCharges(t *testing.T) {
	env, f := newSagaEnv(t)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 0))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
		t.Fatalf("state %+v", st)
	}
	if slices.Contains(f.calls, ChargePayment.Name()) {
		t.Fatalf("a points-only offer was charged: %v", f.calls)
	}
}

// TestRedemptionCompensatesInReverseOrder: a failure at each step gives back exactly what was taken before it,
// newest first, and ends failed with a reason a member can read.
func TestRedemptionCompensatesInReverseOrder(t *testing.T) {
	nonRetryable := func(typ, msg string) error { return temporal.NewNonRetryableApplicationError(msg, typ, nil) }
	cases := []struct {
		failAt string
		err    error
		undo   []string
		reason string
	}{
		{HoldPoints.Name(), nonRetryable("unprocessable", "You do not have enough points available for this reward."),
			[]string{ReleasePoints.Name()}, "You do not have enough points available for this reward."},
		{ReserveStock.Name(), nonRetryable("unprocessable", "This reward is out of stock."),
			[]string{ReleaseStock.Name(), ReleasePoints.Name()}, "This reward is out of stock."},
		{ChargePayment.Name(), nonRetryable("payment_declined", "Your card was declined."),
			[]string{ReleaseStock.Name(), ReleasePoints.Name()}, "Your card was declined."},
		{IssueCoupon.Name(), nonRetryable("fulfilment_failed", "partner down"),
			[]string{VoidCoupon.Name(), RefundPayment.Name() + ":pi_1", ReleaseStock.Name(), ReleasePoints.Name()},
			"The reward could not be issued; any payment has been refunded and your points are back."},
	}
	for _, tc := range cases {
		t.Run(tc.failAt, func(t *testing.T) {
			env, f := newSagaEnv(t)
			f.fail[tc.failAt] = tc.err
			if tc.failAt == ChargePayment.Name() {
				f.charge = domain.PaymentOutcome{} // a decline has no PaymentIntent to refund
			}
			env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
			st := sagaResult(t, env)
			if st.Status != domain.RedemptionFailed || st.FailureReason != tc.reason {
				t.Fatalf("state %+v, want failed with %q", st, tc.reason)
			}
			i := slices.Index(f.calls, tc.failAt)
			got := f.calls[i+1:]
			want := append(append([]string{}, tc.undo...), FinishRedemption.Name(), SendNotification.Name())
			if !slices.Equal(got, want) {
				t.Fatalf("after %s: %v, want %v", tc.failAt, got, want)
			}
			if len(st.Held) != 0 {
				t.Fatalf("still holds %v", st.Held)
			}
		})
	}
}

func TestRedemptionCancelWithinWindowAfterCompletionCompensatesFully(t *testing.T) {
	env, f := newSagaEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRedemptionCancel, CancelRequest{Actor: "member:x"})
	}, 10*time.Minute)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 30*time.Minute))
	st := sagaResult(t, env)
	if st.Status != domain.RedemptionCancelled || st.CancelledBy != "member:x" {
		t.Fatalf("state %+v", st)
	}
	want := append(append([]string{}, forward...), VoidCoupon.Name(), RefundPayment.Name()+":pi_1", ReleaseStock.Name(), ReleasePoints.Name(), FinishRedemption.Name(), SendNotification.Name())
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	if st.Coupon == nil || st.Coupon.Status != domain.CouponCancelled {
		t.Fatalf("coupon %+v after the cancel", st.Coupon)
	}
}

// TestRedemptionCancelAfterTheCodeWasUsedIsRefused: the code was used at a till before the cancel reached the saga
// (the API checks first, but the two race): voiding finds the use, nothing is given back, the redemption stands.
func TestRedemptionCancelAfterTheCodeWasUsedIsRefused(t *testing.T) {
	env, f := newSagaEnv(t)
	use := domain.CouponUse{UseID: "till-7-sale-1", StoreID: "store-7", UsedAt: env.Now().Add(5 * time.Minute)}
	f.used = &use
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRedemptionCancel, CancelRequest{Actor: "member:x"})
	}, 10*time.Minute)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 30*time.Minute))
	st := sagaResult(t, env)
	if st.Status != domain.RedemptionCompleted || st.CancelRefused == "" || st.CancelledBy != "" ||
		st.Coupon == nil || st.Coupon.Status != domain.CouponUsed || st.Coupon.Use == nil || st.Coupon.Use.UseID != use.UseID {
		t.Fatalf("state %+v (coupon %+v)", st, st.Coupon)
	}
	want := append(append([]string{}, forward...), VoidCoupon.Name())
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v: nothing given back", f.calls, want)
	}
}

// TestRedemptionEndsOnceItsCodeIsUsed: the API tells the saga of a use; its state shows it, and the saga stops
// waiting out the cancel window, since nothing can cancel it any more.
func TestRedemptionEndsOnceItsCodeIsUsed(t *testing.T) {
	env, f := newSagaEnv(t)
	use := domain.CouponUse{UseID: "sale-9", StoreID: "store-2", UsedAt: env.Now().Add(3 * time.Minute)}
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRedemptionCouponUsed, use)
	}, 3*time.Minute)
	start := env.Now()
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 24*time.Hour))
	st := sagaResult(t, env)
	if st.Status != domain.RedemptionCompleted || st.Coupon == nil || st.Coupon.Status != domain.CouponUsed || st.Coupon.Use.StoreID != "store-2" {
		t.Fatalf("state %+v", st)
	}
	if env.Now().Sub(start) > time.Hour {
		t.Fatalf("the saga waited %v after its code was used", env.Now().Sub(start))
	}
	if slices.Contains(f.calls, VoidCoupon.Name()) {
		t.Fatalf("calls %v", f.calls)
	}
}

func TestRedemptionCancelAfterWindowIsIgnored(t *testing.T) {
	env, f := newSagaEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalRedemptionCancel, CancelRequest{Actor: "member:x"})
	}, 31*time.Minute)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 30*time.Minute))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
		t.Fatalf("state %+v", st)
	}
	if slices.Contains(f.calls, ReleasePoints.Name()) {
		t.Fatalf("a late cancel compensated: %v", f.calls)
	}
}

func TestRedemptionThreeDSecure(t *testing.T) {
	t.Run("authenticated", func(t *testing.T) {
		env, f := newSagaEnv(t)
		f.charge = domain.PaymentOutcome{PaymentIntentID: "pi_3ds", Status: "requires_action", ClientSecret: "s"}
		f.confirm = domain.PaymentOutcome{PaymentIntentID: "pi_3ds", Status: "succeeded"}
		var during RedemptionState
		env.RegisterDelayedCallback(func() {
			v, err := env.QueryWorkflow(QueryRedemptionState)
			if err == nil {
				_ = v.Get(&during)
			}
			env.SignalWorkflow(SignalRedemptionPayment, PaymentEvent{Type: "payment_intent.succeeded", PaymentIntentID: "pi_other"})
			env.SignalWorkflow(SignalRedemptionPayment, PaymentEvent{Type: "payment_intent.succeeded", PaymentIntentID: "pi_3ds"})
		}, time.Minute)
		env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
		if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
			t.Fatalf("state %+v", st)
		}
		if during.Status != domain.RedemptionAwaitingPayment {
			t.Fatalf("while waiting: %+v", during)
		}
	})
	t.Run("no answer in time", func(t *testing.T) {
		env, f := newSagaEnv(t)
		f.charge = domain.PaymentOutcome{PaymentIntentID: "pi_3ds", Status: "requires_action", ClientSecret: "s"}
		env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
		st := sagaResult(t, env)
		if st.Status != domain.RedemptionFailed || st.FailureReason != "The payment was not completed in time." {
			t.Fatalf("state %+v", st)
		}
		// The unfinished PaymentIntent is cancelled (RefundPayment decides), then stock and points come back.
		if !slices.Contains(f.calls, RefundPayment.Name()+":pi_3ds") || !slices.Contains(f.calls, ReleasePoints.Name()) {
			t.Fatalf("calls %v", f.calls)
		}
	})
}

// TestRedemptionWorkflowCancelledStillCompensates: cancelling the workflow itself (support, in the Temporal UI)
// runs the compensation on a disconnected context.
// It ends Canceled, not Completed; a run from before change "canceled-run" ends Completed with the state cancelled.
func TestRedemptionWorkflowCancelledStillCompensates(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		env, f := newSagaEnv(t)
		if legacy {
			env.OnGetVersion(canceledRunChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}
		f.charge = domain.PaymentOutcome{PaymentIntentID: "pi_3ds", Status: "requires_action"}
		env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, time.Minute)
		env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
		var st RedemptionState
		if legacy {
			st = sagaResult(t, env)
		} else {
			if !env.IsWorkflowCompleted() {
				t.Fatal("the saga did not end")
			}
			var canceled *temporal.CanceledError
			if err := env.GetWorkflowError(); !errors.As(err, &canceled) {
				t.Fatalf("the cancelled run ended with %v, want Canceled", err)
			} else if err := canceled.Details(&st); err != nil {
				t.Fatal(err)
			}
		}
		if st.Status != domain.RedemptionCancelled {
			t.Fatalf("legacy %v: state %+v", legacy, st)
		}
		for _, c := range []string{RefundPayment.Name() + ":pi_3ds", ReleaseStock.Name(), ReleasePoints.Name(), FinishRedemption.Name()} {
			if !slices.Contains(f.calls, c) {
				t.Fatalf("legacy %v: %s missing from %v", legacy, c, f.calls)
			}
		}
	}
}

// TestSagaFromBeforeSealedCodes: a saga that reached fulfilment before change "coupons" issues its code with
// FulfilRedemption and keeps it in its state, as it did; cancelled after change "coupon-void", it voids the code
// first, and a use found there refuses the cancel.
func TestSagaFromBeforeSealedCodes(t *testing.T) {
	legacyForward := slices.Clone(forward)
	legacyForward[slices.Index(legacyForward, IssueCoupon.Name())] = FulfilRedemption.Name()
	for _, used := range []bool{false, true} {
		env, f := newSagaEnv(t)
		env.OnGetVersion(couponsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		if used {
			f.used = &domain.CouponUse{UseID: "u", StoreID: "s", UsedAt: env.Now()}
		}
		env.RegisterDelayedCallback(func() {
			env.SignalWorkflow(SignalRedemptionCancel, CancelRequest{Actor: "member:x"})
		}, 10*time.Minute)
		env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 30*time.Minute))
		st := sagaResult(t, env)
		if st.Code != "CODE-1234" || !slices.Equal(f.calls[:len(legacyForward)-1], slices.DeleteFunc(slices.Clone(legacyForward), func(n string) bool { return n == ChargePayment.Name() })) {
			t.Fatalf("used=%v: state %+v, calls %v", used, st, f.calls)
		}
		if f.notified[0]["code"] != "CODE-1234" {
			t.Fatalf("the message of a saga holding its code: %v", f.notified[0])
		}
		wantStatus := domain.RedemptionCancelled
		if used {
			wantStatus = domain.RedemptionCompleted
			if st.Coupon == nil || st.Coupon.Status != domain.CouponUsed || st.CancelRefused == "" {
				t.Fatalf("a refused cancel of a saga holding its code: %+v", st)
			}
		}
		if st.Status != wantStatus || !slices.Contains(f.calls, VoidCoupon.Name()) || slices.Contains(f.calls, ReleasePoints.Name()) == used {
			t.Fatalf("used=%v: state %+v, calls %v", used, st, f.calls)
		}
	}
}

// TestALostChargeIsRefunded: a charge whose answer never came (its retries ran out) may have taken the money: the
// compensation finds its PaymentIntent in Stripe by the redemption and refunds it. A run from before change
// "find-lost-charge" refunded nothing, and replays so.
func TestALostChargeIsRefunded(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		env, f := newSagaEnv(t)
		if legacy {
			env.OnGetVersion(findLostChargeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}
		f.charge = domain.PaymentOutcome{}
		f.fail[ChargePayment.Name()] = temporal.NewApplicationError("charge: stripe unavailable", "", nil)
		f.lost = "pi_lost"
		env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
		st := sagaResult(t, env)
		if st.Status != domain.RedemptionFailed {
			t.Fatalf("legacy %v: state %+v", legacy, st)
		}
		i := slices.Index(f.calls, ReleaseStock.Name())
		undo := []string{FindLostPayment.Name(), RefundPayment.Name() + ":pi_lost"}
		if legacy {
			undo = nil
		}
		got := f.calls[slices.Index(f.calls, ChargePayment.Name())+1 : i]
		got = slices.DeleteFunc(got, func(c string) bool { return c == ChargePayment.Name() }) // its retries
		if !slices.Equal(got, undo) {
			t.Fatalf("legacy %v: before giving the stock back %v, want %v", legacy, got, undo)
		}
	}
}
