package workflows

import (
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
)

// Bulk import contract (docs/imports.md): POST /v1/imports starts ImportWorkflow on the imports task queue, so that
// a large import never slows live purchases; GET reads its state, POST …/cancel signals it.
const (
	// ImportWorkflowName is the registered name of ImportWorkflow.
	ImportWorkflowName = "Import"
	// SignalImportCancel asks an import to stop after the chunk it is loading.
	SignalImportCancel = "cancel"

	// DefaultImportBatchLines is how many lines one database transaction of an import loads.
	DefaultImportBatchLines = 2000
	// DefaultImportBatchesPerChunk is how many batches one activity call loads before the workflow records progress.
	DefaultImportBatchesPerChunk = 10
	// DefaultImportChunksPerRun bounds the chunks of one run before it continues as new.
	DefaultImportChunksPerRun = 200
)

// Activities of the import workflow (see activity.go).
var (
	// StartImport moves the import to running and returns what to load.
	StartImport = newActivity[string, domain.ImportPlan]("StartImport")
	// LoadImportChunk loads a stretch of lines batch by batch, heartbeating its progress, each batch once.
	LoadImportChunk = newActivity[domain.ImportChunk, domain.ImportChunkResult]("LoadImportChunk")
	// FinishImport records how the import ended (id, status, failure).
	FinishImport = newAction3[string, string, string]("FinishImport")
)

// ImportTaskQueue is the task queue of imports beside the main one: the worker polls both.
func ImportTaskQueue(taskQueue string) string { return taskQueue + "-imports" }

// ImportWorkflowID is the workflow id of an import.
func ImportWorkflowID(importID string) string { return "import/" + importID }

// ImportStartOptions are the options POST /v1/imports starts an import with.
func ImportStartOptions(importID, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ImportWorkflowID(importID),
		TaskQueue:                ImportTaskQueue(taskQueue),
		StaticSummary:            "Bulk import " + importID,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

// ImportInput starts (or continues) an import.
type ImportInput struct {
	ImportID string `json:"import_id"`
	// BatchLines, BatchesPerChunk and ChunksPerRun override the defaults (tests).
	BatchLines      int64 `json:"batch_lines,omitempty"`
	BatchesPerChunk int64 `json:"batches_per_chunk,omitempty"`
	ChunksPerRun    int   `json:"chunks_per_run,omitempty"`
	// Carried across Continue-As-New: the plan, the line reached and the counts so far.
	Plan      *domain.ImportPlan  `json:"plan,omitempty"`
	Next      int64               `json:"next,omitempty"`
	Counts    domain.ImportCounts `json:"counts"`
	StartedAt time.Time           `json:"started_at,omitempty"`
}

// ImportState is the answer to the import's state query, and its result.
type ImportState struct {
	ImportID string `json:"import_id"`
	Status   string `json:"status"`
	domain.ImportCounts
	RowsTotal int64     `json:"rows_total"`
	Next      int64     `json:"next_line"`
	StartedAt time.Time `json:"started_at"`
	Cancel    bool      `json:"cancel_requested,omitempty"`
}
