package worker

import (
	"context"

	"go.temporal.io/sdk/client"

	enums "go.temporal.io/api/enums/v1"

	"github.com/perkflow/perkflow/workflows"
)

// ExpirySchedule is the daily schedule of the points expiry: every day at 02:00 UTC, one run at a time.
func ExpirySchedule(taskQueue string) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:   workflows.ExpiryScheduleID,
		Spec: client.ScheduleSpec{CronExpressions: []string{"0 2 * * *"}},
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.ExpiryScheduledWorkflowID,
			Workflow:  workflows.ExpiryWorkflowName,
			Args:      []any{workflows.ExpiryInput{}},
			TaskQueue: taskQueue,
		},
		Overlap:        enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		CatchupWindow:  0,
		Note:           "Daily points expiry: reminders, then lots past their date",
		PauseOnFailure: false,
	}
}

// EnsureExpirySchedule creates the daily expiry schedule, or brings an existing one to the current definition; it
// is safe to call from every worker at every start.
func EnsureExpirySchedule(ctx context.Context, c client.Client, taskQueue string) error {
	return ensureSchedule(ctx, c, ExpirySchedule(taskQueue), "expiry")
}
