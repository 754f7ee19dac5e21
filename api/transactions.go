package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// GET /v1/transactions/{transactionId}: a purchase and what it earned, or pending while its accrual is queued.

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

// purchaseQueued reports whether the member's workflow holds the purchase in its queue, in memory or parked. When no worker can answer
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
	if slices.Contains(st.PendingTransactionIDs, txID) {
		return true
	}
	if st.ParkedPurchases == 0 {
		return false
	}
	// Queued behind a backlog the workflow parked in Postgres (docs/architecture.md, "Member").
	parked, err := s.cfg.Store.PurchaseParked(ctx, memberID, txID)
	return err == nil && parked
}
