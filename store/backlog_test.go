package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/perkflow/perkflow/domain"
)

// The parked queue is what the member workflow relies on to hold a backlog across a Continue-As-New: rows read back
// in the order parked, a repeated park replacing what a lost attempt left (a prefix of it, or more), a repeated read
// answering the same, and only the rows earlier runs read deleted.
func TestParkedPurchasesReadBackInOrderAndRepeatably(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	member := newMember(t, st, "parked@example.com")
	other := newMember(t, st, "other@example.com")
	batch := func(prefix string, n int) []domain.Purchase {
		out := make([]domain.Purchase, n)
		for i := range out {
			out[i] = purchase(fmt.Sprintf("%s-%03d", prefix, i), member, int64(100+i))
			out[i].Items = []domain.LineItem{{SKU: "BOOK", Quantity: 1, UnitPrice: domain.Money{Amount: int64(100 + i), Currency: "EUR"}}}
		}
		return out
	}
	park := func(from int64, ps []domain.Purchase) {
		t.Helper()
		if err := st.ParkPurchases(ctx, domain.ParkRequest{MemberID: member, From: from, Purchases: ps}); err != nil {
			t.Fatal(err)
		}
	}
	unpark := func(from int64, limit int, deleteBelow int64) []domain.Purchase {
		t.Helper()
		ps, err := st.UnparkPurchases(ctx, domain.UnparkRequest{MemberID: member, From: from, Limit: limit, DeleteBelow: deleteBelow})
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}

	// A lost attempt parked a longer, different queue at 10..; the attempt that counts replaces it.
	park(10, batch("lost", 8))
	want := batch("p", 5)
	park(10, want)
	if err := st.ParkPurchases(ctx, domain.ParkRequest{MemberID: other, From: 0, Purchases: batch("x", 2)}); err == nil {
		t.Fatal("another member's purchases were parked under this member")
	}
	if got := unpark(10, 100, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v; want %+v", got, want)
	}
	// A read is repeatable; the limit and the start are honoured.
	if got := unpark(12, 2, 0); !reflect.DeepEqual(got, want[2:4]) {
		t.Fatalf("rows 12..13 = %+v; want %+v", got, want[2:4])
	}
	if got := unpark(12, 2, 0); !reflect.DeepEqual(got, want[2:4]) {
		t.Fatalf("a repeated read answered %+v", got)
	}
	parked, err := st.PurchaseParked(ctx, member, "p-003")
	if err != nil || !parked {
		t.Fatalf("p-003 parked = %v, %v", parked, err)
	}
	// Deleting what earlier runs read, never what is still to read.
	if got := unpark(13, 100, 13); !reflect.DeepEqual(got, want[3:]) {
		t.Fatalf("after deleting below 13: %+v", got)
	}
	if got := unpark(13, 100, 99); !reflect.DeepEqual(got, want[3:]) {
		t.Fatalf("a deletion past the read start removed rows still to read: %+v", got)
	}
	if parked, _ := st.PurchaseParked(ctx, member, "p-001"); parked {
		t.Fatal("a deleted row is still reported parked")
	}
	// A gap in the queue is an error, not a silent skip.
	park(20, batch("g", 1))
	if _, err := st.UnparkPurchases(ctx, domain.UnparkRequest{MemberID: member, From: 13, Limit: 100}); err == nil {
		t.Fatal("a gap between rows 14 and 20 was read through")
	}
	if _, err := st.UnparkPurchases(ctx, domain.UnparkRequest{MemberID: "not-a-member", From: 0, Limit: 1}); domain.CodeOf(err) != domain.ErrInvalid {
		t.Fatalf("a bad member id: %v", err)
	}
}
