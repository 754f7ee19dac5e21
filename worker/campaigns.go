package worker

import (
	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// registerCampaigns registers the workflows and activities of campaigns.
func registerCampaigns(r Registry, acts *activities.Activities) {
	register(r, map[string]any{
		workflows.CampaignWorkflowName: workflows.CampaignWorkflow,
	}, map[string]any{
		workflows.ActivitySaveCampaign:       acts.SaveCampaign,
		workflows.ActivitySetCampaignStatus:  acts.SetCampaignStatus,
		workflows.ActivityChangeCampaignRule: acts.ChangeCampaignRule,
		workflows.ActivityCampaignBudget:     acts.CampaignBudget,
		workflows.ActivityGrantCampaignBonus: acts.GrantCampaignBonus,
		workflows.ActivityAnnounceCampaign:   acts.AnnounceCampaign,
	})
}
