package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// The kinds of credit that count towards tiers are the program's qualifying_kinds (by default purchases and campaign
// bonuses), in the balance, the tier review and the history alike.
func TestQualifyingPointsCountTheKindsTheProgramLists(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "kinds@example.com")
	r, err := st.AccruePurchase(ctx, basket("T-Q", m, now.Add(-time.Minute), lineItem("A", "x", 1, 100_000)), now)
	if err != nil || r.TierChange == nil || r.TierChange.To != "silver" {
		t.Fatalf("1000 points from a purchase: %+v %v", r.TierChange, err)
	}
	review := r.TierChange.ReviewAt
	at := review.Add(time.Hour) // the purchase is out of the tier window by then
	adjust := func(id string, pts int64) {
		t.Helper()
		if o, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: id, MemberID: m, Points: pts, Reason: "goodwill", Actor: "test"}, at); err != nil || o.Status != "applied" {
			t.Fatalf("adjust %d: %+v %v", pts, o, err)
		}
	}
	adjust("ADJ-Q1", 1_300)
	adjust("ADJ-Q2", -100)
	// By default adjustments do not qualify.
	if b, _ := st.BalanceAt(ctx, m, at); b.Qualifying != 0 || b.Available != 2_200 {
		t.Fatalf("default kinds: %+v", b)
	}
	prog := domain.DefaultProgram()
	prog.QualifyingKinds = []string{domain.QualifyPurchase, domain.QualifyAdjustment}
	if _, err := st.SaveProgram(ctx, prog, review.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	b, _ := st.BalanceAt(ctx, m, at)
	if b.Qualifying != 1_200 {
		t.Fatalf("adjustments qualify: %+v (want 1300 − 100)", b)
	}
	if b, _ := st.BalanceAt(ctx, m, now); b.Qualifying != 1_000 {
		t.Fatalf("before the program listed adjustments, the purchase alone: %+v", b)
	}
	// The review counts them too: 1200 keeps silver.
	after, change, err := st.ReviewTier(ctx, m, review, at)
	if err != nil || after.Code != "silver" || change != nil {
		t.Fatalf("review with adjustments qualifying: %+v %+v %v", after, change, err)
	}
	// Purchases left out: a purchase and its return no longer count.
	prog.QualifyingKinds = []string{domain.QualifyAdjustment}
	if _, err := st.SaveProgram(ctx, prog, review, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccruePurchase(ctx, basket("T-Q2", m, at, lineItem("A", "x", 1, 50_000)), at); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.BalanceAt(ctx, m, at); b.Qualifying != 1_200 {
		t.Fatalf("purchases not qualifying: %+v", b)
	}
}

func TestQualifyingHistoryShowsWhatEachEntryCounts(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "kindshistory@example.com")
	if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: "ADJ-H", MemberID: m, Points: 40, Reason: "goodwill", Actor: "test"}, testNow); err != nil {
		t.Fatal(err)
	}
	h, err := st.History(ctx, m, 0, 10)
	if err != nil || len(h) != 1 || h[0].QualifyingPoints != 0 {
		t.Fatalf("default kinds: %+v %v", h, err)
	}
	prog := domain.DefaultProgram()
	prog.QualifyingKinds = []string{domain.QualifyAdjustment}
	if _, err := st.SaveProgram(ctx, prog, testNow.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	if h, _ = st.History(ctx, m, 0, 10); len(h) != 1 || h[0].QualifyingPoints != 40 {
		t.Fatalf("adjustments qualifying: %+v", h)
	}
}
