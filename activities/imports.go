package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/perkflow/perkflow/domain"
)

// Bulk imports: the import workflow's steps (docs/imports.md).

// StartImport moves the import to running (validating, for a dry run) and returns what to load.
func (a *Activities) StartImport(ctx context.Context, id string) (domain.ImportPlan, error) {
	im, err := a.Store.GetImport(ctx, id)
	if err != nil {
		return domain.ImportPlan{}, classify(err)
	}
	status := domain.ImportRunning
	if im.DryRun {
		status = domain.ImportValidating
	}
	if err := a.Store.SetImportStatus(ctx, id, status, ""); err != nil {
		return domain.ImportPlan{}, err
	}
	return domain.ImportPlan{ImportID: id, Kind: domain.ImportKind(im.Kind), DryRun: im.DryRun, RowsTotal: im.RowsTotal,
		FirstLine: im.FirstLine, LastLine: im.LastLine}, nil
}

// LoadImportChunk loads the lines [From, To) of an import batch by batch, each batch once (store.LoadImportBatch).
// It heartbeats the line it has reached and its counts; a retry after a worker crash resumes from there.
func (a *Activities) LoadImportChunk(ctx context.Context, c domain.ImportChunk) (domain.ImportChunkResult, error) {
	res := domain.ImportChunkResult{Next: c.From}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var done domain.ImportChunkResult
		if err := activity.GetHeartbeatDetails(ctx, &done); err == nil && done.Next >= c.From && done.Next <= c.To {
			res = done
		}
	}
	batch := max(c.BatchLines, 1)
	for res.Next < c.To {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		to := min(res.Next+batch, c.To)
		b, err := a.Store.LoadImportBatch(ctx, c.ImportID, res.Next, to)
		if err != nil {
			return res, classify(err)
		}
		res.Add(b.ImportCounts)
		res.Next = b.Next
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, res)
		}
	}
	return res, nil
}

// FinishImport records how an import ended: completed, cancelled or failed (with why).
func (a *Activities) FinishImport(ctx context.Context, id, status, failure string) error {
	return a.Store.SetImportStatus(ctx, id, status, failure)
}

// MembersToWake lists imported members whose workflow must start within the next days (a birthday, a tier review).
func (a *Activities) MembersToWake(ctx context.Context, days, limit int) ([]domain.MemberToWake, error) {
	now := a.Store.Now()
	return a.Store.MembersToWake(ctx, now, now.AddDate(0, 0, days), limit)
}

// MarkMembersWoken records that the members' workflows run.
func (a *Activities) MarkMembersWoken(ctx context.Context, ids []string) error {
	return a.Store.MarkMembersWoken(ctx, ids)
}
