package worker

import "github.com/perkflow/perkflow/activities"

// registerEngagement registers the workflows and activities of engagement.
func registerEngagement(r Registry, acts *activities.Activities) {}
