package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// Points-only claims run their forward steps as local activities. Since GetVersion change "local-steps", a claim with
// no cash part records the claim, holds the points, reserves the stock, issues the coupon code and commits in local
// activities: they run one after another inside the workflow task that started the saga, so a claim costs the
// server one workflow task and a marker per step instead of an activity task's round trip through matching and a
// workflow task for each of its five steps (BENCHMARKS.md, second round). The steps are the same
// activities, idempotent on the redemption id as they always were, and what compensates them is unchanged: regular
// activities, retried until they succeed. A claim with a cash part keeps regular activities throughout (its charge
// waits on Stripe and may wait for 3-D Secure). Sagas recorded before the change replay with regular activities.

// localStepsChange is the GetVersion change id of points-only claims' local forward steps.
const localStepsChange = "local-steps"

// localStepWindow is how long a forward step is retried as a local activity before the same step goes to a regular
// activity, retried as the saga's steps always were (and visible as such in the Temporal UI).
const localStepWindow = time.Minute

// step runs one forward step: regular schedules it as a regular activity on the context it is given, local as a
// local activity. For a saga whose steps are local (r.local), the local attempt comes first, with the same timeout
// and retry policy as the regular activity, for at most localStepWindow; a failure a regular activity would have
// ended the same way (a non-retryable error, the attempts of a step that has a limit used up, a cancellation) is
// the step's answer, anything else — the window ran out while the step kept failing — goes to the regular activity.
func (r *redemptionImpl) step(ctx workflow.Context, o workflow.ActivityOptions, summary string,
	regular, local func(workflow.Context) error) error {
	if r.local {
		err := local(withLocalOptions(ctx, o, summary, localStepWindow))
		if err == nil || ctx.Err() != nil || !localStepRetries(err, o) {
			return err
		}
		workflow.GetLogger(ctx).Warn("redemption step did not succeed in a local activity; a regular activity retries it", "Step", summary, "Error", err)
	}
	return regular(withOptions(ctx, o, summary))
}

// claimStep runs a forward step that takes the claim and returns only an error.
func (r *redemptionImpl) claimStep(ctx workflow.Context, o workflow.ActivityOptions, summary string, a Action[domain.RedemptionClaim]) error {
	c := r.in.Claim
	return r.step(ctx, o, summary,
		func(sctx workflow.Context) error { return a.Execute(sctx, c).Get(ctx) },
		func(lctx workflow.Context) error { return a.ExecuteLocal(lctx, c).Get(ctx) })
}

// localStepRetries says whether a local step that failed with err is tried again as a regular activity: not when
// the error is one no retry changes (non-retryable, or a cancellation), nor when the step's policy limits its
// attempts and the local activity used them up (only its window running out, a timeout, hands it on then).
func localStepRetries(err error, o workflow.ActivityOptions) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return false
	}
	if temporal.IsCanceledError(err) {
		return false
	}
	if o.RetryPolicy != nil && o.RetryPolicy.MaximumAttempts > 0 {
		var timeout *temporal.TimeoutError
		return errors.As(err, &timeout)
	}
	return true
}
