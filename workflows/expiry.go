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
