package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// An endpoint's workflow runs a round, sleeps until the next retry is due, runs again at once while a round says
// more is waiting, and ends when the endpoint is gone.
func TestWebhookEndpointSleepsUntilTheNextRetryAndEndsWhenGone(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(WebhookEndpointWorkflow, workflow.RegisterOptions{Name: WebhookEndpointWorkflowName})
	var at []time.Time
	DeliverWebhooks.fake(env, func(_ context.Context, r domain.WebhookRoundRequest) (domain.WebhookRoundResult, error) {
		at = append(at, env.Now())
		switch len(at) {
		case 1:
			return domain.WebhookRoundResult{Failed: 1, Pending: true, NextAttemptIn: 5 * time.Second}, nil
		case 2:
			return domain.WebhookRoundResult{Delivered: 500, More: true}, nil
		case 3:
			return domain.WebhookRoundResult{Delivered: 1}, nil
		}
		return domain.WebhookRoundResult{Stopped: true}, nil
	})
	env.ExecuteWorkflow(WebhookEndpointWorkflow, WebhookEndpointInput{EndpointID: "e1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(at) != 4 {
		t.Fatalf("%d rounds, want 4", len(at))
	}
	if d := at[1].Sub(at[0]); d < 5*time.Second || d > 6*time.Second {
		t.Errorf("second round %s after the first, want when the retry is due (5 s)", d)
	}
	if d := at[2].Sub(at[1]); d > time.Second {
		t.Errorf("a round with more waiting was followed %s later, want at once", d)
	}
	if d := at[3].Sub(at[2]); d < webhookIdleWait {
		t.Errorf("an idle endpoint looked again after %s, want its idle wait %s (nothing woke it)", d, webhookIdleWait)
	}
}

// A long-lived endpoint's workflow continues as new before its history grows large.
func TestWebhookEndpointContinuesAsNew(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(WebhookEndpointWorkflow, workflow.RegisterOptions{Name: WebhookEndpointWorkflowName})
	DeliverWebhooks.fake(env, func(context.Context, domain.WebhookRoundRequest) (domain.WebhookRoundResult, error) {
		return domain.WebhookRoundResult{Delivered: 1}, nil
	})
	env.SetCurrentHistoryLength(25)
	env.ExecuteWorkflow(WebhookEndpointWorkflow, WebhookEndpointInput{EndpointID: "e1", MaxHistoryEvents: 20})
	if next := continuedAs[WebhookEndpointInput](t, env); next.EndpointID != "e1" {
		t.Fatalf("continued with %+v, want the same endpoint", next)
	}
}
