package workflows

import (
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Points expiry contract: a daily Temporal Schedule starts ExpiryWorkflow; support can start one by hand
// (`perkflow expiry run --now`).
const (
	// ExpiryWorkflowName is the registered name of ExpiryWorkflow.
	ExpiryWorkflowName = "PointsExpiry"
	// ExpiryScheduleID is the daily schedule's id.
	ExpiryScheduleID = "points-expiry-daily"
	// ExpiryScheduledWorkflowID is the id prefix of the runs the schedule starts (Temporal appends the time).
	ExpiryScheduledWorkflowID = "expiry/scheduled"

	// DefaultExpiryChunk is how many lots one chunk takes: one transaction and one statement (store.ExpireLotsChunk).
	DefaultExpiryChunk = 20000
	// DefaultExpiryChunksPerActivity is how many chunks one activity call runs before the workflow records progress.
	DefaultExpiryChunksPerActivity = 10
	// DefaultExpiryPartitions is how many disjoint member sets (by ranges of the member id) are expired side by side,
	// one activity call each, each after its own cursor: a chunk is one statement in one Postgres backend, so one
	// partition uses one core.
	DefaultExpiryPartitions = 2
)

// Activities of the expiry run (see activity.go).
var (
	// RemindExpiringPoints reminds members of points expiring within the program's reminder days, once per lot.
	RemindExpiringPoints = newActivity[domain.RemindExpiringRequest, domain.ExpiryStats]("RemindExpiringPoints")
	// ExpireLots expires lots past their date in chunks, heartbeating its cursor.
	ExpireLots = newActivity[domain.ExpireLotsRequest, domain.ExpireLotsResult]("ExpireLots")
)

// ExpiryManualWorkflowID names a run started by hand at t.
func ExpiryManualWorkflowID(t time.Time) string {
	return "expiry/manual/" + t.UTC().Format("20060102T150405Z")
}

// ExpiryInput starts (or continues) an expiry run. Everything is optional.
type ExpiryInput struct {
	// Now is the run's reference time (lots with expires_at <= Now expire); zero means the workflow's start time.
	Now       time.Time `json:"now,omitempty"`
	ChunkSize int       `json:"chunk_size,omitempty"`
	// ChunksPerActivity bounds one ExpireLots call.
	ChunksPerActivity int `json:"chunks_per_activity,omitempty"`
	// Carried across Continue-As-New.
	Cursor   domain.ExpiryCursor `json:"cursor"`
	Stats    domain.ExpiryStats  `json:"stats"`
	Reminded bool                `json:"reminded,omitempty"`
	// MaxHistoryEvents overrides DefaultMaxHistoryEvents (tests).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
	// Partitions is how many member sets are expired side by side (DefaultExpiryPartitions when 0; runs recorded
	// before GetVersion "expiry-partitions" take one, with Cursor). Carried across Continue-As-New with each one's
	// cursor and whether it is done; a partition without a cursor starts from Cursor.
	Partitions       int                   `json:"partitions,omitempty"`
	PartitionCursors []domain.ExpiryCursor `json:"partition_cursors,omitempty"`
	PartitionsDone   []bool                `json:"partitions_done,omitempty"`
}

// Phases of an expiry run.
const (
	ExpiryPhaseReminding = "reminding"
	ExpiryPhaseExpiring  = "expiring"
	ExpiryPhaseDone      = "done"
)

// ExpiryState is the answer to the state query, and the run's result.
type ExpiryState struct {
	Phase  string              `json:"phase"`
	Now    time.Time           `json:"now"`
	Cursor domain.ExpiryCursor `json:"cursor"`
	Stats  domain.ExpiryStats  `json:"stats"`
	// PartitionCursors and PartitionsDone are where each member set stands (runs with partitions).
	PartitionCursors []domain.ExpiryCursor `json:"partition_cursors,omitempty"`
	PartitionsDone   []bool                `json:"partitions_done,omitempty"`
}
