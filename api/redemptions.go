package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Redemptions: claiming an offer starts the redemption saga; GET /v1/redemptions/{id} and its cancel follow it
// (docs/api.md, "Offers and redemptions").

// claimRequest is the (optional) body of POST /v1/offers/{offerId}/claim.
type claimRequest struct {
	// PaymentMethod is a Stripe PaymentMethod id (pm_…) for the cash part.
	PaymentMethod string `json:"payment_method"`
}

// redemptionView is a redemption as the API shows it.
type redemptionView struct {
	domain.Redemption
}

// redemptionView is the redemption as shown now: a cancelled or failed redemption's code is void and not shown, and
// a valid code past its expiry (by the API's clock) reads expired.
func (s *Server) redemptionView(r domain.Redemption) redemptionView {
	if r.Status.Final() {
		r.Code = ""
	}
	if c := r.Coupon; c != nil && c.Status == domain.CouponValid && c.ExpiresAt != nil && !s.now().Before(*c.ExpiresAt) {
		expired := *c
		expired.Status = domain.CouponExpired
		r.Coupon = &expired
	}
	return redemptionView{r}
}

// claimOffer starts the redemption saga for the calling member and waits, within the budget, for it to complete,
// fail, or ask for 3-D Secure: 201 with the redemption, else 202 with its Location. The same Idempotency-Key
// (per member) names the same redemption, so a retried claim never claims twice.
func (s *Server) claimOffer(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	var req claimRequest
	if r.ContentLength != 0 && !decodeJSON(w, r, &req) {
		return
	}
	offer, err := s.cfg.Store.GetOffer(r.Context(), chi.URLParam(r, "offerId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	id := uuid.NewString()
	key := r.Header.Get("Idempotency-Key")
	if key != "" {
		if id, err = keyedRedemptionID(s.cfg.IDSecret, p.MemberID, offer.ID, key); err != nil {
			fail(w, r, err)
			return
		}
		// A retried claim answers with the redemption it started, whatever the member's points are now.
		before, err := s.claimedBefore(r.Context(), id, p.MemberID, offer.ID, key)
		if err == nil {
			sub := s.commits.subscribe(domain.RedemptionEventKey(before.ID))
			defer sub.close()
			w.Header().Set("Idempotent-Replayed", "true")
			sub.wake() // it may have settled already
			s.answerRedemption(w, r, sub, before.ID, http.StatusCreated, domain.RedemptionStatus.Settled)
			return
		} else if codeOf(err) != domain.ErrNotFound {
			fail(w, r, err)
			return
		}
	}
	sub := s.commits.subscribe(domain.RedemptionEventKey(id))
	defer sub.close()
	now := s.now()
	if offer.NeedsPayment() {
		if !s.cfg.Rewards.PaymentsEnabled {
			fail(w, r, problem(domain.ErrUnprocessable, "this offer has a cash price and card payments are not configured (STRIPE_SECRET_KEY)"))
			return
		}
		if !strings.HasPrefix(req.PaymentMethod, "pm_") || len(req.PaymentMethod) > 255 {
			fail(w, r, problem(domain.ErrInvalid, "this offer has a cash price: send a Stripe payment_method (pm_…)",
				domain.FieldError{Field: "payment_method", Message: "is required for an offer with a cash price"}))
			return
		}
	} else if req.PaymentMethod != "" {
		fail(w, r, problem(domain.ErrInvalid, "this offer has no cash price", domain.FieldError{Field: "payment_method", Message: "must be empty for a points-only offer"}))
		return
	}
	tier, err := s.memberTierCode(r.Context(), p.MemberID)
	if err != nil {
		fail(w, r, err)
		return
	}
	bal, err := s.cfg.Store.GetBalance(r.Context(), p.MemberID)
	if err != nil {
		fail(w, r, err)
		return
	}
	pv, err := s.cfg.Store.ProgramAt(r.Context(), now)
	if err != nil {
		fail(w, r, err)
		return
	}
	switch {
	case !offer.OpenAt(now):
		fail(w, r, problem(domain.ErrUnprocessable, "this offer is not open now"))
		return
	case !offer.OpenToTier(pv.Program, tier):
		fail(w, r, problem(domain.ErrUnprocessable, "this offer is not open to your tier"))
		return
	case !offer.InStock():
		fail(w, r, problem(domain.ErrUnprocessable, "this offer is out of stock"))
		return
	case bal.Available < offer.PointsCost:
		fail(w, r, problem(domain.ErrUnprocessable, "you do not have enough points available for this offer"))
		return
	}
	claim := domain.RedemptionClaim{RedemptionID: id, OfferID: offer.ID, MemberID: p.MemberID, Title: offer.Title,
		Points: offer.PointsCost, Cash: offer.CashPrice, PaymentMethod: req.PaymentMethod,
		CancelUntil: now.Add(time.Duration(offer.CancelWindowMinutes) * time.Minute).UTC(), ClaimedAt: now.UTC()}
	if offer.CodeValidDays != nil {
		claim.CodeValidDays = *offer.CodeValidDays
	}
	opts := workflows.RedemptionStartOptions(claim, s.cfg.TaskQueue)
	opts.WorkflowIDConflictPolicy = enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	opts.WorkflowIDReusePolicy = enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	_, err = s.cfg.Temporal.ExecuteWorkflow(r.Context(), opts, workflows.RedemptionWorkflowName,
		workflows.RedemptionInput{Claim: claim, PaymentWait: s.cfg.Rewards.PaymentWait})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		fail(w, r, temporalRefused(err))
		return
	}
	s.answerRedemption(w, r, sub, id, http.StatusCreated, domain.RedemptionStatus.Settled)
}

// answerRedemption waits, within the budget, for the redemption to reach a status done accepts, and answers status
// with it, or 202 with its Location.
func (s *Server) answerRedemption(w http.ResponseWriter, r *http.Request, sub *subscription, id string, status int,
	done func(domain.RedemptionStatus) bool) {
	location := "/v1/redemptions/" + id
	red, ok := await(r.Context(), sub, s.waitBudget(r), func(ctx context.Context) (domain.Redemption, error) {
		return s.cfg.Store.GetRedemption(ctx, id)
	}, func(red domain.Redemption) bool { return done(red.Status) })
	if !ok {
		st := domain.RedemptionPending
		if red.ID != "" {
			st = red.Status
		}
		accepted(w, location, map[string]string{"redemption_id": id, "status": string(st)})
		return
	}
	w.Header().Set("Location", location)
	writeJSON(w, status, s.redemptionView(red))
}

// readRedemption reads the redemption the request names.
func (s *Server) readRedemption(r *http.Request) (domain.Redemption, error) {
	return s.cfg.Store.GetRedemption(r.Context(), chi.URLParam(r, "redemptionId"))
}

// getRedemption shows a redemption; its access rule (allowOwner) has kept other members out.
func (s *Server) getRedemption(w http.ResponseWriter, r *http.Request) {
	red, err := owned(r, s.readRedemption)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.redemptionView(red))
}

// cancelRedemption asks the saga to cancel and compensate, within the offer's cancel window: 200 with the cancelled
// redemption, or 202 while the compensation runs. Ended already → 409; window closed → 422.
func (s *Server) cancelRedemption(w http.ResponseWriter, r *http.Request) {
	if !noBody(w, r) {
		return
	}
	red, err := owned(r, s.readRedemption)
	if err != nil {
		fail(w, r, err)
		return
	}
	if red.Status.Final() {
		fail(w, r, problem(domain.ErrConflict, "this redemption has already ended ("+string(red.Status)+")"))
		return
	}
	if codeUsed(red) {
		fail(w, r, errCodeUsed)
		return
	}
	if s.now().After(red.CancelUntil) {
		fail(w, r, problem(domain.ErrUnprocessable, "the cancel window of this redemption closed at "+red.CancelUntil.Format(time.RFC3339)))
		return
	}
	p, _ := principalFrom(r.Context())
	sub := s.commits.subscribe(domain.RedemptionEventKey(red.ID))
	defer sub.close()
	err = s.cfg.Temporal.SignalWorkflow(r.Context(), workflows.RedemptionWorkflowID(red.ID), "", workflows.SignalRedemptionCancel,
		workflows.CancelRequest{Actor: p.Actor()})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		fail(w, r, problem(domain.ErrUnprocessable, "the cancel window of this redemption has closed"))
		return
	}
	if err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	// The saga refuses the cancel if the code was used meanwhile (the store's row lock decides): that too ends the
	// wait, and answers 409.
	done, ok := await(r.Context(), sub, s.waitBudget(r), func(ctx context.Context) (domain.Redemption, error) {
		return s.cfg.Store.GetRedemption(ctx, red.ID)
	}, func(red domain.Redemption) bool { return red.Status.Final() || codeUsed(red) })
	switch {
	case !ok:
		if done.ID == "" {
			done = red
		}
		accepted(w, "/v1/redemptions/"+red.ID, map[string]string{"redemption_id": red.ID, "status": string(done.Status)})
	case !done.Status.Final():
		fail(w, r, errCodeUsed)
	default:
		w.Header().Set("Location", "/v1/redemptions/"+red.ID)
		writeJSON(w, http.StatusOK, s.redemptionView(done))
	}
}

// errCodeUsed refuses the cancel of a redemption whose coupon code was used at a till.
var errCodeUsed = problem(domain.ErrConflict, "this redemption's coupon code was used at a till; it can no longer be cancelled")

// codeUsed reports whether the redemption's coupon code was used.
func codeUsed(red domain.Redemption) bool { return red.Coupon != nil && red.Coupon.Use != nil }
