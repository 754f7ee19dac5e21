package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// rowCounts counts what a rejected request must not have written.
func rowCounts(t *testing.T, s *itest.Stack) [3]int64 {
	t.Helper()
	var c [3]int64
	if err := s.DB.Pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM members), (SELECT count(*) FROM transactions), (SELECT count(*) FROM ledger_entries)`).
		Scan(&c[0], &c[1], &c[2]); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBadInputGetsProblemAndWritesNothing(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "valid@example.com")
	pos, support := s.Keys["pos"], s.Keys["support"]

	good := func(mut func(map[string]any)) map[string]any {
		p := purchase("T-BAD", id, 1_000)
		mut(p)
		return p
	}
	cases := []struct {
		name, method, path, token string
		body                      any
		want                      int
		field                     string
	}{
		{"no key", "POST", "/v1/transactions/accrue", "", purchase("T-BAD", id, 100), 401, ""},
		{"unknown key", "POST", "/v1/transactions/accrue", "pk_not-a-real-key", purchase("T-BAD", id, 100), 401, ""},
		{"garbage token", "POST", "/v1/transactions/accrue", "eyJhbGciOi.not.a.jwt", purchase("T-BAD", id, 100), 401, ""},
		{"wrong role", "POST", "/v1/transactions/accrue", support, purchase("T-BAD", id, 100), 403, ""},
		{"member token on accrue", "POST", "/v1/transactions/accrue", s.MemberToken(id), purchase("T-BAD", id, 100), 403, ""},
		{"malformed JSON", "POST", "/v1/transactions/accrue", pos, `{"transaction_id": "T-BAD",`, 400, ""},
		{"not an object", "POST", "/v1/transactions/accrue", pos, `[1,2,3]`, 400, ""},
		{"two objects", "POST", "/v1/transactions/accrue", pos, `{} {}`, 400, ""},
		{"empty body", "POST", "/v1/transactions/accrue", pos, ``, 400, ""},
		{"invalid UTF-8", "POST", "/v1/transactions/accrue", pos, []byte("{\"transaction_id\": \"T-\xff\"}"), 400, ""},
		{"unknown field", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["points"] = 1_000_000 }), 400, "points"},
		{"negative amount", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["total"] = map[string]any{"amount": -5, "currency": "EUR"} }), 400, "total.amount"},
		{"enormous amount", "POST", "/v1/transactions/accrue", pos, `{"transaction_id":"T-BAD","member_id":"` + id + `","store_id":"s","channel":"store","occurred_at":"2026-01-01T00:00:00Z","total":{"amount":99999999999999999999999,"currency":"EUR"}}`, 400, "total.amount"},
		{"float amount", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["total"] = map[string]any{"amount": 12.5, "currency": "EUR"} }), 400, "total.amount"},
		{"missing transaction_id", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { delete(p, "transaction_id") }), 400, "transaction_id"},
		{"missing occurred_at", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { delete(p, "occurred_at") }), 400, "occurred_at"},
		{"date out of range", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["occurred_at"] = "9999-12-31T00:00:00Z" }), 400, "occurred_at"},
		{"not a date", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["occurred_at"] = "yesterday" }), 400, "occurred_at"},
		{"total above the lines", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) {
			p["total"] = map[string]any{"amount": 100_000, "currency": "EUR"}
			p["items"] = []map[string]any{{"sku": "A", "quantity": 1, "unit_price": map[string]any{"amount": 100, "currency": "EUR"}}}
		}), 400, "total.amount"},
		{"bad channel", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["channel"] = "carrier-pigeon" }), 400, "channel"},
		{"zero quantity", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) {
			p["items"] = []map[string]any{{"sku": "A", "quantity": 0, "unit_price": map[string]any{"amount": 1, "currency": "EUR"}}}
		}), 400, "items[0].quantity"},
		{"unknown member", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["member_id"] = uuid.NewString() }), 404, ""},
		{"member id not a uuid", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) { p["member_id"] = "../../etc/passwd" }), 400, "member_id"},
		{"wrong currency", "POST", "/v1/transactions/accrue", pos, good(func(p map[string]any) {
			p["total"] = map[string]any{"amount": 100, "currency": "USD"}
			p["items"] = []map[string]any{{"sku": "A", "quantity": 1, "unit_price": map[string]any{"amount": 100, "currency": "USD"}}}
		}), 422, "total.currency"},
		{"oversized body", "POST", "/v1/transactions/accrue", pos, `{"transaction_id":"` + strings.Repeat("x", 2<<20) + `"}`, 413, ""},
		{"deep JSON", "POST", "/v1/transactions/accrue", pos, strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000), 400, ""},
		{"wrong content type", "POST", "/v1/transactions/accrue", pos, "transaction_id=T-BAD", 415, ""},
		{"register without email", "POST", "/v1/members/register", pos, map[string]any{"name": "X", "consent": map[string]bool{}}, 400, "email"},
		{"register bad email", "POST", "/v1/members/register", pos, map[string]any{"email": "Ada <ada@example.com>", "name": "X"}, 400, "email"},
		{"register bad phone", "POST", "/v1/members/register", pos, map[string]any{"email": "p@example.com", "name": "X", "phone": "12345"}, 400, "phone"},
		{"register future birthdate", "POST", "/v1/members/register", pos, map[string]any{"email": "b@example.com", "name": "X", "birthdate": "2999-01-01"}, 400, "birthdate"},
		{"register mass assignment", "POST", "/v1/members/register", pos, map[string]any{"email": "m@example.com", "name": "X", "tier": "gold"}, 400, "tier"},
		{"register wrong role", "POST", "/v1/members/register", support, map[string]any{"email": "r@example.com", "name": "X"}, 403, ""},
		{"history page too large", "GET", "/v1/members/" + id + "/history?limit=100000", support, nil, 400, "limit"},
		{"history bad cursor", "GET", "/v1/members/" + id + "/history?cursor=abc", support, nil, 400, "cursor"},
		{"history wrong role", "GET", "/v1/members/" + id + "/history", pos, nil, 403, ""},
		{"unknown member read", "GET", "/v1/members/" + uuid.NewString(), pos, nil, 404, ""},
		{"unknown transaction", "GET", "/v1/transactions/NOPE", pos, nil, 404, ""},
		{"unknown route", "GET", "/v1/nope", pos, nil, 404, ""},
		{"wrong method", "DELETE", "/v1/transactions/accrue", pos, nil, 405, ""},
	}
	headers := map[string][]string{"wrong content type": {"Content-Type", "application/x-www-form-urlencoded"}}
	before := rowCounts(t, s)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := s.Do(c.method, c.path, c.token, c.body, headers[c.name]...)
			if res.Status != c.want {
				t.Fatalf("status %d, want %d: %s", res.Status, c.want, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
			var p struct {
				Type   string `json:"type"`
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(res.Body, &p); err != nil || p.Status != c.want || p.Type == "" || p.Title == "" {
				t.Fatalf("not a problem document: %s", res.Body)
			}
			if c.field != "" {
				found := false
				for _, e := range p.Errors {
					found = found || e.Field == c.field
				}
				if !found {
					t.Fatalf("errors do not name field %q: %s", c.field, res.Body)
				}
			}
		})
	}
	// Give any wrongly accepted purchase time to be accrued before counting.
	time.Sleep(300 * time.Millisecond)
	if after := rowCounts(t, s); after != before {
		t.Fatalf("rejected requests wrote rows: before %v, after %v", before, after)
	}
	if res := s.Do("GET", "/healthz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("healthz after bad input: %d", res.Status)
	}
}
