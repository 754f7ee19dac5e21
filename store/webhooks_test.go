package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// Without an enabled endpoint subscribed to a type, its events are not written at all; with one, each ledger write
// writes one, in its own transaction.
func TestOutboxWritesOnlyWhatAnEndpointSubscribesTo(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	count := func() (n int) {
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	m := uuid.NewString()
	if _, err := st.CreateMember(ctx, domain.Registration{MemberID: m, Email: m + "@example.com", Name: "Outbox"}); err != nil {
		t.Fatal(err)
	}
	adj := func(id string, points int64) {
		if _, err := st.Adjust(ctx, domain.Adjustment{AdjustmentID: id, MemberID: m, Points: points, Reason: "outbox test", Actor: "test"}, st.Now()); err != nil {
			t.Fatal(err)
		}
	}
	adj("a1", 10)
	if n := count(); n != 0 {
		t.Fatalf("%d events written with no endpoint", n)
	}
	ep, err := st.CreateWebhookEndpoint(ctx, domain.WebhookEndpoint{ID: uuid.NewString(), URL: "https://hooks.example.com", Events: []string{domain.EventPointsEarned}, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	adj("a2", 10) // points.adjusted: not subscribed
	if n := count(); n != 0 {
		t.Fatalf("%d events written for a type no endpoint subscribes to", n)
	}
	if _, err := st.UpdateWebhookEndpoint(ctx, ep.ID, storeChange([]string{domain.EventPointsAdjusted})); err != nil {
		t.Fatal(err)
	}
	adj("a3", 10)
	adj("a3", 10) // replayed under its key: writes nothing, its event neither
	if n := count(); n != 1 {
		t.Fatalf("%d events after one subscribed write and its replay, want 1", n)
	}
	// The event is written by the statement that appends the entry (a credit is one statement), and names it.
	var evEntry, evBalance, entryID, balanceAfter int64
	var evMember string
	if err := db.Pool.QueryRow(ctx, `SELECT (data->>'entry_id')::bigint, (data->>'balance_after')::bigint, data->>'member_id' FROM webhook_events`).
		Scan(&evEntry, &evBalance, &evMember); err != nil {
		t.Fatal(err)
	}
	var sum int64
	if err := db.Pool.QueryRow(ctx, `SELECT max(id), (SELECT balance_after FROM ledger_entries WHERE id = max(e.id)), sum(points)
		FROM ledger_entries e WHERE member_id = $1`, m).Scan(&entryID, &balanceAfter, &sum); err != nil {
		t.Fatal(err)
	}
	// Its balance after is the entry's, which is the sum of the member's entries up to it (the last one).
	if evEntry != entryID || evBalance != balanceAfter || balanceAfter != sum || evMember != m {
		t.Fatalf("event names entry %d (balance after %d, member %s); the last entry is %d with balance after %d, the entries sum to %d, of %s",
			evEntry, evBalance, evMember, entryID, balanceAfter, sum, m)
	}
	f := false
	if _, err := st.UpdateWebhookEndpoint(ctx, ep.ID, storeEnabled(&f)); err != nil {
		t.Fatal(err)
	}
	adj("a4", 10)
	if n := count(); n != 1 {
		t.Fatalf("%d events after a write with the endpoint disabled, want 1", n)
	}
}

func storeChange(events []string) store.WebhookEndpointChange {
	return store.WebhookEndpointChange{Events: events}
}

func storeEnabled(b *bool) store.WebhookEndpointChange {
	return store.WebhookEndpointChange{Enabled: b}
}
