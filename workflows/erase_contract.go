package workflows

import (
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Erase workflow contract: one per member erased, erase/{memberID}.
const (
	// EraseWorkflowName is the registered name of EraseWorkflow.
	EraseWorkflowName = "EraseMember"
)

// Activities of the erase workflow.
var (
	// EraseMember removes or overwrites every personal field perkflow stores of the member, in one transaction, and
	// revokes their tokens; the ledger keeps its rows, anonymous. Erasing an erased member again changes nothing.
	EraseMember = newActivity[domain.Erasure, domain.ErasureReport]("EraseMember")
)

// EraseWorkflowID is the workflow id of a member's erasure.
func EraseWorkflowID(memberID string) string { return "erase/" + memberID }

// EraseStartOptions are the options of an erasure: a second erase while one runs joins it; one after it has
// finished runs again (and finds nothing left to erase).
func EraseStartOptions(memberID, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       EraseWorkflowID(memberID),
		TaskQueue:                taskQueue,
		TypedSearchAttributes:    temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(memberID)),
		StaticSummary:            "Erase the personal data of member " + memberID,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}
