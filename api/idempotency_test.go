package api_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

func idempotencyRows(t *testing.T, s *itest.Stack) int {
	t.Helper()
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func membersWithEmail(t *testing.T, s *itest.Stack, email string) int {
	t.Helper()
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM members WHERE lower(email) = lower($1)`, email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func registration(email string) map[string]any {
	return map[string]any{"email": email, "name": "Grace Hopper", "consent": map[string]bool{"email": true}}
}

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]

	first := s.Do("POST", "/v1/members/register", pos, registration("replay@example.com"), "Idempotency-Key", "reg-1", "Prefer", "wait=20")
	if first.Status != http.StatusCreated || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first registration: %d %v %s", first.Status, first.Header, first.Body)
	}
	again := s.Do("POST", "/v1/members/register", pos, registration("replay@example.com"), "Idempotency-Key", "reg-1")
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed registration: %d %v %s", again.Status, again.Header, again.Body)
	}
	if string(again.Body) != string(first.Body) || again.Header.Get("Location") != first.Header.Get("Location") ||
		again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay differs from the first answer:\n%v %s\n%v %s", first.Header, first.Body, again.Header, again.Body)
	}
	// Same content with its keys in another order and other spacing: the same request.
	reordered := `{"consent": {"email": true}, "name": "Grace Hopper",   "email": "replay@example.com"}`
	if res := s.Do("POST", "/v1/members/register", pos, reordered, "Idempotency-Key", "reg-1"); res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same body spelt differently: %d %s", res.Status, res.Body)
	}
	if n := membersWithEmail(t, s, "replay@example.com"); n != 1 {
		t.Fatalf("%d members registered, want 1", n)
	}
	var m member
	first.Decode(t, &m)

	// An accrual replayed by its key: one ledger entry.
	body := purchase("T-IDEM-1", m.MemberID, 4_200)
	a1 := s.Do("POST", "/v1/transactions/accrue", pos, body, "Idempotency-Key", "acc-1")
	a2 := s.Do("POST", "/v1/transactions/accrue", pos, body, "Idempotency-Key", "acc-1")
	if a1.Status != http.StatusCreated || a2.Status != http.StatusCreated || a2.Header.Get("Idempotent-Replayed") != "true" || string(a1.Body) != string(a2.Body) {
		t.Fatalf("accrual and its replay: %d %s / %d %v %s", a1.Status, a1.Body, a2.Status, a2.Header, a2.Body)
	}
	var entries int
	_ = s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries WHERE member_id = $1`, m.MemberID).Scan(&entries)
	if entries != 1 {
		t.Fatalf("%d ledger entries, want 1", entries)
	}

	// A key belongs to its caller: another API key with the same key is another request.
	if res := s.Do("POST", "/v1/members/register", s.Keys["admin"], registration("admin-side@example.com"), "Idempotency-Key", "reg-1", "Prefer", "wait=20"); res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the same key from another caller: %d %v %s", res.Status, res.Header, res.Body)
	}
	// A GET ignores the header.
	if res := s.Do("GET", "/v1/members/"+m.MemberID, pos, nil, "Idempotency-Key", "reg-1"); res.Status != http.StatusOK || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("GET with a key: %d %v", res.Status, res.Header)
	}
	s.LedgerInvariants()
}

func TestIdempotencyKeyWithAnotherRequestIs422(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]
	if res := s.Do("POST", "/v1/members/register", pos, registration("first@example.com"), "Idempotency-Key", "k", "Prefer", "wait=20"); res.Status != http.StatusCreated {
		t.Fatalf("first: %d %s", res.Status, res.Body)
	}
	cases := []struct {
		name, path string
		body       any
	}{
		{"another body", "/v1/members/register", registration("second@example.com")},
		{"another route", "/v1/transactions/accrue", registration("first@example.com")},
		{"another query", "/v1/members/register?x=1", registration("first@example.com")},
	}
	for _, c := range cases {
		res := s.Do("POST", c.path, pos, c.body, "Idempotency-Key", "k")
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "Idempotency-Key") {
			t.Errorf("%s: %d %s, want 422 naming Idempotency-Key", c.name, res.Status, res.Body)
		}
	}
	if n := membersWithEmail(t, s, "second@example.com"); n != 0 {
		t.Fatalf("a refused replay registered a member")
	}
}

func TestIdempotencyKeyConcurrentRequestsRunOnce(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]
	id := register(t, s, "concurrent@example.com")

	const n = 12
	run := func(path string, body any, key string) (statuses []int, bodies []string) {
		var wg sync.WaitGroup
		statuses, bodies = make([]int, n), make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := s.Do("POST", path, pos, body, "Idempotency-Key", key, "Prefer", "wait=20")
				statuses[i], bodies[i] = res.Status, string(res.Body)
				if res.Status == http.StatusConflict && res.Header.Get("Retry-After") == "" {
					t.Errorf("409 without Retry-After")
				}
			}()
		}
		wg.Wait()
		return statuses, bodies
	}
	check := func(what string, statuses []int, bodies []string) {
		t.Helper()
		var done []string
		for i, st := range statuses {
			switch st {
			case http.StatusCreated:
				done = append(done, bodies[i])
			case http.StatusConflict:
			default:
				t.Fatalf("%s: request %d answered %d %s", what, i, st, bodies[i])
			}
		}
		if len(done) == 0 {
			t.Fatalf("%s: no request succeeded: %v", what, statuses)
		}
		for _, b := range done[1:] {
			if b != done[0] {
				t.Fatalf("%s: two different answers for one key:\n%s\n%s", what, done[0], b)
			}
		}
	}
	st, bodies := run("/v1/members/register", registration("same-key@example.com"), "reg-same")
	check("register", st, bodies)
	if c := membersWithEmail(t, s, "same-key@example.com"); c != 1 {
		t.Fatalf("%d members registered with one key", c)
	}
	sameBody := purchase("T-SAME-KEY", id, 7_700) // one body: its occurred_at must not move between sends
	st, bodies = run("/v1/transactions/accrue", sameBody, "acc-same")
	check("accrue", st, bodies)
	var entries int
	_ = s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ledger_entries WHERE member_id = $1`, id).Scan(&entries)
	if entries != 1 {
		t.Fatalf("%d ledger entries, want 1", entries)
	}
	// Once the first has finished, everyone gets its answer.
	res := s.Do("POST", "/v1/transactions/accrue", pos, sameBody, "Idempotency-Key", "acc-same")
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("after the race: %d %s", res.Status, res.Body)
	}
	s.LedgerInvariants()
}

func TestIdempotencyKeyIsFreedWhenNothingWasDone(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]
	before := rowCounts(t, s)

	// Refused requests keep nothing: the key can be used again for the corrected request.
	if res := s.Do("POST", "/v1/members/register", pos, map[string]any{"email": "nope", "name": "X"}, "Idempotency-Key", "fix-me"); res.Status != http.StatusBadRequest {
		t.Fatalf("invalid registration: %d %s", res.Status, res.Body)
	}
	// A caller the route does not admit writes no key at all.
	if res := s.Do("POST", "/v1/members/register", s.Keys["support"], registration("support@example.com"), "Idempotency-Key", "fix-me"); res.Status != http.StatusForbidden {
		t.Fatalf("support registering: %d %s", res.Status, res.Body)
	}
	if res := s.Do("POST", "/v1/members/register", s.MemberToken(placeholderMember), registration("member@example.com"), "Idempotency-Key", "fix-me"); res.Status != http.StatusForbidden {
		t.Fatalf("member registering: %d %s", res.Status, res.Body)
	}
	if n := idempotencyRows(t, s); n != 0 {
		t.Fatalf("%d idempotency keys kept for refused requests", n)
	}
	if after := rowCounts(t, s); after != before {
		t.Fatalf("refused requests wrote rows: %v → %v", before, after)
	}
	res := s.Do("POST", "/v1/members/register", pos, registration("fixed@example.com"), "Idempotency-Key", "fix-me", "Prefer", "wait=20")
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("corrected registration with the same key: %d %v %s", res.Status, res.Header, res.Body)
	}
}

const placeholderMember = "00000000-0000-4000-8000-00000000beef"

func TestIdempotencyKeyMustBePrintableASCII(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]
	for name, key := range map[string]string{
		"empty":     "",
		"too long":  strings.Repeat("k", 256),
		"non-ASCII": "clé",
	} {
		res := s.Do("POST", "/v1/members/register", pos, registration("k@example.com"), "Idempotency-Key", key)
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "Idempotency-Key") {
			t.Errorf("%s key: %d %s, want 400 naming Idempotency-Key", name, res.Status, res.Body)
		}
	}
	// Two keys on one request: refused.
	req, _ := http.NewRequest("POST", s.API.URL+"/v1/members/register", strings.NewReader(`{"email":"k@example.com","name":"K"}`))
	req.Header.Set("Authorization", "Bearer "+pos)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Idempotency-Key", "a")
	req.Header.Add("Idempotency-Key", "b")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("two keys: %d, want 400", res.StatusCode)
	}
	// A control character (which Go's client refuses to send) over a raw connection.
	raw := "POST /v1/members/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + pos +
		"\r\nContent-Type: application/json\r\nIdempotency-Key: a\x7fb\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
	if status := rawStatus(t, s, raw); status != http.StatusBadRequest {
		t.Errorf("key with DEL: %d, want 400", status)
	}
	// The longest key is fine.
	if res := s.Do("POST", "/v1/members/register", pos, registration("long-key@example.com"), "Idempotency-Key", strings.Repeat("~", 255), "Prefer", "wait=20"); res.Status != http.StatusCreated {
		t.Fatalf("255-character key: %d %s", res.Status, res.Body)
	}
	if n := membersWithEmail(t, s, "k@example.com"); n != 0 {
		t.Fatal("a request with a bad key was served")
	}
}

// TestIdempotencyKeyExpiresAfter24Hours: a key older than a day is forgotten, and the API prunes it.
func TestIdempotencyKeyExpiresAfter24Hours(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	pos := s.Keys["pos"]
	if res := s.Do("POST", "/v1/members/register", pos, registration("old@example.com"), "Idempotency-Key", "old", "Prefer", "wait=20"); res.Status != http.StatusCreated {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	ctx := context.Background()
	if _, err := s.DB.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	// Expired: the key is free for a new request.
	res := s.Do("POST", "/v1/members/register", pos, registration("new@example.com"), "Idempotency-Key", "old", "Prefer", "wait=20")
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("request with an expired key: %d %v %s", res.Status, res.Header, res.Body)
	}
	if _, err := s.DB.Pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Store.PruneIdempotencyKeys(ctx); err != nil || n != 1 {
		t.Fatalf("pruned %d keys (%v), want 1", n, err)
	}
	if n := idempotencyRows(t, s); n != 0 {
		t.Fatalf("%d keys left after pruning", n)
	}
}

// TestIdempotencyKeyPrunedByTheRunningServer: the server's housekeeping prunes keys past their 24 hours on start.
func TestIdempotencyKeyPrunedByTheRunningServer(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	if _, err := s.DB.Pool.Exec(ctx, `
		INSERT INTO idempotency_keys (actor, key, fingerprint, state, lease, status, created_at)
		VALUES ('apikey:x', 'ancient', '\x00', 'done', 'l', 201, now() - interval '2 days'),
		       ('apikey:x', 'recent', '\x00', 'done', 'l', 201, now() - interval '23 hours')`); err != nil {
		t.Fatal(err)
	}
	// Another API process over the same database: its Run prunes at once.
	srv := api.New(api.Config{Store: s.Store, Temporal: s.Temporal, TaskQueue: s.TaskQueue})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(rctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var keys []string
		rows, _ := s.DB.Pool.Query(ctx, `SELECT key FROM idempotency_keys ORDER BY key`)
		for rows.Next() {
			var k string
			_ = rows.Scan(&k)
			keys = append(keys, k)
		}
		rows.Close()
		if len(keys) == 1 && keys[0] == "recent" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys left: %v, want only the recent one", keys)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rawStatus sends a request as raw bytes and returns the status of the answer.
func rawStatus(t *testing.T, s *itest.Stack, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.API.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}
