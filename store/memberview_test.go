package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

// activeMember gives a member some ledger activity: a purchase that reaches gold, a smaller one, a till redemption
// and a support credit.
func activeMember(tb testing.TB, st *store.Store, now time.Time) string {
	tb.Helper()
	ctx := context.Background()
	m := uuid.NewString()
	if _, err := st.CreateMember(ctx, domain.Registration{MemberID: m, Email: m + "@example.com", Name: "View", Phone: "+33600000000",
		Birthdate: "1990-04-01", Consent: domain.Consent{Email: true}}); err != nil {
		tb.Fatal(err)
	}
	if r, err := st.AccruePurchase(ctx, basket("V-BIG-"+m, m, now.Add(-time.Hour), lineItem("A", "x", 1, 600_000)), now); err != nil {
		tb.Fatal(err)
	} else if r.TierChange == nil || r.TierChange.To != "gold" {
		tb.Fatalf("no tier reached: %+v", r.TierChange)
	}
	if _, err := st.AccruePurchase(ctx, basket("V-SMALL-"+m, m, now.Add(-time.Minute), lineItem("B", "x", 2, 1_250)), now); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.RedeemAtTill(ctx, domain.TillRedemption{RedemptionID: "V-SPEND-" + m, MemberID: m, Points: 1234, StoreID: "s1"}, now); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: "V-ADJ-" + m, MemberID: m, Points: 77, Reason: "goodwill", Actor: "test"}, now); err != nil {
		tb.Fatal(err)
	}
	return m
}

// fourQueries is what GET /v1/members/{id} read before MemberView, one round trip each.
func fourQueries(ctx context.Context, st *store.Store, id string, now time.Time) (store.MemberView, error) {
	var v store.MemberView
	var err error
	if v.Member, err = st.GetMember(ctx, id); err != nil {
		return store.MemberView{}, err
	}
	if v.Balance, err = st.GetBalance(ctx, id); err != nil {
		return store.MemberView{Member: v.Member}, err
	}
	if v.Tier, err = st.GetMemberTier(ctx, id); err != nil {
		return store.MemberView{Member: v.Member}, err
	}
	v.Program, v.ProgramErr = st.ProgramAt(ctx, now)
	return v, nil
}

func TestMemberViewMatchesTheFourReads(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	now := testNow
	m := activeMember(t, st, now)

	got, err := st.MemberView(ctx, m, now)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fourQueries(ctx, st, m, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MemberView:\n%+v\nfour reads:\n%+v", got, want)
	}
	// The fixture is what it claims to be: a tier held, points earned, spent and credited.
	if got.Tier.Code != "gold" || got.Tier.ReviewAt == nil || got.Balance.Lifetime == 0 || got.Balance.Qualifying == 0 ||
		got.Member.Birthdate != "1990-04-01" || got.Program.Version == 0 || got.ProgramErr != nil {
		t.Fatalf("fixture: %+v", got)
	}

	// A member without a tier stored (the entry tier) and without activity.
	plain := newMember(t, st, "plain-view@example.com")
	got, err = st.MemberView(ctx, plain, now)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := fourQueries(ctx, st, plain, now); !reflect.DeepEqual(got, want) || got.Tier.Code != "" {
		t.Fatalf("MemberView:\n%+v\nfour reads:\n%+v", got, want)
	}

	// An unknown member: the same not-found error as GetMember's, and nothing else.
	unknown := uuid.NewString()
	got, err = st.MemberView(ctx, unknown, now)
	_, wantErr := st.GetMember(ctx, unknown)
	if domain.CodeOf(err) != domain.ErrNotFound || err.Error() != wantErr.Error() || !reflect.DeepEqual(got, store.MemberView{}) {
		t.Fatalf("unknown member: %+v, %v (GetMember: %v)", got, err, wantErr)
	}
	// The batch is fully read and its connection released: the pool still serves.
	if _, err := st.MemberView(ctx, m, now); err != nil {
		t.Fatal(err)
	}
}

func TestMemberViewWithoutProgramSettings(t *testing.T) {
	db := pgtest.New(t)
	st := store.New(db.Pool).WithClock(testClock)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "noprogram@example.com")
	got, err := st.MemberView(ctx, m, now)
	if err != nil {
		t.Fatal(err)
	}
	_, wantErr := st.ProgramAt(ctx, now)
	if domain.CodeOf(got.ProgramErr) != domain.ErrNotFound || got.ProgramErr.Error() != wantErr.Error() {
		t.Fatalf("program error %v, ProgramAt: %v", got.ProgramErr, wantErr)
	}
	if got.Member.MemberID != m {
		t.Fatalf("member: %+v", got.Member)
	}
}

// benchMember sets up a database with a program and one member with some activity.
func benchMember(b *testing.B) (*store.Store, string) {
	b.Helper()
	db := pgtest.New(b)
	st := store.New(db.Pool).WithClock(testClock)
	ctx := context.Background()
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), epoch, "bench"); err != nil {
		b.Fatal(err)
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, epoch, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return st, activeMember(b, st, testNow)
}

func benchView(b *testing.B, read func(context.Context, *store.Store, string, time.Time) (store.MemberView, error)) {
	st, m := benchMember(b)
	ctx := context.Background()
	for range 20 { // warm the pool's connections and their statement caches
		if _, err := read(ctx, st, m, testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := read(ctx, st, m, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemberView reads a member's view in one batch: one round trip.
func BenchmarkMemberView(b *testing.B) {
	benchView(b, func(ctx context.Context, st *store.Store, id string, now time.Time) (store.MemberView, error) {
		return st.MemberView(ctx, id, now)
	})
}

// BenchmarkMemberViewFourQueries reads the same with the four separate calls: four round trips.
func BenchmarkMemberViewFourQueries(b *testing.B) {
	benchView(b, fourQueries)
}

// historyMember registers a member two years before testNow and gives them purchases purchases a week apart, the
// last a week before testNow: the history a member app's balance read has to sum. It returns an error rather than
// failing the test, so that writers in other goroutines can call it.
func historyMember(st *store.Store, purchases int) (string, error) {
	ctx := context.Background()
	m := uuid.NewString()
	joined := testNow.AddDate(-2, 0, 0)
	if _, err := st.WithClock(func() time.Time { return joined }).CreateMember(ctx, domain.Registration{MemberID: m,
		Email: m + "@example.com", Consent: domain.Consent{Email: true}}); err != nil {
		return "", err
	}
	for i := range purchases {
		at := testNow.AddDate(0, 0, -7*(purchases-i))
		if _, err := st.AccruePurchase(ctx, basket(fmt.Sprintf("H-%s-%d", m, i), m, at, lineItem("A", "x", 1, 2_500)), at.Add(time.Minute)); err != nil {
			return "", err
		}
	}
	return m, nil
}

// vacuumLedger vacuums and analyzes the tables a balance read sums, as autovacuum would in a live database, so that
// their pages are all-visible and the planner knows their sizes.
func vacuumLedger(tb testing.TB, st *store.Store) {
	tb.Helper()
	for _, table := range []string{"ledger_entries", "ledger_lots", "member_balances"} {
		if _, err := st.Pool().Exec(context.Background(), "VACUUM ANALYZE "+table); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkMemberViewHistory reads the views of 100 members with 40 purchases behind each, in turn, as the bench's
// reads of members after its accrual runs do: enough lots and entries that Postgres finds a member's through the
// indexes rather than by reading the whole tables.
func BenchmarkMemberViewHistory(b *testing.B) {
	st, _ := benchMember(b)
	members := make([]string, 100)
	var g errgroup.Group
	g.SetLimit(4)
	for i := range members {
		g.Go(func() (err error) {
			members[i], err = historyMember(st, 40)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	vacuumLedger(b, st)
	ctx := context.Background()
	for _, m := range members { // warm the pool's connections and their statement caches
		if _, err := st.MemberView(ctx, m, testNow); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := st.MemberView(ctx, members[i%len(members)], testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBalanceReadIsAnsweredFromIndexes: a balance read of a member with history sums their open lots and qualifying
// entries from the two partial indexes alone (migration 00023), without visiting the rows, and never through the expiry
// run's indexes over every member's lots. Both plans are checked: the one for the values given and the generic one
// that pgx's prepared statements settle on. Sequential and bitmap scans are turned off, which tables this small would
// otherwise pick; what is checked is that the index the read uses carries every column it needs, which a dropped
// INCLUDE column or a new column read by the sums would break.
func TestBalanceReadIsAnsweredFromIndexes(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	m, err := historyMember(st, 8)
	if err != nil {
		t.Fatal(err)
	}
	vacuumLedger(t, st)
	conn, err := st.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, set := range []string{"SET enable_seqscan = off", "SET enable_bitmapscan = off"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	explain := func(sql string, args ...any) string {
		t.Helper()
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	sql, args := store.BalanceQuery(m, testNow)
	custom := explain("EXPLAIN (COSTS OFF) "+sql, args...)
	if _, err := conn.Exec(ctx, "PREPARE balance AS "+sql); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	kinds, ok := args[2].([]string)
	if !ok {
		t.Fatalf("the balance query's third argument is %T, not the kinds of credit", args[2])
	}
	generic := explain(fmt.Sprintf("EXPLAIN (COSTS OFF) EXECUTE balance('%s', '%s', '{%s}')", m, testNow.Format(time.RFC3339Nano), strings.Join(kinds, ",")))
	for name, plan := range map[string]string{"custom": custom, "generic": generic} {
		for _, want := range []string{
			"Index Only Scan using ledger_lots_open on ledger_lots",
			"Index Only Scan using ledger_entries_qualifying_kinds on ledger_entries",
		} {
			if !strings.Contains(plan, want) {
				t.Errorf("the %s plan has no %q:\n%s", name, want, plan)
			}
		}
		for _, never := range []string{"Index Scan using ledger_", "ledger_lots_expiry_cursor", "ledger_lots_expiring"} {
			if strings.Contains(plan, never) {
				t.Errorf("the %s plan uses %q:\n%s", name, never, plan)
			}
		}
	}
}
