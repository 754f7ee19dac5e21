package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Lifetime is what a member earned, net of returns: a purchase bought and returned leaves it where it was, while
// spending and expiry never lower it. Segments select on it (min_lifetime_points), so a buy-and-return does not
// qualify a member for a campaign.
func TestLifetimeIsNetOfReturnsNotOfSpending(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "lifetime@example.com")
	if _, err := st.AccruePurchase(ctx, basket("T-KEEP", m, now.Add(-time.Minute), lineItem("A", "x", 1, 3_000)), now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccruePurchase(ctx, basket("T-BACK", m, now.Add(-time.Minute), lineItem("B", "x", 2, 5_000)), now); err != nil {
		t.Fatal(err)
	}
	// 30 + 100 earned; 50 spent; one of the two B back (50), then the other.
	if _, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "TILL-L", MemberID: m, Points: 50, StoreID: "s1"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-L1", TransactionID: "T-BACK", Items: []domain.ReturnItem{{SKU: "B", Quantity: 1}}}, now); err != nil {
		t.Fatal(err)
	}
	if b, _ := st.BalanceAt(ctx, m, now); b.Lifetime != 80 {
		t.Fatalf("lifetime after half a return: %+v (want 130 − 50 = 80)", b)
	}
	if _, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-L2", TransactionID: "T-BACK", Items: []domain.ReturnItem{{SKU: "B", Quantity: 1}}}, now); err != nil {
		t.Fatal(err)
	}
	b, _ := st.BalanceAt(ctx, m, now)
	if b.Lifetime != 30 || b.Total != 0 {
		t.Fatalf("after returning T-BACK in full: %+v (want lifetime 30, what T-KEEP earned; spending does not lower it)", b)
	}
	n, err := st.SegmentSize(ctx, domain.Segment{MinLifetimePoints: 31}, now)
	if err != nil || n != 0 {
		t.Fatalf("a segment of members who earned 31 or more holds %d (%v): the returned purchase still counts", n, err)
	}
	if n, _ := st.SegmentSize(ctx, domain.Segment{MinLifetimePoints: 30}, now); n != 1 {
		t.Fatalf("a segment of members who earned 30 or more holds %d", n)
	}

	// The invariants check lifetime against the ledger: the gross figure (returns not taken off) is caught.
	if _, err := db.Pool.Exec(ctx, `UPDATE member_balances SET lifetime = 130 WHERE member_id = $1`, m); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckInvariants(ctx); err == nil || !strings.Contains(err.Error(), "lifetime") {
		t.Fatalf("a gross lifetime passed the invariants: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE member_balances SET lifetime = 30 WHERE member_id = $1`, m); err != nil {
		t.Fatal(err)
	}
}
