package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.temporal.io/api/serviceerror"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Coupon codes at the till: GET /v1/coupons/{code} says where a code stands, POST /v1/coupons/{code}/use uses it,
// once (docs/api.md, "Rewards"). A code is found by its keyed hash (the store never holds it in clear), and is never
// logged: the request log has the route's pattern, not its path. A caller who asks for codes that do not exist
// spends a bucket of misses (Limits.CouponMisses); once it is empty, every coupon request of theirs answers 429
// until it refills, so that nobody can try codes until one exists.

// useCouponRequest is the body of POST /v1/coupons/{code}/use.
type useCouponRequest struct {
	UseID   string `json:"use_id"`
	StoreID string `json:"store_id"`
}

// couponAttempt refuses a caller out of misses (429) and counts a miss when err is one: it returns err as the
// answer to give.
func (s *Server) couponAttempt(r *http.Request, err error) error {
	if codeOf(err) == domain.ErrNotFound {
		p, _ := principalFrom(r.Context())
		s.guards.couponMisses.take(p.Subject(), time.Now())
	}
	return err
}

// couponsBlocked answers 429 when the caller has no misses left; true when it did.
func (s *Server) couponsBlocked(w http.ResponseWriter, r *http.Request) bool {
	p, _ := principalFrom(r.Context())
	blocked, wait := s.guards.couponMisses.exhausted(p.Subject(), time.Now())
	if blocked {
		s.log.InfoContext(r.Context(), "coupon lookups rate limited", "actor", p.Actor())
		fail(w, r, tooManyRequests(wait, "too many unknown coupon codes from this caller; retry after the number of seconds in Retry-After"))
	}
	return blocked
}

// getCoupon says where a code stands: valid, used, cancelled or expired, with its offer and expiry.
func (s *Server) getCoupon(w http.ResponseWriter, r *http.Request) {
	if s.couponsBlocked(w, r) {
		return
	}
	c, err := s.cfg.Store.LookupCoupon(r.Context(), chi.URLParam(r, "code"), s.now())
	if err != nil {
		fail(w, r, s.couponAttempt(r, err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, c)
}

// useCoupon uses a code at a till, exactly once, and answers it used. The same use_id again answers the same use
// (Idempotent-Replayed); a code used by another use → 409, cancelled or expired → 410. The redemption's saga is told
// of the use (its state shows it, and it stops waiting for a cancel that can no longer be).
func (s *Server) useCoupon(w http.ResponseWriter, r *http.Request) {
	if s.couponsBlocked(w, r) {
		return
	}
	var req useCouponRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	use := domain.CouponUseRequest(req)
	if err := use.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	c, replayed, err := s.cfg.Store.UseCoupon(r.Context(), chi.URLParam(r, "code"), use, p.Actor(), s.now())
	if err != nil {
		fail(w, r, s.couponAttempt(r, err))
		return
	}
	if !replayed {
		s.tellSagaOfUse(r.Context(), c)
	} else {
		w.Header().Set(IdempotentReplayedHeader, "true")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, c)
}

// tellSagaOfUse signals the redemption's workflow of a committed use, best effort: the use is recorded whatever
// happens here, a saga that has ended has nobody to tell, and one that misses the signal still finds the use when
// it tries to void the code.
func (s *Server) tellSagaOfUse(ctx context.Context, c domain.Coupon) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.cfg.Temporal.SignalWorkflow(ctx, workflows.RedemptionWorkflowID(c.RedemptionID), "", workflows.SignalRedemptionCouponUsed, *c.Use)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		s.log.WarnContext(ctx, "could not tell the redemption saga of its coupon code's use", "redemption_id", c.RedemptionID, "error", err)
	}
}
