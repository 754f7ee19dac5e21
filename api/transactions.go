package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// accrualView answers an accrual: what the purchase earned and the member's balance.
type accrualView struct {
	TransactionID string          `json:"transaction_id"`
	MemberID      string          `json:"member_id"`
	Status        string          `json:"status"`
	PointsEarned  int64           `json:"points_earned"`
	PendingUntil  *time.Time      `json:"pending_until,omitempty"`
	Balance       *domain.Balance `json:"balance,omitempty"`
}

// accrue accepts a purchase. The purchase is signalled to the member's workflow (started if need be); once Temporal
// accepts the signal the purchase is durable, even with no worker running. The request then waits, within its
// budget, for the accrual to be committed: 201 with the points, or 202 with where to look later.
func (s *Server) accrue(w http.ResponseWriter, r *http.Request) {
	var p domain.Purchase
	if !decodeJSON(w, r, &p) {
		return
	}
	if err := p.Validate(s.now()); err != nil {
		fail(w, r, err)
		return
	}
	ctx := r.Context()
	// A transaction id seen before answers with its first result, and never earns again.
	if t, err := s.cfg.Store.GetTransaction(ctx, p.TransactionID); err == nil {
		s.answerAccrual(w, r, t, p.Fingerprint(), true)
		return
	} else if domain.CodeOf(err) != domain.ErrNotFound {
		fail(w, r, err)
		return
	}
	if err := s.checkMemberCanEarn(ctx, p.MemberID); err != nil {
		fail(w, r, err)
		return
	}
	pv, err := s.cfg.Store.ProgramAt(ctx, p.OccurredAt)
	if err != nil {
		fail(w, r, err)
		return
	}
	if pv.Program.Currency != p.Total.Currency {
		fail(w, r, problem(domain.ErrUnprocessable, "the program earns on "+pv.Program.Currency+" purchases",
			domain.FieldError{Field: "total.currency", Message: "must be " + pv.Program.Currency}))
		return
	}

	sub := s.commits.subscribe(domain.AccrualKey(p.TransactionID))
	defer sub.close()
	opts := workflows.MemberStartOptions(p.MemberID, s.cfg.TaskQueue)
	in := workflows.MemberInput{MemberID: p.MemberID, MaxHistoryEvents: s.cfg.MemberHistoryLimit}
	if _, err := s.cfg.Temporal.SignalWithStartWorkflow(ctx, opts.ID, workflows.SignalPurchase, p, opts, workflows.MemberWorkflowName, in); err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	// Durable from here on.
	t, ok := await(ctx, sub, s.waitBudget(r), func(ctx context.Context) (store.Transaction, error) {
		return s.cfg.Store.GetTransaction(ctx, p.TransactionID)
	}, nil)
	if ok {
		s.answerAccrual(w, r, t, p.Fingerprint(), false)
		return
	}
	loc := "/v1/transactions/" + url.PathEscape(p.TransactionID) + "?member_id=" + url.QueryEscape(p.MemberID)
	accepted(w, loc, accrualView{TransactionID: p.TransactionID, MemberID: p.MemberID, Status: "accepted"})
}

// checkMemberCanEarn refuses purchases for members that do not exist. A member whose registration was accepted but
// not yet processed can earn: the purchase queues behind the registration in the same workflow.
func (s *Server) checkMemberCanEarn(ctx context.Context, id string) error {
	m, err := s.cfg.Store.GetMember(ctx, id)
	switch {
	case domain.CodeOf(err) == domain.ErrNotFound:
		if s.memberWorkflowRunning(ctx, id) {
			return nil
		}
		return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
	case err != nil:
		return err
	case m.Status != domain.MemberActive:
		return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
	}
	return nil
}

// answerAccrual writes the recorded result of a purchase: 201, marked Idempotent-Replayed when the transaction id had
// been processed before this request. A report whose content differs from the recorded one reuses the transaction
// id: 409, nothing earned.
func (s *Server) answerAccrual(w http.ResponseWriter, r *http.Request, t store.Transaction, fingerprint string, replayed bool) {
	if t.Fingerprint != fingerprint {
		fail(w, r, problem(domain.ErrConflict, "transaction_id "+t.TransactionID+" was already reported with different content; it earns once"))
		return
	}
	if t.Status == store.TxRejected {
		fail(w, r, problem(domain.ErrUnprocessable, t.RejectReason))
		return
	}
	bal, err := s.cfg.Store.GetBalance(r.Context(), t.MemberID)
	if err != nil {
		fail(w, r, err)
		return
	}
	pu := t.PendingUntil
	w.Header().Set("Location", "/v1/transactions/"+url.PathEscape(t.TransactionID))
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, accrualView{
		TransactionID: t.TransactionID, MemberID: t.MemberID, Status: t.Status, PointsEarned: t.PointsEarned,
		PendingUntil: &pu, Balance: &bal,
	})
}

// getTransaction shows a purchase and what it earned. With ?member_id= (the Location of a 202), a purchase accepted
// but not accrued yet shows as pending.
func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "transactionId")
	if !domain.ValidIdentifier(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such transaction"))
		return
	}
	t, err := s.cfg.Store.GetTransaction(r.Context(), id)
	if domain.CodeOf(err) == domain.ErrNotFound {
		if mid := r.URL.Query().Get("member_id"); domain.ValidMemberID(mid) && s.purchaseQueued(r.Context(), mid, id) {
			writeJSON(w, http.StatusOK, accrualView{TransactionID: id, MemberID: mid, Status: "pending"})
			return
		}
		fail(w, r, problem(domain.ErrNotFound, "no such transaction"))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// purchaseQueued reports whether the member's workflow holds the purchase in its queue. When no worker can answer
// the query, a running workflow is taken to hold it: the 202 that pointed here promised it was accepted.
func (s *Server) purchaseQueued(ctx context.Context, memberID, txID string) bool {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	v, err := s.cfg.Temporal.QueryWorkflow(qctx, workflows.MemberWorkflowID(memberID), "", workflows.QueryState)
	if err != nil {
		return s.memberWorkflowRunning(ctx, memberID)
	}
	var st workflows.MemberState
	if err := v.Get(&st); err != nil {
		return false
	}
	return slices.Contains(st.PendingTransactionIDs, txID)
}
