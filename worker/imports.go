package worker

import (
	"context"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// Workers are a process's workers: one on the main task queue, one on the imports' (workflows.ImportTaskQueue), so
// that a large import never queues ahead of live purchases. Both register everything.
type Workers struct {
	Main, Imports sdkworker.Worker
}

// NewWorkers builds the workers of taskQueue and of its imports queue.
func NewWorkers(c client.Client, taskQueue string, acts *activities.Activities, opts sdkworker.Options) *Workers {
	return &Workers{Main: New(c, taskQueue, acts, opts), Imports: New(c, workflows.ImportTaskQueue(taskQueue), acts, opts)}
}

// Start starts both; when the second fails the first is stopped.
func (w *Workers) Start() error {
	if err := w.Main.Start(); err != nil {
		return err
	}
	if err := w.Imports.Start(); err != nil {
		w.Main.Stop()
		return err
	}
	return nil
}

// Stop stops both.
func (w *Workers) Stop() {
	w.Imports.Stop()
	w.Main.Stop()
}

// WakeSchedule is the daily wake-up of imported members whose birthday or tier review falls due (03:00 UTC).
func WakeSchedule(taskQueue string) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:   workflows.WakeMembersScheduleID,
		Spec: client.ScheduleSpec{CronExpressions: []string{"0 3 * * *"}},
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.WakeMembersScheduledWorkflowID,
			Workflow:  workflows.WakeMembersWorkflowName,
			Args:      []any{workflows.WakeMembersInput{}},
			TaskQueue: taskQueue,
		},
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "Daily: start the workflows of imported members whose birthday or tier review is near",
	}
}

// EnsureWakeSchedule creates the daily wake-up schedule, or brings an existing one to the current definition.
func EnsureWakeSchedule(ctx context.Context, c client.Client, taskQueue string) error {
	return ensureSchedule(ctx, c, WakeSchedule(taskQueue), "wake-up")
}
