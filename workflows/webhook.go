package workflows

import (
	"errors"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// WebhookEndpointWorkflow delivers an endpoint's events: it runs a round of deliveries (DeliverWebhooks), then,
// when nothing more is due, sleeps until it is woken (WebhookSignalWake), the next retry is due, or webhookIdleWait
// has passed. Each endpoint has its own workflow, so a slow or dead receiver delays only its own events; it continues
// as new before its history grows large, and ends when the endpoint is deleted or disabled.
func WebhookEndpointWorkflow(ctx workflow.Context, in WebhookEndpointInput) error {
	if in.EndpointID == "" {
		return errors.New("webhook endpoint workflow needs an endpoint id")
	}
	w := &webhookEndpointImpl{in: in, wake: workflow.GetSignalChannel(ctx, WebhookSignalWake)}
	return w.run(ctx)
}

type webhookEndpointImpl struct {
	in   WebhookEndpointInput
	wake workflow.ReceiveChannel
}

func (w *webhookEndpointImpl) run(ctx workflow.Context) error {
	actx := withOptions(ctx, activityOptions.webhookRound, "Deliver the webhooks due to endpoint "+w.in.EndpointID)
	for {
		// Wakes received so far are answered by this round.
		for w.wake.ReceiveAsync(nil) {
		}
		res, err := DeliverWebhooks.Execute(actx, domain.WebhookRoundRequest{EndpointID: w.in.EndpointID, Limit: w.in.RoundLimit}).Get(ctx)
		if err != nil {
			return err
		}
		if res.Stopped {
			return nil
		}
		if historyFull(ctx, w.in.MaxHistoryEvents) {
			// The next run starts with a round: a wake that arrives in between is not lost.
			return workflow.NewContinueAsNewError(ctx, WebhookEndpointWorkflowName, w.in)
		}
		if res.More {
			continue
		}
		wait := webhookIdleWait
		if res.Pending {
			wait = min(res.NextAttemptIn, webhookIdleWait)
		}
		if wait <= 0 {
			continue
		}
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
		sel.Select(ctx)
		cancel()
	}
}
