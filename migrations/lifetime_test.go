package migrations_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

// TestLifetimeIsRecomputedNetOfReturns: migration 00017 recomputes every member's lifetime points from the ledger's
// entries, net of returns (its down migration gives back the gross figure).
func TestLifetimeIsRecomputedNetOfReturns(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	now := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	st := store.New(db.Pool).WithClock(func() time.Time { return now })
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), now.AddDate(-1, 0, 0), "test"); err != nil {
		t.Fatal(err)
	}
	for _, r := range domain.DefaultRules() {
		if _, err := st.SaveRule(ctx, r, true, now.AddDate(-1, 0, 0), "test"); err != nil {
			t.Fatal(err)
		}
	}
	m := uuid.NewString()
	if _, err := st.CreateMember(ctx, domain.Registration{MemberID: m, Email: "migrated@example.com", Name: "Test"}); err != nil {
		t.Fatal(err)
	}
	line := func(sku string, cents int64) domain.LineItem {
		return domain.LineItem{SKU: sku, Category: "x", Quantity: 1, UnitPrice: domain.Money{Amount: cents, Currency: "EUR"}}
	}
	for tx, it := range map[string]domain.LineItem{"T-KEEP": line("A", 4_000), "T-BACK": line("B", 10_000)} {
		p := domain.Purchase{TransactionID: tx, MemberID: m, StoreID: "s1", Channel: "store", OccurredAt: now.Add(-time.Minute),
			Total: it.UnitPrice, Items: []domain.LineItem{it}}
		if _, err := st.AccruePurchase(ctx, p, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.ReturnPurchase(ctx, domain.Return{ReturnID: "R-BACK", TransactionID: "T-BACK", Items: []domain.ReturnItem{{SKU: "B", Quantity: 1}}}, now); err != nil {
		t.Fatal(err)
	}
	lifetime := func() int64 {
		t.Helper()
		var n int64
		if err := db.Pool.QueryRow(ctx, `SELECT lifetime FROM member_balances WHERE member_id = $1`, m).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, os.DirFS("."), goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 16); err != nil {
		t.Fatal(err)
	}
	if got := lifetime(); got != 140 {
		t.Fatalf("lifetime before 00017: %d, want the gross 140", got)
	}
	if _, err := p.UpTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	if got := lifetime(); got != 40 {
		t.Fatalf("lifetime after 00017: %d, want 140 − 100 returned = 40", got)
	}
	if err := st.CheckInvariants(ctx); err != nil {
		t.Fatal(err)
	}
}
