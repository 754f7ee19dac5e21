package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

type operation struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Points       int64  `json:"points"`
	NotRecovered int64  `json:"points_not_recovered"`
	Balance      struct {
		Available int64 `json:"available"`
		Total     int64 `json:"total"`
	} `json:"balance"`
}

func basketPurchase(txID, memberID string, lines ...map[string]any) map[string]any {
	var total int64
	for _, l := range lines {
		total += int64(l["quantity"].(int)) * l["unit_price"].(map[string]any)["amount"].(int64)
	}
	return map[string]any{
		"transaction_id": txID, "member_id": memberID, "store_id": "store-1", "channel": "store",
		"occurred_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"total":       map[string]any{"amount": total, "currency": "EUR"}, "items": lines,
	}
}

func line(sku, cat string, qty int, cents int64) map[string]any {
	return map[string]any{"sku": sku, "category": cat, "quantity": qty, "unit_price": map[string]any{"amount": cents, "currency": "EUR"}}
}

func mustStatus(t *testing.T, res itest.Response, want int, what string) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s: %d %s, want %d", what, res.Status, res.Body, want)
	}
}

func TestReturnsRedemptionsAndAdjustmentsThroughTheAPI(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "ops@example.com")
	pos, support := s.Keys["pos"], s.Keys["support"]

	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, basketPurchase("T-OPS", id, line("BOOK", "books", 2, 2_500), line("PEN", "office", 4, 250))), 201, "accrue")

	// A partial return reverses what the returned lines earned.
	ret := map[string]any{"return_id": "R-OPS-1", "items": []map[string]any{{"sku": "BOOK", "quantity": 1}}}
	res := s.Do("POST", "/v1/transactions/T-OPS/return", pos, ret)
	mustStatus(t, res, 201, "return")
	var o operation
	res.Decode(t, &o)
	if o.Points != 25 || o.Balance.Available != 35 {
		t.Fatalf("return answered %s; want 25 reversed, 35 left", res.Body)
	}
	again := s.Do("POST", "/v1/transactions/T-OPS/return", pos, ret)
	mustStatus(t, again, 201, "replayed return")
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("a replayed return is not marked Idempotent-Replayed")
	}
	ret["items"] = []map[string]any{{"sku": "PEN", "quantity": 1}}
	mustStatus(t, s.Do("POST", "/v1/transactions/T-OPS/return", pos, ret), 409, "return id reused with other lines")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-OPS/return", pos, map[string]any{"return_id": "R-OPS-2", "items": []map[string]any{{"sku": "BOOK", "quantity": 2}}}), 422, "returning more than bought")
	mustStatus(t, s.Do("POST", "/v1/transactions/NOPE/return", pos, map[string]any{"return_id": "R-OPS-3", "amount": map[string]any{"amount": 100, "currency": "EUR"}}), 404, "return of an unknown purchase")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-OPS/return", pos, map[string]any{"return_id": "R-OPS-4", "amount": map[string]any{"amount": 100, "currency": "USD"}}), 422, "return in another currency")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-OPS/return", pos, map[string]any{"return_id": "R-OPS-5", "amount": 100}), 400, "an amount that is not money")

	// Redemption at the till: spent when available, 422 when not, replay answers the first result.
	red := map[string]any{"redemption_id": "TILL-OPS-1", "member_id": id, "points": 30, "store_id": "store-1"}
	res = s.Do("POST", "/v1/transactions/redeem", pos, red)
	mustStatus(t, res, 201, "redeem")
	res.Decode(t, &o)
	if o.Balance.Available != 5 {
		t.Fatalf("after redeeming 30 of 35: %s", res.Body)
	}
	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, red), 201, "replayed redemption")
	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": "TILL-OPS-2", "member_id": id, "points": 6, "store_id": "store-1"}), 422, "redeem more than available")

	// Adjustments by support, audited with the key's id and name.
	adj := map[string]any{"adjustment_id": "ADJ-OPS-1", "points": 100, "reason": "goodwill for a damaged parcel"}
	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/adjustments", support, adj), 201, "adjust")
	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/adjustments", pos, adj), 403, "adjust as pos")
	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/adjustments", support, map[string]any{"adjustment_id": "ADJ-OPS-2", "points": -1_000, "reason": "too much"}), 422, "debit beyond the balance")
	hist := s.Do("GET", "/v1/members/"+id+"/history", support, nil)
	var page struct {
		Items []struct {
			Kind  string `json:"kind"`
			Actor string `json:"actor"`
		} `json:"items"`
	}
	hist.Decode(t, &page)
	if len(page.Items) != 4 || page.Items[0].Kind != "adjustment" || page.Items[0].Actor != "apikey:"+keyID(t, s, "itest-support")+" (itest-support)" {
		t.Fatalf("history: %s", hist.Body)
	}
	s.RecordHistory(workflows.MemberWorkflowID(id), "", "member_return_redeem_adjust")
	m := getMember(t, s, id, pos)
	if m.Balance.Available != 105 {
		t.Fatalf("balance %+v, want 105", *m.Balance)
	}
	s.LedgerInvariants()
}

func TestProgramAndRulesThroughTheAPI(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "rules@example.com")
	pos, marketer, admin := s.Keys["pos"], s.Keys["marketer"], s.Keys["admin"]

	mustStatus(t, s.Do("GET", "/v1/program", s.MemberToken(id), nil), 200, "program as a member")
	prog := map[string]any{"currency": "EUR", "time_zone": "Europe/Paris", "pending_days": 0, "expiry": map[string]any{"months": 12},
		"tier_window_days": 365, "allow_negative_on_return": false,
		"tiers": []map[string]any{{"code": "member", "name": "Member", "threshold_points": 0, "multiplier_percent": 100},
			{"code": "vip", "name": "VIP", "threshold_points": 500, "multiplier_percent": 200}}}
	mustStatus(t, s.Do("PUT", "/v1/program", marketer, prog), 403, "program as marketer")
	res := s.Do("PUT", "/v1/program", admin, prog)
	mustStatus(t, res, 200, "program as admin")
	prog["tiers"] = []map[string]any{{"code": "member", "name": "Member", "threshold_points": 10, "multiplier_percent": 100}}
	mustStatus(t, s.Do("PUT", "/v1/program", admin, prog), 400, "first tier above zero")

	rule := map[string]any{"name": "Triple points on books", "priority": 10, "mode": "stackable",
		"conditions": map[string]any{"categories": []string{"books"}}, "action": map[string]any{"type": "multiplier", "percent": 300}}
	res = s.Do("POST", "/v1/rules", marketer, rule)
	mustStatus(t, res, 201, "create rule")
	var created struct {
		RuleID  string `json:"rule_id"`
		Version int64  `json:"version"`
	}
	res.Decode(t, &created)
	mustStatus(t, s.Do("POST", "/v1/rules", marketer, map[string]any{"name": "x", "priority": 1, "mode": "sometimes", "action": map[string]any{"type": "bonus", "points": 1}}), 400, "bad mode")
	mustStatus(t, s.Do("GET", "/v1/rules/"+created.RuleID, marketer, nil), 200, "read rule")
	mustStatus(t, s.Do("GET", "/v1/rules/"+created.RuleID, pos, nil), 403, "read rule as pos")

	// Rules apply to purchases that occur after them.
	p := basketPurchase("T-RULE", id, line("B", "books", 1, 1_000), line("F", "food", 1, 1_000))
	p["occurred_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	res = s.Do("POST", "/v1/transactions/accrue", pos, p)
	mustStatus(t, res, 201, "accrue")
	var a accrual
	res.Decode(t, &a)
	if a.PointsEarned != 10+20+10 { // base 20, books tripled: +20 on the 10 base points of the book line
		t.Fatalf("earned %d with the rule", a.PointsEarned)
	}
	var tx struct {
		Contributions []struct {
			RuleID string `json:"rule_id"`
			Points int64  `json:"points"`
		} `json:"contributions"`
	}
	s.Do("GET", "/v1/transactions/T-RULE", pos, nil).Decode(t, &tx)
	if len(tx.Contributions) != 2 {
		t.Fatalf("contributions %+v", tx.Contributions)
	}

	// Simulate a draft that would give a flat bonus instead, over the last hour.
	sim := s.Do("POST", "/v1/rules/simulate", marketer, map[string]any{
		"rules": []map[string]any{{"name": "Flat 5", "priority": 1, "mode": "stackable", "action": map[string]any{"type": "bonus", "points": 5}}},
		"from":  time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "to": time.Now().Add(time.Minute).UTC().Format(time.RFC3339),
	})
	mustStatus(t, sim, 200, "simulate")
	var out struct {
		Transactions    int   `json:"transactions"`
		ActualPoints    int64 `json:"actual_points"`
		SimulatedPoints int64 `json:"simulated_points"`
		MembersAffected int   `json:"members_affected"`
	}
	sim.Decode(t, &out)
	if out.Transactions != 1 || out.ActualPoints != 40 || out.SimulatedPoints != 5 || out.MembersAffected != 1 {
		t.Fatalf("simulation %s", sim.Body)
	}

	// Changing the rule: a new version, in force for purchases that occur from now on; the purchase judged by the
	// first version keeps what it earned. Sending the definition in force again records nothing new.
	rule["action"] = map[string]any{"type": "multiplier", "percent": 500}
	res = s.Do("PUT", "/v1/rules/"+created.RuleID, marketer, rule, "Prefer", "wait=20")
	mustStatus(t, res, 200, "change rule")
	var changed struct {
		RuleID  string `json:"rule_id"`
		Version int64  `json:"version"`
		Action  struct {
			Percent int `json:"percent"`
		} `json:"action"`
	}
	res.Decode(t, &changed)
	if changed.RuleID != created.RuleID || changed.Version <= created.Version || changed.Action.Percent != 500 {
		t.Fatalf("changed rule %s, created version %d", res.Body, created.Version)
	}
	again := s.Do("PUT", "/v1/rules/"+created.RuleID, admin, rule, "Prefer", "wait=20")
	mustStatus(t, again, 200, "same definition again")
	var same struct {
		Version int64 `json:"version"`
	}
	again.Decode(t, &same)
	if same.Version != changed.Version {
		t.Fatalf("the same definition made version %d after %d", same.Version, changed.Version)
	}
	mustStatus(t, s.Do("PUT", "/v1/rules/"+created.RuleID, pos, rule), 403, "change rule as pos")
	p = basketPurchase("T-RULE2", id, line("B", "books", 1, 1_000))
	p["occurred_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	res = s.Do("POST", "/v1/transactions/accrue", pos, p)
	mustStatus(t, res, 201, "accrue after the change")
	res.Decode(t, &a)
	if a.PointsEarned != 10+40 { // base 10, five times: +40
		t.Fatalf("earned %d with the changed rule", a.PointsEarned)
	}
	s.Do("GET", "/v1/transactions/T-RULE", pos, nil).Decode(t, &tx)
	if len(tx.Contributions) != 2 || tx.Contributions[0].Points+tx.Contributions[1].Points != 40 {
		t.Fatalf("the first purchase's contributions changed with the rule: %+v", tx.Contributions)
	}

	mustStatus(t, s.Do("DELETE", "/v1/rules/"+created.RuleID, marketer, nil), 204, "delete rule")
	mustStatus(t, s.Do("DELETE", "/v1/rules/"+created.RuleID, marketer, nil), 404, "delete again")
	mustStatus(t, s.Do("GET", "/v1/rules/"+created.RuleID, marketer, nil), 404, "read a deleted rule")
	p = basketPurchase("T-NORULE", id, line("B", "books", 1, 1_000))
	p["occurred_at"] = time.Now().UTC().Format(time.RFC3339Nano)
	res = s.Do("POST", "/v1/transactions/accrue", pos, p)
	res.Decode(t, &a)
	if a.PointsEarned != 10 {
		t.Fatalf("after deleting the rule: %d", a.PointsEarned)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	s.Do("GET", "/v1/rules", admin, nil).Decode(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("rules after delete: %+v", list.Items)
	}
}

// TestSixteenClientsMixingOperationsOnOneMember sends accruals, returns and till redemptions from 16 clients at once
// on the same member, then checks the ledger invariants and that every acknowledged operation was applied exactly
// once and nothing else was.
func TestSixteenClientsMixingOperationsOnOneMember(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{WaitBudget: 20 * time.Second})
	id := register(t, s, "sixteen@example.com")
	pos := s.Keys["pos"]
	// A stock of purchases to return from.
	for i := range 8 {
		mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, basketPurchase(fmt.Sprintf("T-BASE-%d", i), id, line("A", "x", 4, 1_000))), 201, "seed purchase")
	}
	type ack struct{ kind, id string }
	var mu sync.Mutex
	var acked []ack
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 99))
			for i := range 6 {
				var res itest.Response
				var a ack
				switch r.IntN(3) {
				case 0:
					a = ack{"accrual", fmt.Sprintf("T-%d-%d", c, i)}
					res = s.Do("POST", "/v1/transactions/accrue", pos, basketPurchase(a.id, id, line("A", "x", 1, 500+r.Int64N(5_000))))
				case 1:
					a = ack{"return", fmt.Sprintf("R-%d-%d", c, i)}
					res = s.Do("POST", fmt.Sprintf("/v1/transactions/T-BASE-%d/return", r.IntN(8)), pos,
						map[string]any{"return_id": a.id, "items": []map[string]any{{"sku": "A", "quantity": 1}}})
				default:
					a = ack{"redemption", fmt.Sprintf("TILL-%d-%d", c, i)}
					res = s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": a.id, "member_id": id, "points": 1 + r.Int64N(60), "store_id": "s"})
				}
				switch res.Status {
				case 201:
					mu.Lock()
					acked = append(acked, a)
					mu.Unlock()
				case 422: // not enough points, or the purchase fully returned already
				default:
					t.Errorf("%s %s: %d %s", a.kind, a.id, res.Status, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	s.LedgerInvariants()
	ctx := context.Background()
	applied := map[string]int{}
	rows, err := s.DB.Pool.Query(ctx, `
		SELECT 'accrual', transaction_id FROM transactions WHERE status = 'accrued' AND transaction_id NOT LIKE 'T-BASE-%'
		UNION ALL SELECT 'return', return_id FROM transaction_returns WHERE status = 'applied'
		UNION ALL SELECT 'redemption', redemption_id FROM till_redemptions WHERE status = 'applied'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		applied[k+":"+v]++
	}
	if len(applied) != len(acked) {
		t.Fatalf("%d operations acknowledged, %d applied", len(acked), len(applied))
	}
	for _, a := range acked {
		if applied[a.kind+":"+a.id] != 1 {
			t.Fatalf("acknowledged %s %s applied %d times", a.kind, a.id, applied[a.kind+":"+a.id])
		}
	}
	// Each applied redemption and return wrote exactly one ledger entry, and no entry exists without its record.
	var orphans int
	if err := s.DB.Pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM ledger_entries e WHERE e.kind = 'redemption'
		          AND NOT EXISTS (SELECT 1 FROM till_redemptions r WHERE r.entry_id = e.id AND r.status = 'applied'))
		     + (SELECT count(*) FROM till_redemptions r WHERE r.status = 'applied'
		          AND (SELECT count(*) FROM ledger_entries e WHERE e.id = r.entry_id) <> 1)
		     + (SELECT count(*) FROM ledger_entries e WHERE e.kind = 'return'
		          AND NOT EXISTS (SELECT 1 FROM transaction_returns r WHERE r.entry_id = e.id AND r.status = 'applied'))`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Fatalf("%d ledger entries and operation records do not match one to one", orphans)
	}
	if m := getMember(t, s, id, pos); m.Balance.Available < 0 {
		t.Fatalf("balance went negative: %+v", *m.Balance)
	}
}

func TestCampaignRulesCannotBeChangedThroughTheRulesAPI(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	rule := map[string]any{"name": "x", "priority": 1, "mode": "stackable", "action": map[string]any{"type": "bonus", "points": 1}}
	mustStatus(t, s.Do("PUT", "/v1/rules/campaign:c1", s.Keys["marketer"], rule), 409, "update a campaign rule")
	mustStatus(t, s.Do("DELETE", "/v1/rules/campaign:c1", s.Keys["marketer"], nil), 409, "delete a campaign rule")
}

// A refused operation leaves its id free: the corrected retry with the same id is applied, and a replay of the
// applied one says so.
func TestARefusedOperationDoesNotUseUpItsID(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "refused@example.com")
	pos, support := s.Keys["pos"], s.Keys["support"]
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, basketPurchase("T-REF", id, line("BOOK", "books", 2, 2_500))), 201, "accrue")

	mustStatus(t, s.Do("POST", "/v1/transactions/T-REF/return", pos, map[string]any{"return_id": "R-REF", "items": []map[string]any{{"sku": "BOOK", "quantity": 3}}}), 422, "returning more than bought")
	res := s.Do("POST", "/v1/transactions/T-REF/return", pos, map[string]any{"return_id": "R-REF", "items": []map[string]any{{"sku": "BOOK", "quantity": 1}}})
	mustStatus(t, res, 201, "the corrected return")
	if res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the corrected return is marked as a replay")
	}

	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": "TILL-REF", "member_id": id, "points": 26, "store_id": "store-1"}), 422, "redeem more than available")
	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": "TILL-REF", "member_id": id, "points": 20, "store_id": "store-1"}), 201, "the corrected redemption")
	again := s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": "TILL-REF", "member_id": id, "points": 20, "store_id": "store-1"})
	mustStatus(t, again, 201, "the redemption replayed")
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("a replayed redemption is not marked Idempotent-Replayed")
	}
	mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, map[string]any{"redemption_id": "TILL-REF", "member_id": id, "points": 1, "store_id": "store-1"}), 409, "an applied id reused")

	mustStatus(t, s.Do("POST", "/v1/members/"+id+"/adjustments", support, map[string]any{"adjustment_id": "ADJ-REF", "points": -100, "reason": "too much"}), 422, "debit beyond the balance")
	res = s.Do("POST", "/v1/members/"+id+"/adjustments", support, map[string]any{"adjustment_id": "ADJ-REF", "points": -5, "reason": "corrected"})
	mustStatus(t, res, 201, "the corrected adjustment")
	var o operation
	res.Decode(t, &o)
	if o.Balance.Available != 0 {
		t.Fatalf("after 25 earned, 20 redeemed, 5 debited: %s", res.Body)
	}
	s.LedgerInvariants()
}

// A return sent right after its purchase was accepted (202), before the purchase is accrued, queues behind it in the
// member's workflow: 202 instead of 404, and once the purchase commits the return reverses what its lines earned,
// from the purchase's own lot. A transaction id never accepted stays 404; one whose report was claimed but never
// reached the workflow (a crash between the claim and the signal) is dropped there, and its retry answers 404.
func TestAReturnRightAfterAnAcceptedPurchaseQueuesBehindIt(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	id := register(t, s, "early-return@example.com")
	pos := s.Keys["pos"]
	// Points of another purchase first, so that where the return takes from shows.
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, purchase("T-EARLY-0", id, 3_000), "Prefer", "wait=20"), 201, "first purchase")

	s.StopWorker()
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, basketPurchase("T-EARLY", id, line("BOOK", "books", 2, 2_500), line("PEN", "office", 4, 250)),
		"Prefer", "wait=0"), 202, "purchase accepted, not accrued")
	ret := map[string]any{"return_id": "R-EARLY-1", "items": []map[string]any{{"sku": "BOOK", "quantity": 1}}}
	res := s.Do("POST", "/v1/transactions/T-EARLY/return", pos, ret, "Prefer", "wait=0")
	mustStatus(t, res, 202, "return right after the purchase's 202")
	var acc struct {
		ID       string `json:"id"`
		MemberID string `json:"member_id"`
		Status   string `json:"status"`
	}
	res.Decode(t, &acc)
	if acc.ID != "R-EARLY-1" || acc.MemberID != id || acc.Status != "accepted" || res.Header.Get("Location") != "/v1/transactions/T-EARLY?member_id="+id {
		t.Fatalf("queued return answered %s (Location %q)", res.Body, res.Header.Get("Location"))
	}
	mustStatus(t, s.Do("POST", "/v1/transactions/T-EARLY/return", pos, ret, "Prefer", "wait=0"), 202, "the same return again while queued")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-NEVER/return", pos, ret), 404, "return of a purchase never reported")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-EARLY/return", pos, map[string]any{"return_id": "R-EARLY-2", "amount": map[string]any{"amount": 100, "currency": "USD"}}),
		422, "queued return in another currency than the purchase's")

	s.StartWorker()
	eventually(t, 30*time.Second, "the purchase accrues and its return applies", func() bool {
		r := s.Do("GET", "/v1/transactions/T-EARLY", pos, nil)
		var tx struct {
			PointsEarned   int64 `json:"points_earned"`
			PointsReversed int64 `json:"points_reversed"`
		}
		if r.Status != 200 {
			return false
		}
		r.Decode(t, &tx)
		return tx.PointsEarned == 60 && tx.PointsReversed == 25
	})
	again := s.Do("POST", "/v1/transactions/T-EARLY/return", pos, ret)
	mustStatus(t, again, 201, "the return replayed once applied")
	var o operation
	again.Decode(t, &o)
	if again.Header.Get("Idempotent-Replayed") != "true" || o.Points != 25 || o.Balance.Available != 30+60-25 {
		t.Fatalf("replayed return answered %s", again.Body)
	}
	// Everything the return took came from the purchase's own lot.
	var fromLot, elsewhere int64
	if err := s.DB.Pool.QueryRow(ctx, `
		SELECT COALESCE(sum(a.points) FILTER (WHERE a.lot_entry_id = t.lot_entry_id), 0),
		       COALESCE(sum(a.points) FILTER (WHERE a.lot_entry_id <> t.lot_entry_id), 0)
		FROM transaction_returns r JOIN transactions t USING (transaction_id) JOIN ledger_allocations a ON a.entry_id = r.entry_id
		WHERE r.return_id = 'R-EARLY-1'`).Scan(&fromLot, &elsewhere); err != nil {
		t.Fatal(err)
	}
	if fromLot != 25 || elsewhere != 0 {
		t.Fatalf("the return took %d from its purchase's lot and %d from other lots; want 25 and 0", fromLot, elsewhere)
	}

	// A report claimed and never signalled: its return is queued, dropped by the workflow, and its retry is a 404.
	if _, err := s.DB.Pool.Exec(ctx, `INSERT INTO accrual_claims (transaction_id, member_id, currency) VALUES ('T-GHOST', $1, 'EUR')`, id); err != nil {
		t.Fatal(err)
	}
	ghost := map[string]any{"return_id": "R-GHOST", "amount": map[string]any{"amount": 100, "currency": "EUR"}}
	mustStatus(t, s.Do("POST", "/v1/transactions/T-GHOST/return", pos, ghost, "Prefer", "wait=0"), 202, "return of a claimed purchase")
	// Returns are applied in order: once the next one is, the ghost's was taken (and dropped).
	mustStatus(t, s.Do("POST", "/v1/transactions/T-EARLY/return", pos, map[string]any{"return_id": "R-EARLY-3", "items": []map[string]any{{"sku": "PEN", "quantity": 4}}},
		"Prefer", "wait=20"), 201, "a return after the dropped one")
	mustStatus(t, s.Do("POST", "/v1/transactions/T-GHOST/return", pos, ghost), 404, "the dropped return's retry")
	if m := getMember(t, s, id, pos); m.Balance.Available != 30+60-25-10 {
		t.Fatalf("balance %+v; want %d", *m.Balance, 30+60-25-10)
	}
	s.LedgerInvariants()
	s.RecordHistory(workflows.MemberWorkflowID(id), "", "member_return_before_accrual")
}
