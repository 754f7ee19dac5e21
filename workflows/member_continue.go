package workflows

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// Temporal refuses a workflow task whose payloads pass 2 MiB, so a run hands at most this much to the next in its
// input. A larger backlog (purchases arriving faster than one member's accruals commit) is parked in Postgres, in
// chunks well under that size, and the run continues as new at its bound; the next run reads
// the parked purchases back a batch at a time, ahead of those signalled after (domain.ParkRequest). Runs before
// "park-backlog" accrued such a backlog down past their bound until it fitted: 10,259 events for a backlog of
// 10,000 purchases (BENCHMARKS.md, history bound). Carrying every purchase regardless once failed the
// Continue-As-New with 10,000 queued, and the workflow stalled.
//
// Runs since "park-backlog" carry up to maxCarriedItemsParking (the bytes still bound it): under a stream of
// signals Temporal refuses the first Continue-As-New (signals arrived during its task), and the hundreds that arrive
// before the retried task starts are carried rather than parked again. They also start parking a backlog at three
// quarters of their bound, so that what arrives while they park and continue as new still fits under it.
const (
	maxCarriedItems        = 500
	maxCarriedItemsParking = 2000
	maxCarriedBytes        = 1 << 20
)

// earlyPark reports whether a run with a backlog its input cannot carry starts parking before its bound: past three
// quarters of it (versioned with parking).
func (m *member) earlyPark(ctx workflow.Context) bool {
	return workflow.GetInfo(ctx).GetCurrentHistoryLength() >= historyBound(m.in.MaxHistoryEvents)*3/4 && !m.carryable() && m.mayPark(ctx)
}

// parkBacklogChange is the workflow.GetVersion change id of parking a backlog.
const parkBacklogChange = "park-backlog"

// maxParkedChunkBytes bounds the JSON of the purchases one ParkPurchases activity takes, well under the 2 MiB
// Temporal accepts in a payload.
const maxParkedChunkBytes = 512 << 10

// carryable reports whether what is queued in memory fits in the next run's input (runs before "local-accrual" carry
// all).
func (m *member) carryable() bool {
	if !m.local {
		return true
	}
	limit := maxCarriedItems
	if m.parking > 0 {
		limit = maxCarriedItemsParking
	}
	if len(m.pending)+len(m.behind)+len(m.returns) > limit {
		return false
	}
	// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
	b, err := json.Marshal(MemberInput{Pending: append(m.pending[:len(m.pending):len(m.pending)], m.behind...), Returns: m.returns}) //workflowcheck:ignore
	return err != nil || len(b) <= maxCarriedBytes
}

// mayPark reports whether this run parks a backlog rather than accruing it down, and accrues a burst in a regular
// activity (backlogBatch). Versioned: asked the first time a run has either, so that runs recorded without them
// replay as they ran.
func (m *member) mayPark(ctx workflow.Context) bool {
	if !m.local {
		return false
	}
	if m.parking == 0 {
		m.parking = -1
		if workflow.GetVersion(ctx, parkBacklogChange, workflow.DefaultVersion, 1) >= 1 {
			m.parking = 1
		}
	}
	return m.parking > 0
}

// enqueue queues purchases received: behind the parked ones while there are any.
func (m *member) enqueue(ps ...domain.Purchase) {
	if m.parkedLeft() {
		m.behind = append(m.behind, ps...)
		return
	}
	m.pending = append(m.pending, ps...)
}

// parkedLeft reports whether parked purchases are still to be read back.
func (m *member) parkedLeft() bool { return m.parked.Read < m.parked.Next }

// parkedWork reports whether the parked queue needs a read: purchases to read back, or rows earlier runs read to
// delete.
func (m *member) parkedWork() bool { return m.parkedLeft() || m.parked.Cleared < m.deleteBelow }

// queueEmpty reports whether no purchase is queued, in memory or parked.
func (m *member) queueEmpty() bool {
	return len(m.pending) == 0 && len(m.behind) == 0 && !m.parkedLeft()
}

// park parks what the next run's input cannot carry: the whole queue, or, while parked purchases are queued, what
// was signalled behind them, so that the order received is kept. It parks in regular activities of at most
// maxParkedChunkBytes each (a local one would hold the workflow task open: see backlogBatch), and changes the queues
// only once every chunk is parked: rows a failed attempt wrote past the queue's end are no one's, replaced by the
// next park and never read. It reports whether it parked.
func (m *member) park(ctx workflow.Context) bool {
	batch := m.pending
	if m.parkedLeft() {
		batch = m.behind
	}
	for from := 0; from < len(batch); {
		n, size := 0, 0
		for from+n < len(batch) {
			// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
			b, _ := json.Marshal(batch[from+n]) //workflowcheck:ignore
			if n > 0 && size+len(b) > maxParkedChunkBytes {
				break
			}
			n, size = n+1, size+len(b)
		}
		chunk := batch[from : from+n]
		req := domain.ParkRequest{MemberID: m.in.MemberID, From: m.parked.Next + int64(from), Purchases: chunk}
		summary := fmt.Sprintf("Park %d queued purchases (%s … %s)", n, chunk[0].TransactionID, chunk[n-1].TransactionID)
		if err := ParkPurchases.Execute(withOptions(ctx, activityOptions.accrual, summary), req).Get(ctx); err != nil {
			workflow.GetLogger(ctx).Warn("the backlog could not be parked; accruing it down before continuing as new", "Error", err)
			return false
		}
		from += n
	}
	if m.parkedLeft() {
		m.behind = nil
	} else {
		m.pending = nil
	}
	m.parked.Next += int64(len(batch))
	return true
}

// unpark reads the next batch of parked purchases into the empty pending queue, and deletes the rows earlier runs
// read. Once none are left, what was signalled behind them follows.
func (m *member) unpark(ctx workflow.Context) error {
	req := domain.UnparkRequest{MemberID: m.in.MemberID, From: m.parked.Read, Limit: MaxPurchasesPerBatch, DeleteBelow: m.deleteBelow}
	summary := fmt.Sprintf("Read back parked purchases from %d of %d", m.parked.Read, m.parked.Next)
	if !m.parkedLeft() {
		req.Limit, summary = 1, fmt.Sprintf("Delete the parked purchases read (below %d)", m.deleteBelow)
	}
	lctx := withLocalOptions(ctx, activityOptions.accrual, summary, localAccrualWindow)
	rows, err := UnparkPurchases.ExecuteLocal(lctx, req).Get(ctx)
	if err != nil && ctx.Err() == nil {
		workflow.GetLogger(ctx).Warn("parked purchases not read in a local activity; a regular activity retries it until it does", "Error", err)
		rows, err = UnparkPurchases.Execute(withOptions(ctx, activityOptions.accrual, summary), req).Get(ctx)
	}
	if err != nil {
		return fmt.Errorf("read parked purchases: %w", err)
	}
	m.parked.Cleared = max(m.parked.Cleared, m.deleteBelow)
	n := min(int64(len(rows)), m.parked.Next-m.parked.Read) // rows past Next are no one's
	if m.parkedLeft() && n == 0 {
		// Parked purchases are missing from Postgres: block this workflow's tasks, visibly, rather than lose them.
		panic(fmt.Sprintf("member %s: parked purchases %d to %d are not in member_backlog", m.in.MemberID, m.parked.Read, m.parked.Next-1))
	}
	m.pending = append(m.pending, rows[:n]...)
	m.parked.Read += n
	if !m.parkedLeft() {
		m.pending = append(m.pending, m.behind...)
		m.behind = nil
	}
	return nil
}

// carriedParked is the parked queue as the next run takes it: nil once nothing is parked and every row read is
// deleted.
func (m *member) carriedParked() *ParkedQueue {
	if !m.parkedLeft() && m.parked.Cleared == m.parked.Read {
		return nil
	}
	q := m.parked
	return &q
}

// errBacklog is continueAsNew's answer when what is queued has outgrown the next run's input meanwhile.
var errBacklog = errors.New("backlog too large to carry")

// continueAsNew starts a fresh run carrying every purchase and return received and not yet processed (what its input
// cannot carry parked), so none is lost, and the tier review date.
func (m *member) continueAsNew(ctx workflow.Context, purchases, returns workflow.ReceiveChannel) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && m.engageQueued == 0 }); err != nil {
		return err
	}
	m.drain(purchases, returns)
	if !m.carryable() {
		if !m.mayPark(ctx) || !m.park(ctx) {
			return errBacklog // more arrived while the handlers finished: accrue on
		}
		m.drain(purchases, returns) // what arrived while parking is carried behind the parked purchases
		if !m.carryable() {
			return errBacklog // more than the input carries: park it next time round
		}
	}
	next := MemberInput{
		MemberID:         m.in.MemberID,
		Pending:          m.pending,
		Parked:           m.carriedParked(),
		Behind:           m.behind,
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
