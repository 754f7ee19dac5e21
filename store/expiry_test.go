package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// credit gives a member points at `at` through a manual adjustment: a lot that expires 24 months later (the default
// program's policy).
func credit(t *testing.T, st *store.Store, member, id string, points int64, at time.Time) {
	t.Helper()
	if _, err := st.Adjust(context.Background(), domain.Adjustment{AdjustmentID: id, MemberID: member, Points: points, Reason: "test credit", Actor: "test"}, at); err != nil {
		t.Fatal(err)
	}
}

type lotRow struct {
	id, points, remaining int64
	expires               time.Time
}

func lotsOf(t *testing.T, st *store.Store, member string) []lotRow {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT entry_id, points, remaining, expires_at FROM ledger_lots WHERE member_id = $1 ORDER BY entry_id`, member)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []lotRow
	for rows.Next() {
		var l lotRow
		if err := rows.Scan(&l.id, &l.points, &l.remaining, &l.expires); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// expireAll runs chunks from the start until none is left.
func expireAll(t *testing.T, st *store.Store, now time.Time, opts store.ExpiryChunkOptions) domain.ExpiryStats {
	t.Helper()
	var total domain.ExpiryStats
	cur := domain.ExpiryCursor{}
	for {
		next, stats, more, err := st.ExpireLotsChunk(context.Background(), now, cur, opts)
		if err != nil {
			t.Fatal(err)
		}
		total, cur = total.Add(stats), next
		if !more {
			return total
		}
	}
}

func TestLotsExpireExactlyAtTheirDateAfterFIFOConsumption(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "fifo@example.com")
	t0 := testNow.AddDate(-2, 0, -10).Truncate(time.Microsecond)
	credit(t, st, m, "A1", 100, t0)               // expires first
	credit(t, st, m, "A2", 50, t0.Add(time.Hour)) // an hour later
	// Spending takes the soonest-expiring lot first.
	if _, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "R1", MemberID: m, Points: 30, StoreID: "s"}, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	lots := lotsOf(t, st, m)
	if lots[0].remaining != 70 || lots[1].remaining != 50 {
		t.Fatalf("lots after spending 30: %+v; want the first lot consumed first", lots)
	}
	first, second := lots[0].expires, lots[1].expires
	if s := expireAll(t, st, first.Add(-time.Microsecond), store.ExpiryChunkOptions{}); s.LotsExpired != 0 {
		t.Fatalf("a microsecond before the date, %d lots expired", s.LotsExpired)
	}
	s := expireAll(t, st, first, store.ExpiryChunkOptions{})
	if s.LotsExpired != 1 || s.PointsExpired != 70 {
		t.Fatalf("at the first lot's date: %+v; want its 70 remaining points expired", s)
	}
	if b, _ := st.GetBalance(ctx, m); b.Total != 50 {
		t.Fatalf("balance %+v after the first expiry, want 50", b)
	}
	s = expireAll(t, st, second.Add(time.Minute), store.ExpiryChunkOptions{})
	if s.LotsExpired != 1 || s.PointsExpired != 50 {
		t.Fatalf("at the second lot's date: %+v", s)
	}
	var occurred time.Time
	if err := st.Pool().QueryRow(ctx, `SELECT occurred_at FROM ledger_entries WHERE idempotency_key = $1`, domain.ExpiryKey(lots[1].id)).Scan(&occurred); err != nil || !occurred.Equal(second) {
		t.Fatalf("the expiry entry is dated %v (%v), want the lot's date %v", occurred, err, second)
	}
	if s := expireAll(t, st, second.AddDate(1, 0, 0), store.ExpiryChunkOptions{}); s.LotsExpired != 0 {
		t.Fatalf("a later run expired %d lots again", s.LotsExpired)
	}
	if n := checkLedger(t, db, m); n != 0 {
		t.Fatalf("balance %d after everything expired", n)
	}
}

func TestCrashInTheMiddleOfAChunkExpiresNoLotTwice(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	t0 := testNow.AddDate(-2, 0, -10).Truncate(time.Microsecond)
	const members, lotsPer = 30, 3
	var want int64
	for i := range members {
		m := newMember(t, st, fmt.Sprintf("crash%d@example.com", i))
		for j := range lotsPer {
			pts := int64(10 + i + j)
			credit(t, st, m, fmt.Sprintf("C-%d-%d", i, j), pts, t0.Add(time.Duration(j*members+i)*time.Minute))
			want += pts
		}
	}
	now := testNow
	// The second chunk crashes before it commits: the first stays committed, the second is rolled back whole.
	var chunks atomic.Int64
	crash := errors.New("worker killed")
	opts := store.ExpiryChunkOptions{Limit: 40, BeforeCommit: func(domain.ExpiryStats) error {
		if chunks.Add(1) == 2 {
			return crash
		}
		return nil
	}}
	cur, first, _, err := st.ExpireLotsChunk(ctx, now, domain.ExpiryCursor{}, opts)
	if err != nil || first.LotsExpired != 40 {
		t.Fatalf("first chunk: %+v, %v", first, err)
	}
	if _, _, _, err := st.ExpireLotsChunk(ctx, now, cur, opts); !errors.Is(err, crash) {
		t.Fatalf("want the injected crash, got %v", err)
	}
	var partial domain.ExpiryStats
	partial.LotsExpired, partial.PointsExpired = first.LotsExpired, first.PointsExpired
	// The retry starts again from the start, as an activity whose heartbeat after the first chunk was lost does: the
	// lots the first chunk expired are not expired again.
	rest := expireAll(t, st, now, store.ExpiryChunkOptions{Limit: 40})
	if partial.LotsExpired+rest.LotsExpired != members*lotsPer || partial.PointsExpired+rest.PointsExpired != want {
		t.Fatalf("expired %d+%d lots, %d+%d points; want %d lots, %d points", partial.LotsExpired, rest.LotsExpired,
			partial.PointsExpired, rest.PointsExpired, members*lotsPer, want)
	}
	var entries, lots, left int64
	if err := st.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT source_id) FROM ledger_entries WHERE kind = 'expiry'`).Scan(&entries, &lots); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT COALESCE(sum(remaining), 0) FROM ledger_lots`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if entries != members*lotsPer || lots != entries || left != 0 {
		t.Fatalf("%d expiry entries for %d lots, %d points left; want one entry per lot and nothing left", entries, lots, left)
	}
	// Chunks spanning many members keep every member's running balance and total: the ledger invariants hold.
	if err := st.CheckInvariants(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExpiryRemindersOncePerLot(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow.Truncate(time.Microsecond)
	a, b := newMember(t, st, "ra@example.com"), newMember(t, st, "rb@example.com")
	// Lots expiring in 10 and 12 days (a), 20 days (b), and 40 days (a).
	credit(t, st, a, "RA1", 100, now.AddDate(-2, 0, 10))
	credit(t, st, a, "RA2", 20, now.AddDate(-2, 0, 12))
	credit(t, st, b, "RB1", 5, now.AddDate(-2, 0, 20))
	credit(t, st, a, "RA3", 7, now.AddDate(-2, 0, 40))
	n, err := st.RecordExpiryReminders(ctx, now, now.AddDate(0, 0, 30), 2)
	if err != nil || n != 2 {
		t.Fatalf("first chunk recorded %d lots (%v), want 2", n, err)
	}
	if n, _ = st.RecordExpiryReminders(ctx, now, now.AddDate(0, 0, 30), 2); n != 1 {
		t.Fatalf("second chunk recorded %d lots, want 1", n)
	}
	if n, _ = st.RecordExpiryReminders(ctx, now, now.AddDate(0, 0, 30), 2); n != 0 {
		t.Fatalf("a lot was recorded twice (%d)", n)
	}
	notices, err := st.UnsentExpiryNotices(ctx, 10)
	if err != nil || len(notices) != 2 {
		t.Fatalf("notices %+v (%v), want one per member", notices, err)
	}
	byMember := map[string]store.ExpiryNotice{}
	for _, n := range notices {
		byMember[n.MemberID] = n
		if err := st.MarkExpiryNoticeSent(ctx, n.Key, now); err != nil {
			t.Fatal(err)
		}
	}
	if byMember[a].Points != 120 || byMember[b].Points != 5 {
		t.Fatalf("notices %+v; want 120 points for a, 5 for b", byMember)
	}
	// The next day nothing new is due; eleven days on, the fourth lot is within 30 days and is announced alone.
	if n, _ = st.RecordExpiryReminders(ctx, now.AddDate(0, 0, 1), now.AddDate(0, 0, 31), 10); n != 0 {
		t.Fatalf("the next day announced %d lots again", n)
	}
	if n, _ = st.RecordExpiryReminders(ctx, now.AddDate(0, 0, 11), now.AddDate(0, 0, 41), 10); n != 1 {
		t.Fatalf("eleven days on, %d lots announced; want the fourth only", n)
	}
	if notices, _ = st.UnsentExpiryNotices(ctx, 10); len(notices) != 1 || notices[0].Points != 7 || notices[0].MemberID != a {
		t.Fatalf("notices %+v; want one of 7 points for a", notices)
	}
}

// Two member sets expired side by side (ExpiryChunkOptions.Partition), one of them twice at once (an activity retried
// while its first attempt still runs), while the same members accrue and redeem: every lot past its date is expired
// exactly once, no lot of a member outside a set is touched by that set's run, and every balance and running balance
// is the sum of the member's entries.
func TestMemberSetsExpiringSideBySideWithAccrualsAndRedemptionsExpireEachLotOnce(t *testing.T) {
	st, db := setup(t)
	allowLateClaims(t, st, 3650)
	ctx := context.Background()
	t0 := testNow.AddDate(-2, 0, -10).Truncate(time.Microsecond)
	const members, lotsPer, partitions = 16, 12, 2
	ids := make([]string, members)
	inSet := map[int]int{}
	for i := range members {
		ids[i] = newMember(t, st, fmt.Sprintf("sets%d@example.com", i))
		for j := range lotsPer {
			credit(t, st, ids[i], fmt.Sprintf("S-%d-%d", i, j), int64(20+j), t0.Add(time.Duration(j*members+i)*time.Minute))
		}
		credit(t, st, ids[i], fmt.Sprintf("S-%d-fresh", i), 500, testNow.Add(-time.Hour)) // not past its date
		inSet[store.ExpiryPartitionOf(ids[i], partitions)]++
	}
	if inSet[0] == 0 || inSet[1] == 0 {
		t.Fatalf("members per set %v: the test needs members in both", inSet)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	var stats [3]domain.ExpiryStats
	for k, p := range []int{0, 1, 0} { // set 0 twice at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := domain.ExpiryCursor{}
			opts := store.ExpiryChunkOptions{Limit: 5, Partition: p, Partitions: partitions, BeforeCommit: func(s domain.ExpiryStats) error {
				time.Sleep(time.Millisecond) // hold the chunk's locks a little, so that the writers queue behind it
				return nil
			}}
			for {
				next, s, more, err := st.ExpireLotsChunk(ctx, testNow, cur, opts)
				if err != nil {
					errs <- fmt.Errorf("set %d: %w", p, err)
					return
				}
				stats[k], cur = stats[k].Add(s), next
				if !more {
					return
				}
			}
		}()
	}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 12 {
				m := ids[(w*5+n)%members]
				if n%3 == 2 {
					r := domain.TillRedemption{RedemptionID: fmt.Sprintf("R-%d-%d", w, n), MemberID: m, Points: 7, StoreID: "s1"}
					if _, err := st.RedeemAtTill(ctx, r, testNow); err != nil {
						errs <- fmt.Errorf("redeem: %w", err)
					}
					continue
				}
				if _, err := st.AccruePurchase(ctx, purchase(fmt.Sprintf("P-%d-%d", w, n), m, 1234), testNow); err != nil {
					errs <- fmt.Errorf("accrue: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var entries, distinct, open int64
	if err := st.Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT idempotency_key) FROM ledger_entries WHERE kind = 'expiry'`).Scan(&entries, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE remaining > 0 AND expires_at <= $1`, testNow).Scan(&open); err != nil {
		t.Fatal(err)
	}
	total := stats[0].LotsExpired + stats[1].LotsExpired + stats[2].LotsExpired
	if entries != members*lotsPer || distinct != entries || total != entries || open != 0 {
		t.Fatalf("%d expiry entries (%d lots), %d counted by the runs, %d lots past their date left open; want %d lots expired once each",
			entries, distinct, total, open, members*lotsPer)
	}
	// Each set's runs expired only its members' lots.
	if stats[1].LotsExpired > int64(inSet[1]*lotsPer) || stats[0].LotsExpired+stats[2].LotsExpired > int64(inSet[0]*lotsPer) {
		t.Fatalf("runs expired %d, %d and %d lots; sets hold %d and %d members of %d lots", stats[0].LotsExpired,
			stats[1].LotsExpired, stats[2].LotsExpired, inSet[0], inSet[1], lotsPer)
	}
	for _, m := range ids {
		checkLedger(t, db, m)
	}
	if err := st.CheckInvariants(ctx); err != nil {
		t.Fatal(err)
	}
}
