package worker

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// registerCampaigns registers the workflows and activities of campaigns.
func registerCampaigns(r Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.CampaignWorkflow, workflow.RegisterOptions{Name: workflows.CampaignWorkflowName})
	for name, fn := range map[string]any{
		workflows.ActivitySaveCampaign:       acts.SaveCampaign,
		workflows.ActivitySetCampaignStatus:  acts.SetCampaignStatus,
		workflows.ActivityChangeCampaignRule: acts.ChangeCampaignRule,
		workflows.ActivityCampaignBudget:     acts.CampaignBudget,
		workflows.ActivityGrantCampaignBonus: acts.GrantCampaignBonus,
		workflows.ActivityAnnounceCampaign:   acts.AnnounceCampaign,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}
