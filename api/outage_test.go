package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/store"
)

// Outages: a dependency that is down answers 503 problem+json naming it, with Retry-After, fast.

type outageAnswer struct {
	status     int
	retryAfter string
	problem    api.Problem
	took       time.Duration
}

func send(t *testing.T, base, method, path, token string, body any) outageAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := outageAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), took: time.Since(start)}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%d answered as %s: %s", res.StatusCode, ct, b)
		}
		if err := json.Unmarshal(b, &a.problem); err != nil {
			t.Fatalf("%d %s: %v", res.StatusCode, b, err)
		}
	}
	return a
}

func wantOutage(t *testing.T, a outageAnswer, typ, accepted string) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.problem.Type != "/docs/problems#"+typ {
		t.Fatalf("answered %d %+v, want 503 %s", a.status, a.problem, typ)
	}
	if a.retryAfter == "" {
		t.Error("no Retry-After")
	}
	if !strings.Contains(a.problem.Detail, accepted) || !strings.Contains(a.problem.Detail, "same id") {
		t.Errorf("detail %q does not say %q and that the same id may be sent again", a.problem.Detail, accepted)
	}
}

// closedAddr is a loopback address nothing listens on: connections to it are refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr is a loopback address that accepts connections and never answers: a server that hangs.
func silentAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

func serve(t *testing.T, cfg api.Config) (*api.Server, string) {
	t.Helper()
	srv := api.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Run(ctx)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); cancel() })
	return srv, hs.URL
}

// TestPostgresRefusedAnswers503Fast: with Postgres refusing connections, an authenticated request answers at once
// 503 postgres-unavailable with Retry-After, saying nothing was accepted — not a 500.
func TestPostgresRefusedAnswers503Fast(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@"+closedAddr(t)+"/perkflow?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	_, base := serve(t, api.Config{Store: store.New(pool), Temporal: temporal.Client, TaskQueue: "outage-pg"})
	for _, path := range []string{"/v1/members/7d0c4bd8-3a29-4a4e-9d55-0c2f1d9a6a11", "/v1/program"} {
		a := send(t, base, "GET", path, store.APIKeyPrefix+"0123456789abcdef0123456789abcdef", nil)
		wantOutage(t, a, "postgres-unavailable", "was not accepted")
		t.Logf("GET %s: 503 in %v", path, a.took)
		if a.took > time.Second {
			t.Errorf("a refused connection took %v to answer", a.took)
		}
	}
	// The readiness probe says so too.
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz %d with Postgres down", res.StatusCode)
	}
}

// TestTemporalSilentAnswers503WithinDeadlineThenBreakerAnswersAtOnce: with a Temporal server that accepts
// connections and never answers, an accrual answers 503 temporal-unavailable within the per-call deadline (not the
// SDK's 10 s), saying it may have been accepted; once the readiness probe has seen Temporal down, the breaker
// answers at once, saying nothing was accepted. Nothing is written meanwhile.
func TestTemporalSilentAnswers503WithinDeadlineThenBreakerAnswersAtOnce(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	memberID := register(t, s, "outage@example.com")
	dead, err := client.NewLazyClient(client.Options{HostPort: silentAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	// A probe interval longer than the test: only the probe at start runs on its own, and one failed probe does not
	// open the breaker (it takes two in a row), so the first accrual reaches the silent server and meets the deadline.
	_, base := serve(t, api.Config{Store: s.Store, Temporal: dead, TaskQueue: s.TaskQueue, ProbeInterval: time.Hour})

	a := send(t, base, "POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("tx-outage-1", memberID, 1000))
	t.Logf("accrual with Temporal silent: %d in %v", a.status, a.took)
	wantOutage(t, a, "temporal-unavailable", "may have been accepted")
	if a.took > 5*time.Second {
		t.Errorf("answered after %v: the per-call deadline did not apply", a.took)
	}

	eventually(t, 10*time.Second, "readyz to see Temporal down", func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var rd struct {
			Checks map[string]string `json:"checks"`
		}
		_ = json.NewDecoder(res.Body).Decode(&rd)
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable && rd.Checks["temporal"] == "unreachable"
	})
	a = send(t, base, "POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("tx-outage-2", memberID, 1000))
	t.Logf("accrual with the breaker open: %d in %v", a.status, a.took)
	wantOutage(t, a, "temporal-unavailable", "was not accepted")
	if a.took >= time.Second {
		t.Errorf("the open breaker took %v to answer", a.took)
	}
	// Nothing of either purchase was recorded.
	for _, tx := range []string{"tx-outage-1", "tx-outage-2"} {
		if res := s.Do("GET", "/v1/transactions/"+tx+"?member_id="+memberID, s.Keys["pos"], nil); res.Status != http.StatusNotFound {
			t.Errorf("%s: %d %s", tx, res.Status, res.Body)
		}
	}
}

// TestReadyzReportsWorkersPolling: without a worker the API is ready but degraded, workers none_polling, and the
// pollers metric is 0; with one it is polling.
func TestReadyzReportsWorkersPolling(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true, Metrics: true})
	type readiness struct {
		Ready    bool `json:"ready"`
		Degraded bool `json:"degraded"`
		Workers  struct {
			Status          string `json:"status"`
			WorkflowPollers int    `json:"workflow_pollers"`
			ActivityPollers int    `json:"activity_pollers"`
		} `json:"workers"`
	}
	ready := func() readiness {
		res := s.Do("GET", "/readyz", "", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("readyz %d %s", res.Status, res.Body)
		}
		var rd readiness
		res.Decode(t, &rd)
		return rd
	}
	if rd := ready(); !rd.Ready || !rd.Degraded || rd.Workers.Status != "none_polling" || rd.Workers.WorkflowPollers != 0 {
		t.Fatalf("without a worker: %+v", rd)
	}
	if v := scrape(t, s.APIMetricsURL)[`perkflow_task_queue_pollers{type="workflow"}`]; v != 0 {
		t.Errorf("pollers metric %v without a worker", v)
	}
	s.StartWorker()
	var rd readiness
	eventually(t, 30*time.Second, "the worker to be seen polling", func() bool {
		rd = ready()
		return rd.Workers.Status == "polling"
	})
	if !rd.Ready || rd.Degraded || rd.Workers.WorkflowPollers == 0 || rd.Workers.ActivityPollers == 0 {
		t.Errorf("with a worker: %+v", rd)
	}
	eventually(t, 10*time.Second, "the pollers metric", func() bool {
		return scrape(t, s.APIMetricsURL)[`perkflow_task_queue_pollers{type="workflow"}`] > 0
	})
}
