package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// POST /v1/transactions/accrue: a purchase reported by a till or a shop (docs/api.md, "Transactions").

// accrualView answers an accrual: what the purchase earned and the member's balance.
type accrualView struct {
	TransactionID string          `json:"transaction_id"`
	MemberID      string          `json:"member_id"`
	Status        string          `json:"status"`
	PointsEarned  int64           `json:"points_earned"`
	PendingUntil  *time.Time      `json:"pending_until,omitempty"`
	Balance       *domain.Balance `json:"balance,omitempty"`
}

// accrue accepts a purchase. What it must know first — whether the transaction id was seen, the member, the program
// the purchase earns under — it reads in one round trip. The purchase is then signalled to the member's workflow
// (started if need be); once Temporal accepts the signal the purchase is durable, even with no worker running. The
// request then waits, within its budget, for the accrual to be committed: 201 with the points, or 202 with where to
// look later.
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
	chk, err := s.cfg.Store.CheckAccrual(ctx, p)
	if err != nil {
		fail(w, r, err)
		return
	}
	// A transaction id seen before answers with its first result, and never earns again.
	if t := chk.Recorded; t != nil {
		s.answerAccrual(w, r, *t, p.Fingerprint(), true, func() (domain.Balance, error) {
			if t.FirstBalance != nil {
				return *t.FirstBalance, nil
			}
			return s.cfg.Store.GetBalance(ctx, t.MemberID)
		})
		return
	}
	if err := s.memberCanEarn(ctx, p.MemberID, chk.Member, chk.MemberErr); err != nil {
		fail(w, r, err)
		return
	}
	// The body's member is known to exist now: only now may the request occupy one of their write slots.
	if err := holdMember(r, p.MemberID); err != nil {
		fail(w, r, err)
		return
	}
	if chk.ProgramErr != nil {
		fail(w, r, chk.ProgramErr)
		return
	}
	// Checked here too so that a purchase the program cannot price is refused with nothing written.
	if err := chk.Program.Program.EarnsOn(p.Total); err != nil {
		fail(w, r, err)
		return
	}

	// Concurrent duplicates all get here: the first to claim the id answers as the first report, the others as
	// replays.
	first, err := s.cfg.Store.ClaimAccrual(ctx, p)
	if err != nil {
		fail(w, r, err)
		return
	}
	sub := s.commits.subscribe(domain.AccrualKey(p.TransactionID))
	defer sub.close()
	if err := s.signalAccrual(ctx, p, chk.Tier.ReviewAt); err != nil {
		if first {
			// Its retry is the first report again. Released on a context of its own: the request's may be done.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			if rerr := s.cfg.Store.ReleaseAccrualClaim(rctx, p.TransactionID); rerr != nil {
				s.log.WarnContext(ctx, "accrual claim not released", "error", rerr)
			}
			cancel()
		}
		fail(w, r, temporalRefused(err))
		return
	}
	// Durable from here on.
	a, ok := await(ctx, sub, s.waitBudget(r), func(ctx context.Context) (store.Accrual, error) {
		return s.cfg.Store.GetAccrual(ctx, p.TransactionID, p.MemberID)
	}, nil)
	if ok {
		s.answerAccrual(w, r, a.Transaction, p.Fingerprint(), !first, func() (domain.Balance, error) {
			if a.Transaction.FirstBalance != nil {
				return *a.Transaction.FirstBalance, nil
			}
			return a.Balance, a.BalanceErr
		})
		return
	}
	loc := "/v1/transactions/" + url.PathEscape(p.TransactionID) + "?member_id=" + url.QueryEscape(p.MemberID)
	accepted(w, loc, accrualView{TransactionID: p.TransactionID, MemberID: p.MemberID, Status: "accepted"})
}

// memberCanEarn refuses purchases for members that do not exist, given what reading the member returned. A member
// whose registration was accepted but not yet processed can earn: the purchase queues behind the registration in the
// same workflow.
func (s *Server) memberCanEarn(ctx context.Context, id string, m domain.Member, readErr error) error {
	switch {
	case domain.CodeOf(readErr) == domain.ErrNotFound:
		if s.memberWorkflowRunning(ctx, id) {
			return nil
		}
		return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
	case readErr != nil:
		return readErr
	case m.Status != domain.MemberActive:
		return domain.Errorf(domain.ErrNotFound, "member %s not found", id)
	}
	return nil
}

// checkMemberCanEarn is memberCanEarn after reading the member.
func (s *Server) checkMemberCanEarn(ctx context.Context, id string) error {
	m, err := s.cfg.Store.GetMember(ctx, id)
	return s.memberCanEarn(ctx, id, m, err)
}

// answerAccrual writes the recorded result of a purchase: 201 with the member's balance (which balance reads only
// then), marked Idempotent-Replayed when the transaction id had been processed before this request. A report whose
// content differs from the recorded one reuses the transaction id: 409, nothing earned. A purchase the program
// refused: 422 with the reason recorded.
func (s *Server) answerAccrual(w http.ResponseWriter, r *http.Request, t store.Transaction, fingerprint string, replayed bool,
	balance func() (domain.Balance, error)) {
	if t.Fingerprint != fingerprint {
		fail(w, r, problem(domain.ErrConflict, "transaction_id "+t.TransactionID+" was already reported with different content; it earns once"))
		return
	}
	if t.Status == store.TxRejected {
		fail(w, r, problem(domain.ErrUnprocessable, t.RejectReason))
		return
	}
	bal, err := balance()
	if err != nil {
		fail(w, r, err)
		return
	}
	pu := t.PendingUntil
	w.Header().Set("Location", "/v1/transactions/"+url.PathEscape(t.TransactionID))
	if replayed {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	writeJSON(w, http.StatusCreated, accrualView{
		TransactionID: t.TransactionID, MemberID: t.MemberID, Status: t.Status, PointsEarned: t.PointsEarned,
		PendingUntil: &pu, Balance: &bal,
	})
}
