package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// ExpiryWorkflow is the daily points expiry: first it reminds members of points expiring within the program's
// reminder days (once per lot), then it expires every lot past its date, set-based in chunks; each activity call
// heartbeats its cursor and resumes from it, and the workflow continues as new before its history grows large.
// Since GetVersion "expiry-partitions" the members are split into Partitions disjoint sets by ranges of their id,
// expired side by side, each by its own sequence of activity calls after its own cursor (expirePartitions).
func ExpiryWorkflow(ctx workflow.Context, in ExpiryInput) (ExpiryState, error) {
	if in.Now.IsZero() {
		in.Now = workflow.Now(ctx).UTC()
	}
	if in.ChunkSize <= 0 {
		in.ChunkSize = DefaultExpiryChunk
	}
	if in.ChunksPerActivity <= 0 {
		in.ChunksPerActivity = DefaultExpiryChunksPerActivity
	}
	st := ExpiryState{Phase: ExpiryPhaseReminding, Now: in.Now, Cursor: in.Cursor, Stats: in.Stats}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (ExpiryState, error) { return st, nil }); err != nil {
		return st, err
	}
	if !in.Reminded {
		rs, err := RemindExpiringPoints.Execute(withOptions(ctx, activityOptions.expiry, "Remind members of points expiring soon"),
			domain.RemindExpiringRequest{Now: in.Now, ChunkSize: in.ChunkSize}).Get(ctx)
		if err != nil {
			return st, fmt.Errorf("remind expiring points: %w", err)
		}
		st.Stats = st.Stats.Add(rs)
		in.Reminded = true
	}
	st.Phase = ExpiryPhaseExpiring
	if workflow.GetVersion(ctx, "expiry-partitions", workflow.DefaultVersion, 1) == 1 {
		return expirePartitions(ctx, in, st)
	}
	for {
		req := domain.ExpireLotsRequest{Now: in.Now, Cursor: st.Cursor, ChunkSize: in.ChunkSize, MaxChunks: in.ChunksPerActivity}
		summary := fmt.Sprintf("Expire lots past %s, up to %d chunks of %d", in.Now.Format(time.RFC3339), in.ChunksPerActivity, in.ChunkSize)
		res, err := ExpireLots.Execute(withOptions(ctx, activityOptions.expiry, summary), req).Get(ctx)
		if err != nil {
			return st, fmt.Errorf("expire lots: %w", err)
		}
		st.Cursor, st.Stats = res.Cursor, st.Stats.Add(res.Stats)
		if res.Done {
			st.Phase = ExpiryPhaseDone
			return st, nil
		}
		if historyFull(ctx, in.MaxHistoryEvents) {
			next := in
			next.Cursor, next.Stats = st.Cursor, st.Stats
			return st, workflow.NewContinueAsNewError(ctx, ExpiryWorkflowName, next)
		}
	}
}

// expirePartitions expires the lots of in.Partitions member sets side by side: one coroutine per set not yet done,
// each calling ExpireLots for its set after its own cursor until the set is done or the history is full; then the
// run completes, or continues as new with every cursor once all the calls in flight have returned. The sets are
// disjoint (a member's lots are all in one), so two calls never lock the same balance row.
func expirePartitions(ctx workflow.Context, in ExpiryInput, st ExpiryState) (ExpiryState, error) {
	n := in.Partitions
	if n <= 0 {
		n = DefaultExpiryPartitions
	}
	cursors, done := make([]domain.ExpiryCursor, n), make([]bool, n)
	for p := range n {
		cursors[p] = in.Cursor
		if p < len(in.PartitionCursors) {
			cursors[p] = in.PartitionCursors[p]
		}
		if p < len(in.PartitionsDone) {
			done[p] = in.PartitionsDone[p]
		}
	}
	st.PartitionCursors, st.PartitionsDone = cursors, done
	var failed error
	wg := workflow.NewWaitGroup(ctx)
	for p := range n {
		if done[p] {
			continue
		}
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			for failed == nil {
				req := domain.ExpireLotsRequest{Now: in.Now, Cursor: cursors[p], ChunkSize: in.ChunkSize, MaxChunks: in.ChunksPerActivity,
					Partition: p, Partitions: n}
				summary := fmt.Sprintf("Expire lots past %s of member set %d of %d, up to %d chunks of %d",
					in.Now.Format(time.RFC3339), p+1, n, in.ChunksPerActivity, in.ChunkSize)
				res, err := ExpireLots.Execute(withOptions(ctx, activityOptions.expiry, summary), req).Get(ctx)
				if err != nil {
					if failed == nil {
						failed = fmt.Errorf("expire lots of member set %d of %d: %w", p+1, n, err)
					}
					return
				}
				cursors[p], st.Stats = res.Cursor, st.Stats.Add(res.Stats)
				if res.Done {
					done[p] = true
					return
				}
				if historyFull(ctx, in.MaxHistoryEvents) {
					return
				}
			}
		})
	}
	wg.Wait(ctx)
	// Cursor is where every set stands: every lot before it has been taken, whichever set it is in.
	st.Cursor = cursors[0]
	for _, c := range cursors[1:] {
		if c.ExpiresAt.Before(st.Cursor.ExpiresAt) || (c.ExpiresAt.Equal(st.Cursor.ExpiresAt) && c.LotID < st.Cursor.LotID) {
			st.Cursor = c
		}
	}
	if failed != nil {
		return st, failed
	}
	allDone := true
	for _, d := range done {
		allDone = allDone && d
	}
	if allDone {
		st.Phase = ExpiryPhaseDone
		return st, nil
	}
	next := in
	next.Partitions, next.Cursor, next.PartitionCursors, next.PartitionsDone, next.Stats = n, st.Cursor, cursors, done, st.Stats
	return st, workflow.NewContinueAsNewError(ctx, ExpiryWorkflowName, next)
}
