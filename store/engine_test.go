package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

func lineItem(sku, cat string, qty, unit int64) domain.LineItem {
	return domain.LineItem{SKU: sku, Category: cat, Quantity: qty, UnitPrice: domain.Money{Amount: unit, Currency: "EUR"}}
}

func basket(tx, member string, at time.Time, items ...domain.LineItem) domain.Purchase {
	var total int64
	for _, it := range items {
		total += it.Quantity * it.UnitPrice.Amount
	}
	return domain.Purchase{TransactionID: tx, MemberID: member, StoreID: "s1", Channel: "store", OccurredAt: at,
		Total: domain.Money{Amount: total, Currency: "EUR"}, Items: items}
}

func amountPtr(a int64) *int64 { return &a }

func TestReturnsReverseExactlyWhatTheLinesEarned(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	books := domain.Rule{ID: "books-x3", Name: "Books earn 3 per EUR", Priority: 10, Mode: domain.RuleStackable,
		Conditions: domain.Conditions{Categories: []string{"books"}}, Action: domain.Action{Type: domain.ActionEarnRate, Points: 3, PerAmount: 100}}
	if _, err := st.SaveRule(ctx, books, true, now.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	m := newMember(t, st, "ret@example.com")
	p := basket("T-RET", m, now.Add(-time.Minute), lineItem("BOOK", "books", 2, 1_050), lineItem("FOOD", "food", 3, 333))
	acc, err := st.AccruePurchase(ctx, p, now)
	if err != nil {
		t.Fatal(err)
	}
	// books: 21.00 EUR × (1 + 3) = 84; food: 9.99 EUR × 1 = 9.99; one rounding: 93.
	if acc.Transaction.PointsEarned != 93 || len(acc.Transaction.Contributions) != 2 {
		t.Fatalf("earned %d with %+v", acc.Transaction.PointsEarned, acc.Transaction.Contributions)
	}
	// The rule changes after the purchase: the return is still priced by the version the purchase used.
	books.Action.Points = 10
	if _, err := st.SaveRule(ctx, books, false, now, "test"); err != nil {
		t.Fatal(err)
	}
	ret := func(id string, items []domain.ReturnItem, amount *int64) domain.OperationOutcome {
		t.Helper()
		o, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: id, TransactionID: "T-RET", Items: items, Amount: amount}, now)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	if o := ret("R-1", []domain.ReturnItem{{SKU: "BOOK", Quantity: 1}}, nil); o.Status != store.OpApplied || o.Points != 42 {
		t.Fatalf("one book back: %+v", o)
	}
	if o := ret("R-1", []domain.ReturnItem{{SKU: "BOOK", Quantity: 1}}, nil); !o.Replayed || o.Points != 42 {
		t.Fatalf("the same return again: %+v", o)
	}
	if o := ret("R-2", []domain.ReturnItem{{SKU: "BOOK", Quantity: 2}}, nil); o.Status != store.OpRejected {
		t.Fatalf("returning more books than bought: %+v", o)
	}
	// Left: one book (42) and one food item (3.33): 45.33 → 45, so 93 − 45 = 48 reversed in all, 6 more now.
	if o := ret("R-3", []domain.ReturnItem{{SKU: "FOOD", Quantity: 2}}, nil); o.Points != 6 {
		t.Fatalf("two food items back: %+v", o)
	}
	if o := ret("R-4", []domain.ReturnItem{{SKU: "BOOK", Quantity: 1}, {SKU: "FOOD", Quantity: 1}}, nil); o.Points != 45 {
		t.Fatalf("the rest back: %+v", o)
	}
	tx, _ := st.GetTransaction(ctx, "T-RET")
	if tx.PointsReversed != tx.PointsEarned {
		t.Fatalf("everything returned, %d of %d reversed", tx.PointsReversed, tx.PointsEarned)
	}
	if o := ret("R-5", nil, amountPtr(1)); o.Status != store.OpRejected {
		t.Fatalf("an amount beyond what was paid: %+v", o)
	}
	b, _ := st.GetBalance(ctx, m)
	if b.Available != 0 || b.Qualifying != 0 {
		t.Fatalf("balance after returning everything: %+v", b)
	}
}

func TestReturnOfSpentPointsFollowsTheNegativePolicy(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "no negative", true: "negative allowed"}[allow], func(t *testing.T) {
			st, _ := setup(t)
			ctx := context.Background()
			now := testNow
			prog := domain.DefaultProgram()
			prog.AllowNegativeOnReturn = allow
			if _, err := st.SaveProgram(ctx, prog, now.Add(-time.Hour), "test"); err != nil {
				t.Fatal(err)
			}
			m := newMember(t, st, "spent@example.com")
			if _, err := st.AccruePurchase(ctx, basket("T-A", m, now.Add(-time.Minute), lineItem("A", "x", 1, 10_000)), now); err != nil {
				t.Fatal(err)
			}
			if _, err := st.AccruePurchase(ctx, basket("T-B", m, now.Add(-time.Minute), lineItem("B", "x", 1, 3_000)), now); err != nil {
				t.Fatal(err)
			}
			// 130 points; spend 120 of them, then return the 100-point purchase.
			if o, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-1", MemberID: m, Points: 120, StoreID: "s1"}, now); err != nil || o.Status != store.OpApplied {
				t.Fatalf("redeem: %+v %v", o, err)
			}
			o, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-A", TransactionID: "T-A", Items: []domain.ReturnItem{{SKU: "A", Quantity: 1}}}, now)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := st.BalanceAt(ctx, m, now)
			if allow {
				if o.Points != 100 || o.NotRecovered != 0 || b.Available != -90 || b.Total != -90 {
					t.Fatalf("negative allowed: %+v balance %+v", o, b)
				}
				// The next purchase pays the debt back first.
				if _, err := st.AccruePurchase(ctx, basket("T-C", m, now.Add(-time.Minute), lineItem("C", "x", 1, 20_000)), now); err != nil {
					t.Fatal(err)
				}
				if b, _ = st.BalanceAt(ctx, m, now); b.Available != 110 {
					t.Fatalf("after paying the debt back: %+v", b)
				}
			} else if o.Points != 100 || o.NotRecovered != 90 || b.Available != 0 || b.Total != 0 {
				t.Fatalf("no negative: %+v balance %+v", o, b)
			}
		})
	}
}

func TestRedemptionsTakeSoonestExpiringLotsAndNeverOverspend(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	allowLateClaims(t, st, 730) // purchases up to 20 months old: this test is about the order lots are spent in
	m := newMember(t, st, "fifo@example.com")
	// Three purchases months apart: the oldest expires first (24 months after each).
	for i, months := range []int{-10, -20, -5} {
		at := now.AddDate(0, months, 0)
		if _, err := st.AccruePurchase(ctx, basket([]string{"T-10", "T-20", "T-5"}[i], m, at, lineItem("A", "x", 1, 5_000)), now); err != nil {
			t.Fatal(err)
		}
	}
	o, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-F", MemberID: m, Points: 70, StoreID: "s1"}, now)
	if err != nil || o.Status != store.OpApplied {
		t.Fatalf("%+v %v", o, err)
	}
	h, _ := st.History(ctx, m, 0, 10)
	var alloc []domain.Allocation
	lotOf := map[int64]string{}
	for _, e := range h {
		if e.Kind == domain.EntryRedemption {
			alloc = e.Allocations
		}
		if e.Lot != nil {
			lotOf[e.ID] = e.SourceID
		}
	}
	took := map[string]int64{}
	for _, a := range alloc {
		took[lotOf[a.LotID]] = a.Points
	}
	if len(alloc) != 2 || took["T-20"] != 50 || took["T-10"] != 20 {
		t.Fatalf("allocations %+v (lots %v): want 50 from T-20 then 20 from T-10", alloc, lotOf)
	}
	if o, _ := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-G", MemberID: m, Points: 81, StoreID: "s1"}, now); o.Status != store.OpRejected {
		t.Fatalf("81 of 80 available: %+v", o)
	}
	// A refusal does not use up its id: the corrected retry is applied; an applied id reused is a conflict.
	if o, _ := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-G", MemberID: m, Points: 1, StoreID: "s1"}, now); o.Replayed || o.Status != store.OpApplied {
		t.Fatalf("a refused redemption id retried with another amount: %+v", o)
	}
	if o, _ := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-G", MemberID: m, Points: 2, StoreID: "s1"}, now); !o.Replayed || !o.Conflict {
		t.Fatalf("an applied redemption id reused with another amount: %+v", o)
	}
}

func TestConcurrentRedemptionsNeverOverspend(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "race@example.com")
	if _, err := st.AccruePurchase(ctx, basket("T-R", m, now.Add(-time.Minute), lineItem("A", "x", 1, 10_000)), now); err != nil {
		t.Fatal(err)
	}
	done := make(chan domain.OperationOutcome, 16)
	for i := range 16 {
		go func() {
			o, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-" + string(rune('a'+i)), MemberID: m, Points: 30, StoreID: "s1"}, now)
			if err != nil {
				t.Error(err)
			}
			done <- o
		}()
	}
	applied := 0
	for range 16 {
		if (<-done).Status == store.OpApplied {
			applied++
		}
	}
	b, _ := st.BalanceAt(ctx, m, now)
	if applied != 3 || b.Available != 10 {
		t.Fatalf("%d redemptions of 30 applied on 100 points, balance %+v; want 3 and 10 left", applied, b)
	}
}

func TestAdjustmentsAndExpiry(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "adj@example.com")
	credit := domain.Adjustment{AdjustmentID: "ADJ-1", MemberID: m, Points: 40, Reason: "goodwill for a late delivery", Actor: "apikey:support"}
	if o, err := st.Adjust(ctx, credit, now); err != nil || o.Status != store.OpApplied {
		t.Fatalf("%+v %v", o, err)
	}
	if o, _ := st.Adjust(ctx, domain.Adjustment{AdjustmentID: "ADJ-2", MemberID: m, Points: -41, Reason: "too much", Actor: "x"}, now); o.Status != store.OpRejected {
		t.Fatalf("debit beyond the balance: %+v", o)
	}
	h, _ := st.History(ctx, m, 0, 10)
	if len(h) != 1 || h[0].Actor != "apikey:support" || h[0].Reason != credit.Reason || h[0].QualifyingPoints != 0 {
		t.Fatalf("history %+v", h)
	}
	// Two years and a day later the credit has expired: not available, and written off exactly once.
	later := now.AddDate(2, 0, 1)
	if b, _ := st.BalanceAt(ctx, m, later); b.Available != 0 || b.Total != 40 {
		t.Fatalf("balance of expired points before the write-off: %+v", b)
	}
	for range 2 {
		if _, err := st.ExpireMemberLots(ctx, m, later); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := st.BalanceAt(ctx, m, later); b.Total != 0 {
		t.Fatalf("after expiry: %+v", b)
	}
}

func TestTiersRiseAtOnceAndFallOneStepAtReview(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "tier@example.com")
	r, err := st.AccruePurchase(ctx, basket("T-BIG", m, now.Add(-time.Minute), lineItem("A", "x", 1, 600_000)), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.TierChange == nil || r.TierChange.To != "gold" {
		t.Fatalf("6000 qualifying points: %+v", r.TierChange)
	}
	// The gold multiplier (150%) applies from the next purchase on, not to the one that reached it.
	if r.Transaction.PointsEarned != 6000 {
		t.Fatalf("earned %d", r.Transaction.PointsEarned)
	}
	r2, _ := st.AccruePurchase(ctx, basket("T-NEXT", m, now.Add(-time.Minute), lineItem("A", "x", 1, 10_000)), now)
	if r2.Transaction.PointsEarned != 150 || r2.Transaction.TierCode != "gold" {
		t.Fatalf("next purchase earned %d at tier %q", r2.Transaction.PointsEarned, r2.Transaction.TierCode)
	}
	// Spending never demotes.
	if _, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "SPEND", MemberID: m, Points: 6000, StoreID: "s1"}, now); err != nil {
		t.Fatal(err)
	}
	tier, _ := st.GetMemberTier(ctx, m)
	if tier.Code != "gold" || tier.ReviewAt == nil {
		t.Fatalf("tier after spending: %+v", tier)
	}
	// A year and a day later nothing qualifies any more: the review lowers one tier (gold → silver), not two.
	review := *tier.ReviewAt
	after, change, err := st.ReviewTier(ctx, m, review, review.Add(24*time.Hour))
	if err != nil || after.Code != "silver" || change == nil || !after.ReviewAt.After(review) {
		t.Fatalf("review: %+v %+v %v", after, change, err)
	}
	// The same review again changes nothing.
	again, change, _ := st.ReviewTier(ctx, m, review, review.Add(48*time.Hour))
	if again.Code != "silver" || change != nil {
		t.Fatalf("repeated review: %+v %+v", again, change)
	}
}

func TestRulesAreJudgedAtOccurredAt(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	double := domain.Rule{ID: "double", Name: "Double", Priority: 5, Mode: domain.RuleStackable, Action: domain.Action{Type: domain.ActionMultiplier, Percent: 200}}
	if _, err := st.SaveRule(ctx, double, true, now.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	m := newMember(t, st, "late@example.com")
	late, _ := st.AccruePurchase(ctx, basket("T-LATE", m, now.Add(-2*time.Hour), lineItem("A", "x", 1, 1_000)), now)
	fresh, _ := st.AccruePurchase(ctx, basket("T-FRESH", m, now.Add(-time.Minute), lineItem("A", "x", 1, 1_000)), now)
	if late.Transaction.PointsEarned != 10 || fresh.Transaction.PointsEarned != 20 {
		t.Fatalf("late-arriving purchase earned %d (want 10, before the rule), fresh %d (want 20)", late.Transaction.PointsEarned, fresh.Transaction.PointsEarned)
	}
	if err := st.DeleteRule(ctx, "double", now, "test"); err != nil {
		t.Fatal(err)
	}
	after, _ := st.AccruePurchase(ctx, basket("T-AFTER", m, now.Add(time.Minute), lineItem("A", "x", 1, 1_000)), now)
	if after.Transaction.PointsEarned != 10 {
		t.Fatalf("after the rule was deleted: %d", after.Transaction.PointsEarned)
	}
}
