package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
)

// refusedWithin polls with key until the API answers 401, and fails unless it does within d.
func refusedWithin(t *testing.T, s *itest.Stack, key string, d time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for {
		res := s.Do("GET", "/v1/program", key, nil)
		if res.Status == http.StatusUnauthorized {
			t.Logf("%s: refused after %s", what, time.Since(start).Round(time.Millisecond))
			return
		}
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, res.Status, res.Body)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: still accepted %s after its revocation", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitListening waits until the API's listener is connected (it issued its LISTEN).
func waitListening(t *testing.T, s *itest.Stack) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var listening int
		// The API's listening connection is the one that listens for revocations (the worker's webhook dispatcher
		// listens too, on another channel).
		if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN%' AND position($1 IN query) > 0`,
			store.APIKeyChannel).Scan(&listening); err != nil {
			t.Fatal(err)
		}
		if listening == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the API's listener is not connected")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRevokedKeyIsRefusedWithinASecondByEveryAPIProcess: the API caches the keys it authenticated; a key revoked by
// another process (another store over the same database: the CLI, another API replica) is refused within a second,
// through the announcement on store.APIKeyChannel — also when the API's listening connection was lost and
// re-established around the revocation.
func TestRevokedKeyIsRefusedWithinASecondByEveryAPIProcess(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	elsewhere := store.New(s.DB.Pool) // another process's store: none of this API's hooks
	waitListening(t, s)
	use := func(key, what string) {
		t.Helper()
		mustStatus(t, s.Do("GET", "/v1/program", key, nil), http.StatusOK, what)
	}

	// The cache answers: a key marked revoked behind the store's back (no announcement) still authenticates,
	// so the API did not read it again.
	sneaky, err := s.Store.CreateAPIKey(ctx, "till-sneaky", "pos")
	if err != nil {
		t.Fatal(err)
	}
	use(sneaky, "a new key")
	if _, err := s.DB.Pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE name = 'till-sneaky'`); err != nil {
		t.Fatal(err)
	}
	use(sneaky, "a cached key")

	// Revoked through a store: announced, refused within a second, and the cache forgot every key.
	key, err := s.Store.CreateAPIKey(ctx, "till-c1", "pos")
	if err != nil {
		t.Fatal(err)
	}
	use(key, "a new key")
	use(key, "a cached key")
	if err := elsewhere.RevokeAPIKey(ctx, "till-c1"); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, s, key, time.Second, "a key revoked by another process")
	mustStatus(t, s.Do("GET", "/v1/program", sneaky, nil), http.StatusUnauthorized, "the key revoked behind the store's back, once the cache forgot")

	// The listening connection is cut, and the key revoked before the listener is back: the announcement is lost,
	// so the cache must not be trusted while it is down, and must start empty once it is up again.
	key2, err := s.Store.CreateAPIKey(ctx, "till-c2", "pos")
	if err != nil {
		t.Fatal(err)
	}
	use(key2, "a new key")
	use(key2, "a cached key")
	var cut int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND position($1 IN query) > 0`,
		store.APIKeyChannel).Scan(&cut); err != nil {
		t.Fatal(err)
	}
	if cut != 1 {
		t.Fatalf("cut %d listening connections, want the API's one", cut)
	}
	if err := elsewhere.RevokeAPIKey(ctx, "till-c2"); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, s, key2, time.Second, "a key revoked while the listener was down")

	// Once the listener is back, keys are cached again and revocations heard again.
	key3, err := s.Store.CreateAPIKey(ctx, "till-c3", "pos")
	if err != nil {
		t.Fatal(err)
	}
	waitListening(t, s)
	mustStatus(t, s.Do("GET", "/v1/program", key2, nil), http.StatusUnauthorized, "the key revoked while the listener was down, once it is back")
	use(key3, "a key after the reconnection")
	use(key3, "a cached key after the reconnection")
	// The cache answers again (within a moment of the LISTEN: the listener marks itself live just after it): a key
	// revoked behind the store's back after the reconnection still authenticates.
	for i := 0; ; i++ {
		name := fmt.Sprintf("till-sneaky-after-%d", i)
		k, err := s.Store.CreateAPIKey(ctx, name, "pos")
		if err != nil {
			t.Fatal(err)
		}
		use(k, "a new key after the reconnection")
		if _, err := s.DB.Pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE name = $1`, name); err != nil {
			t.Fatal(err)
		}
		if s.Do("GET", "/v1/program", k, nil).Status == http.StatusOK {
			break
		}
		if i == 20 {
			t.Fatal("after the reconnection the cache never answers again: every key is read from Postgres")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := elsewhere.RevokeAPIKey(ctx, "till-c3"); err != nil {
		t.Fatal(err)
	}
	refusedWithin(t, s, key3, time.Second, "a key revoked after the reconnection")
}
