package workflows

import (
	"fmt"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// The member workflow forwards the purchases it accrued and the returns it applied to the member's challenges, from
// its engagement coroutine (member_engagement.go).

// findChallenges asks which of the member's challenges are open at t (in a local activity in runs that accrue
// locally: it runs in the same workflow task as the accrual).
func (m *member) findChallenges(ctx workflow.Context, summary string, t time.Time) ([]domain.ChallengeMatch, error) {
	if !m.local {
		return ChallengesForPurchase.Execute(withOptions(ctx, activityOptions.engagement, summary), m.in.MemberID, t).Get(ctx)
	}
	lctx := withLocalOptions(ctx, activityOptions.engagement, summary, 5*time.Minute)
	return ChallengesForPurchase.ExecuteLocal(lctx, m.in.MemberID, t).Get(ctx)
}

// forwardPurchases sends accrued purchases to the member's challenges: to enrolments that run, and to the
// auto-enrolling challenges they open (starting the enrolment's workflow, which outlives this one).
func (m *member) forwardPurchases(ctx workflow.Context, ps []domain.Purchase) {
	matches, err := m.findChallenges(ctx, fmt.Sprintf("Find the challenges %d purchases count for", len(ps)), workflow.Now(ctx))
	if err != nil {
		workflow.GetLogger(ctx).Warn("purchases not forwarded to challenges", "Error", err)
		return
	}
	var signals []workflow.Future
	for _, match := range matches {
		c := match.Challenge
		var counted []domain.Purchase
		for _, p := range ps {
			if c.OpenAt(p.OccurredAt) {
				counted = append(counted, p)
			}
		}
		if len(counted) == 0 {
			continue
		}
		id := ChallengeWorkflowID(c.ID, m.in.MemberID)
		if !match.Enrolled {
			enrolledAt := counted[0].OccurredAt.UTC()
			for _, p := range counted {
				if p.OccurredAt.Before(enrolledAt) {
					enrolledAt = p.OccurredAt.UTC()
				}
			}
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:            id,
				ParentClosePolicy:     enums.PARENT_CLOSE_POLICY_ABANDON,
				WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
				TypedSearchAttributes: temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(m.in.MemberID)),
				StaticSummary:         "Challenge " + c.ID + " for member " + m.in.MemberID,
			})
			child := workflow.ExecuteChildWorkflow(cctx, ChallengeWorkflowName, ChallengeInput{Challenge: c, MemberID: m.in.MemberID, EnrolledAt: enrolledAt})
			if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
				// Most often enrolled meanwhile (joined, or an earlier batch): the signals below reach it.
				workflow.GetLogger(ctx).Info("challenge enrolment not started", "ChallengeID", c.ID, "Error", err)
			}
		}
		for _, p := range counted {
			signals = append(signals, workflow.SignalExternalWorkflow(ctx, id, "", SignalChallengePurchase, domain.ChallengePurchaseOf(p)))
		}
	}
	for _, f := range signals {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Info("purchase not delivered to a challenge (ended)", "Error", err)
		}
	}
}

// forwardReturn sends a return to the member's running enrolments, which undo what the purchase contributed.
func (m *member) forwardReturn(ctx workflow.Context, r domain.Return) {
	matches, err := m.findChallenges(ctx, "Find the challenges return "+r.ReturnID+" affects", workflow.Now(ctx))
	if err != nil {
		workflow.GetLogger(ctx).Warn("return not forwarded to challenges", "Error", err)
		return
	}
	var signals []workflow.Future
	for _, match := range matches {
		if match.Enrolled {
			signals = append(signals, workflow.SignalExternalWorkflow(ctx, ChallengeWorkflowID(match.Challenge.ID, m.in.MemberID), "", SignalChallengeReturn, r))
		}
	}
	for _, f := range signals {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Info("return not delivered to a challenge (ended)", "Error", err)
		}
	}
}
