package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// An API key's identity is its id, not its name: a name may be given to a new key once the old one is revoked, and
// the new key inherits nothing of the old one's (pen test, issue 21, finding 1).

// keyID is the id of the active API key named name.
func keyID(t *testing.T, s *itest.Stack, name string) string {
	t.Helper()
	var id int64
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT id FROM api_keys WHERE name = $1 AND revoked_at IS NULL`, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(id, 10)
}

func TestReplacementKeyReplaysNothingOfTheRevokedKey(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	old, err := s.Store.CreateAPIKey(ctx, "till-9", "pos")
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"email": "first-holder@example.com", "phone": "+33612345678", "name": "First Holder", "consent": map[string]bool{"email": true}}
	first := s.Do("POST", "/v1/members/register", old, body, "Idempotency-Key", "reg-9", "Prefer", "wait=20")
	mustStatus(t, first, http.StatusCreated, "registration by the first key")

	// A name in use is refused, whatever the role.
	if _, err := s.Store.CreateAPIKey(ctx, "till-9", "admin"); domain.CodeOf(err) != domain.ErrConflict {
		t.Fatalf("a second active key named till-9: %v, want a conflict", err)
	}
	if err := s.Store.RevokeAPIKey(ctx, "till-9"); err != nil {
		t.Fatal(err)
	}
	replacement, err := s.Store.CreateAPIKey(ctx, "till-9", "admin")
	if err != nil {
		t.Fatal(err)
	}
	// The same Idempotency-Key and body from the replacement is a request of its own: not the first key's answer
	// (which holds the first member's email and phone), but a registration refused because the email is taken.
	again := s.Do("POST", "/v1/members/register", replacement, body, "Idempotency-Key", "reg-9", "Prefer", "wait=20")
	if again.Header.Get("Idempotent-Replayed") != "" || strings.Contains(string(again.Body), "+33612345678") {
		t.Fatalf("the replacement key replayed the revoked key's answer: %d %v %s", again.Status, again.Header, again.Body)
	}
	mustStatus(t, again, http.StatusConflict, "the replacement's own registration")
}

func TestReplacementKeyHasARateBucketOfItsOwn(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{APIKey: api.Rate{PerSecond: 0.001, Burst: 2}}})
	ctx := context.Background()
	old, err := s.Store.CreateAPIKey(ctx, "till-r", "support")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		mustStatus(t, s.Do("GET", "/v1/program", old, nil), http.StatusOK, "within the burst")
	}
	mustStatus(t, s.Do("GET", "/v1/program", old, nil), http.StatusTooManyRequests, "beyond the burst")
	if err := s.Store.RevokeAPIKey(ctx, "till-r"); err != nil {
		t.Fatal(err)
	}
	replacement, err := s.Store.CreateAPIKey(ctx, "till-r", "support")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, s.Do("GET", "/v1/program", replacement, nil), http.StatusOK, "the replacement's first request")
}

func TestAuditNamesTheKeyByIDWithItsName(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	id := register(t, s, "audited@example.com")
	adjust := func(key, adjID string) string {
		t.Helper()
		res := s.Do("POST", "/v1/members/"+id+"/adjustments", key, map[string]any{"adjustment_id": adjID, "points": 5, "reason": "goodwill"}, "Prefer", "wait=20")
		mustStatus(t, res, http.StatusCreated, "adjust")
		var actor string
		if err := s.DB.Pool.QueryRow(ctx, `SELECT actor FROM ledger_entries WHERE source_id = $1`, adjID).Scan(&actor); err != nil {
			t.Fatal(err)
		}
		return actor
	}
	leaked, err := s.Store.CreateAPIKey(ctx, "desk-2", "support")
	if err != nil {
		t.Fatal(err)
	}
	leakedID := keyID(t, s, "desk-2")
	before := adjust(leaked, "ADJ-LEAKED")
	if err := s.Store.RevokeAPIKey(ctx, "desk-2"); err != nil {
		t.Fatal(err)
	}
	replacement, err := s.Store.CreateAPIKey(ctx, "desk-2", "support")
	if err != nil {
		t.Fatal(err)
	}
	after := adjust(replacement, "ADJ-REPLACEMENT")
	if before != "apikey:"+leakedID+" (desk-2)" || after != "apikey:"+keyID(t, s, "desk-2")+" (desk-2)" || before == after {
		t.Fatalf("audit actors %q and %q: want each key's id with the name beside it", before, after)
	}
}
