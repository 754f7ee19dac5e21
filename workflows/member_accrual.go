package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// localAccrualWindow is how long the local activity accruing a batch is retried before the batch goes to a regular
// activity.
const localAccrualWindow = 2 * time.Minute

// carriedCounted is how many of the latest counted transaction ids a run hands to the next: a purchase sent again
// after a 503 may reach the workflow seconds after the first copy, hundreds of purchases later under a burst (64
// were too few once a backlog was parked: points counted twice in Stats, never in the ledger).
const carriedCounted = 1000

// accrueBatch accrues the oldest queued purchases in one activity and reports whether the tier changed, and the
// purchases that were accrued (first time or replayed: challenges count each transaction once either way).
//
// The fast path is a local activity: it runs in the workflow task that delivered the purchases, so a purchase costs
// the server one workflow task and one marker instead of an activity task's round trip through matching (the
// member workflow's history grew by 18 events per purchase with regular activities, 6 with local ones; see
// BENCHMARKS.md). A local activity cannot retry for ever, so when it has not succeeded within
// localAccrualWindow the same batch goes to a regular activity, retried until Postgres is back however long that
// takes — and visible as such in the Temporal UI. Both are idempotent on each purchase's transaction id, so a
// batch the local attempt partly wrote is finished, not doubled. A burst goes to a regular activity at once
// (backlogBatch).
func (m *member) accrueBatch(ctx workflow.Context) (bool, []domain.Purchase, error) {
	n := min(len(m.pending), MaxPurchasesPerBatch)
	batch := m.pending[:n]
	summary := accrualSummary(batch)
	var outcomes []domain.AccrualOutcome
	var err error
	local := m.local && !(len(m.pending) > backlogBatch && m.mayPark(ctx))
	if local {
		lctx := withLocalOptions(ctx, activityOptions.accrual, summary, localAccrualWindow)
		outcomes, err = AccruePurchases.ExecuteLocal(lctx, batch).Get(ctx)
		if err != nil && ctx.Err() != nil {
			return false, nil, fmt.Errorf("accrue purchases: %w", err)
		}
		if err != nil {
			workflow.GetLogger(ctx).Warn("accrual did not succeed in a local activity; a regular activity retries it until it does", "Error", err)
		}
	}
	if !local || err != nil {
		outcomes, err = AccruePurchases.Execute(withOptions(ctx, activityOptions.accrual, summary), batch).Get(ctx)
		if err != nil {
			// Only cancellation ends the retries; the purchases stay queued for the next run.
			return false, nil, fmt.Errorf("accrue purchases: %w", err)
		}
	}
	changed := false
	var accrued []domain.Purchase
	for i, o := range outcomes {
		if i < len(batch) && o.Status == "accrued" && !o.Conflict && batch[i].TransactionID == o.TransactionID {
			accrued = append(accrued, batch[i])
		}
		if o.Conflict {
			workflow.GetLogger(ctx).Warn("transaction id reused with different content; not accrued again", "TransactionID", o.TransactionID)
		}
		if !o.Conflict && m.countPoints(o.TransactionID) {
			m.state.Stats.PointsEarned += o.Points
		}
		m.state.Stats.PurchasesProcessed++
		m.state.Stats.LastTransactionID = o.TransactionID
		if o.TierChange != nil && m.tiers {
			m.tierChanged(ctx, *o.TierChange)
			changed = true
		}
	}
	m.pending = append([]domain.Purchase(nil), m.pending[n:]...)
	return changed, accrued, nil
}

// backlogBatch is how many queued purchases make a burst: with more queued, runs since "park-backlog" accrue the
// batch in a regular activity. A local activity holds its workflow task open while it runs, and the server buffers the
// signals that arrive meanwhile; once more than 100 are buffered it fails the task (ForceCloseCommand), and what the
// task's local activities did is lost with it. With one member's purchases streaming in at hundreds a second, every
// task that accrued a batch locally was failed, and the workflow made no progress until the stream stopped
// (BENCHMARKS.md, history bound). A regular activity leaves no task open: the signals are written as they come, and
// the batch's result arrives in a task of its own. A purchase that finds few queued is still accrued locally, in the
// task that delivered it.
const backlogBatch = 25

// accrualSummary describes a batch in the Temporal UI.
func accrualSummary(batch []domain.Purchase) string {
	switch {
	case len(batch) == 1:
		return "Accrue purchase " + batch[0].TransactionID
	case len(batch) > 1:
		return fmt.Sprintf("Accrue %d purchases (%s … %s)", len(batch), batch[0].TransactionID, batch[len(batch)-1].TransactionID)
	}
	return ""
}

// countPoints reports whether a purchase's points are still to be added to Stats.PointsEarned, and marks them
// counted. An outcome's Replayed flag cannot say: a local activity's result is lost with the workflow task it ran in
// (a worker crash, or a task completing with a Continue-As-New that a new signal overtook), and its next execution
// finds the purchase written by the lost one. Duplicates that reach the workflow are purchases reported twice while
// the first was in flight (the API answers an already committed transaction itself): they arrive within seconds,
// in this run or at the start of the next, which is why the latest ids are carried over.
func (m *member) countPoints(txID string) bool {
	if m.counted[txID] {
		return false
	}
	m.counted[txID] = true
	m.countedOrder = append(m.countedOrder, txID)
	return true
}
