package telemetry

import (
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// causeInterceptor puts an activity in the trace of the signal that caused it.
//
// The SDK's tracing interceptor parents an activity on the span of the context the workflow starts it from. A
// handler's context carries its update's span, but a signal is only a message on a channel: a member workflow lives
// for months and accrues the purchases its signals deliver from its main loop, whose context carries the span of
// the run's start. Without this interceptor the accrual of a purchase would sit in the trace of the member's
// registration, not in the trace of the POS request that reported it.
//
// So: the latest signal's span is kept, and the activities the main loop starts in the workflow task that delivered
// it — the batch's accrual, its forwarding to challenges — are parented on that span. Activities of later tasks
// (a timer's tier review or birthday bonus) keep the run's span. This changes only the tracing headers of the
// commands, never the commands themselves, so replays are unaffected (and during replay the tracing interceptor
// creates no span anyway).
type causeInterceptor struct {
	interceptor.InterceptorBase
	key any
}

func (c *causeInterceptor) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	i := &causeInbound{key: c.key}
	i.Next = next
	return i
}

type causeInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	key any
	// run is the span of the run (the main loop's context carries it).
	run any
	// pending is the latest signal's span not yet taken by an activity; cause is the one taken, in the workflow
	// task whose history length is causeTask.
	pending, cause any
	causeTask      int
}

func (i *causeInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	o := &causeOutbound{in: i}
	o.Next = outbound
	return i.Next.Init(o)
}

func (i *causeInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	i.run = ctx.Value(i.key)
	return i.Next.ExecuteWorkflow(ctx, in)
}

func (i *causeInbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	if span := ctx.Value(i.key); span != nil {
		i.pending = span
	}
	return i.Next.HandleSignal(ctx, in)
}

type causeOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *causeInbound
}

// withCause parents what ctx starts on the signal that caused it, when ctx is the main loop's.
func (o *causeOutbound) withCause(ctx workflow.Context) workflow.Context {
	in := o.in
	if in.run == nil || ctx.Value(in.key) != in.run {
		return ctx // a handler's context, with its own span, or no tracing at all
	}
	task := o.GetInfo(ctx).GetCurrentHistoryLength()
	if in.pending != nil {
		in.cause, in.causeTask, in.pending = in.pending, task, nil
	}
	if in.cause == nil || in.causeTask != task {
		return ctx
	}
	return workflow.WithValue(ctx, in.key, in.cause)
}

func (o *causeOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteActivity(o.withCause(ctx), activityType, args...)
}

func (o *causeOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteLocalActivity(o.withCause(ctx), activityType, args...)
}
