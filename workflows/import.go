package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// importOptions: a chunk heartbeats after every batch (a database transaction of a few thousand rows), so a worker
// that dies is noticed within the heartbeat timeout and the chunk resumes on another from the batch it reached.
var importOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:    time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// importStepOptions: starting and finishing an import are single writes, retried until Postgres answers.
var importStepOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
}

// ImportWorkflow loads an uploaded file (import_rows) chunk by chunk. Every chunk's batches are applied once
// whatever the retries, failed rows are recorded and never stop it; a cancel signal stops it after the current
// chunk. It continues as new every ChunksPerRun chunks, so its history stays bounded whatever the file's size.
func ImportWorkflow(ctx workflow.Context, in ImportInput) (ImportState, error) {
	if in.BatchLines <= 0 {
		in.BatchLines = DefaultImportBatchLines
	}
	if in.BatchesPerChunk <= 0 {
		in.BatchesPerChunk = DefaultImportBatchesPerChunk
	}
	if in.ChunksPerRun <= 0 {
		in.ChunksPerRun = DefaultImportChunksPerRun
	}
	if in.StartedAt.IsZero() {
		in.StartedAt = workflow.Now(ctx).UTC()
	}
	st := ImportState{ImportID: in.ImportID, Status: domain.ImportValidating, ImportCounts: in.Counts, Next: in.Next, StartedAt: in.StartedAt}
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (ImportState, error) { return st, nil }); err != nil {
		return st, err
	}
	cancel := workflow.GetSignalChannel(ctx, SignalImportCancel)
	finish := func(status, failure string) (ImportState, error) {
		st.Status = status
		err := FinishImport.Execute(withOptions(ctx, importStepOptions, "Record the import as "+status), in.ImportID, status, failure).Get(ctx)
		return st, err
	}
	if in.Plan == nil {
		plan, err := StartImport.Execute(withOptions(ctx, importStepOptions, "Start import "+in.ImportID), in.ImportID).Get(ctx)
		if err != nil {
			return finish(domain.ImportFailed, "the import could not start: "+err.Error())
		}
		in.Plan, in.Next = &plan, plan.FirstLine
	}
	plan := *in.Plan
	st.RowsTotal, st.Next = plan.RowsTotal, in.Next
	if !plan.DryRun {
		st.Status = domain.ImportRunning
	}
	span := in.BatchLines * in.BatchesPerChunk
	for chunks := 0; st.Next <= plan.LastLine; chunks++ {
		if cancel.ReceiveAsync(nil) {
			st.Cancel = true
		}
		if st.Cancel {
			return finish(domain.ImportCancelled, "")
		}
		if chunks >= in.ChunksPerRun {
			next := in
			next.Next, next.Counts = st.Next, st.ImportCounts
			return st, workflow.NewContinueAsNewError(ctx, ImportWorkflowName, next)
		}
		c := domain.ImportChunk{ImportID: in.ImportID, From: st.Next, To: min(st.Next+span, plan.LastLine+1), BatchLines: in.BatchLines}
		summary := fmt.Sprintf("Load lines %d to %d of %d", c.From, c.To-1, plan.LastLine)
		f := LoadImportChunk.Execute(withOptions(ctx, importOptions, summary), c)
		// A cancel received while the chunk loads is kept for when it ends.
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(f.Ready(), func(workflow.Future) {})
		sel.AddReceive(cancel, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			st.Cancel = true
		})
		for !f.Ready().IsReady() {
			sel.Select(ctx)
		}
		res, err := f.Get(ctx)
		if err != nil {
			return finish(domain.ImportFailed, fmt.Sprintf("lines from %d could not be loaded: %v", c.From, err))
		}
		st.ImportCounts.Add(res.ImportCounts)
		st.Next = res.Next
	}
	return finish(domain.ImportCompleted, "")
}
