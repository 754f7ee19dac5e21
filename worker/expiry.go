package worker

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

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
	opts := ExpirySchedule(taskQueue)
	_, err := c.ScheduleClient().Create(ctx, opts)
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create expiry schedule: %w", err)
	}
	h := c.ScheduleClient().GetHandle(ctx, opts.ID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Spec = &opts.Spec
		s.Action = opts.Action
		if s.Policy == nil {
			s.Policy = &client.SchedulePolicies{}
		}
		s.Policy.Overlap = opts.Overlap
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return fmt.Errorf("update expiry schedule: %w", err)
	}
	return nil
}
