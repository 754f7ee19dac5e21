package workflows

import (
	"encoding/json"
	"errors"

	"go.temporal.io/sdk/workflow"
)

// Temporal refuses a workflow task whose payloads pass 2 MiB, so a run hands at most this much to the next: with a
// backlog above it (purchases arriving faster than one member's accruals commit), the run goes on accruing past its
// history bound until the backlog fits. Carrying every purchase regardless once failed the Continue-As-New with
// 10,000 purchases queued for one member, and the workflow stalled (BENCHMARKS.md, history bound).
const (
	maxCarriedItems = 500
	maxCarriedBytes = 1 << 20
)

// carryable reports whether what is queued fits in the next run's input (runs before "local-accrual" carry all).
func (m *member) carryable() bool {
	if !m.local {
		return true
	}
	if len(m.pending)+len(m.returns) > maxCarriedItems {
		return false
	}
	// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
	b, err := json.Marshal(MemberInput{Pending: m.pending, Returns: m.returns}) //workflowcheck:ignore
	return err != nil || len(b) <= maxCarriedBytes
}

// errBacklog is continueAsNew's answer when what is queued has outgrown the next run's input meanwhile.
var errBacklog = errors.New("backlog too large to carry")

// continueAsNew starts a fresh run carrying every purchase and return received and not yet processed, so none is
// lost, and the tier review date.
func (m *member) continueAsNew(ctx workflow.Context, purchases, returns workflow.ReceiveChannel) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && m.engageQueued == 0 }); err != nil {
		return err
	}
	m.drain(purchases, returns)
	if !m.carryable() {
		return errBacklog // more arrived while the handlers finished: accrue on
	}
	next := MemberInput{
		MemberID:         m.in.MemberID,
		Pending:          m.pending,
		Returns:          m.returns,
		TierReviewAt:     m.state.TierReviewAt,
		LastPurchaseAt:   m.lastPurchaseAt,
		WinbackSentFor:   m.winbackFor,
		Stats:            m.state.Stats,
		Counted:          m.countedOrder[max(0, len(m.countedOrder)-carriedCounted):],
		MaxHistoryEvents: m.in.MaxHistoryEvents,
	}
	return workflow.NewContinueAsNewError(ctx, MemberWorkflowName, next)
}
