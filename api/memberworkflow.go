package api

import (
	"context"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/privacy"
	"github.com/perkflow/perkflow/workflows"
)

// The member's workflow (member/{memberId}) is where every change to a member happens; these are the API's ways in.

// memberWorkflowRunning reports whether the member's workflow is running. Where the member row does not exist yet, it
// means a registration accepted with 202 and not processed so far.
func (s *Server) memberWorkflowRunning(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d, err := s.cfg.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(id), "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// memberStart is how the API starts a member's workflow when a request finds none running: its start options and
// its input (reg set only for a registration). tierReviewAt is the member's stored tier review date: a workflow
// started for a member who has a tier (an imported member's first purchase, say) arms its review from it.
func (s *Server) memberStart(memberID string, reg *privacy.SealedRegistration, tierReviewAt *time.Time) (client.StartWorkflowOptions, workflows.MemberInput) {
	return workflows.MemberStartOptions(memberID, s.cfg.TaskQueue),
		workflows.MemberInput{MemberID: memberID, Registration: reg, MaxHistoryEvents: s.cfg.MemberHistoryLimit, TierReviewAt: tierReviewAt}
}

// signalMember signals the member's workflow, starting it if need be (an imported member's workflow starts so, on
// its first need: docs/imports.md): once Temporal accepts the signal, what it carries (a purchase, a return) is
// durable, even with no worker running. tierReviewAt is as for memberStart.
func (s *Server) signalMember(ctx context.Context, memberID, signal string, arg any, tierReviewAt *time.Time) error {
	opts, in := s.memberStart(memberID, nil, tierReviewAt)
	_, err := s.cfg.Temporal.SignalWithStartWorkflow(ctx, opts.ID, signal, arg, opts, workflows.MemberWorkflowName, in)
	return err
}

// signalAccrual sends an accepted purchase to its member's workflow: grouped with others arriving for the member
// (accrualSignals), or alone for workers of releases before SignalPurchases (Config.OnePurchasePerSignal).
func (s *Server) signalAccrual(ctx context.Context, p domain.Purchase, tierReviewAt *time.Time) error {
	if s.cfg.OnePurchasePerSignal {
		return s.signalMember(ctx, p.MemberID, workflows.SignalPurchase, p, tierReviewAt)
	}
	return s.accruals.signal(ctx, p, tierReviewAt)
}

// signalPurchases sends purchases to their member's workflow in one signal (accrualSignals decides which go
// together), starting it if need be.
func (s *Server) signalPurchases(ctx context.Context, memberID string, ps []domain.Purchase, tierReviewAt *time.Time) error {
	return s.signalMember(ctx, memberID, workflows.SignalPurchases, ps, tierReviewAt)
}

// tierReviewAt reads the member's stored tier review date, for a workflow a request may start (nil when none, or
// when it cannot be read: the workflow then arms no review until the tier next changes).
func (s *Server) tierReviewAt(ctx context.Context, memberID string) *time.Time {
	t, err := s.cfg.Store.GetMemberTier(ctx, memberID)
	if err != nil {
		return nil
	}
	return t.ReviewAt
}
