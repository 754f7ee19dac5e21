package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// importFakes fakes the import's activities over a file of lines 2..last, recording the chunks asked for and how the
// import ended.
type importFakes struct {
	mu     sync.Mutex
	chunks []domain.ImportChunk
	starts int
	ended  []string
}

func TestImportLoadsChunksContinuesAsNewAndFinishes(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(ImportWorkflow, workflow.RegisterOptions{Name: ImportWorkflowName})
	f := &importFakes{}
	StartImport.fake(env, func(_ context.Context, id string) (domain.ImportPlan, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.starts++
		return domain.ImportPlan{ImportID: id, Kind: domain.ImportMembers, RowsTotal: 100, FirstLine: 2, LastLine: 101}, nil
	})
	LoadImportChunk.fake(env, func(_ context.Context, c domain.ImportChunk) (domain.ImportChunkResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.chunks = append(f.chunks, c)
		n := c.To - c.From
		return domain.ImportChunkResult{Next: c.To, ImportCounts: domain.ImportCounts{Read: n, Imported: n - 1, Failed: 1}}, nil
	})
	FinishImport.fake(env, func(_ context.Context, _, status, _ string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.ended = append(f.ended, status)
		return nil
	})
	env.ExecuteWorkflow(ImportWorkflow, ImportInput{ImportID: "imp-1", BatchLines: 10, BatchesPerChunk: 2, ChunksPerRun: 3})
	next := continuedAs[ImportInput](t, env)
	if next.Plan == nil || next.Next != 62 || next.Counts.Read != 60 || next.Counts.Failed != 3 || len(f.chunks) != 3 ||
		f.chunks[0] != (domain.ImportChunk{ImportID: "imp-1", From: 2, To: 22, BatchLines: 10}) || len(f.ended) != 0 {
		t.Fatalf("continued with %+v after chunks %+v", next, f.chunks)
	}

	// The next run starts from the line reached, does not start the import again, and finishes it.
	env2 := newEnv(t)
	env2.RegisterWorkflowWithOptions(ImportWorkflow, workflow.RegisterOptions{Name: ImportWorkflowName})
	f2 := &importFakes{}
	StartImport.fake(env2, func(context.Context, string) (domain.ImportPlan, error) {
		t.Error("started twice")
		return domain.ImportPlan{}, nil
	})
	LoadImportChunk.fake(env2, func(_ context.Context, c domain.ImportChunk) (domain.ImportChunkResult, error) {
		f2.mu.Lock()
		defer f2.mu.Unlock()
		f2.chunks = append(f2.chunks, c)
		return domain.ImportChunkResult{Next: c.To, ImportCounts: domain.ImportCounts{Read: c.To - c.From, Imported: c.To - c.From}}, nil
	})
	FinishImport.fake(env2, func(_ context.Context, _, status, _ string) error {
		f2.ended = append(f2.ended, status)
		return nil
	})
	env2.ExecuteWorkflow(ImportWorkflow, next)
	var st ImportState
	if err := env2.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != domain.ImportCompleted || st.Read != 100 || st.Failed != 3 || len(f2.ended) != 1 || f2.ended[0] != domain.ImportCompleted ||
		f2.chunks[0].From != 62 || f2.chunks[len(f2.chunks)-1].To != 102 {
		t.Fatalf("finished as %+v after chunks %+v (%v)", st, f2.chunks, f2.ended)
	}
}

func TestImportCancelStopsAfterTheCurrentChunk(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(ImportWorkflow, workflow.RegisterOptions{Name: ImportWorkflowName})
	StartImport.fake(env, func(_ context.Context, id string) (domain.ImportPlan, error) {
		return domain.ImportPlan{ImportID: id, Kind: domain.ImportMembers, RowsTotal: 1000, FirstLine: 2, LastLine: 1001}, nil
	})
	var chunks int
	LoadImportChunk.fake(env, func(_ context.Context, c domain.ImportChunk) (domain.ImportChunkResult, error) {
		chunks++
		time.Sleep(10 * time.Millisecond)
		return domain.ImportChunkResult{Next: c.To, ImportCounts: domain.ImportCounts{Read: c.To - c.From}}, nil
	})
	var ended []string
	FinishImport.fake(env, func(_ context.Context, _, status, _ string) error {
		ended = append(ended, status)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalImportCancel, nil) }, time.Millisecond)
	env.ExecuteWorkflow(ImportWorkflow, ImportInput{ImportID: "imp-2", BatchLines: 10, BatchesPerChunk: 1})
	var st ImportState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != domain.ImportCancelled || len(ended) != 1 || ended[0] != domain.ImportCancelled || chunks >= 100 ||
		st.Read != int64(chunks)*10 {
		t.Fatalf("cancelled as %+v after %d chunks (%v)", st, chunks, ended)
	}
}
