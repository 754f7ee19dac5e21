package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// tableFingerprint sums up every table's content (and api_keys by count, as authentication stamps last_used_at), so
// that a test can tell whether a request wrote anything anywhere, including in tables added later. One query, built
// once per database.
func tableFingerprint(t testing.TB, s *itest.Stack) string {
	t.Helper()
	ctx := context.Background()
	q, ok := fingerprintQueries.Load(s.DB.Name)
	if !ok {
		rows, err := s.DB.Pool.Query(ctx, `
			SELECT table_name FROM information_schema.tables
			WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'
			ORDER BY table_name`)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			part := fmt.Sprintf(`(SELECT count(*)::text || ':' || md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), '')) FROM %q x)`, name)
			if name == "api_keys" {
				part = `(SELECT count(*)::text FROM api_keys)`
			}
			parts = append(parts, fmt.Sprintf("'%s=' || %s", name, part))
		}
		rows.Close()
		q, _ = fingerprintQueries.LoadOrStore(s.DB.Name, "SELECT concat_ws(' ', "+strings.Join(parts, ", ")+")")
	}
	var fp string
	if err := s.DB.Pool.QueryRow(ctx, q.(string)).Scan(&fp); err != nil {
		t.Fatal(err)
	}
	return fp
}

var fingerprintQueries sync.Map // database name → query

// settle waits until the work earlier requests started (accruals, notifications) has landed, so that it is not
// taken for a write by a later, refused, request.
func settle(t testing.TB, s *itest.Stack) {
	t.Helper()
	last, stable := tableFingerprint(t, s), time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		fp := tableFingerprint(t, s)
		if fp != last {
			last, stable = fp, time.Now()
		} else if time.Since(stable) > 150*time.Millisecond && !notificationsInFlight(t, s) && !welcomesDue(t, s) {
			return
		}
	}
}

// welcomesDue reports whether a member registered in the last half minute has not been welcomed yet: the 201 of a
// registration comes before the member's workflow runs its first task, which records the welcome.
func welcomesDue(t testing.TB, s *itest.Stack) bool {
	t.Helper()
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM members m
		WHERE m.status = 'active' AND NOT m.workflow_pending AND m.joined_at > now() - interval '30 seconds'
		  AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.notification_key = 'welcome:' || m.id::text)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// notificationsInFlight reports whether a message is still waiting for the worker to send it: on a loaded machine
// that can take longer than any quiet spell, and its send would later change the tables under a test's feet.
func notificationsInFlight(t testing.TB, s *itest.Stack) bool {
	t.Helper()
	var n int
	if err := s.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestRateLimitBurstGets429WithRetryAfter(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{
		APIKey: api.Rate{PerSecond: 2, Burst: 5},
		Member: api.Rate{PerSecond: 1, Burst: 3},
	}})
	pos, support := s.Keys["pos"], s.Keys["support"]
	id := register(t, s, "burst@example.com")

	burst := func(token string, n int) (ok, limited int, retryAfter string) {
		for range n {
			res := s.Do("GET", "/v1/members/"+id, token, nil)
			switch res.Status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
				retryAfter = res.Header.Get("Retry-After")
				if !strings.Contains(string(res.Body), "too-many-requests") {
					t.Fatalf("429 body: %s", res.Body)
				}
			default:
				t.Fatalf("status %d %s", res.Status, res.Body)
			}
		}
		return
	}
	// register spent one of pos's tokens; the bucket refills at 2 a second while the burst is sent (slowly, under the
	// race detector on a loaded machine), so the burst plus what refilled meanwhile may be answered, and no more.
	start := time.Now()
	ok, limited, retry := burst(pos, 20)
	if refilled := int(2 * time.Since(start).Seconds()); ok > 5+refilled || limited < 15-refilled {
		t.Fatalf("pos: %d answered, %d limited in %v; want at most the burst (5) and the %d tokens refilled meanwhile answered",
			ok, limited, time.Since(start).Round(time.Millisecond), refilled)
	}
	if secs, err := strconv.Atoi(retry); err != nil || secs < 1 || secs > 5 {
		t.Fatalf("Retry-After %q, want a small whole number of seconds", retry)
	}
	// Other callers have buckets of their own, and the service is healthy.
	if ok, _, _ := burst(support, 3); ok != 3 {
		t.Fatalf("support limited by pos's burst")
	}
	if res := s.Do("GET", "/healthz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("healthz: %d", res.Status)
	}
	if res := s.Do("GET", "/readyz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("readyz: %d", res.Status)
	}
	// Member tokens have their own, lower, limit.
	if ok, limited, _ := burst(s.MemberToken(id), 10); ok > 3 || limited < 7 {
		t.Fatalf("member: %d answered, %d limited; want at most 3 answered", ok, limited)
	}
	// Waiting as told is enough.
	secs, _ := strconv.Atoi(retry)
	time.Sleep(time.Duration(secs) * time.Second)
	if res := s.Do("GET", "/v1/members/"+id, pos, nil); res.Status != http.StatusOK {
		t.Fatalf("after Retry-After: %d %s", res.Status, res.Body)
	}
}

// holdAccrual sends a purchase that waits (no worker runs) for wait, returning when it is surely in flight.
func holdAccrual(t *testing.T, s *itest.Stack, txID, memberID string, wait int, wg *sync.WaitGroup) {
	t.Helper()
	wg.Add(1)
	go func() {
		defer wg.Done()
		res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(txID, memberID, 100), "Prefer", fmt.Sprintf("wait=%d", wait))
		if res.Status != http.StatusAccepted {
			t.Errorf("held purchase %s: %d %s", txID, res.Status, res.Body)
		}
	}()
	time.Sleep(700 * time.Millisecond)
}

func TestConcurrentWritesPerMemberAreCapped(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{MemberWrites: 2}})
	busy := register(t, s, "busy-member@example.com")
	calm := register(t, s, "calm-member@example.com")
	s.StopWorker() // purchases now wait for their whole budget

	var wg sync.WaitGroup
	holdAccrual(t, s, "T-HOLD-1", busy, 4, &wg)
	holdAccrual(t, s, "T-HOLD-2", busy, 4, &wg)
	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-HOLD-3", busy, 100), "Prefer", "wait=0")
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third write for a busy member: %d %v %s", res.Status, res.Header, res.Body)
	}
	// Another member is not held up, nor are reads of the busy one.
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-CALM-1", calm, 100), "Prefer", "wait=0"); res.Status != http.StatusAccepted {
		t.Fatalf("write for another member: %d %s", res.Status, res.Body)
	}
	if res := s.Do("GET", "/v1/members/"+busy, s.Keys["support"], nil); res.Status != http.StatusOK {
		t.Fatalf("read of the busy member: %d %s", res.Status, res.Body)
	}
	wg.Wait()
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-HOLD-3", busy, 100), "Prefer", "wait=0"); res.Status != http.StatusAccepted {
		t.Fatalf("write once the others finished: %d %s", res.Status, res.Body)
	}
}

func TestRequestsInFlightPerAPIKeyAreCapped(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	s := itest.NewStack(t, temporal, itest.Options{Limits: &api.Limits{APIKeyInFlight: 1}})
	id := register(t, s, "inflight@example.com")
	s.StopWorker()
	var wg sync.WaitGroup
	holdAccrual(t, s, "T-INFLIGHT-1", id, 3, &wg)
	if res := s.Do("GET", "/v1/members/"+id, s.Keys["pos"], nil); res.Status != http.StatusTooManyRequests {
		t.Fatalf("second request of the same key: %d %s", res.Status, res.Body)
	}
	if res := s.Do("GET", "/v1/members/"+id, s.Keys["support"], nil); res.Status != http.StatusOK {
		t.Fatalf("another key: %d %s", res.Status, res.Body)
	}
	wg.Wait()
	if res := s.Do("GET", "/v1/members/"+id, s.Keys["pos"], nil); res.Status != http.StatusOK {
		t.Fatalf("after the first finished: %d %s", res.Status, res.Body)
	}
}

func TestRevokedAPIKeyIsRefusedAtOnce(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	key, err := s.Store.CreateAPIKey(ctx, "till-7", "pos")
	if err != nil {
		t.Fatal(err)
	}
	id := register(t, s, "revoke@example.com")
	if res := s.Do("GET", "/v1/members/"+id, key, nil); res.Status != http.StatusOK {
		t.Fatalf("fresh key: %d", res.Status)
	}
	var used bool
	_ = s.DB.Pool.QueryRow(ctx, `SELECT last_used_at IS NOT NULL FROM api_keys WHERE name = 'till-7'`).Scan(&used)
	if !used {
		t.Fatal("last use not recorded")
	}
	if err := s.Store.RevokeAPIKey(ctx, "till-7"); err != nil {
		t.Fatal(err)
	}
	if res := s.Do("GET", "/v1/members/"+id, key, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", res.Status)
	}
	// Near misses are refused too.
	for _, k := range []string{key[:len(key)-1], key + "x", strings.ToUpper(key), "pk_", strings.Repeat("pk_x", 5000)} {
		if res := s.Do("GET", "/v1/members/"+id, k, nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("key %.12s…: %d", k, res.Status)
		}
	}
}

func TestServerTimeoutsAreSet(t *testing.T) {
	t.Parallel() // waits on timers: alongside the others
	hs := api.NewHTTPServer("127.0.0.1:0", http.NotFoundHandler())
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 10*time.Second ||
		hs.ReadTimeout <= 0 || hs.WriteTimeout < 60*time.Second || hs.IdleTimeout <= 0 || hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 1<<20 {
		t.Fatalf("timeouts: header %v, read %v, write %v, idle %v, max header %d",
			hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	// A client that never finishes its headers (slowloris) is cut off.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(hs.ReadHeaderTimeout + 5*time.Second))
	_, err = io.ReadAll(conn)
	if took := time.Since(start); err != nil || took > hs.ReadHeaderTimeout+2*time.Second {
		t.Fatalf("slow headers: connection held %v (%v), want closed after %v", took, err, hs.ReadHeaderTimeout)
	}
}

// TestHostileBodiesGetClean4xx: whatever a client sends, the answer is a problem document with a 4xx status, nothing
// is written, and the service stays healthy.
func TestHostileBodiesGetClean4xx(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "hostile@example.com")
	// The 201 comes before the member's workflow sends the welcome (its first task): wait for it to be sent, so that
	// it cannot land during a case below and pass for a write of a refused request.
	eventually(t, 30*time.Second, "the welcome sent", func() bool {
		var n int
		if err := s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM notifications
			WHERE notification_key = $1 AND status NOT IN ('pending', 'sending')`, domain.WelcomeKey(id)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	})
	settle(t, s)
	pos := s.Keys["pos"]
	valid := func(extra string) string {
		return `{"transaction_id":"T-HOSTILE","member_id":"` + id + `","store_id":"s1","channel":"store",` +
			`"occurred_at":"2026-01-02T10:00:00Z","total":{"amount":100,"currency":"EUR"}` + extra + `}`
	}
	deepObject := strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000)
	const item = `{"sku":"A","quantity":1,"unit_price":{"amount":1,"currency":"EUR"}}`
	hugeArray := `{"items":[` + strings.Repeat(item+",", 9_000) + `{}]}`
	zeros := `{"items":[` + strings.Repeat("0,", 400_000) + `0]}`
	cases := []struct {
		name, path, body string
		headers          []string
		want             int
	}{
		{"just over 1 MiB", "/v1/transactions/accrue", `{"store_id":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, nil, 413},
		{"over 1 MiB with an Idempotency-Key", "/v1/transactions/accrue", `{"store_id":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`, []string{"Idempotency-Key", "big"}, 413},
		{"deep objects", "/v1/transactions/accrue", deepObject, nil, 400},
		{"deep arrays in a field", "/v1/members/register", `{"consent":` + strings.Repeat("[", 50_000) + strings.Repeat("]", 50_000) + `}`, nil, 400},
		{"9000 line items", "/v1/transactions/accrue", valid(`,"items":[` + strings.Repeat(item+",", 8_999) + item + `]`), nil, 400},
		{"huge array of lines", "/v1/transactions/accrue", hugeArray, nil, 400},
		{"huge array of numbers", "/v1/transactions/accrue", zeros, nil, 400},
		{"invalid UTF-8 in a key", "/v1/members/register", "{\"na\xffme\":\"x\"}", nil, 400},
		{"overlong UTF-8", "/v1/members/register", "{\"name\":\"\xc0\xaf\"}", nil, 400},
		{"UTF-8 BOM", "/v1/members/register", "\xef\xbb\xbf{\"email\":\"bom@example.com\",\"name\":\"B\"}", nil, 400},
		{"number beyond int64", "/v1/transactions/accrue", valid(`,"items":[{"sku":"A","quantity":9223372036854775808,"unit_price":{"amount":1,"currency":"EUR"}}]`), nil, 400},
		{"number with 400 digits", "/v1/transactions/accrue", strings.Replace(valid(""), `"amount":100`, `"amount":1`+strings.Repeat("0", 400), 1), nil, 400},
		{"exponent", "/v1/transactions/accrue", strings.Replace(valid(""), `"amount":100`, `"amount":1e400`, 1), nil, 400},
		{"negative zero float", "/v1/transactions/accrue", strings.Replace(valid(""), `"amount":100`, `"amount":-0.0`, 1), nil, 400},
		{"amount as a string", "/v1/transactions/accrue", strings.Replace(valid(""), `"amount":100`, `"amount":"100"`, 1), nil, 400},
		{"amount just over the maximum", "/v1/transactions/accrue", strings.Replace(valid(""), `"amount":100`, `"amount":10000000000001`, 1), nil, 400},
		{"year 0", "/v1/transactions/accrue", strings.Replace(valid(""), "2026-01-02T10:00:00Z", "0000-01-01T00:00:00Z", 1), nil, 400},
		{"year 10000", "/v1/transactions/accrue", strings.Replace(valid(""), "2026-01-02T10:00:00Z", "10000-01-01T00:00:00Z", 1), nil, 400},
		{"month 13", "/v1/transactions/accrue", strings.Replace(valid(""), "2026-01-02T10:00:00Z", "2026-13-01T00:00:00Z", 1), nil, 400},
		{"leap second", "/v1/transactions/accrue", strings.Replace(valid(""), "2026-01-02T10:00:00Z", "2026-12-31T23:59:60Z", 1), nil, 400},
		{"offset of 99 hours", "/v1/transactions/accrue", strings.Replace(valid(""), "2026-01-02T10:00:00Z", "2026-01-02T10:00:00+99:00", 1), nil, 400},
		{"birthdate year 1", "/v1/members/register", `{"email":"old@example.com","name":"O","birthdate":"0001-01-01"}`, nil, 400},
		{"birthdate 30 February", "/v1/members/register", `{"email":"feb@example.com","name":"F","birthdate":"2000-02-30"}`, nil, 400},
		{"field name in capitals", "/v1/members/register", `{"EMAIL":"caps@example.com","name":"C"}`, nil, 400},
		{"field name with one capital", "/v1/transactions/accrue", strings.Replace(valid(""), `"store_id"`, `"Store_id"`, 1), nil, 400},
		{"nested field name in capitals", "/v1/transactions/accrue", strings.Replace(valid(""), `"currency":"EUR"`, `"Currency":"EUR"`, 1), nil, 400},
		{"field given twice", "/v1/transactions/accrue", strings.Replace(valid(""), `"store_id":"s1"`, `"store_id":"s1","store_id":"s2"`, 1), nil, 400},
		{"member_id twice", "/v1/transactions/accrue", strings.Replace(valid(""), `"member_id":"`+id+`"`, `"member_id":"`+placeholderMember+`","member_id":"`+id+`"`, 1), nil, 400},
		{"null total", "/v1/transactions/accrue", strings.Replace(valid(""), `{"amount":100,"currency":"EUR"}`, "null", 1), nil, 400},
		{"null body", "/v1/members/register", `null`, nil, 400},
		{"NUL in a string", "/v1/transactions/accrue", valid(`,"items":[{"sku":"A\u0000B","quantity":1,"unit_price":{"amount":100,"currency":"EUR"}}]`), nil, 400},
		{"NUL in a name", "/v1/members/register", `{"email":"nul@example.com","name":"A\u0000"}`, nil, 400},
		{"lone surrogate", "/v1/members/register", `{"email":"sur@example.com","name":"\ud800"}`, nil, 201},
		{"a 900 kB name", "/v1/members/register", `{"email":"long@example.com","name":"` + strings.Repeat("n", 900_000) + `"}`, nil, 400},
		{"points through registration", "/v1/members/register", `{"email":"mass@example.com","name":"M","points":1000000}`, nil, 400},
		{"status through registration", "/v1/members/register", `{"email":"mass@example.com","name":"M","status":"active"}`, nil, 400},
		{"points earned through accrue", "/v1/transactions/accrue", valid(`,"points_earned":1000000`), nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := tableFingerprint(t, s)
			res := s.For(t).Do("POST", c.path, pos, c.body, append([]string{"Prefer", "wait=20"}, c.headers...)...)
			if res.Status != c.want {
				t.Fatalf("status %d, want %d: %.300s", res.Status, c.want, res.Body)
			}
			if c.want < 400 {
				settle(t, s)
			}
			if c.want >= 400 {
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("Content-Type %q", ct)
				}
				if after := tableFingerprint(t, s); after != before {
					t.Fatalf("a refused request wrote:\n%s\n%s", before, after)
				}
				if len(res.Body) > 4096 {
					t.Fatalf("a %d-byte problem: the input is echoed back", len(res.Body))
				}
			}
		})
	}
	if res := s.Do("GET", "/healthz", "", nil); res.Status != http.StatusOK {
		t.Fatalf("healthz: %d", res.Status)
	}
}

// TestNoMassAssignment sends, to every write route, a body holding only fields a client must never set (points,
// tier, status, balances, …) that the route's request schema does not have: each must be refused as unknown.
func TestNoMassAssignment(t *testing.T) {
	doc, _ := loadSpec(t)
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "mass@example.com")
	routes, err := api.RoutesOf(s.API.Config.Handler)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"points", "points_earned", "tier", "status", "balance", "available", "lifetime", "qualifying", "role", "member_id", "joined_at"}
	tried := 0
	for _, rt := range routes {
		if rt.Access == nil || !slices.Contains([]string{"POST", "PUT", "PATCH"}, rt.Method) {
			continue
		}
		op := doc.Paths.Find(rt.Pattern).GetOperation(rt.Method)
		if op == nil || op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
			continue
		}
		schema := op.RequestBody.Value.Content.Get("application/json").Schema.Value
		token := tokenFor(s, rt.Access, id)
		for _, f := range forbidden {
			if _, ok := schema.Properties[f]; ok {
				continue // the route takes it (an adjustment's points)
			}
			tried++
			res := s.Do(rt.Method, fillPath(rt.Pattern, id), token, map[string]any{f: 1_000_000})
			if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"`+f+`"`) {
				t.Errorf("%s %s with %q: %d %s, want 400 naming the field", rt.Method, rt.Pattern, f, res.Status, res.Body)
			}
		}
	}
	if tried == 0 {
		t.Fatal("no write route tried")
	}
}

// tokenFor picks a caller the access rule admits: the member themself where members may call, else a key.
func tokenFor(s *itest.Stack, a *api.Access, memberID string) string {
	for _, role := range []string{api.RoleAdmin, api.RolePOS, api.RoleSupport, api.RoleMarketer} {
		if slices.Contains(a.Roles, role) {
			return s.Keys[role]
		}
	}
	return s.MemberToken(memberID)
}

// TestSpecDocumentsLimitsAndIdempotency: every authenticated operation documents 429, and every POST the
// Idempotency-Key header with its 409 and 422 and the Idempotent-Replayed header of its successes — present and
// future routes alike.
func TestSpecDocumentsLimitsAndIdempotency(t *testing.T) {
	doc, _ := loadSpec(t)
	for name, op := range specOperations(doc) {
		roles, _ := xRoles(op)
		if slices.Equal(roles, []string{"public"}) {
			continue
		}
		if r := op.Responses.Status(429); r == nil || r.Value.Headers["Retry-After"] == nil {
			t.Errorf("%s: document 429 with Retry-After ($ref: '#/components/responses/TooManyRequests')", name)
		}
		// The codec endpoints are pure and their answers hold decoded personal data, which no idempotency record may
		// keep: they take no Idempotency-Key. An import's upload is streamed (up to 2 GiB), never buffered to be
		// compared, and importing a file again changes nothing: no Idempotency-Key either.
		if !strings.HasPrefix(name, "POST ") || strings.HasPrefix(name, "POST /codec/") || name == "POST /v1/imports" {
			continue
		}
		if op.Parameters.GetByInAndName("header", "Idempotency-Key") == nil {
			t.Errorf("%s: document the Idempotency-Key header ($ref: '#/components/parameters/IdempotencyKey')", name)
		}
		for _, status := range []int{400, 409, 413, 422} {
			if op.Responses.Status(status) == nil {
				t.Errorf("%s: document %d (Idempotency-Key, body limit)", name, status)
			}
		}
		for code, r := range op.Responses.Map() {
			if strings.HasPrefix(code, "2") && r.Value.Headers["Idempotent-Replayed"] == nil {
				t.Errorf("%s: its %s may be replayed: document Idempotent-Replayed ($ref: '#/components/headers/IdempotentReplayed')", name, code)
			}
		}
	}
}

// TestPageSizeIsCapped: every list the document gives a `limit` takes at most 200 a page, and refuses more with a
// 400 naming `limit` — lists added later included.
func TestPageSizeIsCapped(t *testing.T) {
	doc, _ := loadSpec(t)
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "pages@example.com")
	routes, err := api.RoutesOf(s.API.Config.Handler)
	if err != nil {
		t.Fatal(err)
	}
	lists := 0
	for _, rt := range routes {
		if rt.Method != http.MethodGet || rt.Access == nil {
			continue
		}
		op := doc.Paths.Find(rt.Pattern).GetOperation(rt.Method)
		p := op.Parameters.GetByInAndName("query", "limit")
		if p == nil {
			continue
		}
		lists++
		if max := p.Schema.Value.Max; max == nil || *max > 200 {
			t.Errorf("%s: the document lets limit go beyond 200", rt.Pattern)
		}
		for _, limit := range []string{"201", "100000", "-1", "0", "1e3"} {
			res := s.Do("GET", fillPath(rt.Pattern, id)+"?limit="+limit, tokenFor(s, rt.Access, id), nil)
			if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), `"field":"limit"`) {
				t.Errorf("%s?limit=%s: %d %s, want 400 naming limit", rt.Pattern, limit, res.Status, res.Body)
			}
		}
	}
	if lists == 0 {
		t.Fatal("no list found")
	}
	t.Logf("%d lists checked", lists)
}

// TestRoutesThatTakeNoBodyRefuseOne: joining a challenge, cancelling a redemption and signing out take no body;
// one sent is refused (400, strict JSON) with nothing written, rather than silently ignored.
func TestRoutesThatTakeNoBodyRefuseOne(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "nobody@example.com")
	settle(t, s)
	member := s.MemberToken(id)
	for _, c := range []struct{ path, token string }{
		{"/v1/challenges/" + placeholderID + "/join", member},
		{"/v1/redemptions/" + placeholderID + "/cancel", s.Keys["support"]},
		{"/v1/members/" + id + "/sign-out", member},
	} {
		for _, body := range []string{`{}`, `{"reason":"x"}`, `null`, " "} {
			before := tableFingerprint(t, s)
			res := s.Do("POST", c.path, c.token, body)
			if res.Status != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("POST %s with %q: %d %s, want 400", c.path, body, res.Status, res.Body)
			}
			if after := tableFingerprint(t, s); after != before {
				t.Errorf("POST %s with %q wrote something", c.path, body)
			}
		}
	}
	mustStatus(t, s.Do("GET", "/v1/members/"+id, member, nil), http.StatusOK, "the member is not signed out")
}

// TestUnmappedErrorsAnswerInternalErrorOnly: an error the table does not map is answered 500 with a fixed detail
// and no part of its message (which may name tables, hosts or input), whatever route it comes from.
func TestUnmappedErrorsAnswerInternalErrorOnly(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "internal@example.com")
	// Break the store under the API: a read of the member fails with Postgres's own words.
	if _, err := s.DB.Pool.Exec(context.Background(), `ALTER TABLE members RENAME COLUMN consent_sms TO consent_sms_gone`); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_, _ = s.DB.Pool.Exec(context.Background(), `ALTER TABLE members RENAME COLUMN consent_sms_gone TO consent_sms`)
	}()
	res := s.Do("GET", "/v1/members/"+id, s.Keys["support"], nil)
	mustStatus(t, res, http.StatusInternalServerError, "a read the store cannot do")
	body := strings.ToLower(string(res.Body))
	for _, leak := range []string{"consent_sms", "column", "sqlstate", "members", "get member"} {
		if strings.Contains(body, leak) {
			t.Errorf("the 500 says %q: %s", leak, res.Body)
		}
	}
	if !strings.Contains(body, `"title":"internal error"`) {
		t.Errorf("500 body %s", res.Body)
	}
}
