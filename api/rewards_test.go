package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
	sdktemporal "go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/internal/testkit/stripefake"
	"github.com/perkflow/perkflow/worker"
	"github.com/perkflow/perkflow/workflows"
)

const testWebhookSecret = "whsec_perkflow_test_secret"

// rewardsStack is an itest stack whose API and worker carry the rewards configuration: a Stripe base URL (the fake,
// stripe-mock, or none) and the webhook secret.
type rewardsStack struct {
	*itest.Stack
	t    *testing.T
	acts *activities.Activities
	w    sdkworker.Worker
}

type rewardsOptions struct {
	stripeBase  string
	paymentWait time.Duration
	issueCode   func(context.Context, domain.RedemptionClaim) (string, error)
	// now is the API's clock (default: the time); log receives the API's and worker's logs (default: discarded).
	now func() time.Time
	log *slog.Logger
}

func newRewardsStack(t *testing.T, o rewardsOptions) *rewardsStack {
	t.Helper()
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.log != nil {
		discard = o.log
	}
	srv := api.New(api.Config{
		Store: s.Store, Temporal: s.Temporal, TaskQueue: s.TaskQueue, WaitBudget: 15 * time.Second, JWT: s.JWT, Log: discard, Now: o.now,
		Rewards:  api.RewardsConfig{PaymentsEnabled: o.stripeBase != "", StripeWebhookSecret: testWebhookSecret, PaymentWait: o.paymentWait},
		IDSecret: s.IDSecret, Members: s.Members(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	old := s.API
	s.API = httptest.NewServer(itest.RecordRoutes(srv.Handler()))
	old.Close()
	rs := &rewardsStack{Stack: s, t: t, acts: &activities.Activities{Store: s.Store, Notifier: activities.LogNotifier{Log: discard}, Log: discard,
		Members: s.Members()}}
	if o.stripeBase != "" {
		rs.acts.Rewards.Payments = activities.NewStripePayments(activities.StripeConfig{SecretKey: "sk_test_perkflow", APIBase: o.stripeBase})
	}
	rs.acts.Rewards.IssueCode = o.issueCode
	rs.startWorker()
	t.Cleanup(func() {
		rs.stopWorker()
		cancel()
	})
	return rs
}

func (rs *rewardsStack) startWorker() {
	rs.t.Helper()
	w := worker.New(rs.Temporal, rs.TaskQueue, rs.acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		rs.t.Fatal(err)
	}
	rs.w = w
}

func (rs *rewardsStack) stopWorker() {
	if rs.w != nil {
		rs.w.Stop()
		rs.w = nil
	}
}

// memberWithPoints registers a member and credits them points by a support adjustment.
func (rs *rewardsStack) memberWithPoints(email string, points int64) (id, token string) {
	rs.t.Helper()
	id = register(rs.t, rs.Stack, email)
	if points > 0 {
		res := rs.Do("POST", "/v1/members/"+id+"/adjustments", rs.Keys["support"],
			map[string]any{"adjustment_id": "GIFT-" + id, "points": points, "reason": "test credit"}, "Prefer", "wait=20")
		mustStatus(rs.t, res, http.StatusCreated, "credit points")
	}
	return id, rs.MemberToken(id)
}

type offerOut struct {
	OfferID        string `json:"offer_id"`
	PointsCost     int64  `json:"points_cost"`
	StockRemaining *int64 `json:"stock_remaining"`
}

func (rs *rewardsStack) offer(body map[string]any) offerOut {
	rs.t.Helper()
	res := rs.Do("POST", "/v1/offers", rs.Keys["marketer"], body)
	mustStatus(rs.t, res, http.StatusCreated, "create offer")
	var o offerOut
	res.Decode(rs.t, &o)
	return o
}

type redemptionOut struct {
	RedemptionID  string `json:"redemption_id"`
	MemberID      string `json:"member_id"`
	Status        string `json:"status"`
	Code          string `json:"code"`
	ClientSecret  string `json:"client_secret"`
	FailureReason string `json:"failure_reason"`
}

// claimRaw claims an offer and returns the API's answer as it is.
func (rs *rewardsStack) claimRaw(token, offerID string, body any, headers ...string) (itest.Response, redemptionOut) {
	rs.t.Helper()
	res := rs.Do("POST", "/v1/offers/"+offerID+"/claim", token, body, headers...)
	var r redemptionOut
	if res.Status == http.StatusCreated || res.Status == http.StatusAccepted {
		res.Decode(rs.t, &r)
	}
	return res, r
}

// claim claims an offer and returns its outcome. On a loaded machine (go test -race beside other packages) the saga
// may outlast the wait budget: a 202 is then followed to the redemption's settled status, since what these tests
// check is the saga's outcome, not the budget.
func (rs *rewardsStack) claim(token, offerID string, body any, headers ...string) (itest.Response, redemptionOut) {
	rs.t.Helper()
	res, r := rs.claimRaw(token, offerID, body, headers...)
	if res.Status == http.StatusAccepted {
		eventually(rs.t, 2*time.Minute, "redemption "+r.RedemptionID+" settled", func() bool {
			got := rs.Do("GET", "/v1/redemptions/"+r.RedemptionID, rs.Keys["support"], nil)
			if got.Status != http.StatusOK {
				return false
			}
			got.Decode(rs.t, &r)
			switch r.Status {
			case "completed", "failed", "cancelled", "awaiting_payment":
				return true
			}
			return false
		})
		res.Status = http.StatusCreated
	}
	return res, r
}

func (rs *rewardsStack) redemption(id string) redemptionOut {
	rs.t.Helper()
	res := rs.Do("GET", "/v1/redemptions/"+id, rs.Keys["support"], nil)
	mustStatus(rs.t, res, http.StatusOK, "get redemption")
	var r redemptionOut
	res.Decode(rs.t, &r)
	return r
}

func (rs *rewardsStack) waitStatus(id, status string) redemptionOut {
	rs.t.Helper()
	var r redemptionOut
	eventually(rs.t, 2*time.Minute, "redemption "+status, func() bool {
		r = rs.redemption(id)
		return r.Status == status
	})
	return r
}

func (rs *rewardsStack) available(id string) int64 {
	rs.t.Helper()
	return getMember(rs.t, rs.Stack, id, rs.Keys["support"]).Balance.Available
}

func (rs *rewardsStack) stockLeft(offerID string) int64 {
	rs.t.Helper()
	var n int64
	if err := rs.Store.Pool().QueryRow(context.Background(), `SELECT stock_remaining FROM offers WHERE offer_id = $1`, offerID).Scan(&n); err != nil {
		rs.t.Fatal(err)
	}
	return n
}

// released checks that a redemption holds nothing any more: stock given back and the points hold released.
func (rs *rewardsStack) released(id string) {
	rs.t.Helper()
	res, err := rs.Store.GetRedemptionResources(context.Background(), id)
	if err != nil {
		rs.t.Fatal(err)
	}
	if res.StockReserved || (res.HoldStatus != "released" && res.HoldStatus != "") {
		rs.t.Fatalf("redemption %s still holds %+v", id, res)
	}
}

func cashOffer(stock int64) map[string]any {
	return map[string]any{"title": "Cinema ticket", "points_cost": 100, "cash_price": map[string]any{"amount": 500, "currency": "EUR"}, "stock": stock}
}

func TestRedemptionHappyPathAgainstStripeMock(t *testing.T) {
	base := stripefake.StartStripeMock(t)
	rs := newRewardsStack(t, rewardsOptions{stripeBase: base})
	id, tok := rs.memberWithPoints("mock@example.com", 300)
	o := rs.offer(cashOffer(5))

	res, r := rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_visa"})
	mustStatus(t, res, http.StatusCreated, "claim")
	if r.Status != "completed" || len(r.Code) != 19 || r.MemberID != id {
		t.Fatalf("claim answered %s", res.Body)
	}
	if res.Header.Get("Location") != "/v1/redemptions/"+r.RedemptionID {
		t.Fatalf("Location %q", res.Header.Get("Location"))
	}
	if got := rs.available(id); got != 200 {
		t.Fatalf("available %d after spending 100 of 300", got)
	}
	if left := rs.stockLeft(o.OfferID); left != 4 {
		t.Fatalf("stock left %d, want 4", left)
	}
	rs.LedgerInvariants()
}

func TestRedemptionPointsOnlyWithoutStripe(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	id, tok := rs.memberWithPoints("points@example.com", 150)
	_, otherTok := rs.memberWithPoints("other@example.com", 0)
	pointsOnly := rs.offer(map[string]any{"title": "Free coffee", "points_cost": 100})
	expensive := rs.offer(map[string]any{"title": "Weekend away", "points_cost": 1000})
	gold := rs.offer(map[string]any{"title": "Lounge", "points_cost": 10, "eligible_tiers": []string{"gold"}})
	cash := rs.offer(cashOffer(1))

	// The catalog a member sees: only what they can claim now (a cash offer not, without card payments).
	res := rs.Do("GET", "/v1/offers/available", tok, nil)
	mustStatus(t, res, http.StatusOK, "available offers")
	var page struct {
		Items []offerOut `json:"items"`
	}
	res.Decode(t, &page)
	seen := map[string]bool{}
	for _, o := range page.Items {
		seen[o.OfferID] = true
	}
	if !seen[pointsOnly.OfferID] || seen[cash.OfferID] || seen[expensive.OfferID] || seen[gold.OfferID] {
		t.Fatalf("available offers %s", res.Body)
	}

	// A cash offer without Stripe is refused, saying why.
	res, _ = rs.claim(tok, cash.OfferID, map[string]any{"payment_method": "pm_card_visa"})
	mustStatus(t, res, http.StatusUnprocessableEntity, "cash offer without Stripe")
	res, _ = rs.claim(tok, expensive.OfferID, nil)
	mustStatus(t, res, http.StatusUnprocessableEntity, "not enough points")
	res, _ = rs.claim(tok, gold.OfferID, nil)
	mustStatus(t, res, http.StatusUnprocessableEntity, "not my tier")

	res, r := rs.claim(tok, pointsOnly.OfferID, nil, "Idempotency-Key", "claim-1")
	mustStatus(t, res, http.StatusCreated, "claim")
	if r.Status != "completed" || r.Code == "" {
		t.Fatalf("claim: %s", res.Body)
	}
	// The same Idempotency-Key is the same redemption: nothing claimed twice.
	res, again := rs.claim(tok, pointsOnly.OfferID, nil, "Idempotency-Key", "claim-1")
	mustStatus(t, res, http.StatusCreated, "replayed claim")
	if again.RedemptionID != r.RedemptionID || rs.available(id) != 50 {
		t.Fatalf("replayed claim %s, available %d", res.Body, rs.available(id))
	}
	// A member sees their own redemption only.
	mustStatus(t, rs.Do("GET", "/v1/redemptions/"+r.RedemptionID, tok, nil), http.StatusOK, "own redemption")
	mustStatus(t, rs.Do("GET", "/v1/redemptions/"+r.RedemptionID, otherTok, nil), http.StatusNotFound, "another member's redemption")
	mustStatus(t, rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", otherTok, nil), http.StatusNotFound, "cancel another member's redemption")
	mustStatus(t, rs.Do("GET", "/v1/redemptions/not-a-uuid", tok, nil), http.StatusNotFound, "unknown redemption")
	rs.LedgerInvariants()
}

func TestRedemptionFailuresAgainstFakeStripe(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	fulfilFails := false
	var mu sync.Mutex
	rs := newRewardsStack(t, rewardsOptions{stripeBase: fake.URL, issueCode: func(context.Context, domain.RedemptionClaim) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if fulfilFails {
			return "", sdktemporal.NewNonRetryableApplicationError("the partner refused the voucher", activities.ErrTypeFulfilment, nil)
		}
		return fmt.Sprintf("CODE-%d", time.Now().UnixNano()), nil
	}})
	id, tok := rs.memberWithPoints("fails@example.com", 1000)
	o := rs.offer(cashOffer(10))

	t.Run("card declined", func(t *testing.T) {
		before, refunds := rs.available(id), fake.RefundCount()
		res, r := rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_chargeDeclined"})
		mustStatus(t, res, http.StatusCreated, "declined claim")
		if r.Status != "failed" || r.FailureReason != "Your card was declined." || r.Code != "" {
			t.Fatalf("declined claim: %s", res.Body)
		}
		if rs.available(id) != before || rs.stockLeft(o.OfferID) != 10 || fake.RefundCount() != refunds {
			t.Fatalf("after a decline: available %d (was %d), stock %d, refunds %d", rs.available(id), before, rs.stockLeft(o.OfferID), fake.RefundCount())
		}
		rs.released(r.RedemptionID)
	})

	t.Run("stripe outage then recovery", func(t *testing.T) {
		created := fake.Created()
		fake.FailNext(3)
		before := rs.available(id)
		res, r := rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_visa"}, "Prefer", "wait=30")
		mustStatus(t, res, http.StatusCreated, "claim through an outage")
		if r.Status != "completed" {
			t.Fatalf("claim through an outage: %s", res.Body)
		}
		if fake.Created()-created != 1 || rs.available(id) != before-100 || rs.stockLeft(o.OfferID) != 9 {
			t.Fatalf("charges %d, available %d, stock %d", fake.Created()-created, rs.available(id), rs.stockLeft(o.OfferID))
		}
	})

	t.Run("fulfilment fails after the charge", func(t *testing.T) {
		mu.Lock()
		fulfilFails = true
		mu.Unlock()
		defer func() { mu.Lock(); fulfilFails = false; mu.Unlock() }()
		before, refunds, stock := rs.available(id), fake.RefundCount(), rs.stockLeft(o.OfferID)
		res, r := rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_visa"}, "Prefer", "wait=30")
		mustStatus(t, res, http.StatusCreated, "claim whose fulfilment fails")
		if r.Status != "failed" || r.FailureReason == "" {
			t.Fatalf("fulfilment failure: %s", res.Body)
		}
		if fake.RefundCount() != refunds+1 || rs.available(id) != before || rs.stockLeft(o.OfferID) != stock {
			t.Fatalf("refunds %d (was %d), available %d (was %d), stock %d (was %d)", fake.RefundCount(), refunds, rs.available(id), before, rs.stockLeft(o.OfferID), stock)
		}
		rs.released(r.RedemptionID)
		rs.RecordHistory(workflows.RedemptionWorkflowID(r.RedemptionID), "", "redemption_fulfilment_failed_refunded")
		intents := fake.Intents()
		last := intents[len(intents)-1]
		if last.Status != "succeeded" || len(last.Refunds) != 1 {
			t.Fatalf("the charged payment %+v was not refunded exactly once", last)
		}
	})
	rs.LedgerInvariants()
}

func TestRedemptionSurvivesTheWorkerDyingMidCharge(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	rs := newRewardsStack(t, rewardsOptions{stripeBase: fake.URL})
	id, tok := rs.memberWithPoints("crash@example.com", 500)
	o := rs.offer(cashOffer(3))

	// Stripe takes the money, then the answer is slow: the worker dies before it arrives.
	fake.StallNext(1, 30*time.Second)
	res, r := rs.claimRaw(tok, o.OfferID, map[string]any{"payment_method": "pm_card_visa"}, "Prefer", "wait=0")
	mustStatus(t, res, http.StatusAccepted, "claim")
	eventually(t, 30*time.Second, "the charge reached Stripe", func() bool { return fake.Created() == 1 })
	rs.stopWorker()
	rs.startWorker()

	done := rs.waitStatus(r.RedemptionID, "completed")
	if done.Code == "" || fake.Created() != 1 || fake.RefundCount() != 0 {
		t.Fatalf("after the crash: %+v, %d payment intents, %d refunds", done, fake.Created(), fake.RefundCount())
	}
	if rs.available(id) != 400 || rs.stockLeft(o.OfferID) != 2 {
		t.Fatalf("available %d, stock %d", rs.available(id), rs.stockLeft(o.OfferID))
	}
	rs.LedgerInvariants()
}

func TestConcurrentClaimsNeverOversellOrOverspend(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	claimAll := func(tokens []string, offerID string) []redemptionOut {
		out := make([]redemptionOut, len(tokens))
		var wg sync.WaitGroup
		for i, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each claim has its own Idempotency-Key, as a member app's does, so that a 503 of a loaded Temporal is
				// sent again (itest's Do) and applies once.
				res, r := rs.claim(tok, offerID, nil, "Prefer", "wait=30", "Idempotency-Key", fmt.Sprintf("%s-claim-%d", offerID, i))
				// 422: refused up front because an earlier claim already holds the points or the stock.
				if res.Status != http.StatusCreated && res.Status != http.StatusUnprocessableEntity {
					t.Errorf("claim %d: %d %s", i, res.Status, res.Body)
				}
				out[i] = r
			}()
		}
		wg.Wait()
		return out
	}
	count := func(rs []redemptionOut, status string) int {
		n := 0
		for _, r := range rs {
			if r.Status == status {
				n++
			}
		}
		return n
	}

	t.Run("last unit of stock", func(t *testing.T) {
		o := rs.offer(map[string]any{"title": "Last one", "points_cost": 10, "stock": 1})
		var ids, tokens []string
		for i := range 10 {
			id, tok := rs.memberWithPoints(fmt.Sprintf("stock%d@example.com", i), 50)
			ids, tokens = append(ids, id), append(tokens, tok)
		}
		out := claimAll(tokens, o.OfferID)
		if count(out, "completed") != 1 || count(out, "pending") != 0 {
			t.Fatalf("claims on the last unit: %+v", out)
		}
		if left := rs.stockLeft(o.OfferID); left != 0 {
			t.Fatalf("stock left %d", left)
		}
		spent := int64(0)
		for _, id := range ids {
			spent += 50 - rs.available(id)
		}
		if spent != 10 {
			t.Fatalf("%d points spent in all, want 10", spent)
		}
	})

	t.Run("balance that covers one", func(t *testing.T) {
		o := rs.offer(map[string]any{"title": "Big prize", "points_cost": 100})
		id, tok := rs.memberWithPoints("balance@example.com", 150)
		tokens := make([]string, 10)
		for i := range tokens {
			tokens[i] = tok
		}
		out := claimAll(tokens, o.OfferID)
		// Some claims are refused up front (422) once the first holds the points; the rest fail in the saga.
		if count(out, "completed") != 1 {
			t.Fatalf("claims on one balance: %+v", out)
		}
		if got := rs.available(id); got != 50 {
			t.Fatalf("available %d, want 50", got)
		}
	})
	rs.LedgerInvariants()
}

func TestRedemptionCancelInsideAndOutsideTheWindow(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	rs := newRewardsStack(t, rewardsOptions{stripeBase: fake.URL})
	id, tok := rs.memberWithPoints("cancel@example.com", 300)

	inside := rs.offer(cashOffer(2))
	res, r := rs.claim(tok, inside.OfferID, map[string]any{"payment_method": "pm_card_visa"})
	mustStatus(t, res, http.StatusCreated, "claim")
	if r.Status != "completed" || rs.available(id) != 200 {
		t.Fatalf("claim: %s", res.Body)
	}
	res = rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", tok, nil)
	mustStatus(t, res, http.StatusOK, "cancel within the window")
	var c redemptionOut
	res.Decode(t, &c)
	if c.Status != "cancelled" || c.Code != "" {
		t.Fatalf("cancelled: %s", res.Body)
	}
	if rs.available(id) != 300 || rs.stockLeft(inside.OfferID) != 2 || fake.RefundCount() != 1 {
		t.Fatalf("after cancel: available %d, stock %d, refunds %d", rs.available(id), rs.stockLeft(inside.OfferID), fake.RefundCount())
	}
	rs.released(r.RedemptionID)
	mustStatus(t, rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", tok, nil), http.StatusConflict, "cancel twice")
	rs.RecordHistory(workflows.RedemptionWorkflowID(r.RedemptionID), "", "redemption_cash_cancelled")

	outside := rs.offer(map[string]any{"title": "No take-backs", "points_cost": 100, "cancel_window_minutes": 0})
	res, r = rs.claim(tok, outside.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	res = rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", rs.Keys["support"], nil)
	mustStatus(t, res, http.StatusUnprocessableEntity, "cancel after the window")
	if rs.redemption(r.RedemptionID).Status != "completed" || rs.available(id) != 200 {
		t.Fatal("a cancel outside the window changed the redemption")
	}
	rs.LedgerInvariants()
}

func TestRedemptionThreeDSecureThroughTheWebhook(t *testing.T) {
	fake := stripefake.Start()
	t.Cleanup(fake.Close)
	rs := newRewardsStack(t, rewardsOptions{stripeBase: fake.URL, paymentWait: 3 * time.Second})
	id, tok := rs.memberWithPoints("3ds@example.com", 300)
	o := rs.offer(cashOffer(5))

	res, r := rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_threeDSecure2Required"})
	mustStatus(t, res, http.StatusCreated, "claim needing 3-D Secure")
	if r.Status != "awaiting_payment" || r.ClientSecret == "" {
		t.Fatalf("claim: %s", res.Body)
	}
	pi := fake.Intents()[0]
	payload, err := fake.Authenticate(pi.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	event, _ := json.Marshal(map[string]any{"id": "evt_1", "object": "event", "type": "payment_intent.succeeded",
		"api_version": "2023-10-16", "data": map[string]any{"object": json.RawMessage(payload)}})
	// A bad signature is refused and changes nothing.
	res = rs.Do("POST", "/v1/webhooks/stripe", "", event, "Stripe-Signature", "t=1,v1=deadbeef")
	mustStatus(t, res, http.StatusBadRequest, "bad signature")
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: testWebhookSecret})
	res = rs.Do("POST", "/v1/webhooks/stripe", "", event, "Stripe-Signature", signed.Header)
	mustStatus(t, res, http.StatusOK, "signed event")
	done := rs.waitStatus(r.RedemptionID, "completed")
	if done.Code == "" || rs.available(id) != 200 {
		t.Fatalf("after 3-D Secure: %+v", done)
	}
	rs.RecordHistory(workflows.RedemptionWorkflowID(r.RedemptionID), "", "redemption_3ds_completed")

	// No answer in time: the PaymentIntent is cancelled, stock and points come back.
	res, r = rs.claim(tok, o.OfferID, map[string]any{"payment_method": "pm_card_threeDSecure2Required"})
	mustStatus(t, res, http.StatusCreated, "second claim")
	failed := rs.waitStatus(r.RedemptionID, "failed")
	if failed.FailureReason != "The payment was not completed in time." || rs.available(id) != 200 || rs.stockLeft(o.OfferID) != 4 {
		t.Fatalf("after the timeout: %+v, available %d, stock %d", failed, rs.available(id), rs.stockLeft(o.OfferID))
	}
	intents := fake.Intents()
	if st := intents[len(intents)-1].Status; st != "canceled" {
		t.Fatalf("the unpaid PaymentIntent is %s, want canceled", st)
	}
	rs.released(r.RedemptionID)
	rs.LedgerInvariants()
}
