package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// A return of a purchase whose campaign bonus was cut by the campaign's budget takes back the share of the points the
// returned lines earned with that cut, never the points they would have earned without it, and gives the campaign's
// share back to its budget, where another purchase may earn it again.
func TestReturnsOfABudgetCappedPurchaseReverseTheCappedShareAndGiveTheBudgetBack(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	const budget = 30
	activate(t, st, doubleBooks("c-ret", amountPtr(budget)))
	at := testNow.Add(-time.Minute)
	ret := func(id, tx string, books int64) domain.OperationOutcome {
		t.Helper()
		o, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: id, TransactionID: tx, Items: []domain.ReturnItem{{SKU: "BOOK", Quantity: books}}}, testNow)
		if err != nil || o.Status != store.OpApplied {
			t.Fatalf("return %s: %+v %v", id, o, err)
		}
		return o
	}
	report := func(wantIssued int64) store.CampaignReport {
		t.Helper()
		rep, err := st.CampaignReport(ctx, "c-ret")
		if err != nil {
			t.Fatal(err)
		}
		if rep.PointsIssued != wantIssued || rep.BudgetExhausted != (wantIssued >= budget) || *rep.BudgetUsedPercent != wantIssued*100/budget {
			t.Fatalf("report %+v, want %d of the budget issued", rep, wantIssued)
		}
		return rep
	}

	// A buys four books: base 40, campaign +40 cut to the budget's 30: 70. B's two books find the budget spent: 20.
	a, b := newMember(t, st, "cap-a@example.com"), newMember(t, st, "cap-b@example.com")
	if r, err := st.AccruePurchase(ctx, basket("T-CA", a, at, lineItem("BOOK", "books", 4, 1000)), testNow); err != nil || r.Transaction.PointsEarned != 70 {
		t.Fatalf("A: %+v %v", r.Transaction, err)
	}
	if r, err := st.AccruePurchase(ctx, basket("T-CB", b, at, lineItem("BOOK", "books", 2, 1000)), testNow); err != nil || r.Transaction.PointsEarned != 20 {
		t.Fatalf("B: %+v %v", r.Transaction, err)
	}
	report(budget)

	// B's book earned 10 (its campaign share was cut to nothing): 10 back, nothing for the budget.
	if o := ret("R-CB1", "T-CB", 1); o.Points != 10 {
		t.Fatalf("one of B's books back: %d reversed, want 10", o.Points)
	}
	report(budget)

	// Two of A's four books earned 20 base and half the 30 the campaign gave: 35, and 15 back to the budget.
	if o := ret("R-CA1", "T-CA", 2); o.Points != 35 {
		t.Fatalf("two of A's books back: %d reversed, want 35", o.Points)
	}
	rep := report(15)
	if rep.PointsReturned != 15 {
		t.Fatalf("report %+v, want 15 returned to the budget", rep)
	}
	if o, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-CA1", TransactionID: "T-CA", Items: []domain.ReturnItem{{SKU: "BOOK", Quantity: 2}}}, testNow); err != nil || !o.Replayed || o.Points != 35 {
		t.Fatalf("the same return again: %+v %v", o, err)
	}
	report(15) // a replay gives nothing back twice

	// What came back is the budget's again: C's book earns its campaign share in full.
	c := newMember(t, st, "cap-c@example.com")
	if r, err := st.AccruePurchase(ctx, basket("T-CC", c, at, lineItem("BOOK", "books", 1, 1000)), testNow); err != nil || r.Transaction.PointsEarned != 20 {
		t.Fatalf("C: %+v %v", r.Transaction, err)
	}
	report(25)

	// The third book: the last one keeps ⌈30 × 1/4⌉ = 8 of the campaign's 30, so 22 have come back in all (7 now), and
	// 70 − (10 + 8) = 52 reversed in all (17 now). The fourth: the rest, 18 and 8.
	if o := ret("R-CA2", "T-CA", 1); o.Points != 17 {
		t.Fatalf("the third book back: %d reversed, want 17", o.Points)
	}
	report(18)
	if o := ret("R-CA3", "T-CA", 1); o.Points != 18 {
		t.Fatalf("the last book back: %d reversed, want 18", o.Points)
	}
	report(10) // C's share only
	tx, _ := st.GetTransaction(ctx, "T-CA")
	if tx.PointsReversed != tx.PointsEarned {
		t.Fatalf("everything returned, %d of %d reversed", tx.PointsReversed, tx.PointsEarned)
	}
	if bal, _ := st.GetBalance(ctx, a); bal.Available != 0 {
		t.Fatalf("A's balance after returning everything: %+v", bal)
	}
}

// Points a return cannot take back (spent already, with no debt allowed) stay with the member: the campaign's share
// of them is not given back to its budget, which would then pay for them twice.
func TestReturnGivesTheBudgetBackOnlyWhatItRecovered(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	activate(t, st, doubleBooks("c-spent", amountPtr(100)))
	d := newMember(t, st, "cap-d@example.com")
	if r, err := st.AccruePurchase(ctx, basket("T-CD", d, testNow.Add(-time.Minute), lineItem("BOOK", "books", 2, 1000)), testNow); err != nil || r.Transaction.PointsEarned != 40 {
		t.Fatalf("D: %+v %v", r.Transaction, err)
	}
	if o, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-CD", MemberID: d, Points: 25, StoreID: "s1"}, testNow); err != nil || o.Status != store.OpApplied {
		t.Fatalf("redeem: %+v %v", o, err)
	}
	// One book earned 20 (10 of them the campaign's); 15 are left to take: 5 not recovered, counted against the
	// campaign's share first, so 5 come back to the budget.
	o, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-CD1", TransactionID: "T-CD", Items: []domain.ReturnItem{{SKU: "BOOK", Quantity: 1}}}, testNow)
	if err != nil || o.Points != 20 || o.NotRecovered != 5 {
		t.Fatalf("return: %+v %v", o, err)
	}
	rep, err := st.CampaignReport(ctx, "c-spent")
	if err != nil {
		t.Fatal(err)
	}
	if rep.PointsIssued != 15 || rep.PointsReturned != 5 {
		t.Fatalf("report %+v, want 5 of the 20 issued back", rep)
	}
	// The other book: nothing left to take, nothing back.
	if o, err = st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-CD2", TransactionID: "T-CD", Items: []domain.ReturnItem{{SKU: "BOOK", Quantity: 1}}}, testNow); err != nil || o.Points != 20 || o.NotRecovered != 20 {
		t.Fatalf("return: %+v %v", o, err)
	}
	if rep, _ = st.CampaignReport(ctx, "c-spent"); rep.PointsIssued != 15 || rep.PointsReturned != 5 {
		t.Fatalf("report %+v after the second return", rep)
	}
}
