package workflows

import (
	"context"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
)

// Webhook endpoint contract: one long-running workflow per endpoint (webhook-endpoint/<id>) delivers its events in
// rounds. The API starts it when the endpoint is made or enabled and wakes it on a replay; the worker's dispatcher
// wakes it when an outbox event commits. It ends when the endpoint is deleted or disabled.
const (
	// WebhookEndpointWorkflowName is the registered name of WebhookEndpointWorkflow.
	WebhookEndpointWorkflowName = "WebhookEndpoint"
	// WebhookSignalWake tells the workflow that events may be waiting (no payload).
	WebhookSignalWake = "wake"
	// webhookIdleWait is how long an idle endpoint's workflow sleeps without a wake before it looks anyway: a wake
	// lost with a worker's connection delays events by at most this.
	webhookIdleWait = 10 * time.Minute
)

// DeliverWebhooks runs one round of an endpoint's deliveries (see activity.go).
var DeliverWebhooks = newActivity[domain.WebhookRoundRequest, domain.WebhookRoundResult]("DeliverWebhooks")

// WebhookEndpointWorkflowID names an endpoint's delivery workflow.
func WebhookEndpointWorkflowID(endpointID string) string { return "webhook-endpoint/" + endpointID }

// WakeWebhookEndpoint signals an endpoint's delivery workflow, starting it if it is not running (the API on a
// replay or an enable, the worker's dispatcher when an outbox event commits).
func WakeWebhookEndpoint(ctx context.Context, c client.Client, taskQueue, endpointID string) error {
	id := WebhookEndpointWorkflowID(endpointID)
	_, err := c.SignalWithStartWorkflow(ctx, id, WebhookSignalWake, nil, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue},
		WebhookEndpointWorkflowName, WebhookEndpointInput{EndpointID: endpointID})
	return err
}

// WebhookEndpointInput starts (or continues) an endpoint's delivery workflow.
type WebhookEndpointInput struct {
	EndpointID string `json:"endpoint_id"`
	// RoundLimit bounds the deliveries of one round (0: the activity's default).
	RoundLimit int `json:"round_limit,omitempty"`
	// MaxHistoryEvents overrides DefaultMaxHistoryEvents (tests).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
}
