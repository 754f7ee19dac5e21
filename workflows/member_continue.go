package workflows

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// Temporal refuses a workflow task whose payloads pass 2 MiB, so a run hands at most maxCarriedBytes of queued
// purchases and returns to the next: with a backlog above it (purchases arriving faster than one member's accruals
// commit), the run goes on accruing past its history bound until the backlog fits. Carrying every purchase regardless
// once failed the Continue-As-New with 10,000 purchases queued for one member, and the workflow stalled
// (BENCHMARKS.md, history bound).
//
// Runs before "carry-backlog-by-size" carried the backlog as plain JSON and at most maxCarriedItems purchases: under
// a one-member burst (10,000 purchases sent 32 at a time) a run went on past its bound of 4,000 events, receiving
// every purchase still arriving, and grew to 10,395 events. Now the backlog travels gzip-compressed
// (MemberInput.Backlog: a purchase of some 350 bytes of JSON takes a few dozen), and only its compressed size counts;
// maxCarriedItemsPacked only spares the compression of a backlog that could not fit anyway.
const (
	maxCarriedItems       = 500
	maxCarriedItemsPacked = 100_000
	maxCarriedBytes       = 1 << 20
)

// carryBySizeChange is the GetVersion id of the compressed carry.
const carryBySizeChange = "carry-backlog-by-size"

// backlog is what a run hands to the next of what it has not processed yet.
type backlog struct {
	Pending []domain.Purchase `json:"pending,omitempty"`
	Returns []domain.Return   `json:"returns,omitempty"`
}

// packBacklog is the backlog as gzip-compressed JSON (deterministic: the same queue gives the same bytes, the
// header carries no time or name).
func packBacklog(b backlog) ([]byte, error) {
	// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
	raw, err := json.Marshal(b) //workflowcheck:ignore
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unpackBacklog reads what packBacklog wrote.
func unpackBacklog(packed []byte) (backlog, error) {
	var b backlog
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		return b, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return b, err
	}
	// json.Unmarshal into plain structs is deterministic; workflowcheck flags the reflection it goes through.
	return b, json.Unmarshal(raw, &b) //workflowcheck:ignore
}

// carryable reports whether what is queued fits in the next run's input (runs before "local-accrual" carry all),
// and keeps the packed backlog for continueAsNew.
func (m *member) carryable() bool {
	m.packed = nil
	if !m.local {
		return true
	}
	if !m.carryBySize {
		if len(m.pending)+len(m.returns) > maxCarriedItems {
			return false
		}
		// json.Marshal of plain structs is deterministic; workflowcheck flags it for the encoder cache it keeps.
		b, err := json.Marshal(MemberInput{Pending: m.pending, Returns: m.returns}) //workflowcheck:ignore
		return err != nil || len(b) <= maxCarriedBytes
	}
	if len(m.pending)+len(m.returns) > maxCarriedItemsPacked {
		return false
	}
	if len(m.pending)+len(m.returns) == 0 {
		return true
	}
	packed, err := packBacklog(backlog{Pending: m.pending, Returns: m.returns})
	if err != nil || len(packed) > maxCarriedBytes {
		return false
	}
	m.packed = packed
	return true
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
		Backlog:          m.packed,
		TierReviewAt:     m.state.TierReviewAt,
		LastPurchaseAt:   m.lastPurchaseAt,
		WinbackSentFor:   m.winbackFor,
		Stats:            m.state.Stats,
		Counted:          m.countedOrder[max(0, len(m.countedOrder)-carriedCounted):],
		MaxHistoryEvents: m.in.MaxHistoryEvents,
	}
	if !m.carryBySize {
		next.Pending, next.Returns = m.pending, m.returns
	}
	return workflow.NewContinueAsNewError(ctx, MemberWorkflowName, next)
}
