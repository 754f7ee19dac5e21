package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// kindFakes records, over the saga fakes, whether each forward step and compensation ran as a local activity.
type kindFakes struct {
	*sagaFakes
	mu sync.Mutex
	// ran lists "Name:local" or "Name:regular" in call order.
	ran []string
	// failLocal makes a step fail (retryably) whenever it runs as a local activity.
	failLocal map[string]bool
}

func (k *kindFakes) kind(ctx context.Context, name string) error {
	local := activity.GetInfo(ctx).IsLocalActivity
	k.mu.Lock()
	if local {
		k.ran = append(k.ran, name+":local")
	} else {
		k.ran = append(k.ran, name+":regular")
	}
	failLocal := local && k.failLocal[name]
	k.mu.Unlock()
	if failLocal {
		return temporal.NewApplicationError(name+": database unavailable", "")
	}
	return k.record(name)
}

func newKindEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *kindFakes) {
	env, f := newSagaEnv(t)
	k := &kindFakes{sagaFakes: f, failLocal: map[string]bool{}}
	again := func(fn any, name string) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name, DisableAlreadyRegisteredCheck: true})
	}
	for _, a := range []Action[domain.RedemptionClaim]{OpenRedemption, HoldPoints, ReserveStock, CommitRedemption} {
		again(func(ctx context.Context, _ domain.RedemptionClaim) error { return k.kind(ctx, a.Name()) }, a.Name())
	}
	again(func(ctx context.Context, c domain.RedemptionClaim) (domain.CouponIssue, error) {
		return domain.CouponIssue{IssuedAt: c.ClaimedAt, ExpiresAt: c.CouponExpiry(c.ClaimedAt)}, k.kind(ctx, IssueCoupon.Name())
	}, IssueCoupon.Name())
	again(func(ctx context.Context, _ string) error { return k.kind(ctx, ReleaseStock.Name()) }, ReleaseStock.Name())
	again(func(ctx context.Context, _ string) (int64, error) { return 0, k.kind(ctx, ReleasePoints.Name()) }, ReleasePoints.Name())
	again(func(ctx context.Context, _ string) (domain.CouponVoid, error) {
		return domain.CouponVoid{}, k.kind(ctx, VoidCoupon.Name())
	}, VoidCoupon.Name())
	return env, k
}

func kinds(kind string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ":" + kind
	}
	return out
}

var pointsOnlyForward = []string{OpenRedemption.Name(), HoldPoints.Name(), ReserveStock.Name(), IssueCoupon.Name(), CommitRedemption.Name()}

// TestPointsOnlyClaimRunsItsStepsLocally: a points-only claim's five forward steps run as local activities, in the
// saga's order; a claim with a cash part keeps regular ones.
func TestPointsOnlyClaimRunsItsStepsLocally(t *testing.T) {
	env, k := newKindEnv(t)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 0))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted || st.Coupon == nil || st.Coupon.Status != domain.CouponValid {
		t.Fatalf("state %+v", st)
	}
	if want := kinds("local", pointsOnlyForward...); !slices.Equal(k.ran, want) {
		t.Fatalf("ran %v, want %v", k.ran, want)
	}
	if !slices.Equal(k.calls, append(slices.Clone(pointsOnlyForward), SendNotification.Name())) {
		t.Fatalf("calls %v", k.calls)
	}

	env, k = newKindEnv(t)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, true, 0))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
		t.Fatalf("cash: state %+v", st)
	}
	if want := kinds("regular", pointsOnlyForward...); !slices.Equal(k.ran, want) {
		t.Fatalf("cash: ran %v, want %v", k.ran, want)
	}
}

// TestPointsOnlyClaimRecordedBeforeLocalStepsReplaysRegular: a saga from before change "local-steps" runs its steps
// as regular activities, as it was recorded.
func TestPointsOnlyClaimRecordedBeforeLocalStepsReplaysRegular(t *testing.T) {
	env, k := newKindEnv(t)
	env.OnGetVersion(localStepsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 0))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
		t.Fatalf("state %+v", st)
	}
	if want := kinds("regular", pointsOnlyForward...); !slices.Equal(k.ran, want) {
		t.Fatalf("ran %v, want %v", k.ran, want)
	}
}

// TestPointsOnlyClaimCompensatesAsBefore: a local step refused for good is not tried again; what was taken before it
// is given back by the same regular activities, newest first, and the redemption ends failed with the reason.
func TestPointsOnlyClaimCompensatesAsBefore(t *testing.T) {
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
		{IssueCoupon.Name(), nonRetryable("fulfilment_failed", "partner down"),
			[]string{VoidCoupon.Name(), ReleaseStock.Name(), ReleasePoints.Name()},
			"The reward could not be issued; any payment has been refunded and your points are back."},
	}
	for _, tc := range cases {
		t.Run(tc.failAt, func(t *testing.T) {
			env, k := newKindEnv(t)
			k.fail[tc.failAt] = tc.err
			env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 0))
			st := sagaResult(t, env)
			if st.Status != domain.RedemptionFailed || st.FailureReason != tc.reason || len(st.Held) != 0 {
				t.Fatalf("state %+v, want failed with %q", st, tc.reason)
			}
			taken := pointsOnlyForward[:slices.Index(pointsOnlyForward, tc.failAt)+1]
			want := append(kinds("local", taken...), kinds("regular", tc.undo...)...)
			if !slices.Equal(k.ran, want) {
				t.Fatalf("ran %v, want %v", k.ran, want)
			}
			i := slices.Index(k.calls, tc.failAt)
			if got, want := k.calls[i+1:], append(slices.Clone(tc.undo), FinishRedemption.Name(), SendNotification.Name()); !slices.Equal(got, want) {
				t.Fatalf("after %s: %v, want %v", tc.failAt, got, want)
			}
		})
	}
}

// TestLocalStepThatKeepsFailingGoesToARegularActivity: a step that keeps failing as a local activity past its
// window is handed to a regular activity, which retries it as the saga's steps always were; the claim completes.
func TestLocalStepThatKeepsFailingGoesToARegularActivity(t *testing.T) {
	env, k := newKindEnv(t)
	k.failLocal[ReserveStock.Name()] = true
	env.ExecuteWorkflow(RedemptionWorkflowName, testClaim(env, false, 0))
	if st := sagaResult(t, env); st.Status != domain.RedemptionCompleted {
		t.Fatalf("state %+v", st)
	}
	var reserve []string
	for _, r := range k.ran {
		if r == ReserveStock.Name()+":local" || r == ReserveStock.Name()+":regular" {
			reserve = append(reserve, r)
		}
	}
	if len(reserve) < 2 || reserve[len(reserve)-1] != ReserveStock.Name()+":regular" || slices.Index(reserve, ReserveStock.Name()+":regular") != len(reserve)-1 {
		t.Fatalf("ReserveStock ran %v: want local attempts, then one regular", reserve)
	}
	if want := kinds("local", IssueCoupon.Name(), CommitRedemption.Name()); !slices.Equal(k.ran[len(k.ran)-2:], want) {
		t.Fatalf("after the regular step: %v", k.ran)
	}
}
