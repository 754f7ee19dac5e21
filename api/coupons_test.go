package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/workflows"
)

// Coupon codes at the till (issue 21): looked up, used exactly once, blocking a cancel once used, voided by one,
// expiring, never stored, logged or recorded in a workflow's history in clear, and not guessable.

// shiftedClock is the time moved by an offset a test sets.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time        { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftedClock) Move(by time.Duration) { c.offset.Add(int64(by)) }

type couponOut struct {
	Status    string     `json:"status"`
	ExpiresAt *time.Time `json:"expires_at"`
	Offer     struct {
		OfferID string `json:"offer_id"`
		Title   string `json:"title"`
	} `json:"offer"`
	Use *struct {
		UseID   string `json:"use_id"`
		StoreID string `json:"store_id"`
	} `json:"use"`
}

func (rs *rewardsStack) coupon(code, token string) (c couponOut, status int) {
	rs.t.Helper()
	res := rs.Do("GET", "/v1/coupons/"+code, token, nil)
	if res.Status == http.StatusOK {
		res.Decode(rs.t, &c)
	}
	return c, res.Status
}

func useBody(useID, store string) map[string]any {
	return map[string]any{"use_id": useID, "store_id": store}
}

// historyHolds reports whether any byte string of the workflow's history contains s.
func (rs *rewardsStack) historyHolds(workflowID, s string) bool {
	rs.t.Helper()
	it := rs.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			rs.t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := proto.Marshal(h)
	if err != nil {
		rs.t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

func TestCouponCodeIsCheckedAndUsedOnceAtTheTill(t *testing.T) {
	var logs testkit.SyncBuffer
	rs := newRewardsStack(t, rewardsOptions{log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	id, tok := rs.memberWithPoints("coupon-till@example.com", 100)
	o := rs.offer(map[string]any{"title": "Croissant", "points_cost": 10, "code_valid_days": 30, "cancel_window_minutes": 60})
	res, r := rs.claim(tok, o.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	if r.Status != "completed" || r.Code == "" {
		t.Fatalf("claim: %s", res.Body)
	}
	pos := rs.Keys["pos"]
	for _, token := range []string{pos, rs.Keys["support"], rs.Keys["admin"]} {
		c, status := rs.coupon(r.Code, token)
		if status != http.StatusOK || c.Status != "valid" || c.Offer.OfferID != o.OfferID || c.Offer.Title != "Croissant" || c.ExpiresAt == nil ||
			time.Until(*c.ExpiresAt) < 29*24*time.Hour || time.Until(*c.ExpiresAt) > 30*24*time.Hour {
			t.Fatalf("coupon: %d %+v", status, c)
		}
	}
	// As the member types it: any case, dashes or not.
	if c, status := rs.coupon(strings.ToLower(strings.ReplaceAll(r.Code, "-", "")), pos); status != http.StatusOK || c.Status != "valid" {
		t.Fatalf("the code typed in lower case without dashes: %d", status)
	}

	res = rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, useBody("sale-1", "store-7"))
	mustStatus(t, res, http.StatusOK, "use")
	var used couponOut
	res.Decode(t, &used)
	if used.Status != "used" || used.Use == nil || used.Use.UseID != "sale-1" || used.Use.StoreID != "store-7" {
		t.Fatalf("used: %s", res.Body)
	}
	again := rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, useBody("sale-1", "store-7"))
	mustStatus(t, again, http.StatusOK, "the same use again")
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the same use again is not marked replayed: %v", again.Header)
	}
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, useBody("sale-2", "store-7")), http.StatusConflict, "a second use")
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, useBody("sale-1", "store-8")), http.StatusConflict, "the use_id from another store")
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, map[string]any{"use_id": "sale-3"}), http.StatusBadRequest, "a use without store_id")

	// A used code blocks the cancel of its redemption: nothing is given back.
	mustStatus(t, rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", tok, nil), http.StatusConflict, "cancel once used")
	if got := rs.available(id); got != 90 {
		t.Fatalf("available %d after a refused cancel, want 90", got)
	}
	// The member sees the use on the redemption and in their history; the saga's state shows it, and it ended.
	got := rs.Do("GET", "/v1/redemptions/"+r.RedemptionID, tok, nil)
	if !strings.Contains(string(got.Body), `"use_id":"sale-1"`) || !strings.Contains(string(got.Body), `"status":"used"`) {
		t.Fatalf("redemption after the use: %s", got.Body)
	}
	hist := rs.Do("GET", "/v1/members/"+id+"/history", tok, nil)
	if !strings.Contains(string(hist.Body), `"coupon_use":{"use_id":"sale-1","store_id":"store-7"`) {
		t.Fatalf("history after the use: %s", hist.Body)
	}
	var st workflows.RedemptionState
	eventually(t, 30*time.Second, "the saga to know of the use", func() bool {
		v, err := rs.Temporal.QueryWorkflow(context.Background(), workflows.RedemptionWorkflowID(r.RedemptionID), "", workflows.QueryRedemptionState)
		return err == nil && v.Get(&st) == nil && st.Coupon != nil && st.Coupon.Use != nil
	})
	if st.Status != domain.RedemptionCompleted || st.Coupon.Status != domain.CouponUsed || st.Code != "" {
		t.Fatalf("saga state %+v", st)
	}
	eventually(t, 30*time.Second, "the saga to end once its code is used", func() bool {
		d, err := rs.Temporal.DescribeWorkflowExecution(context.Background(), workflows.RedemptionWorkflowID(r.RedemptionID), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	rs.RecordHistory(workflows.RedemptionWorkflowID(r.RedemptionID), "", "redemption_coupon_used")

	// The code is in no workflow history and no log line, in any spelling.
	normalized := strings.ReplaceAll(r.Code, "-", "")
	if rs.historyHolds(workflows.RedemptionWorkflowID(r.RedemptionID), r.Code) || rs.historyHolds(workflows.RedemptionWorkflowID(r.RedemptionID), normalized) {
		t.Fatal("the code is in the saga's history")
	}
	for _, spelling := range []string{r.Code, normalized, strings.ToLower(normalized)} {
		if strings.Contains(logs.String(), spelling) {
			t.Fatalf("the code %s is logged", spelling)
		}
	}
	rs.LedgerInvariants()
}

func TestCancelledRedemptionVoidsItsCode(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	id, tok := rs.memberWithPoints("coupon-cancel@example.com", 100)
	o := rs.offer(map[string]any{"title": "Muffin", "points_cost": 10})
	res, r := rs.claim(tok, o.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	res = rs.Do("POST", "/v1/redemptions/"+r.RedemptionID+"/cancel", tok, nil)
	mustStatus(t, res, http.StatusOK, "cancel")
	if c, status := rs.coupon(r.Code, rs.Keys["pos"]); status != http.StatusOK || c.Status != "cancelled" || c.ExpiresAt != nil {
		t.Fatalf("the code of a cancelled redemption: %d %+v", status, c)
	}
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", rs.Keys["pos"], useBody("sale-1", "s1")), http.StatusGone, "use of a cancelled code")
	if got := rs.available(id); got != 100 {
		t.Fatalf("available %d after the cancel", got)
	}
	rs.LedgerInvariants()
}

// TestUseThatRacesACancelWins: the code is used at a till while the member's cancel is on its way to the saga (past
// the API's own check): the saga finds the use when it voids the code, refuses the cancel and gives nothing back.
func TestUseThatRacesACancelWins(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	id, tok := rs.memberWithPoints("coupon-race@example.com", 100)
	o := rs.offer(map[string]any{"title": "Scone", "points_cost": 10, "cancel_window_minutes": 60})
	res, r := rs.claim(tok, o.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	// The till's use commits without a word to the saga (as when the API could not reach Temporal)...
	if _, _, err := rs.Store.UseCoupon(context.Background(), r.Code, domain.CouponUseRequest{UseID: "sale-r", StoreID: "s1"}, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	// ... and the cancel reaches the saga.
	if err := rs.Temporal.SignalWorkflow(context.Background(), workflows.RedemptionWorkflowID(r.RedemptionID), "", workflows.SignalRedemptionCancel,
		workflows.CancelRequest{Actor: "member:" + id}); err != nil {
		t.Fatal(err)
	}
	var st workflows.RedemptionState
	eventually(t, 30*time.Second, "the saga to refuse the cancel", func() bool {
		v, err := rs.Temporal.QueryWorkflow(context.Background(), workflows.RedemptionWorkflowID(r.RedemptionID), "", workflows.QueryRedemptionState)
		return err == nil && v.Get(&st) == nil && st.CancelRefused != ""
	})
	if st.Status != domain.RedemptionCompleted || st.Coupon == nil || st.Coupon.Status != domain.CouponUsed {
		t.Fatalf("saga state %+v", st)
	}
	if red := rs.redemption(r.RedemptionID); red.Status != "completed" || rs.available(id) != 90 {
		t.Fatalf("after the refused cancel: %+v, available %d", red, rs.available(id))
	}
	rs.RecordHistory(workflows.RedemptionWorkflowID(r.RedemptionID), "", "redemption_cancel_refused_code_used")
	rs.LedgerInvariants()
}

func TestCouponCodesExpire(t *testing.T) {
	clock := &shiftedClock{}
	rs := newRewardsStack(t, rewardsOptions{now: clock.Now})
	_, tok := rs.memberWithPoints("coupon-expiry@example.com", 100)
	o := rs.offer(map[string]any{"title": "Bagel", "points_cost": 10, "code_valid_days": 2, "cancel_window_minutes": 0})
	res, r := rs.claim(tok, o.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	clock.Move(47 * time.Hour)
	if c, _ := rs.coupon(r.Code, rs.Keys["pos"]); c.Status != "valid" {
		t.Fatalf("after 47 hours: %+v", c)
	}
	clock.Move(2 * time.Hour)
	if c, _ := rs.coupon(r.Code, rs.Keys["pos"]); c.Status != "expired" {
		t.Fatalf("after 49 hours: %+v", c)
	}
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", rs.Keys["pos"], useBody("sale-1", "s1")), http.StatusGone, "use of an expired code")
	if red := rs.Do("GET", "/v1/redemptions/"+r.RedemptionID, rs.Keys["support"], nil); !strings.Contains(string(red.Body), `"status":"expired"`) {
		t.Fatalf("the member's redemption after expiry: %s", red.Body)
	}
}

func TestCouponCodesCannotBeGuessed(t *testing.T) {
	rs := newRewardsStack(t, rewardsOptions{})
	_, tok := rs.memberWithPoints("coupon-guess@example.com", 100)
	o := rs.offer(map[string]any{"title": "Tart", "points_cost": 10})
	res, r := rs.claim(tok, o.OfferID, nil)
	mustStatus(t, res, http.StatusCreated, "claim")
	pos := rs.Keys["pos"]
	limited := 0
	var retryAfter string
	for i := range 25 {
		guess := "GUES-" + strconv.Itoa(1000+i) + "-GUES-GUES"
		res := rs.Do("GET", "/v1/coupons/"+guess, pos, nil)
		switch res.Status {
		case http.StatusNotFound:
		case http.StatusTooManyRequests:
			limited++
			retryAfter = res.Header.Get("Retry-After")
		default:
			t.Fatalf("guess %d: %d %s", i, res.Status, res.Body)
		}
	}
	if limited < 5 || retryAfter == "" {
		t.Fatalf("%d of 25 guesses limited (Retry-After %q), want the ones after the 20th", limited, retryAfter)
	}
	// Once out of misses the caller cannot use or look up even a real code; other callers can.
	mustStatus(t, rs.Do("POST", "/v1/coupons/"+r.Code+"/use", pos, useBody("sale-1", "s1")), http.StatusTooManyRequests, "a real code from the guesser")
	if _, status := rs.coupon(r.Code, rs.Keys["support"]); status != http.StatusOK {
		t.Fatalf("another caller: %d", status)
	}
	// Unknown and malformed codes answer alike.
	a := rs.Do("GET", "/v1/coupons/GUES-0000-GUES-GUES", rs.Keys["admin"], nil)
	b := rs.Do("GET", "/v1/coupons/x*y", rs.Keys["admin"], nil)
	if a.Status != http.StatusNotFound || b.Status != http.StatusNotFound || string(a.Body) != string(b.Body) {
		t.Fatalf("unknown %d %s, malformed %d %s", a.Status, a.Body, b.Status, b.Body)
	}
}
