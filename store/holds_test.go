package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
)

// TestPointsHoldAndReleaseRestoreExactlyTheLots: a hold takes points from the soonest-expiring lots, no other spend
// can use them, and a release gives back exactly those lots (with their expiry dates) once, whatever the retries.
func TestPointsHoldAndReleaseRestoreExactlyTheLots(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "hold@example.com")
	now := testNow
	for i, pts := range []int64{60, 70} {
		if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: uuid.NewString(), MemberID: m, Points: pts, Reason: "gift", Actor: "t"}, now.Add(-time.Duration(2-i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	lots := func() map[int64]int64 {
		rows, err := db.Pool.Query(ctx, `SELECT entry_id, remaining FROM ledger_lots WHERE member_id = $1`, m)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]int64{}
		for rows.Next() {
			var id, rem int64
			if err := rows.Scan(&id, &rem); err != nil {
				t.Fatal(err)
			}
			out[id] = rem
		}
		return out
	}
	before := lots()
	red := uuid.NewString()
	if _, err := st.HoldPoints(ctx, red, m, 100, now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.HoldPoints(ctx, red, m, 100, now); err != nil { // a retry holds nothing more
		t.Fatal(err)
	}
	if b, _ := st.GetBalance(ctx, m); b.Available != 30 {
		t.Fatalf("available %d after holding 100 of 130", b.Available)
	}
	// Another spend cannot use the held points.
	if _, err := st.HoldPoints(ctx, uuid.NewString(), m, 31, now); domain.CodeOf(err) != domain.ErrUnprocessable {
		t.Fatalf("holding more than is left: %v", err)
	}
	for range 2 { // a retried release gives back once
		if _, err := st.ReleasePoints(ctx, red, now); err != nil {
			t.Fatal(err)
		}
	}
	after := lots()
	for id, rem := range before {
		if after[id] != rem {
			t.Fatalf("lot %d has %d after the release, had %d before the hold", id, after[id], rem)
		}
	}
	if b, _ := st.GetBalance(ctx, m); b.Available != 130 || b.Lifetime != 130 {
		t.Fatalf("balance after release %+v", b)
	}
	if err := st.CommitPoints(ctx, red); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("committing released points: %v", err)
	}
	checkLedger(t, db, m)
}

// TestConcurrentHoldsNeverOverspend: K holds racing for one balance take at most what it has.
func TestConcurrentHoldsNeverOverspend(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "race@example.com")
	if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: uuid.NewString(), MemberID: m, Points: 250, Reason: "gift", Actor: "t"}, testNow); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.HoldPoints(ctx, uuid.NewString(), m, 100, testNow)
			if err == nil {
				mu.Lock()
				held++
				mu.Unlock()
			} else if domain.CodeOf(err) != domain.ErrUnprocessable {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if b, _ := st.GetBalance(ctx, m); held != 2 || b.Available != 50 {
		t.Fatalf("%d holds succeeded, available %d; want 2 and 50", held, b.Available)
	}
	checkLedger(t, db, m)
}
