package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

// testNow is the moment every store test runs at, whatever day it is: a leap day, half an hour before midnight at
// the end of a month, so that date arithmetic (pending days, expiry months, tier windows, period starts, birthdays)
// meets its edges on every run instead of on the few days a year they would by chance. The store's clock reads it
// too (store.WithClock), so balances "now" and members' join dates agree with it.
var testNow = time.Date(2028, 2, 29, 23, 30, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

func setup(t *testing.T) (*store.Store, *pgtest.DB) {
	t.Helper()
	db := pgtest.New(t)
	st := store.New(db.Pool).WithClock(testClock)
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := st.SaveProgram(context.Background(), domain.DefaultProgram(), epoch, "test"); err != nil {
		t.Fatal(err)
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(context.Background(), r, true, epoch, "test"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := st.CheckInvariants(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return st, db
}

// allowLateClaims records the default program again, in force from the same epoch as setup's, with retro_claim_days
// set to days: for tests about something else whose purchases occur long before their members join (by the store's
// clock, testNow) or before the moment they are accrued.
func allowLateClaims(t *testing.T, st *store.Store, days int) {
	t.Helper()
	p := domain.DefaultProgram()
	p.RetroClaimDays = &days
	if _, err := st.SaveProgram(context.Background(), p, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
}

func newMember(t *testing.T, st *store.Store, email string) string {
	t.Helper()
	r := domain.Registration{MemberID: uuid.NewString(), Email: email, Name: "Test"}
	if _, err := st.CreateMember(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r.MemberID
}

func purchase(tx, member string, cents int64) domain.Purchase {
	return domain.Purchase{
		TransactionID: tx, MemberID: member, StoreID: "s1", Channel: "store",
		OccurredAt: testNow.Add(-time.Minute).UTC().Truncate(time.Microsecond), Total: domain.Money{Amount: cents, Currency: "EUR"},
	}
}

// checkLedger asserts the ledger's invariants for a member: balance = sum of entries = last balance_after, and the
// running balances chain without a gap.
func checkLedger(t *testing.T, db *pgtest.DB, member string) int64 {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Pool.Query(ctx, `SELECT points, balance_after FROM ledger_entries WHERE member_id = $1 ORDER BY id`, member)
	if err != nil {
		t.Fatal(err)
	}
	var running int64
	for rows.Next() {
		var pts, after int64
		if err := rows.Scan(&pts, &after); err != nil {
			t.Fatal(err)
		}
		running += pts
		if after != running {
			t.Fatalf("balance_after %d, but the entries so far sum to %d", after, running)
		}
	}
	var total int64
	if err := db.Pool.QueryRow(ctx, `SELECT total FROM member_balances WHERE member_id = $1`, member).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != running {
		t.Fatalf("balance %d, entries sum to %d", total, running)
	}
	return total
}

func TestAccrueSameTransactionConcurrentlyWritesOnce(t *testing.T) {
	st, db := setup(t)
	m := newMember(t, st, "c@example.com")
	p := purchase("T-RACE", m, 4_200)
	var wg sync.WaitGroup
	results := make([]store.AccrualResult, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], errs[i] = st.AccruePurchase(context.Background(), p, testNow) }()
	}
	wg.Wait()
	fresh := 0
	for i := range 20 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !results[i].Replayed {
			fresh++
		}
		if results[i].Transaction.PointsEarned != 42 || results[i].Conflict {
			t.Fatalf("result %d: %+v", i, results[i])
		}
	}
	if fresh != 1 {
		t.Fatalf("%d calls wrote the accrual, want exactly 1", fresh)
	}
	if got := checkLedger(t, db, m); got != 42 {
		t.Fatalf("balance %d, want 42", got)
	}
	other := p
	other.Total.Amount = 1
	r, err := st.AccruePurchase(context.Background(), other, testNow)
	if err != nil || !r.Replayed || !r.Conflict || r.Transaction.PointsEarned != 42 {
		t.Fatalf("reused id with other content: %+v %v", r, err)
	}
}

func TestConcurrentAccrualsKeepBalanceEqualToEntries(t *testing.T) {
	st, db := setup(t)
	m := newMember(t, st, "many@example.com")
	var wg sync.WaitGroup
	const n = 200
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.AccruePurchase(context.Background(), purchase(fmt.Sprintf("T-%d", i), m, int64(100+i)), testNow); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var want int64
	for i := range n {
		want += int64(100+i) / 100
	}
	if got := checkLedger(t, db, m); got != want {
		t.Fatalf("balance %d, want %d", got, want)
	}
	b, err := st.GetBalance(context.Background(), m)
	if err != nil || b.Available != want || b.Lifetime != want || b.Qualifying != want || b.Pending != 0 {
		t.Fatalf("balance %+v %v, want %d everywhere", b, err, want)
	}
}

func TestLedgerIsAppendOnly(t *testing.T) {
	st, db := setup(t)
	m := newMember(t, st, "ao@example.com")
	if _, err := st.AccruePurchase(context.Background(), purchase("T-AO", m, 1_000), testNow); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		`UPDATE ledger_entries SET points = 1000`,
		`DELETE FROM ledger_entries`,
		`TRUNCATE ledger_entries CASCADE`,
	} {
		if _, err := db.Pool.Exec(context.Background(), sql); err == nil {
			t.Fatalf("%s succeeded on the append-only ledger", sql)
		}
	}
	if got := checkLedger(t, db, m); got != 10 {
		t.Fatalf("balance %d after refused edits", got)
	}
}

func TestPendingPointsAreNotAvailable(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	p := domain.DefaultProgram()
	p.PendingDays = 30
	retro := 90
	p.RetroClaimDays = &retro
	if _, err := st.SaveProgram(ctx, p, testNow.Add(-time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	m := newMember(t, st, "pending@example.com")
	old := purchase("T-OLD", m, 500)
	old.OccurredAt = testNow.AddDate(0, -2, 0) // judged by the version in force then: no pending period
	if _, err := st.AccruePurchase(ctx, old, testNow); err != nil {
		t.Fatal(err)
	}
	r, err := st.AccruePurchase(ctx, purchase("T-NEW", m, 1_000), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Transaction.ProgramVersion < 2 || r.Balance.Pending != 10 || r.Balance.Available != 5 || r.Balance.Lifetime != 15 {
		t.Fatalf("result %+v", r)
	}
	checkLedger(t, db, m)
}

func TestCreateMemberIsIdempotentAndEmailUnique(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	r := domain.Registration{MemberID: uuid.NewString(), Email: "dup@example.com", Name: "A", ExternalID: "EXT-1"}
	if _, err := st.CreateMember(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateMember(ctx, r); err != nil {
		t.Fatalf("retrying the same registration: %v", err)
	}
	r2 := r
	r2.MemberID, r2.ExternalID = uuid.NewString(), ""
	r2.Email = "DUP@example.com"
	if _, err := st.CreateMember(ctx, r2); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("same email in another case: %v", err)
	}
	r3 := r
	r3.MemberID, r3.Email = uuid.NewString(), "other@example.com"
	if _, err := st.CreateMember(ctx, r3); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("same external id: %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	key, err := st.CreateAPIKey(ctx, "till-1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	var clear int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE encode(key_hash, 'escape') LIKE '%' || $1 || '%'`, key[3:12]).Scan(&clear)
	if clear != 0 {
		t.Fatal("the key is stored in clear")
	}
	k, err := st.AuthenticateAPIKey(ctx, key)
	if err != nil || k.Role != "pos" || k.Name != "till-1" {
		t.Fatalf("authenticate: %+v %v", k, err)
	}
	if _, err := st.AuthenticateAPIKey(ctx, key+"x"); domain.CodeOf(err) != domain.ErrUnauthorized {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := st.CreateAPIKey(ctx, "till-1", "pos"); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("second active key with the same name: %v", err)
	}
	if err := st.RevokeAPIKey(ctx, "till-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AuthenticateAPIKey(ctx, key); domain.CodeOf(err) != domain.ErrUnauthorized {
		t.Fatalf("revoked key still works: %v", err)
	}
	if _, err := st.CreateAPIKey(ctx, "x", "root"); domain.CodeOf(err) != domain.ErrInvalid {
		t.Fatalf("unknown role: %v", err)
	}
}

// A purchase may be claimed at most retro_claim_days (default 30) before the member joined and before now; none
// creates a lot expired already.
func TestLatePurchasesAreBoundedByRetroClaimDays(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "late@example.com") // joined at testNow, the store's clock
	for _, c := range []struct {
		id     string
		at     time.Time
		status string
	}{
		{"T-RECENT", testNow.AddDate(0, 0, -29), store.TxAccrued},
		{"T-2024", time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), store.TxRejected},
		{"T-31-DAYS", testNow.AddDate(0, 0, -31), store.TxRejected},
	} {
		p := purchase(c.id, m, 1_000)
		p.OccurredAt = c.at
		r, err := st.AccruePurchase(ctx, p, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if r.Transaction.Status != c.status || (c.status == store.TxRejected && (r.Transaction.PointsEarned != 0 || r.Transaction.RejectReason == "")) {
			t.Fatalf("%s: %+v, want %s", c.id, r.Transaction, c.status)
		}
	}
	// A program that allows older claims, with points expiring after a month: still no lot expired already.
	p := domain.DefaultProgram()
	days := 400
	p.RetroClaimDays, p.Expiry.Months = &days, 1
	if _, err := st.SaveProgram(ctx, p, testNow.AddDate(0, 0, -60), "test"); err != nil {
		t.Fatal(err)
	}
	old := purchase("T-EXPIRED", m, 1_000)
	old.OccurredAt = testNow.AddDate(0, 0, -45)
	if r, err := st.AccruePurchase(ctx, old, testNow); err != nil || r.Transaction.Status != store.TxRejected {
		t.Fatalf("a purchase whose points expired already: %+v, %v", r.Transaction, err)
	}
	var expired int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE member_id = $1 AND expires_at <= $2`, m, testNow).Scan(&expired); err != nil {
		t.Fatal(err)
	}
	if expired != 0 {
		t.Fatalf("%d lots created already expired", expired)
	}
	checkLedger(t, db, m)
}
