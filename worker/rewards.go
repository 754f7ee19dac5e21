package worker

import (
	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// registerRewards registers the redemption saga and its activities.
func registerRewards(r Registry, acts *activities.Activities) {
	register(r, map[string]any{
		workflows.RedemptionWorkflowName: workflows.RedemptionWorkflow,
	}, map[string]any{
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
	})
}
