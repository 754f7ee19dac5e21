package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// RedemptionWorkflow is the saga of one claim: hold the points, reserve a unit of stock, charge the cash part
// (waiting for 3-D Secure when the card asks for it), issue the coupon code, commit the points and tell the member.
// Any failure — or a cancel, by signal within the offer's cancel window or by cancelling the workflow — gives back
// everything taken, in reverse order, on a disconnected context so that it survives cancellation, each step retried
// until it succeeds: refund the payment, release the stock, release the points. A completed redemption stays open
// (and cancellable) until its cancel window closes.
func RedemptionWorkflow(ctx workflow.Context, in RedemptionInput) (RedemptionState, error) {
	c := in.Claim
	if c.RedemptionID == "" || c.MemberID == "" || c.OfferID == "" || c.Points < 0 || (c.Points == 0 && c.Cash == nil) {
		return RedemptionState{}, temporal.NewNonRetryableApplicationError("invalid redemption claim", ErrTypeInvalid, nil)
	}
	if in.PaymentWait <= 0 {
		in.PaymentWait = DefaultRedemptionPaymentWait
	}
	r := &redemptionImpl{in: in, state: RedemptionState{
		RedemptionID: c.RedemptionID, MemberID: c.MemberID, OfferID: c.OfferID, Status: domain.RedemptionPending, Held: []string{},
	}}
	if err := r.setup(ctx); err != nil {
		return r.state, err
	}
	return r.run(ctx)
}

type redemptionImpl struct {
	in    RedemptionInput
	state RedemptionState
	// compensations are what to undo, in the order taken.
	compensations []compensation
	cancel        *CancelRequest
	payment       *PaymentEvent
	// sealedCoupon: the saga issues its code with IssueCoupon (GetVersion "coupons"), so the code must be voided
	// before anything is given back, and a used code stops the compensation (redemption_coupon.go).
	sealedCoupon bool
	// used is the code's use at a till, once signalled.
	used *domain.CouponUse
	// chargeLost: the charge failed without an answer that names its PaymentIntent, and may have taken the money.
	chargeLost bool
	// local: the forward steps run as local activities first (points-only claims, since change "local-steps";
	// redemption_local.go).
	local bool
}

type compensation struct {
	what string
	do   func(ctx workflow.Context) error
}

// errCancelled ends the forward path when a cancel was asked for.
var errCancelled = errors.New("cancelled")

func (r *redemptionImpl) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryRedemptionState, func() (RedemptionState, error) { return r.state, nil }); err != nil {
		return err
	}
	cancelCh := workflow.GetSignalChannel(ctx, SignalRedemptionCancel)
	paymentCh := workflow.GetSignalChannel(ctx, SignalRedemptionPayment)
	usedCh := workflow.GetSignalChannel(ctx, SignalRedemptionCouponUsed)
	workflow.Go(ctx, func(gctx workflow.Context) {
		for {
			sel := workflow.NewSelector(gctx)
			sel.AddReceive(cancelCh, func(ch workflow.ReceiveChannel, _ bool) {
				var req CancelRequest
				ch.Receive(gctx, &req)
				// Outside the window a cancel is ignored (the API refuses it before it gets here).
				if r.cancel == nil && !workflow.Now(gctx).After(r.in.Claim.CancelUntil) {
					r.cancel = &req
				}
			})
			sel.AddReceive(paymentCh, func(ch workflow.ReceiveChannel, _ bool) {
				var ev PaymentEvent
				ch.Receive(gctx, &ev)
				if ev.PaymentIntentID != "" && ev.PaymentIntentID == r.state.PaymentIntentID {
					r.payment = &ev
				}
			})
			sel.AddReceive(usedCh, func(ch workflow.ReceiveChannel, _ bool) {
				var u domain.CouponUse
				ch.Receive(gctx, &u)
				r.couponUsed(u)
			})
			sel.Select(gctx)
		}
	})
	return nil
}

func (r *redemptionImpl) setStatus(ctx workflow.Context, s domain.RedemptionStatus) {
	r.state.Status = s
	// Support searches by status; a failure to index is not a reason to stop the saga.
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrRedemptionStatus.ValueSet(string(s))); err != nil {
		workflow.GetLogger(ctx).Warn("cannot index redemption status", "error", err)
	}
}

// stepped is the answer of a forward step that returned err: a cancel asked for meanwhile ends the forward path.
func (r *redemptionImpl) stepped(err error) error {
	if err == nil && r.cancel != nil {
		return errCancelled
	}
	return err
}

func (r *redemptionImpl) run(ctx workflow.Context) (RedemptionState, error) {
	c := r.in.Claim
	r.local = c.Cash == nil && workflow.GetVersion(ctx, localStepsChange, workflow.DefaultVersion, 1) == 1
	err := r.stepped(r.claimStep(ctx, activityOptions.redemptionStep, "Record the claim of "+c.Title, OpenRedemption))
	if err == nil && c.Points > 0 {
		r.push("points", fmt.Sprintf("Release the %d points held", c.Points), func(dctx workflow.Context) error {
			_, err := ReleasePoints.Execute(dctx, c.RedemptionID).Get(dctx)
			return err
		})
		err = r.stepped(r.claimStep(ctx, activityOptions.redemptionStep, fmt.Sprintf("Hold %d points of member %s", c.Points, c.MemberID), HoldPoints))
	}
	if err == nil {
		r.push("stock", "Give the reserved unit of "+c.Title+" back to stock", func(dctx workflow.Context) error {
			return ReleaseStock.Execute(dctx, c.RedemptionID).Get(dctx)
		})
		err = r.stepped(r.claimStep(ctx, activityOptions.redemptionStep, "Reserve one unit of "+c.Title, ReserveStock))
	}
	if err == nil {
		r.setStatus(ctx, domain.RedemptionReserved)
		if c.Cash != nil && c.Cash.Amount > 0 {
			err = r.pay(ctx)
		}
	}
	if err == nil {
		err = r.fulfil(ctx)
	}
	if err == nil {
		err = r.stepped(r.claimStep(ctx, activityOptions.redemptionStep, "Spend the held points and complete the redemption", CommitRedemption))
	}
	if err == nil {
		r.setStatus(ctx, domain.RedemptionCompleted)
		r.notify(ctx, domain.TemplateRedemptionCompleted, r.completedMessage())
		// The member may still change their mind within the cancel window, until the code is used.
		if wait := c.CancelUntil.Sub(workflow.Now(ctx)); wait > 0 {
			if _, werr := workflow.AwaitWithTimeout(ctx, wait, func() bool { return r.cancel != nil || r.used != nil }); werr != nil && !temporal.IsCanceledError(werr) {
				return r.state, werr
			}
		}
		if r.cancel == nil && ctx.Err() == nil {
			return r.state, nil
		}
		err = errCancelled
	}
	return r.compensate(ctx, err)
}

// pay charges the cash part and, for 3-D Secure, waits for the member.
func (r *redemptionImpl) pay(ctx workflow.Context) error {
	c := r.in.Claim
	// The refund is registered before the charge: a charge whose answer was lost may still have taken the money.
	r.push("payment", fmt.Sprintf("Refund %s to the member's card", c.Cash), func(dctx workflow.Context) error {
		if r.state.PaymentIntentID == "" {
			// The charge never answered: since change "find-lost-charge", its PaymentIntent is looked for in Stripe by
			// the redemption's id (it may have taken the money); before, nothing was refunded. A charge Stripe
			// refused (a decline) took nothing.
			if !r.chargeLost || workflow.GetVersion(dctx, findLostChargeChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
				return nil
			}
			id, err := FindLostPayment.Execute(dctx, c).Get(dctx)
			if err != nil || id == "" {
				return err
			}
			r.state.PaymentIntentID = id
		}
		_, err := RefundPayment.Execute(dctx, c.RedemptionID, r.state.PaymentIntentID).Get(dctx)
		return err
	})
	p, err := ChargePayment.Execute(withOptions(ctx, activityOptions.payment, fmt.Sprintf("Charge %s by card for %s", c.Cash, c.Title)), c).Get(ctx)
	if err != nil && p.PaymentIntentID == "" {
		r.chargeLost = chargeMayHaveTaken(err)
	}
	err = r.stepped(err)
	if p.PaymentIntentID != "" {
		r.state.PaymentIntentID = p.PaymentIntentID
	}
	if err != nil {
		return err
	}
	if p.Status == "succeeded" {
		r.setStatus(ctx, domain.RedemptionCharged)
		return nil
	}
	r.setStatus(ctx, domain.RedemptionAwaitingPayment)
	deadline := workflow.Now(ctx).Add(r.in.PaymentWait)
	for {
		left := deadline.Sub(workflow.Now(ctx))
		ok := false
		if left > 0 {
			var werr error
			ok, werr = workflow.AwaitWithTimeout(ctx, left, func() bool { return r.payment != nil || r.cancel != nil })
			if werr != nil {
				return werr
			}
		}
		if r.cancel != nil {
			return errCancelled
		}
		if !ok {
			return temporal.NewNonRetryableApplicationError("The payment was not completed in time.", ErrTypePaymentTimeout, nil)
		}
		ev := *r.payment
		r.payment = nil
		p, err = ConfirmPayment.Execute(withOptions(ctx, activityOptions.payment, "Check the authenticated payment with Stripe"), c.RedemptionID, ev.PaymentIntentID).Get(ctx)
		if err := r.stepped(err); err != nil {
			return err
		}
		switch p.Status {
		case "succeeded":
			r.setStatus(ctx, domain.RedemptionCharged)
			return nil
		case "requires_payment_method", "canceled":
			return temporal.NewNonRetryableApplicationError("The card payment was not authenticated.", ErrTypePaymentDeclinedWF, nil)
		}
		// Still requires_action or processing: keep waiting for the next event.
	}
}

// Application error types the saga raises itself.
const (
	ErrTypePaymentTimeout    = "payment_timeout"
	ErrTypePaymentDeclinedWF = "payment_declined"
)

// push records what to give back if the saga fails from here on: undo runs on the disconnected context, with the
// compensation options and summary.
func (r *redemptionImpl) push(what, summary string, undo func(dctx workflow.Context) error) {
	r.compensations = append(r.compensations, compensation{what: what, do: func(dctx workflow.Context) error {
		return undo(withOptions(dctx, activityOptions.compensation, summary))
	}})
	r.state.Held = append(r.state.Held, what)
}

// compensate undoes everything taken, newest first, and ends the redemption failed (with a reason a member can
// read) or cancelled.
func (r *redemptionImpl) compensate(ctx workflow.Context, cause error) (RedemptionState, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if r.voidsCoupon(dctx) && !r.voidCoupon(dctx) {
		return r.state, nil // the code was used: the redemption stands
	}
	status, reason := domain.RedemptionFailed, reasonOf(cause)
	// cancelledRun: the workflow itself was cancelled (support, in the Temporal UI), not asked to by a cancel signal.
	cancelledRun := false
	if errors.Is(cause, errCancelled) || temporal.IsCanceledError(cause) || ctx.Err() != nil {
		status, reason = domain.RedemptionCancelled, ""
		if r.cancel != nil {
			r.state.CancelledBy = r.cancel.Actor
		} else if ctx.Err() != nil {
			// Since change "canceled-run", such a run ends Canceled (after compensating), as the UI asked; runs from
			// before ended Completed with the state cancelled.
			cancelledRun = workflow.GetVersion(dctx, canceledRunChange, workflow.DefaultVersion, 1) == 1
		}
	}
	for i := len(r.compensations) - 1; i >= 0; i-- {
		comp := r.compensations[i]
		for {
			err := comp.do(dctx)
			if err == nil {
				break
			}
			// Only an activity that keeps failing past its retries lands here: wait and try again.
			workflow.GetLogger(dctx).Error("compensation failed; retrying", "step", comp.what, "error", err)
			_ = workflow.Sleep(dctx, time.Minute)
		}
		r.state.Held = r.state.Held[:i]
	}
	r.compensations = nil
	r.state.FailureReason = reason
	fctx := withOptions(dctx, activityOptions.redemptionEnd, fmt.Sprintf("Mark the redemption %s", status))
	if err := FinishRedemption.Execute(fctx, r.in.Claim.RedemptionID, status, reason).Get(dctx); err != nil {
		return r.state, err
	}
	r.setStatus(dctx, status)
	tmpl := domain.TemplateRedemptionFailed
	if status == domain.RedemptionCancelled {
		tmpl = domain.TemplateRedemptionCancelled
	}
	r.notify(dctx, tmpl, map[string]string{"offer": r.in.Claim.Title, "reason": reason})
	if cancelledRun {
		return r.state, temporal.NewCanceledError(r.state)
	}
	return r.state, nil
}

// chargeMayHaveTaken says whether a charge that failed with err may still have taken the money: anything but a
// refusal from Stripe (a decline, a rejected request) or payments not being configured — a timeout, retries run
// out on outages, a cancellation — may have reached Stripe with the answer lost.
func chargeMayHaveTaken(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		switch appErr.Type() {
		case ErrTypePaymentDeclinedWF, "payment_rejected", "payments_unavailable":
			return false
		}
	}
	return true
}

// findLostChargeChange: a charge whose answer was lost is found in Stripe and refunded.
const findLostChargeChange = "find-lost-charge"

// canceledRunChange: a redemption whose workflow is cancelled ends Canceled, not Completed with the state cancelled.
const canceledRunChange = "canceled-run"

// notify tells the member, best effort: a message that cannot be sent does not undo the redemption.
func (r *redemptionImpl) notify(ctx workflow.Context, template string, data map[string]string) {
	notify(ctx, activityOptions.redemptionNotification, domain.Notification{Key: domain.RedemptionNotificationKey(template, r.in.Claim.RedemptionID),
		MemberID: r.in.Claim.MemberID, Template: template, Data: data}, "Tell the member: "+template)
}

// reasonOf turns a saga failure into words a member can read.
func reasonOf(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case string(domain.ErrUnprocessable), "payment_declined", ErrTypePaymentTimeout, "payments_unavailable":
			return appErr.Message()
		case "fulfilment_failed":
			return "The reward could not be issued; any payment has been refunded and your points are back."
		}
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "The payment service did not answer in time; nothing was charged and your points are back."
	}
	return "The reward could not be issued; nothing was charged and your points are back."
}
