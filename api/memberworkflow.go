package api

import (
	"context"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

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
// its input (reg set only for a registration).
func (s *Server) memberStart(memberID string, reg *privacy.SealedRegistration) (client.StartWorkflowOptions, workflows.MemberInput) {
	return workflows.MemberStartOptions(memberID, s.cfg.TaskQueue),
		workflows.MemberInput{MemberID: memberID, Registration: reg, MaxHistoryEvents: s.cfg.MemberHistoryLimit}
}

// signalMember signals the member's workflow, starting it if need be: once Temporal accepts the signal, what it
// carries (a purchase, a return) is durable, even with no worker running.
func (s *Server) signalMember(ctx context.Context, memberID, signal string, arg any) error {
	opts, in := s.memberStart(memberID, nil)
	_, err := s.cfg.Temporal.SignalWithStartWorkflow(ctx, opts.ID, signal, arg, opts, workflows.MemberWorkflowName, in)
	return err
}
