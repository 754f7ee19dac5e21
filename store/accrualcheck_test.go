package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// threeReads is what the API read before accepting a purchase before CheckAccrual, one round trip each, with the
// member's tier (for a member workflow the purchase may start).
func threeReads(ctx context.Context, st *store.Store, p domain.Purchase) (store.AccrualCheck, error) {
	var c store.AccrualCheck
	t, err := st.GetTransaction(ctx, p.TransactionID)
	switch {
	case err == nil:
		c.Recorded = &t
	case domain.CodeOf(err) != domain.ErrNotFound:
		return store.AccrualCheck{}, err
	}
	c.Member, c.MemberErr = st.GetMember(ctx, p.MemberID)
	c.Program, c.ProgramErr = st.ProgramAt(ctx, p.OccurredAt)
	c.Tier, _ = st.GetMemberTier(ctx, p.MemberID)
	return c, nil
}

func TestCheckAccrualMatchesTheThreeReads(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := activeMember(t, st, now)
	recorded := basket("V-BIG-"+m, m, now.Add(-time.Hour), lineItem("A", "x", 1, 600_000))
	for name, p := range map[string]domain.Purchase{
		"a recorded purchase":            recorded,
		"a new purchase":                 basket("C-NEW-"+m, m, now, lineItem("A", "x", 1, 100)),
		"a new purchase, unknown member": basket("C-NEW-2", uuid.NewString(), now, lineItem("A", "x", 1, 100)),
		"before any program version":     basket("C-OLD", m, time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), lineItem("A", "x", 1, 100)),
	} {
		got, err := st.CheckAccrual(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := threeReads(ctx, st, p)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: CheckAccrual\n%+v\nthree reads\n%+v", name, got, want)
		}
	}
	got, _ := st.CheckAccrual(ctx, recorded)
	if got.Recorded == nil || got.Recorded.PointsEarned == 0 || got.Member.MemberID != m || got.ProgramErr != nil || got.Program.Version == 0 {
		t.Fatalf("fixture: %+v", got)
	}
	unknown, _ := st.CheckAccrual(ctx, basket("C-NEW-3", uuid.NewString(), now))
	if unknown.Recorded != nil || domain.CodeOf(unknown.MemberErr) != domain.ErrNotFound {
		t.Fatalf("unknown member: %+v", unknown)
	}
}

func TestGetAccrualReadsThePurchaseAndTheBalance(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := activeMember(t, st, now)
	id := "V-SMALL-" + m
	a, err := st.GetAccrual(ctx, id, m)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := st.GetTransaction(ctx, id)
	bal, _ := st.GetBalance(ctx, m)
	if !reflect.DeepEqual(a, store.Accrual{Transaction: tx, Balance: bal}) || bal.Lifetime == 0 {
		t.Fatalf("GetAccrual: %+v\nGetTransaction, GetBalance: %+v %+v", a, tx, bal)
	}
	// Unknown: not found, as GetTransaction.
	if _, err := st.GetAccrual(ctx, "C-NONE", m); domain.CodeOf(err) != domain.ErrNotFound {
		t.Fatalf("unknown purchase: %v", err)
	}
	// The id used for another member: the purchase is still read, the balance's error kept apart.
	a, err = st.GetAccrual(ctx, id, uuid.NewString())
	if err != nil || a.Transaction.TransactionID != id || domain.CodeOf(a.BalanceErr) != domain.ErrNotFound {
		t.Fatalf("another member: %+v, %v", a, err)
	}
	// The batch is fully read and its connection released: the pool still serves.
	if _, err := st.GetAccrual(ctx, id, m); err != nil {
		t.Fatal(err)
	}
}
