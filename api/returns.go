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

// returnPurchase accepts a return of some lines (or an amount) of a purchase. Like an accrual, it is signalled to
// the member's workflow — durable once accepted, applied after the purchases queued before it — and the request
// waits within its budget: 201 with the points reversed, or 202. A purchase whose report was accepted (202) but is
// not accrued yet is known by its accrual claim, which names its member: the return queues behind it in that
// member's workflow. A transaction id never accepted answers 404.
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
	purchase, err := s.returnedPurchase(ctx, txID)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !purchase.accrued {
		// GET of a purchase not accrued yet needs its member.
		location += "?member_id=" + url.QueryEscape(purchase.memberID)
	}
	if req.Amount != nil {
		if err := domain.RequireCurrency(*req.Amount, purchase.currency, "amount", "the purchase was paid in "+purchase.currency); err != nil {
			fail(w, r, err)
			return
		}
	}
	ret.MemberID = purchase.memberID
	// A return names no member: its purchase's member is capped like the member of an accrual.
	if err := holdMember(r, ret.MemberID); err != nil {
		fail(w, r, err)
		return
	}
	sub := s.commits.subscribe(domain.ReturnKey(ret.ReturnID))
	defer sub.close()
	if err := s.signalMember(ctx, ret.MemberID, workflows.SignalReturn, ret, s.tierReviewAt(ctx, ret.MemberID)); err != nil {
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
	accepted(w, location, map[string]string{"id": ret.ReturnID, "transaction_id": txID, "member_id": ret.MemberID, "status": "accepted"})
}

// returnedPurchaseInfo is what a return must know of its purchase: whose it is, its currency, and whether it is
// accrued already (or only accepted, queued in the member's workflow).
type returnedPurchaseInfo struct {
	memberID, currency string
	accrued            bool
}

// returnedPurchase finds the purchase a return names: accrued (a rejected one has nothing to return → 422), or
// accepted and not accrued yet (its accrual claim names the member), or unknown → 404.
func (s *Server) returnedPurchase(ctx context.Context, txID string) (returnedPurchaseInfo, error) {
	notFound := problem(domain.ErrNotFound, "no purchase "+txID+" was reported; a return must follow its accrual")
	if !domain.ValidIdentifier(txID) {
		return returnedPurchaseInfo{}, notFound
	}
	t, err := s.cfg.Store.GetTransaction(ctx, txID)
	switch {
	case err == nil && t.Status != store.TxAccrued:
		return returnedPurchaseInfo{}, problem(domain.ErrUnprocessable, "the purchase was rejected and earned nothing to return")
	case err == nil:
		return returnedPurchaseInfo{memberID: t.MemberID, currency: t.Total.Currency, accrued: true}, nil
	case domain.CodeOf(err) != domain.ErrNotFound:
		return returnedPurchaseInfo{}, err
	}
	// Accepted (202) and still queued in the member's workflow, where the return queues behind it. Should the
	// purchase be rejected when it is processed, the return is refused then (422 on its retry).
	a, err := s.cfg.Store.GetAcceptedPurchase(ctx, txID)
	if domain.CodeOf(err) == domain.ErrNotFound {
		return returnedPurchaseInfo{}, notFound
	}
	if err != nil {
		return returnedPurchaseInfo{}, err
	}
	return returnedPurchaseInfo{memberID: a.MemberID, currency: a.Currency}, nil
}
