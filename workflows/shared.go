package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// What every workflow shares: the options its activities run with, the best-effort notification, and when a run
// continues as new.

// activityOptions are the options of every activity a workflow schedules, by the kind of work it does. A call adds
// its summary (withOptions); no workflow writes options of its own.
var activityOptions = struct {
	accrual, operation, registration, notification, engagement, challenge, expiry, settings, redemptionStep, fulfilment,
	payment, compensation, redemptionEnd, redemptionNotification, campaignStep, segmentWalk, webhookRound workflow.ActivityOptions
}{
	// Purchases, returns and tier reviews must never be dropped: retried until Postgres is back, however long that
	// takes.
	accrual: workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
	// A points operation a member's update handler waits for (a redemption at a till, an adjustment).
	operation: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	},
	// Creating the member and opening their balance.
	registration: workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	},
	// A message to a member from their own or a challenge's workflow: tried for a few minutes, then given up.
	notification: workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	},
	// A lifecycle or challenge look-up of the member workflow: retried for a while, then given up (logged) so that a
	// broken engagement feature never stops the member from earning.
	engagement: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	},
	// What a challenge enrolment records: retried until it succeeds.
	challenge: workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
	// The expiry run's long, heartbeating, set-based passes.
	expiry: workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
	// A settings change, which the API waits for: given up after settingsChangeAttemptsTimeout.
	settings: workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: settingsChangeAttemptsTimeout,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: 10 * time.Second},
	},
	// The redemption saga's short forward steps.
	redemptionStep: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumInterval: 10 * time.Second},
	},
	// Issuing the reward: a few attempts, then the saga compensates.
	fulfilment: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: 5 * time.Second, MaximumAttempts: 5},
	},
	// Stripe outages are retried until Stripe answers; the idempotency key makes every retry the same charge.
	payment: workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 30 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second},
	},
	// No attempt limit: money, stock and points must come back.
	compensation: workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
	// Recording how a redemption ended.
	redemptionEnd: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: time.Minute},
	},
	// A message about a redemption: tried for ten minutes, then given up.
	redemptionNotification: workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	},
	// A campaign's short database steps: retried until they succeed.
	campaignStep: workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
	// A walk over a campaign's segment (bonus or announcement): long, heartbeating, retried with backoff while it
	// makes progress.
	segmentWalk: workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 50},
	},
	// A round of an endpoint's webhook deliveries: it starts attempts for a minute at most, each bounded to 15 s,
	// heartbeating; retried until Postgres answers (a receiver's failures are retries of their own, recorded, not errors).
	webhookRound: workflow.ActivityOptions{
		StartToCloseTimeout: 3 * time.Minute,
		// A round lost with its worker is tried again this soon, not after the whole timeout.
		HeartbeatTimeout: 20 * time.Second,
		RetryPolicy:      &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	},
}

// withOptions runs the activities scheduled on the context it returns with o, described by summary in the
// Temporal UI.
func withOptions(ctx workflow.Context, o workflow.ActivityOptions, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, described(o, summary))
}

// withLocalOptions runs what o describes as a local activity, retried for at most window.
func withLocalOptions(ctx workflow.Context, o workflow.ActivityOptions, summary string, window time.Duration) workflow.Context {
	o = described(o, summary)
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    o.StartToCloseTimeout,
		ScheduleToCloseTimeout: window,
		RetryPolicy:            o.RetryPolicy,
		Summary:                o.Summary,
	})
}

// described is a copy of o (its retry policy too, so that no call shares the table's) with summary.
func described(o workflow.ActivityOptions, summary string) workflow.ActivityOptions {
	if o.RetryPolicy != nil {
		rp := *o.RetryPolicy
		o.RetryPolicy = &rp
	}
	o.Summary = summary
	return o
}

// SendNotification sends a message to a member, once per notification key (see activity.go).
var SendNotification = newAction[domain.Notification]("SendNotification")

// notify sends a notification, best effort: a provider failing for good must not stop the workflow that sends it.
func notify(ctx workflow.Context, o workflow.ActivityOptions, n domain.Notification, summary string) {
	if err := SendNotification.Execute(withOptions(ctx, o, summary), n).Get(ctx); err != nil {
		workflow.GetLogger(ctx).Warn("notification not sent", "Key", n.Key, "Error", err)
	}
}

// historyFull says whether a run should continue as new: its history has reached limit (DefaultMaxHistoryEvents
// when 0) or Temporal suggests it.
func historyFull(ctx workflow.Context, limit int) bool {
	info := workflow.GetInfo(ctx)
	return info.GetCurrentHistoryLength() >= historyBound(limit) || info.GetContinueAsNewSuggested()
}

// historyBound is a run's history bound: limit, or DefaultMaxHistoryEvents when 0.
func historyBound(limit int) int {
	if limit <= 0 {
		return DefaultMaxHistoryEvents
	}
	return limit
}
