package worker

import (
	"context"
	"fmt"
	"slices"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/sdk/client"
)

// Polling reports whether the worker of the given identity polls taskQueue: Temporal lists it among the recent
// pollers of both the queue's workflow tasks and its activity tasks. A worker that has started but whose polls have
// not reached Temporal yet (or cannot) is not ready to take work, whatever its process says.
func Polling(ctx context.Context, c client.Client, taskQueue, identity string) error {
	for _, typ := range []enums.TaskQueueType{enums.TASK_QUEUE_TYPE_WORKFLOW, enums.TASK_QUEUE_TYPE_ACTIVITY} {
		res, err := c.DescribeTaskQueue(ctx, taskQueue, typ)
		if err != nil {
			return fmt.Errorf("describe task queue %s: %w", taskQueue, err)
		}
		if !slices.ContainsFunc(res.GetPollers(), func(p *taskqueue.PollerInfo) bool { return p.GetIdentity() == identity }) {
			return fmt.Errorf("%s does not poll the %s tasks of %s yet", identity, typ, taskQueue)
		}
	}
	return nil
}
