// Package worker registers perkflow's workflows and activities on a task queue and runs them.
package worker

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// SearchAttributes are the custom search attributes perkflow's workflows set; none carries personal data.
var SearchAttributes = map[string]enums.IndexedValueType{
	"MemberId":         enums.INDEXED_VALUE_TYPE_KEYWORD,
	"Tier":             enums.INDEXED_VALUE_TYPE_KEYWORD,
	"CampaignId":       enums.INDEXED_VALUE_TYPE_KEYWORD,
	"RedemptionStatus": enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// New builds a worker polling taskQueue with every workflow and activity registered.
func New(c client.Client, taskQueue string, acts *activities.Activities, opts sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, opts)
	Register(w, acts)
	return w
}

// Registry is what workflows and activities are registered on: a worker, a replayer or a test environment.
type Registry interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}

// Register adds perkflow's workflows and activities to a worker (or a replayer / test environment).
func Register(r Registry, acts *activities.Activities) {
	registerRewards(r, acts)
	registerCampaigns(r, acts)
	registerEngagement(r, acts)
	r.RegisterWorkflowWithOptions(workflows.MemberWorkflow, workflow.RegisterOptions{Name: workflows.MemberWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.SettingsWorkflow, workflow.RegisterOptions{Name: workflows.SettingsWorkflowName})
	r.RegisterActivityWithOptions(acts.ApplySettingsChange, activity.RegisterOptions{Name: workflows.ActivityApplySettingsChange})
	r.RegisterActivityWithOptions(acts.RegisterMember, activity.RegisterOptions{Name: workflows.ActivityRegisterMember})
	r.RegisterActivityWithOptions(acts.SendNotification, activity.RegisterOptions{Name: workflows.ActivitySendNotification})
	r.RegisterActivityWithOptions(acts.AccruePurchases, activity.RegisterOptions{Name: workflows.ActivityAccruePurchases})
	r.RegisterActivityWithOptions(acts.ReturnPurchase, activity.RegisterOptions{Name: workflows.ActivityReturnPurchase})
	r.RegisterActivityWithOptions(acts.RedeemAtTill, activity.RegisterOptions{Name: workflows.ActivityRedeemAtTill})
	r.RegisterActivityWithOptions(acts.AdjustPoints, activity.RegisterOptions{Name: workflows.ActivityAdjustPoints})
	r.RegisterActivityWithOptions(acts.ReviewTier, activity.RegisterOptions{Name: workflows.ActivityReviewTier})
}

// EnsureSearchAttributes registers perkflow's search attributes in the namespace, leaving existing ones alone.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	if err != nil && !strings.Contains(strings.ToLower(err.Error()), "already exists") {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
