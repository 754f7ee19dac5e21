package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// EraseWorkflow erases a member's personal data (GDPR Art. 17): the store removes or overwrites every personal field
// in one transaction (EraseMember), then the member's workflow is told to drop what it holds and continue as new
// without it. Purchases already acknowledged go on accruing to the anonymous member; the ledger keeps its rows.
// Its input and result carry ids and counts only.
func EraseWorkflow(ctx workflow.Context, in domain.Erasure) (domain.ErasureReport, error) {
	if !domain.ValidMemberID(in.MemberID) {
		return domain.ErasureReport{}, temporal.NewNonRetryableApplicationError("member id "+in.MemberID+" is not a UUID", ErrTypeInvalid, nil)
	}
	actx := withOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// Retried until Postgres answers: an erasure asked for is never dropped.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: []string{string(domain.ErrNotFound)}},
	}, "Erase the member's personal data (requested by "+in.Actor+")")
	rep, err := EraseMember.Execute(actx, in).Get(ctx)
	if err != nil {
		return domain.ErasureReport{}, fmt.Errorf("erase member: %w", err)
	}
	// The member's workflow may have ended (or never run): there is then nothing it holds.
	if err := workflow.SignalExternalWorkflow(ctx, MemberWorkflowID(in.MemberID), "", SignalErased, nil).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Info("member workflow not signalled", "Error", err)
	}
	return rep, nil
}
