package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// Member operations run as Updates of the member's workflow: till redemptions (POST /v1/transactions/redeem) and
// manual adjustments (POST /v1/members/{memberId}/adjustments); and how a recorded operation is answered.

// operationView answers a return, till redemption or adjustment.
type operationView struct {
	ID            string         `json:"id"`
	TransactionID string         `json:"transaction_id,omitempty"`
	MemberID      string         `json:"member_id"`
	Status        string         `json:"status"`
	Points        int64          `json:"points"`
	NotRecovered  int64          `json:"points_not_recovered,omitempty"`
	Balance       domain.Balance `json:"balance"`
}

// answerOperation writes a recorded operation: 201 when applied (Idempotent-Replayed when it was recorded before this
// request), 422 with the reason when rejected, 409 when the id was first used with different content.
func answerOperation(w http.ResponseWriter, r *http.Request, rec store.OperationRecord, fingerprint string, replayed bool, location string) {
	if rec.Fingerprint != fingerprint {
		fail(w, r, problem(domain.ErrConflict, rec.Outcome.ID+" was already used with different content; it applies once"))
		return
	}
	if rec.Outcome.Status == store.OpRejected {
		fail(w, r, problem(domain.ErrUnprocessable, rec.Outcome.Reason))
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	writeJSON(w, http.StatusCreated, operationView{
		ID: rec.Outcome.ID, TransactionID: rec.TransactionID, MemberID: rec.MemberID, Status: rec.Outcome.Status,
		Points: rec.Outcome.Points, NotRecovered: rec.Outcome.NotRecovered, Balance: rec.Outcome.Balance,
	})
}

// replayRecorded answers an operation whose id was recorded before this request, and reports whether it did. A
// refusal is not an answer to replay: it is forgotten, so that the request goes on and is judged again.
func (s *Server) replayRecorded(w http.ResponseWriter, r *http.Request, id, fingerprint, location string,
	read func(context.Context, string) (store.OperationRecord, error), forget func(context.Context, string) error) bool {
	ctx := r.Context()
	rec, err := read(ctx, id)
	switch {
	case domain.CodeOf(err) == domain.ErrNotFound:
		return false
	case err != nil:
		fail(w, r, err)
		return true
	case rec.Outcome.Status == store.OpRejected:
		if err := forget(ctx, id); err != nil {
			fail(w, r, err)
			return true
		}
		return false
	}
	answerOperation(w, r, rec, fingerprint, true, location)
	return true
}

// redeemRequest is the body of POST /v1/transactions/redeem.
type redeemRequest struct {
	RedemptionID string `json:"redemption_id"`
	MemberID     string `json:"member_id"`
	Points       int64  `json:"points"`
	StoreID      string `json:"store_id"`
}

// redeemAtTill spends points as payment at a till: 201 when spent, 422 when not enough points are available.
func (s *Server) redeemAtTill(w http.ResponseWriter, r *http.Request) {
	var req redeemRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	red := domain.TillRedemption(req)
	if err := red.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	s.memberOperation(w, r, red.MemberID, red.RedemptionID, store.TillRedemptionFingerprint(red), workflows.UpdateRedeem, red,
		s.cfg.Store.GetTillRedemption, s.cfg.Store.ForgetRefusedTillRedemption)
}

// adjustmentRequest is the body of POST /v1/members/{memberId}/adjustments.
type adjustmentRequest struct {
	AdjustmentID string `json:"adjustment_id"`
	Points       int64  `json:"points"`
	Reason       string `json:"reason"`
}

// adjustPoints applies a manual credit or debit, recorded with the caller as actor.
func (s *Server) adjustPoints(w http.ResponseWriter, r *http.Request) {
	memberID := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(memberID) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	var req adjustmentRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p, _ := principalFrom(r.Context())
	adj := domain.Adjustment{AdjustmentID: req.AdjustmentID, MemberID: memberID, Points: req.Points, Reason: req.Reason, Actor: p.Actor()}
	if err := adj.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	s.memberOperation(w, r, memberID, adj.AdjustmentID, store.AdjustmentFingerprint(adj), workflows.UpdateAdjust, adj,
		s.cfg.Store.GetAdjustment, s.cfg.Store.ForgetRefusedAdjustment)
}

// memberOperation runs an operation through an Update of the member's workflow (starting it if need be) and answers
// its outcome. An Update is not durable until a worker accepts it, so when none answers within the budget the
// answer is 503: nothing may have happened, and retrying with the same id is safe. An id refused before is free
// again (forget deletes the refusal): the request is judged anew.
func (s *Server) memberOperation(w http.ResponseWriter, r *http.Request, memberID, id, fingerprint, update string, arg any,
	read func(context.Context, string) (store.OperationRecord, error), forget func(context.Context, string) error) {
	ctx := r.Context()
	if done := s.replayRecorded(w, r, id, fingerprint, "", read, forget); done {
		return
	}
	if err := s.checkMemberCanEarn(ctx, memberID); err != nil {
		fail(w, r, err)
		return
	}
	if err := holdMember(r, memberID); err != nil {
		fail(w, r, err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, s.waitBudget(r))
	defer cancel()
	opts, in := s.memberStart(memberID, nil, s.tierReviewAt(ctx, memberID))
	start := s.cfg.Temporal.NewWithStartWorkflowOperation(opts, workflows.MemberWorkflowName, in)
	h, err := s.cfg.Temporal.UpdateWithStartWorkflow(wctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: update, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var out domain.OperationOutcome
	if err == nil {
		err = h.Get(wctx, &out)
	}
	if err != nil {
		// The update may still complete later; the record is the truth.
		if rec, rerr := read(ctx, id); rerr == nil {
			answerOperation(w, r, rec, fingerprint, false, "")
			return
		}
		var unavail *serviceerror.Unavailable
		if errors.Is(err, errBreakerOpen) || errors.As(err, &unavail) {
			fail(w, r, temporalUnavailable(false, err)) // not sent, or refused: nothing was accepted
			return
		}
		s.log.WarnContext(ctx, "member operation not completed", "update", update, "error", err)
		fail(w, r, unavailable(2*time.Second, "the operation could not be completed now; retry with the same id", nil))
		return
	}
	if out.Conflict {
		fail(w, r, problem(domain.ErrConflict, id+" was already used with different content; it applies once"))
		return
	}
	answerOperation(w, r, store.OperationRecord{Outcome: out, MemberID: memberID, Fingerprint: fingerprint}, fingerprint, out.Replayed, "")
}
