package bench

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/workflows"
)

// Events per purchase: how many history events a workflow records for each purchase, when purchases reach a member
// one at a time (round-robin over many members, as in the accrual runs). Each event is a write to Temporal's
// persistence, so this is the structural cost of a design, independent of the machine's load. It is measured on a
// sample of workflows before and after a fixed-rate run: Δ history length / Δ purchases.

const eventSample = 10

// historyLengths reads the current run's history length of each workflow id (0 when unreadable).
func historyLengths(ctx context.Context, tc client.Client, ids []string) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		if d, err := tc.DescribeWorkflowExecution(ctx, id, ""); err == nil {
			out[i] = d.GetWorkflowExecutionInfo().GetHistoryLength()
		}
	}
	return out
}

// memberSnapshot is a sample of member workflows: history lengths, runs and purchases processed.
type memberSnapshot struct {
	events, processed, runs []int64
}

func snapshotMembers(ctx context.Context, tc client.Client, members []string) memberSnapshot {
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = workflows.MemberWorkflowID(m)
	}
	s := memberSnapshot{events: historyLengths(ctx, tc, ids), processed: make([]int64, len(ids)), runs: make([]int64, len(ids))}
	for i, id := range ids {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryState)
		if err != nil {
			continue
		}
		var st workflows.MemberState
		if v.Get(&st) == nil {
			s.processed[i], s.runs[i] = st.Stats.PurchasesProcessed, st.Stats.Runs
		}
	}
	return s
}

// eventsPerPurchase compares two snapshots, leaving out workflows that continued as new in between.
func eventsPerPurchase(before, after memberSnapshot) float64 {
	var events, purchases int64
	for i := range before.events {
		if before.runs[i] != after.runs[i] || after.events[i] == 0 {
			continue
		}
		events += after.events[i] - before.events[i]
		purchases += after.processed[i] - before.processed[i]
	}
	if purchases == 0 {
		return 0
	}
	return float64(events) / float64(purchases)
}

// welcomed waits until every member's workflow has run its first task (the welcome: a registration answers 201
// before it runs), or until timeout. It returns how many still had not, and how many have no workflow at all (the API
// registers a member whose workflow start Temporal did not take in time, and starts it on their first need). What a
// registration leaves to Temporal and the worker would otherwise be measured as their idle use.
func welcomed(ctx context.Context, tc client.Client, members []string, timeout time.Duration) (pending, absent int) {
	deadline := time.Now().Add(timeout)
	left := members
	for len(left) > 0 && ctx.Err() == nil {
		var still []string
		absent = 0
		for _, m := range left {
			d, err := tc.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(m), "")
			var notFound *serviceerror.NotFound
			switch {
			case errors.As(err, &notFound):
				absent++
			case err != nil || d.GetPendingWorkflowTask() != nil || d.GetWorkflowExecutionInfo().GetHistoryLength() < 4:
				still = append(still, m)
			}
		}
		left = still
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return len(left), absent
}
