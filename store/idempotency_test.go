package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/store"
)

func TestIdempotencyKeyLifecycle(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	fp, other := []byte("fingerprint-1"), []byte("fingerprint-2")
	const stale = time.Minute

	c, err := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", fp, stale)
	if err != nil || c.State != store.IdempotencyNew || c.Lease == "" {
		t.Fatalf("first claim: %+v %v", c, err)
	}
	lease := c.Lease
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", fp, stale); c.State != store.IdempotencyRunning {
		t.Fatalf("claim while running: %+v", c)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", other, stale); c.State != store.IdempotencyMismatch {
		t.Fatalf("claim with another request: %+v", c)
	}
	// Keys are per actor.
	if c, _ := st.ClaimIdempotencyKey(ctx, "member:x", "k1", other, stale); c.State != store.IdempotencyNew {
		t.Fatalf("another actor's claim: %+v", c)
	}
	// A holder whose lease is not the row's cannot complete it.
	if err := st.CompleteIdempotencyKey(ctx, "apikey:pos", "k1", "not-the-lease", store.StoredResponse{Status: 201}); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", fp, stale); c.State != store.IdempotencyRunning {
		t.Fatalf("completed with a foreign lease: %+v", c)
	}
	resp := store.StoredResponse{Status: 201, Header: map[string]string{"Location": "/v1/members/x", "Content-Type": "application/json"}, Body: []byte(`{"a":1}`)}
	if err := st.CompleteIdempotencyKey(ctx, "apikey:pos", "k1", lease, resp); err != nil {
		t.Fatal(err)
	}
	c, err = st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", fp, stale)
	if err != nil || c.State != store.IdempotencyDone || c.Response.Status != 201 || string(c.Response.Body) != `{"a":1}` ||
		c.Response.Header["Location"] != "/v1/members/x" || c.Response.Header["Content-Type"] != "application/json" {
		t.Fatalf("claim after completion: %+v %v", c, err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", other, stale); c.State != store.IdempotencyMismatch {
		t.Fatalf("done key with another request: %+v", c)
	}

	// Released keys are free again.
	c, _ = st.ClaimIdempotencyKey(ctx, "apikey:pos", "k2", fp, stale)
	if err := st.ReleaseIdempotencyKey(ctx, "apikey:pos", "k2", c.Lease); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k2", other, stale); c.State != store.IdempotencyNew {
		t.Fatalf("claim after release: %+v", c)
	}

	// A running key whose request died is taken over after staleAfter; the dead request can no longer touch it.
	c, _ = st.ClaimIdempotencyKey(ctx, "apikey:pos", "k3", fp, stale)
	dead := c.Lease
	if _, err := db.Pool.Exec(ctx, `UPDATE idempotency_keys SET locked_at = now() - interval '2 minutes' WHERE key = 'k3'`); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k3", other, stale); c.State != store.IdempotencyMismatch {
		t.Fatalf("an abandoned key is only taken over by the same request: %+v", c)
	}
	c, _ = st.ClaimIdempotencyKey(ctx, "apikey:pos", "k3", fp, stale)
	if c.State != store.IdempotencyNew || c.Lease == dead {
		t.Fatalf("taking over an abandoned key: %+v", c)
	}
	if err := st.ReleaseIdempotencyKey(ctx, "apikey:pos", "k3", dead); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k3", fp, stale); c.State != store.IdempotencyRunning {
		t.Fatalf("the dead request freed its successor's key: %+v", c)
	}

	// After 24 hours a key is forgotten, then pruned.
	if _, err := db.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE actor = 'apikey:pos' AND key = 'k1'`); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.ClaimIdempotencyKey(ctx, "apikey:pos", "k1", other, stale); c.State != store.IdempotencyNew {
		t.Fatalf("claim of an expired key: %+v", c)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE actor = 'apikey:pos' AND key IN ('k1', 'k2')`); err != nil {
		t.Fatal(err)
	}
	n, err := st.PruneIdempotencyKeys(ctx)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	var left int
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys`).Scan(&left)
	if left != 2 { // k1 of member:x, k3
		t.Fatalf("%d keys left, want 2", left)
	}
}

func TestIdempotencyKeyClaimedOnceUnderConcurrency(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	const n = 30
	var wg sync.WaitGroup
	states := make([]store.IdempotencyState, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := st.ClaimIdempotencyKey(ctx, "apikey:pos", "race", []byte("fp"), time.Minute)
			if err != nil {
				t.Error(err)
			}
			states[i] = c.State
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range states {
		switch s {
		case store.IdempotencyNew:
			won++
		case store.IdempotencyRunning:
		default:
			t.Fatalf("unexpected state %v", s)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims won the key, want 1", won)
	}
}
