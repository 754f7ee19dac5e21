package worker

import "github.com/perkflow/perkflow/activities"

// registerRewards registers the workflows and activities of rewards.
func registerRewards(r Registry, acts *activities.Activities) {}
