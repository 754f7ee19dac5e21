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
	register(r, map[string]any{
		workflows.MemberWorkflowName:   workflows.MemberWorkflow,
		workflows.SettingsWorkflowName: workflows.SettingsWorkflow,
	}, map[string]any{
		workflows.ActivityApplySettingsChange: acts.ApplySettingsChange,
		workflows.ActivityRegisterMember:      acts.RegisterMember,
		workflows.ActivitySendNotification:    acts.SendNotification,
		workflows.ActivityAccruePurchases:     acts.AccruePurchases,
		workflows.ActivityReturnPurchase:      acts.ReturnPurchase,
		workflows.ActivityRedeemAtTill:        acts.RedeemAtTill,
		workflows.ActivityAdjustPoints:        acts.AdjustPoints,
		workflows.ActivityReviewTier:          acts.ReviewTier,
	})
}

// register adds workflows and activities under their names.
func register(r Registry, wfs, acts map[string]any) {
	for name, fn := range wfs {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	for name, fn := range acts {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
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
