package workflows

import (
	"fmt"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// Imported members have no workflow until they need one (docs/imports.md). A purchase, a return, a redemption or an
// adjustment starts it, as for any member whose workflow is not running (SignalWithStart, UpdateWithStart). What no
// request starts — a birthday bonus, a tier review — is the daily wake-up's: it starts the workflow of every imported
// member whose birthday or tier review falls within the next days, and the workflow arms its timers as any does.
const (
	// WakeMembersWorkflowName is the registered name of WakeMembersWorkflow.
	WakeMembersWorkflowName = "WakeImportedMembers"
	// WakeMembersScheduleID is the daily schedule's id; WakeMembersScheduledWorkflowID the id of its runs.
	WakeMembersScheduleID          = "imported-members-wake-daily"
	WakeMembersScheduledWorkflowID = "members/wake"
	// DefaultWakeDays is how far ahead the wake-up looks: a day missed (an outage) is caught up the next.
	DefaultWakeDays = 7
	// DefaultWakeBatch is how many members one turn starts.
	DefaultWakeBatch = 200
)

// Activities of the wake-up.
var (
	// MembersToWake lists imported members whose workflow must start within a number of days (days, limit).
	MembersToWake = newActivity2[int, int, []domain.MemberToWake]("MembersToWake")
	// MarkMembersWoken records that the members' workflows run.
	MarkMembersWoken = newAction[[]string]("MarkMembersWoken")
)

// WakeMembersInput starts (or continues) a wake-up; everything is optional.
type WakeMembersInput struct {
	Days  int `json:"days,omitempty"`
	Batch int `json:"batch,omitempty"`
	// Woken is carried across Continue-As-New.
	Woken int `json:"woken,omitempty"`
	// MaxHistoryEvents overrides DefaultMaxHistoryEvents (tests).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
}

// WakeMembersWorkflow starts the workflows of imported members whose timers fall due soon, as children that outlive
// it (a member already running keeps its own), then marks them woken. It returns how many it woke.
func WakeMembersWorkflow(ctx workflow.Context, in WakeMembersInput) (int, error) {
	if in.Days <= 0 {
		in.Days = DefaultWakeDays
	}
	if in.Batch <= 0 {
		in.Batch = DefaultWakeBatch
	}
	queue := workflow.GetInfo(ctx).TaskQueueName
	for {
		due, err := MembersToWake.Execute(withOptions(ctx, importStepOptions, "List imported members to wake"), in.Days, in.Batch).Get(ctx)
		if err != nil {
			return in.Woken, fmt.Errorf("list members to wake: %w", err)
		}
		if len(due) == 0 {
			return in.Woken, nil
		}
		starts := make([]workflow.Future, len(due))
		ids := make([]string, len(due))
		for i, m := range due {
			ids[i] = m.MemberID
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:            MemberWorkflowID(m.MemberID),
				TaskQueue:             queue,
				ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
				TypedSearchAttributes: temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(m.MemberID)),
				StaticSummary:         "Loyalty member " + m.MemberID,
			})
			starts[i] = workflow.ExecuteChildWorkflow(cctx, MemberWorkflowName,
				MemberInput{MemberID: m.MemberID, TierReviewAt: m.TierReviewAt}).GetChildWorkflowExecution()
		}
		for i, f := range starts {
			if err := f.Get(ctx, nil); err != nil && !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
				return in.Woken, fmt.Errorf("start the workflow of member %s: %w", ids[i], err)
			}
		}
		if err := MarkMembersWoken.Execute(withOptions(ctx, importStepOptions, fmt.Sprintf("Mark %d members woken", len(ids))), ids).Get(ctx); err != nil {
			return in.Woken, fmt.Errorf("mark members woken: %w", err)
		}
		in.Woken += len(ids)
		if historyFull(ctx, in.MaxHistoryEvents) {
			return in.Woken, workflow.NewContinueAsNewError(ctx, WakeMembersWorkflowName, in)
		}
	}
}
