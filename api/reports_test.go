package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

type liabilityOut struct {
	MembersWithPoints int64 `json:"members_with_points"`
	Points            struct {
		Outstanding, Balance, Available, Pending, Held int64
		AwaitingExpiry                                 int64 `json:"awaiting_expiry"`
		Expiring                                       struct {
			Within30Days int64 `json:"within_30_days"`
			Within60Days int64 `json:"within_60_days"`
			Within90Days int64 `json:"within_90_days"`
		} `json:"expiring"`
	} `json:"points"`
	Value *struct {
		Outstanding struct {
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		} `json:"outstanding"`
	} `json:"value"`
}

func putProgram(t *testing.T, s *itest.Stack, change func(map[string]any)) {
	t.Helper()
	p := map[string]any{
		"currency": "EUR", "time_zone": "Europe/Paris", "pending_days": 0, "expiry": map[string]any{"months": 1},
		"tier_window_days": 365, "allow_negative_on_return": false,
		"tiers":       []map[string]any{{"code": "member", "name": "Member", "threshold_points": 0, "multiplier_percent": 100}},
		"point_value": map[string]any{"amount": 5, "currency": "EUR", "per_points": 10},
	}
	change(p)
	res := s.Do("PUT", "/v1/program", s.Keys["admin"], p, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusOK, "put program")
}

// purchaseAfter is a purchase that occurs after the program version just recorded: purchases are judged by the
// version in force when they occurred, and occurred_at has whole seconds.
func purchaseAfter(txID, memberID string, cents int64) map[string]any {
	time.Sleep(1100 * time.Millisecond)
	p := purchase(txID, memberID, cents)
	p["occurred_at"] = time.Now().UTC().Format(time.RFC3339)
	return p
}

// TestLiabilityIsTheSumOfTheLedger: after purchases (available and pending), adjustments both ways, a redemption in
// flight and one given back, the liability report equals what the ledger and the members' balances add up to, and
// the ledger's invariants hold.
func TestLiabilityIsTheSumOfTheLedger(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos, support := s.Keys["pos"], s.Keys["support"]
	putProgram(t, s, func(map[string]any) {})
	a := register(t, s, "liability-a@example.com")
	b := register(t, s, "liability-b@example.com")
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, purchaseAfter("T-LIAB-1", a, 10_000), "Prefer", "wait=20"), 201, "purchase a")
	putProgram(t, s, func(p map[string]any) { p["pending_days"] = 14 })
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, purchaseAfter("T-LIAB-2", b, 5_000), "Prefer", "wait=20"), 201, "purchase b")
	for _, adj := range []struct {
		member string
		points int64
	}{{a, -30}, {b, 20}} {
		res := s.Do("POST", "/v1/members/"+adj.member+"/adjustments", support, map[string]any{
			"adjustment_id": uuid.NewString(), "points": adj.points, "reason": "liability test"}, "Prefer", "wait=20")
		mustStatus(t, res, 201, "adjust")
	}
	ctx := context.Background()
	held, released := uuid.NewString(), uuid.NewString()
	if _, err := s.Store.HoldPoints(ctx, held, a, 25, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.HoldPoints(ctx, released, a, 5, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.ReleasePoints(ctx, released, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.LedgerInvariants()

	for _, token := range []string{s.Keys["marketer"], support, s.Keys["admin"]} {
		mustStatus(t, s.Do("GET", "/v1/reports/liability", token, nil), http.StatusOK, "liability")
	}
	res := s.Do("GET", "/v1/reports/liability", support, nil)
	var l liabilityOut
	res.Decode(t, &l)
	var ledgerSum, held2 int64
	if err := s.Store.Pool().QueryRow(ctx, `SELECT COALESCE(sum(points), 0) FROM ledger_entries`).Scan(&ledgerSum); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.Pool().QueryRow(ctx, `SELECT COALESCE(sum(points), 0) FROM points_holds WHERE status = 'held'`).Scan(&held2); err != nil {
		t.Fatal(err)
	}
	var avail, pending int64
	for _, id := range []string{a, b} {
		bal, err := s.Store.GetBalance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		avail += bal.Available
		pending += bal.Pending
	}
	p := l.Points
	// a: 100 earned, -30 adjusted, 25 held (5 held and released); b: 50 pending, +20 adjusted.
	want := struct{ balance, available, pending, held int64 }{100 - 30 - 25 + 20 + 50, 100 - 30 - 25 + 20, 50, 25}
	if p.Balance != ledgerSum || p.Balance != want.balance || p.Available != avail || p.Available != want.available ||
		p.Pending != pending || p.Pending != want.pending || p.Held != held2 || p.Held != want.held ||
		p.Outstanding != p.Balance+p.Held || p.Balance != p.Available+p.Pending+p.AwaitingExpiry || l.MembersWithPoints != 2 {
		t.Fatalf("liability %+v; ledger sum %d, balances available %d pending %d, held %d, want %+v", p, ledgerSum, avail, pending, held2, want)
	}
	// Every lot expires a month after it was credited: within 60 and 90 days, and within 30 when that month is short.
	var within30 int64
	if err := s.Store.Pool().QueryRow(ctx, `SELECT COALESCE(sum(remaining), 0) FROM ledger_lots
		WHERE remaining > 0 AND expires_at <= now() + interval '30 days'`).Scan(&within30); err != nil {
		t.Fatal(err)
	}
	if p.Expiring.Within60Days != p.Available+p.Pending || p.Expiring.Within90Days != p.Expiring.Within60Days || p.Expiring.Within30Days != within30 {
		t.Fatalf("expiring %+v, want 60 and 90 days %d, 30 days %d", p.Expiring, p.Available+p.Pending, within30)
	}
	// 140 points at 5 cents per 10 points: 70 cents.
	if l.Value == nil || l.Value.Outstanding.Amount != (p.Outstanding*5)/10 || l.Value.Outstanding.Currency != "EUR" {
		t.Fatalf("value: %s", res.Body)
	}

	// The points report of the same period adds up to the same ledger.
	res = s.Do("GET", "/v1/reports/points?interval=week", s.Keys["marketer"], nil)
	mustStatus(t, res, http.StatusOK, "points report")
	var rep struct {
		TimeZone string `json:"time_zone"`
		Items    []struct {
			Net int64 `json:"net"`
		} `json:"items"`
		Totals struct {
			Issued struct {
				Total, Accrual, Adjustment int64
			} `json:"issued"`
			Redeemed, Released, Net int64
			AdjustedDown            int64 `json:"adjusted_down"`
		} `json:"totals"`
	}
	res.Decode(t, &rep)
	tot := rep.Totals
	var sumNet int64
	for _, it := range rep.Items {
		sumNet += it.Net
	}
	if rep.TimeZone != "Europe/Paris" || tot.Net != ledgerSum || sumNet != ledgerSum || tot.Issued.Accrual != 150 || tot.Issued.Adjustment != 20 ||
		tot.Issued.Total != 170 || tot.Redeemed != 30 || tot.Released != 5 || tot.AdjustedDown != 30 || len(rep.Items) < 5 {
		t.Fatalf("points report: %s (ledger %d)", res.Body, ledgerSum)
	}
}

func TestPointsReportBadInput(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	for _, q := range []string{
		"?interval=hour", "?from=yesterday", "?from=2026-02-01&to=2026-01-01", "?from=2000-01-01&to=2026-01-01",
		"?from=2020-01-01&to=2026-01-01&interval=day", "?to=2026-13-01",
	} {
		res := s.Do("GET", "/v1/reports/points"+q, s.Keys["admin"], nil)
		if res.Status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, res.Status, res.Body)
		}
	}
	res := s.Do("GET", "/v1/reports/points?from=2026-01-01&to=2026-04-01&interval=month", s.Keys["admin"], nil)
	var rep struct {
		Items []struct {
			Start time.Time `json:"start"`
		} `json:"items"`
	}
	res.Decode(t, &rep)
	if res.Status != 200 || len(rep.Items) != 3 || rep.Items[2].Start.Month() != time.March {
		t.Fatalf("three months: %s", res.Body)
	}
	if res := s.Do("GET", "/v1/reports/points", s.Keys["support"], nil); res.Status != http.StatusForbidden {
		t.Fatalf("support on the points report: %d", res.Status)
	}
}
