package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/metrics"
	"github.com/perkflow/perkflow/internal/telemetry"
	"github.com/perkflow/perkflow/internal/testkit"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

// jsonLines decodes the JSON log lines written to b.
func jsonLines(b *testkit.SyncBuffer) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// spanNamed is the first ended span of trace id named name, or nil.
func spanNamed(spans []sdktrace.ReadOnlySpan, id trace.TraceID, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.SpanContext().TraceID() == id && s.Name() == name {
			return s
		}
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, a := range s.Attributes() {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestOneAccrualIsOneTrace follows a purchase from the POS request to the SQL that records its points: one trace
// holds the HTTP request, the SignalWithStart, the signal's handling in the member workflow's task, the accrual
// activity (started and run) and its statements, each the child of the one before — although the member's
// workflow was started by another request (the registration), whose trace it keeps. The request's log line
// carries the trace id.
func TestOneAccrualIsOneTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	logs := &testkit.SyncBuffer{}
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(logs, nil)))
	s := itest.NewStack(t, temporal, itest.Options{Tracing: telemetry.New(tp), Log: log})
	id := register(t, s, "traced@example.com")

	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-TRACE-1", id, 4_200))
	if res.Status != http.StatusCreated {
		t.Fatalf("accrue: %d %s", res.Status, res.Body)
	}
	var root sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() == "POST /v1/transactions/accrue" && sp.SpanKind() == trace.SpanKindServer {
			root = sp
		}
	}
	if root == nil {
		t.Fatal("no span for the HTTP request POST /v1/transactions/accrue")
	}
	tid := root.SpanContext().TraceID()
	if attr(root, "http.route") != "/v1/transactions/accrue" {
		t.Errorf("the request's span has http.route %q", attr(root, "http.route"))
	}
	chain := []string{
		"SignalWithStartWorkflow:" + workflows.MemberWorkflowName,
		"HandleSignal:" + workflows.SignalPurchases,
		"StartActivity:AccruePurchases",
		"RunActivity:AccruePurchases",
	}
	var spans []sdktrace.ReadOnlySpan
	eventually(t, 30*time.Second, "the accrual's spans to end", func() bool {
		spans = rec.Ended()
		for _, name := range chain {
			if spanNamed(spans, tid, name) == nil {
				return false
			}
		}
		return true
	})
	parent := root
	for _, name := range chain {
		sp := spanNamed(spans, tid, name)
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is the child of %s, want %s", name, sp.Parent().SpanID(), parent.Name())
		}
		parent = sp
	}
	// The activity's SQL: the ledger entry it appends, in the activity's span (directly, or in a batch of its: an
	// accrual sends its statements as pipelined batches, whose queries are the batch span's children).
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, sp := range spans {
		if sp.SpanContext().TraceID() == tid {
			byID[sp.SpanContext().SpanID()] = sp
		}
	}
	inActivity := func(sp sdktrace.ReadOnlySpan) bool {
		up := sp.Parent().SpanID()
		if up == parent.SpanContext().SpanID() {
			return true
		}
		batch, ok := byID[up]
		return ok && batch.Parent().SpanID() == parent.SpanContext().SpanID()
	}
	var inserts int
	for _, sp := range spans {
		stmt := attr(sp, "db.query.text") + attr(sp, "db.statement")
		if sp.SpanContext().TraceID() == tid && inActivity(sp) && strings.Contains(stmt, "INSERT INTO ledger_entries") {
			inserts++
		}
	}
	if inserts != 1 {
		t.Errorf("%d spans of the accrual activity insert its ledger entry, want 1", inserts)
	}
	// The registration's workflow run is another trace: the accrual did not land in it.
	for _, sp := range spans {
		if sp.Name() == "RunWorkflow:"+workflows.MemberWorkflowName && sp.SpanContext().TraceID() == tid {
			t.Error("the member workflow's run is in the accrual's trace; it belongs to the registration's")
		}
	}
	var logged bool
	for _, l := range jsonLines(logs) {
		if l["msg"] == "http request" && l["route"] == "/v1/transactions/accrue" {
			logged = true
			if l[telemetry.TraceIDKey] != tid.String() {
				t.Errorf("the request's log line has trace_id %v, want %s", l[telemetry.TraceIDKey], tid)
			}
		}
	}
	if !logged {
		t.Error("no log line for the request")
	}
}

// scrape reads a /metrics page into series → value ("name{labels}" as printed, labels sorted by the exposition).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	out := map[string]float64{}
	line := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)
	for _, l := range strings.Split(string(b), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err == nil {
				out[m[1]] = v
			}
		}
	}
	return out
}

// moved is after[k] - before[k] for each key.
func moved(before, after map[string]float64, keys ...string) map[string]float64 {
	out := map[string]float64{}
	for _, k := range keys {
		out[k] = after[k] - before[k]
	}
	return out
}

// TestMetricsMoveByExactlyWhatHappened: after a purchase, a return and a redemption at the till — each also sent
// twice, the second a replay — the worker's counters moved by exactly their points, once; the API counted each
// request by route; points outstanding is the ledger's sum; and the Temporal SDK's metrics are there.
func TestMetricsMoveByExactlyWhatHappened(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{Metrics: true})
	id := register(t, s, "metered@example.com")
	pos := s.Keys["pos"]
	workerBefore, apiBefore := scrape(t, s.WorkerMetricsURL), scrape(t, s.APIMetricsURL)

	buy := basketPurchase("T-METER", id, line("BOOK", "books", 2, 2_500), line("PEN", "office", 4, 250))
	ret := map[string]any{"return_id": "R-METER-1", "items": []map[string]any{{"sku": "BOOK", "quantity": 1}}}
	red := map[string]any{"redemption_id": "TILL-METER-1", "member_id": id, "points": 30, "store_id": "store-1"}
	for range 2 {
		mustStatus(t, s.Do("POST", "/v1/transactions/accrue", pos, buy), 201, "accrue")
	}
	for range 2 {
		mustStatus(t, s.Do("POST", "/v1/transactions/T-METER/return", pos, ret), 201, "return")
	}
	for range 2 {
		mustStatus(t, s.Do("POST", "/v1/transactions/redeem", pos, red), 201, "redeem")
	}

	w := scrape(t, s.WorkerMetricsURL)
	want := map[string]float64{
		`perkflow_points_returned_total`:                                25,
		`perkflow_points_redeemed_total{kind="till"}`:                   30,
		`perkflow_redemptions_total{channel="till",outcome="applied"}`:  1,
		`perkflow_redemptions_total{channel="till",outcome="rejected"}`: 0,
		`perkflow_points_expired_total`:                                 0,
	}
	// What the purchase earned is the API's own answer, not a figure of this test.
	var acc accrual
	s.Do("GET", "/v1/transactions/T-METER", pos, nil).Decode(t, &acc)
	want[`perkflow_points_issued_total{kind="accrual"}`] = float64(acc.PointsEarned)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for k, got := range moved(workerBefore, w, keys...) {
		if got != want[k] {
			t.Errorf("worker %s moved by %v, want %v", k, got, want[k])
		}
	}
	var ledger int64
	if err := s.DB.Pool.QueryRow(context.Background(), `SELECT COALESCE(sum(points), 0) FROM ledger_entries`).Scan(&ledger); err != nil {
		t.Fatal(err)
	}
	if got := w[metrics.PointsOutstanding]; got != float64(ledger) {
		t.Errorf("%s = %v, the ledger sums to %d", metrics.PointsOutstanding, got, ledger)
	}

	a := scrape(t, s.APIMetricsURL)
	for route, n := range map[string]float64{
		`perkflow_http_requests_total{method="POST",route="/v1/transactions/accrue",status="201"}`:                 2,
		`perkflow_http_requests_total{method="POST",route="/v1/transactions/{transactionId}/return",status="201"}`: 2,
		`perkflow_http_requests_total{method="POST",route="/v1/transactions/redeem",status="201"}`:                 2,
	} {
		if got := a[route] - apiBefore[route]; got != n {
			t.Errorf("api %s moved by %v, want %v", route, got, n)
		}
	}

	// A workflow that fails shows in the SDK's counters, as the alert on failed workflows expects.
	run, err := s.Temporal.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: "metrics-bad-member", TaskQueue: s.TaskQueue},
		workflows.MemberWorkflowName, workflows.MemberInput{MemberID: "not-a-uuid"})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(context.Background(), nil); err == nil {
		t.Fatal("a member workflow for a bad id succeeded")
	}
	eventually(t, 10*time.Second, "the SDK to count the failed workflow", func() bool {
		return sumOf(scrape(t, s.WorkerMetricsURL), metrics.TemporalWorkflowFailed) >= 1
	})
	w = scrape(t, s.WorkerMetricsURL)
	for _, name := range []string{metrics.TemporalWorkflowTaskScheduleToStart + "_count", metrics.TemporalWorkflowTaskExecution + "_count",
		metrics.TemporalLocalActivityExecution + "_count", metrics.TemporalActivityExecution + "_count"} {
		if sumOf(w, name) == 0 {
			t.Errorf("the worker's metrics have no %s", name)
		}
	}
	// Every business metric is exported from the start (at zero until something happens).
	for _, name := range metrics.Names() {
		if sumOf(w, name) == 0 && !hasSeries(w, name) && !hasSeries(a, name) {
			t.Errorf("%s is exported by neither the worker nor the API", name)
		}
	}
}

// sumOf sums every series of a metric (any labels).
func sumOf(series map[string]float64, name string) float64 {
	var n float64
	for k, v := range series {
		if k == name || strings.HasPrefix(k, name+"{") {
			n += v
		}
	}
	return n
}

func hasSeries(series map[string]float64, name string) bool {
	for k := range series {
		if k == name || strings.HasPrefix(k, name+"{") || strings.HasPrefix(k, name+"_bucket{") || k == name+"_count" {
			return true
		}
	}
	return false
}
