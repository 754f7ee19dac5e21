package worker

import "github.com/perkflow/perkflow/activities"

// registerCampaigns registers the workflows and activities of campaigns.
func registerCampaigns(r Registry, acts *activities.Activities) {}
