package activities_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/pgtest"
	"github.com/perkflow/perkflow/store"
)

// expiryNow is the fixed moment the expiry tests run at (the last day of a leap February, near midnight), so that
// "two years ago" and "in 30 days" fall on the same dates whatever day the tests run.
var expiryNow = time.Date(2028, 2, 29, 23, 30, 0, 0, time.UTC)

func TestExpireLotsResumesFromItsLastHeartbeat(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	st := store.New(db.Pool).WithClock(func() time.Time { return expiryNow })
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	t0 := expiryNow.AddDate(-2, 0, -5).Truncate(time.Microsecond)
	for i := range 6 {
		m := domain.Registration{MemberID: uuid.NewString(), Email: fmt.Sprintf("h%d@example.com", i), Name: "H"}
		if _, err := st.CreateMember(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: fmt.Sprintf("H%d", i), MemberID: m.MemberID, Points: 10, Reason: "test", Actor: "t"}, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	var lots []domain.ExpiryCursor
	rows, err := db.Pool.Query(ctx, `SELECT expires_at, entry_id FROM ledger_lots ORDER BY expires_at, entry_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c domain.ExpiryCursor
		if err := rows.Scan(&c.ExpiresAt, &c.LotID); err != nil {
			t.Fatal(err)
		}
		lots = append(lots, c)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acts := &activities.Activities{Store: st, Notifier: activities.LogNotifier{Log: log}, Log: log}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(acts.ExpireLots)
	// A previous attempt got through the first two lots before it died.
	env.SetHeartbeatDetails(domain.ExpireLotsResult{Cursor: lots[1], Stats: domain.ExpiryStats{LotsExpired: 2}})
	v, err := env.ExecuteActivity(acts.ExpireLots, domain.ExpireLotsRequest{Now: expiryNow, ChunkSize: 2, MaxChunks: 10})
	if err != nil {
		t.Fatal(err)
	}
	var res domain.ExpireLotsResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.Stats.LotsExpired != 6 || res.Cursor.LotID != lots[5].LotID || !res.Cursor.ExpiresAt.Equal(lots[5].ExpiresAt) {
		t.Fatalf("result %+v; want done, the two lots of the heartbeat and the four after them", res)
	}
	var open int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM ledger_lots WHERE remaining > 0`).Scan(&open); err != nil || open != 2 {
		t.Fatalf("%d lots still open (%v); want the two before the heartbeat's cursor left to the next run", open, err)
	}
}

func TestRemindExpiringPointsSendsOncePerLot(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	st := store.New(db.Pool).WithClock(func() time.Time { return expiryNow })
	if _, err := st.SaveProgram(ctx, domain.DefaultProgram(), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	now := expiryNow
	m := domain.Registration{MemberID: uuid.NewString(), Email: "rem@example.com", Name: "Rem", Consent: domain.Consent{Email: true}}
	if _, err := st.CreateMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	for i, days := range []int{5, 9, 60} { // two lots within the default 30 reminder days, one beyond
		if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: fmt.Sprintf("E%d", i), MemberID: m.MemberID, Points: 10, Reason: "test", Actor: "t"},
			now.AddDate(-2, 0, days)); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	acts := &activities.Activities{Store: st, Notifier: activities.LogNotifier{Log: log}, Log: log}
	first, err := acts.RemindExpiringPoints(ctx, domain.RemindExpiringRequest{Now: now, ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.LotsReminded != 2 || first.NoticesSent != 1 {
		t.Fatalf("first run %+v; want two lots in one message", first)
	}
	again, err := acts.RemindExpiringPoints(ctx, domain.RemindExpiringRequest{Now: now.Add(time.Hour), ChunkSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if again.LotsReminded != 0 || again.NoticesSent != 0 {
		t.Fatalf("second run %+v; a lot is reminded once", again)
	}
}
