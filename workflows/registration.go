package workflows

// Definition is a workflow function and the name it is registered under, the name its contract gives starters.
type Definition struct {
	Name string // the *WorkflowName constant of its contract
	Func any    // the workflow function
}

// Definitions are every workflow of the package, for the worker (and the replayer) to register. Their activities
// are registered by the worker from activities.Activities, whose method names are the names of the stubs.
func Definitions() []Definition {
	return []Definition{
		{MemberWorkflowName, MemberWorkflow},
		{RedemptionWorkflowName, RedemptionWorkflow},
		{CampaignWorkflowName, CampaignWorkflow},
		{ChallengeWorkflowName, ChallengeWorkflow},
		{ExpiryWorkflowName, ExpiryWorkflow},
		{SettingsWorkflowName, SettingsWorkflow},
		{WebhookEndpointWorkflowName, WebhookEndpointWorkflow},
		{EraseWorkflowName, EraseWorkflow},
		{ImportWorkflowName, ImportWorkflow},
		{WakeMembersWorkflowName, WakeMembersWorkflow},
	}
}
