package worker

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// ensureSchedule creates a schedule, or brings an existing one to opts' spec, action and overlap policy (its other
// policies, its pause state and its history are kept). Every worker calls it at every start, so it must be
// idempotent; what names the schedule in errors.
func ensureSchedule(ctx context.Context, c client.Client, opts client.ScheduleOptions, what string) error {
	_, err := c.ScheduleClient().Create(ctx, opts)
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create %s schedule: %w", what, err)
	}
	err = c.ScheduleClient().GetHandle(ctx, opts.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec, s.Action = &opts.Spec, opts.Action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = opts.Overlap
			return &client.ScheduleUpdate{Schedule: &s}, nil
		}})
	if err != nil {
		return fmt.Errorf("update %s schedule: %w", what, err)
	}
	return nil
}
