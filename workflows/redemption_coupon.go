package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// The redemption saga's coupon code. Sagas that reach fulfilment from GetVersion change "coupons" on issue their code
// with IssueCoupon, which seals it in the store and keeps it out of the history; they void it before giving anything
// back, and a code used at a till meanwhile stops the compensation: the redemption stands. Sagas recorded before
// call FulfilRedemption and keep the code in their state, as they did; those that compensate from change
// "coupon-void" on void their code first too.

// couponsChange is the GetVersion change id of sealed coupon codes.
const couponsChange = "coupons"

// couponVoidChange is the GetVersion change id of voiding the code of a saga recorded before couponsChange (its code
// in its state) when it compensates: sagas of that kind still running when codes became usable at tills.
const couponVoidChange = "coupon-void"

// cancelRefusedUsed is why a cancel was refused once the code was used.
const cancelRefusedUsed = "the coupon code was used at a till"

// fulfil issues the coupon code and marks the redemption fulfilled.
func (r *redemptionImpl) fulfil(ctx workflow.Context) error {
	c := r.in.Claim
	opts := withOptions(ctx, activityOptions.fulfilment, "Issue the coupon code for "+c.Title)
	if workflow.GetVersion(ctx, couponsChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		code, err := FulfilRedemption.Execute(opts, c).Get(ctx)
		err = r.stepped(err)
		if err == nil || errors.Is(err, errCancelled) {
			r.state.Code = code
		}
		if err == nil {
			r.setStatus(ctx, domain.RedemptionFulfilled)
		}
		return err
	}
	// From here on a code may be recorded (even when the step reports a failure), so any compensation voids it.
	r.sealedCoupon = true
	var issued domain.CouponIssue
	err := r.stepped(r.step(ctx, activityOptions.fulfilment, "Issue the coupon code for "+c.Title,
		func(sctx workflow.Context) (err error) {
			issued, err = IssueCoupon.Execute(sctx, c).Get(ctx)
			return err
		},
		func(lctx workflow.Context) (err error) {
			issued, err = IssueCoupon.ExecuteLocal(lctx, c).Get(ctx)
			return err
		}))
	if err == nil || errors.Is(err, errCancelled) {
		r.state.Coupon = &domain.RedemptionCoupon{Status: domain.CouponValid, IssuedAt: issued.IssuedAt, ExpiresAt: issued.ExpiresAt}
	}
	if err == nil {
		r.setStatus(ctx, domain.RedemptionFulfilled)
	}
	return err
}

// completedMessage is the data of the message that gives the member their code: the code itself for sagas that hold
// it, else the redemption whose sealed code the message is composed with.
func (r *redemptionImpl) completedMessage() map[string]string {
	data := map[string]string{"offer": r.in.Claim.Title}
	if r.sealedCoupon {
		data[domain.NotificationCouponOf] = r.in.Claim.RedemptionID
	} else {
		data["code"] = r.state.Code
	}
	return data
}

// couponUsed records the code's use at a till, as signalled by the API once the store committed it (or found by
// voidCoupon). Only a completed redemption's code can be used; a saga holding its code in its state (recorded before
// sealed codes) gets a coupon state of its own then.
func (r *redemptionImpl) couponUsed(u domain.CouponUse) {
	if r.used != nil || r.state.Status != domain.RedemptionCompleted {
		return
	}
	r.used = &u
	if r.state.Coupon == nil {
		r.state.Coupon = &domain.RedemptionCoupon{}
	}
	r.state.Coupon.Status, r.state.Coupon.Use = domain.CouponUsed, &u
}

// voidsCoupon reports whether the compensation starts by voiding the code: always for sealed codes; for a code held
// in the state (a saga recorded before codes were sealed) from couponVoidChange on, asked only when there is one,
// so that histories compensated before the change replay as they ran.
func (r *redemptionImpl) voidsCoupon(ctx workflow.Context) bool {
	if r.sealedCoupon {
		return true
	}
	return r.state.Code != "" && workflow.GetVersion(ctx, couponVoidChange, workflow.DefaultVersion, 1) == 1
}

// voidCoupon voids the code before anything is given back, retried until the store answers. It reports false when
// the code was used: the cancel is refused and the redemption stands, with the use in its state.
func (r *redemptionImpl) voidCoupon(dctx workflow.Context) bool {
	vctx := withOptions(dctx, activityOptions.compensation, "Void the coupon code")
	for {
		v, err := VoidCoupon.Execute(vctx, r.in.Claim.RedemptionID).Get(dctx)
		if err == nil {
			if v.Used {
				r.couponUsed(*v.Use)
				r.cancel = nil
				r.state.CancelRefused = cancelRefusedUsed
				return false
			}
			if r.state.Coupon != nil {
				r.state.Coupon.Status = domain.CouponCancelled
			}
			return true
		}
		workflow.GetLogger(dctx).Error("voiding the coupon code failed; retrying", "error", err)
		_ = workflow.Sleep(dctx, time.Minute)
	}
}
