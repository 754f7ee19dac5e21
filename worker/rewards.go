package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// registerRewards registers the redemption saga and its activities.
func registerRewards(r Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.RedemptionWorkflow, workflow.RegisterOptions{Name: workflows.RedemptionWorkflowName})
	for name, fn := range map[string]any{
		workflows.ActivityOpenRedemption:   acts.OpenRedemption,
		workflows.ActivityHoldPoints:       acts.HoldPoints,
		workflows.ActivityReserveStock:     acts.ReserveStock,
		workflows.ActivityChargePayment:    acts.ChargePayment,
		workflows.ActivityConfirmPayment:   acts.ConfirmPayment,
		workflows.ActivityFulfilRedemption: acts.FulfilRedemption,
		workflows.ActivityCommitRedemption: acts.CommitRedemption,
		workflows.ActivityRefundPayment:    acts.RefundPayment,
		workflows.ActivityReleaseStock:     acts.ReleaseStock,
		workflows.ActivityReleasePoints:    acts.ReleasePoints,
		workflows.ActivityFinishRedemption: acts.FinishRedemption,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
