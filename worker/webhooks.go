package worker

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// webhookWakeDelay gathers the events committed within it into one wake of each endpoint.
const webhookWakeDelay = 20 * time.Millisecond

// RunWebhookDispatcher wakes the endpoints' delivery workflows as outbox events commit, until ctx ends: it listens on
// the store's webhook channel and signals (starting it if need be) the workflow of every enabled endpoint subscribed
// to a committed event's type. Each time it starts listening — at start, and after a lost connection — it wakes
// every enabled endpoint, so that events committed while no dispatcher listened (a worker stopped after the commit)
// are delivered too. Nothing on the path of a purchase waits for it.
func RunWebhookDispatcher(ctx context.Context, c client.Client, taskQueue string, acts *activities.Activities, log *slog.Logger) {
	d := &webhookDispatcher{c: c, queue: taskQueue, acts: acts, log: log, types: make(chan string, 1024)}
	go d.wakeLoop(ctx)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := acts.Store.ListenWebhookEvents(ctx, func() { d.types <- "*" }, func(t string) {
			select {
			case d.types <- t:
			default: // a wake is already due: the round it starts takes this event too
			}
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn("webhook dispatcher lost its connection; deliveries wait for the endpoints' idle timers", "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

type webhookDispatcher struct {
	c     client.Client
	queue string
	acts  *activities.Activities
	log   *slog.Logger
	types chan string
}

func (d *webhookDispatcher) wakeLoop(ctx context.Context) {
	for {
		var first string
		select {
		case <-ctx.Done():
			return
		case first = <-d.types:
		}
		seen := map[string]bool{first: true}
		timer := time.NewTimer(webhookWakeDelay)
	gather:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case t := <-d.types:
				seen[t] = true
			case <-timer.C:
				break gather
			}
		}
		d.wake(ctx, seen)
	}
}

// wake signals the enabled endpoints subscribed to any of types ("*": every enabled endpoint).
func (d *webhookDispatcher) wake(ctx context.Context, types map[string]bool) {
	eps, err := d.acts.Store.EnabledWebhookEndpoints(ctx)
	if err != nil {
		d.log.Warn("webhook dispatcher cannot list endpoints", "error", err)
		return
	}
	for _, ep := range eps {
		wanted := types["*"]
		for t := range types {
			wanted = wanted || ep.Subscribes(t)
		}
		if !wanted {
			continue
		}
		if err := workflows.WakeWebhookEndpoint(ctx, d.c, d.queue, ep.ID); err != nil && ctx.Err() == nil {
			d.log.Warn("webhook dispatcher cannot wake an endpoint", "endpoint_id", ep.ID, "error", err)
		}
	}
}
