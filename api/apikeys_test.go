package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

type keyOut struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	Prefix     string `json:"prefix"`
	Key        string `json:"key"`
	CreatedBy  string `json:"created_by"`
	LastUsedAt string `json:"last_used_at"`
	RevokedAt  string `json:"revoked_at"`
	RevokedBy  string `json:"revoked_by"`
}

// TestAPIKeysCreateListRevoke: an admin makes a key (shown once, never kept: a replay answers it without the key),
// lists it with its last use, and revokes it, after which it is refused.
func TestAPIKeysCreateListRevoke(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	admin := s.Keys["admin"]
	body := map[string]any{"name": "till-42", "role": "pos"}
	res := s.Do("POST", "/v1/api-keys", admin, body, "Idempotency-Key", "make-till-42")
	mustStatus(t, res, http.StatusCreated, "create key")
	var k keyOut
	res.Decode(t, &k)
	if !strings.HasPrefix(k.Key, "pk_") || !strings.HasPrefix(k.Key, k.Prefix) || len(k.Prefix) != 9 || k.CreatedBy != s.Actors["admin"] {
		t.Fatalf("new key: %s", res.Body)
	}
	res = s.Do("POST", "/v1/api-keys", admin, body, "Idempotency-Key", "make-till-42")
	var replay keyOut
	res.Decode(t, &replay)
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" || replay.Key != "" || replay.ID != k.ID {
		t.Fatalf("replay: %d %s", res.Status, res.Body)
	}
	var kept int
	if err := s.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys WHERE position(convert_to($1, 'UTF8') in body) > 0`, k.Key).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if kept != 0 {
		t.Fatal("the new key was kept in clear with its Idempotency-Key")
	}
	mustStatus(t, s.Do("POST", "/v1/api-keys", admin, body), http.StatusConflict, "a name an active key has")

	// The key works, and its use shows in the list.
	mustStatus(t, s.Do("GET", "/v1/transactions/T-NONE", k.Key, nil), http.StatusNotFound, "the new key authenticates")
	res = s.Do("GET", "/v1/api-keys?limit=200", admin, nil)
	mustStatus(t, res, http.StatusOK, "list keys")
	if strings.Contains(string(res.Body), k.Key) {
		t.Fatal("the list shows a key")
	}
	var page struct {
		Items []keyOut `json:"items"`
	}
	res.Decode(t, &page)
	if len(page.Items) != 5 || page.Items[0].Name != "till-42" || page.Items[0].LastUsedAt == "" {
		t.Fatalf("keys: %s", res.Body)
	}

	mustStatus(t, s.Do("DELETE", "/v1/api-keys/till-42", admin, nil), http.StatusNoContent, "revoke")
	mustStatus(t, s.Do("GET", "/v1/transactions/T-NONE", k.Key, nil), http.StatusUnauthorized, "the revoked key")
	mustStatus(t, s.Do("DELETE", "/v1/api-keys/till-42", admin, nil), http.StatusNotFound, "revoke again")
	res = s.Do("GET", "/v1/api-keys?limit=1", admin, nil)
	var first struct {
		Items      []keyOut `json:"items"`
		NextCursor string   `json:"next_cursor"`
	}
	res.Decode(t, &first)
	if len(first.Items) != 1 || first.Items[0].RevokedAt == "" || first.Items[0].RevokedBy != s.Actors["admin"] || first.NextCursor == "" {
		t.Fatalf("revoked key listed: %s", res.Body)
	}
	mustStatus(t, s.Do("GET", "/v1/api-keys?cursor="+first.NextCursor, admin, nil), http.StatusOK, "second page")
	// Its name is free again.
	mustStatus(t, s.Do("POST", "/v1/api-keys", admin, body), http.StatusCreated, "a new key of the revoked one's name")

	for _, bad := range []any{map[string]any{"name": "x"}, map[string]any{"name": "bad name", "role": "pos"},
		map[string]any{"name": "x", "role": "root"}, map[string]any{"name": "x", "role": "pos", "key": "pk_mine"}} {
		res := s.Do("POST", "/v1/api-keys", admin, bad)
		if res.Status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, res.Status, res.Body)
		}
	}
	mustStatus(t, s.Do("GET", "/v1/api-keys?cursor=abc", admin, nil), http.StatusBadRequest, "bad cursor")
	var keys int
	if err := s.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM api_keys`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 6 {
		t.Fatalf("%d keys after refused requests, want 6", keys)
	}
}
