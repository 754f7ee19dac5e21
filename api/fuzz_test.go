package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// Fuzz targets: bodies thrown at the real API (real Postgres, real Temporal, real worker). Whatever the body:
//   - no panic and no 5xx;
//   - a 4xx is a problem document, and nothing at all was written (every table's content is compared);
//   - a 2xx answers with JSON, and the ledger stays consistent.
//
// `go test ./api/` runs the seeds (below and under testdata/fuzz/); `make fuzz` explores for a while.

// fuzzStack is one stack per fuzz target and process, with limits off so that the fuzzer is never throttled.
type fuzzStack struct {
	s      *itest.Stack
	member string
}

func newFuzzStack(f *testing.F) *fuzzStack {
	s := itest.NewStack(f, temporal, itest.Options{Limits: &api.Limits{}, WaitBudget: 5 * time.Second})
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], registration("fuzz@example.com"), "Prefer", "wait=20")
	var m member
	if res.Status != http.StatusCreated || json.Unmarshal(res.Body, &m) != nil {
		f.Fatalf("register: %d %s", res.Status, res.Body)
	}
	settle(f, s)
	return &fuzzStack{s: s, member: m.MemberID}
}

// send posts body and checks the properties above.
func (fz *fuzzStack) send(t *testing.T, method, path, token string, body []byte, headers ...string) {
	s := fz.s.For(t)
	before := tableFingerprint(t, s)
	res := s.Do(method, path, token, body, headers...)
	switch {
	case res.Status >= 500:
		t.Fatalf("%s %s answered %d for %q: %s", method, path, res.Status, truncated(body), res.Body)
	case res.Status >= 400:
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%d with Content-Type %q", res.Status, ct)
		}
		after := tableFingerprint(t, s)
		if res.Status == http.StatusUnprocessableEntity && path == "/v1/transactions/accrue" {
			// A purchase refused by the program's rules (422: too late to claim, say) is recorded as refused, so
			// that a retry answers the same; that record is all it may write, and it holds no points.
			before, after = withoutRefusedPurchase(t, s, before), withoutRefusedPurchase(t, s, after)
		}
		if after != before {
			t.Fatalf("%s %s refused %q with %d but wrote:\nbefore %s\nafter  %s", method, path, truncated(body), res.Status, before, after)
		}
	default:
		if !json.Valid(res.Body) {
			t.Fatalf("%d with a body that is not JSON: %s", res.Status, res.Body)
		}
		settle(t, fz.s)
		s.LedgerInvariants()
	}
}

func truncated(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// hostileSeeds are inputs every JSON endpoint gets as seeds (TestHostileBodiesGetClean4xx has the big ones).
func hostileSeeds() [][]byte {
	return [][]byte{
		[]byte(``), []byte(`null`), []byte(`[]`), []byte(`{}`), []byte(`{"a":1}{}`),
		[]byte(strings.Repeat(`[`, 2_000)), []byte("{\"\xff\":1}"), []byte(`{"x":"\u0000"}`),
		[]byte(`{"points":1000000,"tier":"gold","status":"active","balance":{"available":1}}`),
	}
}

func FuzzAccrue(f *testing.F) {
	fz := newFuzzStack(f)
	valid := func(extra string) []byte {
		return []byte(`{"transaction_id":"T-FUZZ-1","member_id":"` + fz.member + `","store_id":"store-1","channel":"store",` +
			`"occurred_at":"2026-01-02T10:00:00Z","total":{"amount":12345,"currency":"EUR"},` +
			`"items":[{"sku":"SKU-1","category":"books","quantity":1,"unit_price":{"amount":12345,"currency":"EUR"}}]` + extra + `}`)
	}
	for _, b := range append(hostileSeeds(),
		valid(""), valid(`,"points_earned":99999`), valid(`,"Member_Id":"x"`), valid(`,"total":null`),
		[]byte(strings.Replace(string(valid("")), `"amount":12345,`, `"amount":1e400,`, 1)),
		[]byte(strings.Replace(string(valid("")), `"amount":12345,`, `"amount":-1,`, 1)),
		[]byte(strings.Replace(string(valid("")), "2026-01-02T10:00:00Z", "0001-01-01T00:00:00Z", 1)),
		[]byte(strings.Replace(string(valid("")), "2026-01-02T10:00:00Z", "9999-12-31T23:59:59+14:00", 1)),
		[]byte(strings.Replace(string(valid("")), `"T-FUZZ-1"`, `"T-FUZZ-2"`, 1)),
		[]byte(strings.Replace(string(valid("")), `"SKU-1"`, `"SKU\u0000"`, 1)),
	) {
		f.Add(b)
	}
	pos := fz.s.Keys["pos"]
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.send(t, "POST", "/v1/transactions/accrue", pos, body)
	})
}

func FuzzRegister(f *testing.F) {
	fz := newFuzzStack(f)
	for _, b := range append(hostileSeeds(),
		[]byte(`{"email":"seed@example.com","name":"Seed","phone":"+33612345678","birthdate":"1990-05-17","external_id":"EXT-1","consent":{"email":true,"sms":false}}`),
		[]byte(`{"email":"seed2@example.com","name":"Seed"}`),
		[]byte(`{"EMAIL":"caps@example.com","name":"Caps"}`),
		[]byte(`{"email":"dup@example.com","email":"dup2@example.com","name":"Dup"}`),
		[]byte(`{"email":"x@example.com","name":"X","birthdate":"0000-02-29"}`),
		[]byte(`{"email":"x@example.com","name":"X","consent":{"email":null}}`),
		[]byte(`{"email":"x@example.com","name":"X","member_id":"00000000-0000-4000-8000-000000000000"}`),
		[]byte(`{"email":"ünïcödé@exämple.com","name":"\ud83d\ude00"}`),
	) {
		f.Add(b)
	}
	pos := fz.s.Keys["pos"]
	f.Fuzz(func(t *testing.T, body []byte) {
		fz.send(t, "POST", "/v1/members/register", pos, body)
	})
}

// FuzzWriteRoutes fuzzes every write route the router serves — those that exist today and those added later
// (rules, offers, …) — as a caller the route admits. The first input picks the route.
func FuzzWriteRoutes(f *testing.F) {
	fz := newFuzzStack(f)
	all, err := api.RoutesOf(fz.s.API.Config.Handler)
	if err != nil {
		f.Fatal(err)
	}
	var routes []api.Route
	for _, rt := range all {
		if rt.Access != nil && slices.Contains([]string{"POST", "PUT", "PATCH"}, rt.Method) {
			routes = append(routes, rt)
		}
	}
	if len(routes) == 0 {
		f.Fatal("no write routes")
	}
	tokens := make([]string, len(routes))
	for i, rt := range routes {
		tokens[i] = tokenFor(fz.s, rt.Access, fz.member)
	}
	for i := range routes {
		f.Add(uint8(i), []byte(`{}`), "")
		f.Add(uint8(i), []byte(`{"member_id":"`+fz.member+`","points":1}`), "key-1")
	}
	// Seeds named by route, so that each reaches its handler whatever the routes' order: a seed keyed by position
	// (a corpus file) drifts onto another route as soon as one is added.
	seeds := []struct{ route, body string }{
		{"POST /v1/members/{memberId}/adjustments", `{"adjustment_id":"ADJ-1","points":-9223372036854775808,"reason":"goodwill"}`},                                                                                                                                                                                          // adjustment
		{"POST /v1/campaigns", `{"name":"Spring x2","kind":"multiplier","segment":{"tiers":["gold"]},"starts_at":"2026-04-01T00:00:00Z","ends_at":"2026-04-30T00:00:00Z","rule":{"conditions":{},"action":{"type":"multiplier","percent":200}}}`},                                                                           // campaign
		{"POST /v1/challenges", `{"name":"Three visits","goal":{"kind":"purchases","target":3},"reward_points":100,"window_days":30}`},                                                                                                                                                                                      // challenge
		{"POST /v1/offers", `{"title":"Free coffee","description":"Any size","points_cost":150,"cash_price":{"amount":199,"currency":"EUR"},"stock":100,"starts_at":"2026-01-01T00:00:00Z","ends_at":"2026-12-31T23:59:59Z","eligible_tiers":["silver","gold"]}`},                                                           // offer
		{"PUT /v1/program", `{"currency":"EUR","pending_days":14,"expiry":{"months":24},"tier_window_days":365,"allow_negative_on_return":false,"tiers":[{"code":"member","name":"Member","threshold_points":0,"multiplier_percent":100},{"code":"gold","name":"Gold","threshold_points":1000,"multiplier_percent":150}]}`}, // program
		{"POST /v1/transactions/redeem", `{"redemption_id":"R-1","member_id":"6f1c2a9e-0b7d-4c1e-9a53-2d8e4f6a7b10","points":100,"store_id":"paris-01"}`},                                                                                                                                                                   // redeem
		{"POST /v1/transactions/{transactionId}/return", `{"return_id":"RET-1","items":[{"sku":"BOOK-1","quantity":1}]}`},                                                                                                                                                                                                   // return
		{"POST /v1/rules", `{"name":"Double points on books at weekends","priority":10,"mode":"stackable","conditions":{"categories":["books"],"days_of_week":[6,7],"local_time_from":"10:00","local_time_to":"18:00","min_total":{"amount":1000,"currency":"EUR"}},"action":{"type":"multiplier","percent":200}}`},         // rule
		{"POST /v1/rules", `{"name":"x","priority":-1,"mode":"both","conditions":{"days_of_week":[0,8],"local_time_from":"25:61"},"action":{"type":"earn_rate","points":1,"per_amount":0}}`},                                                                                                                                // rule-bad
	}
	for _, sd := range seeds {
		i := slices.IndexFunc(routes, func(rt api.Route) bool { return rt.Method+" "+rt.Pattern == sd.route })
		if i < 0 {
			f.Fatalf("seed for %s: no such write route", sd.route)
		}
		f.Add(uint8(i), []byte(sd.body), "")
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte, idempotencyKey string) {
		i := int(route) % len(routes)
		rt := routes[i]
		var headers []string
		if idempotencyKey != "" && !strings.ContainsFunc(idempotencyKey, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			headers = []string{"Idempotency-Key", idempotencyKey}
		}
		fz.send(t, rt.Method, fillPath(rt.Pattern, fz.member), tokens[i], body, headers...)
	})
}

// withoutRefusedPurchase is a table fingerprint without the records of refused purchases: the transactions of
// status rejected and their accrual claims. Every other transaction must be there still, unchanged.
func withoutRefusedPurchase(t *testing.T, s *itest.Stack, fp string) string {
	t.Helper()
	var kept []string
	for _, part := range strings.Fields(fp) {
		if !strings.HasPrefix(part, "transactions=") && !strings.HasPrefix(part, "accrual_claims=") {
			kept = append(kept, part)
		}
	}
	var others string
	if err := s.DB.Pool.QueryRow(context.Background(), `
		SELECT count(*)::text || ':' || md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), ''))
		FROM transactions x WHERE status <> 'rejected'`).Scan(&others); err != nil {
		t.Fatal(err)
	}
	return strings.Join(append(kept, "transactions(not rejected)="+others), " ")
}
