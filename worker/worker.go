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
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// SearchAttributes are the custom search attributes perkflow's workflows set, by name and type, as the workflows
// declare them (workflows.SearchAttributeKeys); none carries personal data.
var SearchAttributes = searchAttributeTypes(workflows.SearchAttributeKeys())

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

// Register adds perkflow's workflows and activities to a worker (or a replayer / test environment): each workflow
// under its contract's name, and every exported method of acts as an activity named for the method — the names the
// workflows' activity stubs schedule (worker_test.go checks that each stub matches its method).
func Register(r Registry, acts *activities.Activities) {
	for _, d := range workflows.Definitions() {
		r.RegisterWorkflowWithOptions(d.Func, workflow.RegisterOptions{Name: d.Name})
	}
	r.RegisterActivityWithOptions(acts, activity.RegisterOptions{})
}

// searchAttributeTypes maps each key's name to its type, as the operator service registers them.
func searchAttributeTypes(keys []temporal.SearchAttributeKey) map[string]enums.IndexedValueType {
	types := make(map[string]enums.IndexedValueType, len(keys))
	for _, k := range keys {
		types[k.GetName()] = k.GetValueType()
	}
	return types
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
