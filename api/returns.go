package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// POST /v1/transactions/{transactionId}/return: a return, signalled to the member's workflow like a purchase.

// returnRequest is the body of POST /v1/transactions/{transactionId}/return.
type returnRequest struct {
	ReturnID string              `json:"return_id"`
	Items    []domain.ReturnItem `json:"items"`
	Amount   *domain.Money       `json:"amount"`
}

// returnPurchase accepts a return of some lines (or an amount) of an accrued purchase. Like an accrual, it is
// signalled to the member's workflow — durable once accepted, applied after the purchases queued before it — and
// the request waits within its budget: 201 with the points reversed, or 202.
func (s *Server) returnPurchase(w http.ResponseWriter, r *http.Request) {
	txID := chi.URLParam(r, "transactionId")
	var req returnRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	ret := domain.Return{ReturnID: req.ReturnID, TransactionID: txID, Items: req.Items}
	if req.Amount != nil {
		ret.Amount = &req.Amount.Amount
	}
	if err := ret.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	ctx := r.Context()
	fp := store.ReturnFingerprint(ret)
	location := "/v1/transactions/" + url.PathEscape(txID)
	if s.replayRecorded(w, r, ret.ReturnID, fp, location, s.cfg.Store.GetReturn, s.cfg.Store.ForgetRefusedReturn) {
		return
	}
	t, err := s.cfg.Store.GetTransaction(ctx, txID)
	if domain.CodeOf(err) == domain.ErrNotFound || !domain.ValidIdentifier(txID) {
		fail(w, r, problem(domain.ErrNotFound, "no accrued purchase "+txID+"; a return must follow its accrual"))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if t.Status != store.TxAccrued {
		fail(w, r, problem(domain.ErrUnprocessable, "the purchase was rejected and earned nothing to return"))
		return
	}
	if req.Amount != nil {
		if err := domain.RequireCurrency(*req.Amount, t.Total.Currency, "amount", "the purchase was paid in "+t.Total.Currency); err != nil {
			fail(w, r, err)
			return
		}
	}
	ret.MemberID = t.MemberID
	// A return names no member: its purchase's member is capped like the member of an accrual.
	if err := holdMember(r, t.MemberID); err != nil {
		fail(w, r, err)
		return
	}
	sub := s.commits.subscribe(domain.ReturnKey(ret.ReturnID))
	defer sub.close()
	if err := s.signalMember(ctx, t.MemberID, workflows.SignalReturn, ret, s.tierReviewAt(ctx, t.MemberID)); err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	rec, ok := await(ctx, sub, s.waitBudget(r), func(ctx context.Context) (store.OperationRecord, error) {
		return s.cfg.Store.GetReturn(ctx, ret.ReturnID)
	}, nil)
	if ok {
		answerOperation(w, r, rec, fp, false, location)
		return
	}
	accepted(w, location, map[string]string{"id": ret.ReturnID, "transaction_id": txID, "member_id": t.MemberID, "status": "accepted"})
}
