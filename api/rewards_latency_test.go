package api_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit/stripefake"
)

// TestMeasureClaimLatency measures claim-to-completed (the claim's request until its 201 with status completed) for
// a points-only offer and for a cash offer paid through stripe-mock, and logs p50 and p99. It asserts nothing about
// time; it runs only when asked:
//
//	PERKFLOW_MEASURE_CLAIMS=200 go test ./api/ -run TestMeasureClaimLatency -count=1 -v
func TestMeasureClaimLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERKFLOW_MEASURE_CLAIMS"))
	if n <= 0 {
		t.Skip("set PERKFLOW_MEASURE_CLAIMS=N to measure N claims of each kind")
	}
	base := stripefake.StartStripeMock(t)
	rs := newRewardsStack(t, rewardsOptions{stripeBase: base})
	_, tok := rs.memberWithPoints("latency@example.com", int64(n+10)*25)
	for _, kind := range []struct {
		name string
		body map[string]any
		pay  any
	}{
		{"points-only", map[string]any{"title": "Coffee", "points_cost": 10}, nil},
		{"cash (stripe-mock)", map[string]any{"title": "Ticket", "points_cost": 10, "cash_price": map[string]any{"amount": 500, "currency": "EUR"}},
			map[string]any{"payment_method": "pm_card_visa"}},
	} {
		o := rs.offer(kind.body)
		took := make([]time.Duration, 0, n)
		for i := range n + 5 {
			start := time.Now()
			res, r := rs.claim(tok, o.OfferID, kind.pay)
			d := time.Since(start)
			if res.Status != http.StatusCreated || r.Status != "completed" {
				t.Fatalf("claim %d: %d %s", i, res.Status, res.Body)
			}
			if i >= 5 { // the first few warm the worker and the connection pools
				took = append(took, d)
			}
		}
		slices.Sort(took)
		pct := func(p float64) time.Duration { return took[min(len(took)-1, int(float64(len(took))*p))] }
		msg := fmt.Sprintf("claim-to-completed, %s, %d claims: p50 %v, p99 %v, max %v", kind.name, n, pct(0.50), pct(0.99), took[len(took)-1])
		t.Log(msg)
		fmt.Fprintln(os.Stderr, msg)
	}
}
