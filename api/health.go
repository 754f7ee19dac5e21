package api

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Operations routes: liveness, readiness and the API's own contract.

//go:embed openapi.yaml
var openAPISpec []byte

// serveOpenAPI serves api/openapi.yaml, the contract the API is tested against.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openAPISpec)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when Postgres and Temporal both answer. Workers are reported beside: none polling the task
// queue is a degraded state (purchases queue in Temporal, durable, unprocessed), not unreadiness — the API still
// accepts what it answers 202 for.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := s.checkReadiness(r.Context())
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

// pollerFreshness is how recently a poller must have polled to count as a worker polling: a worker's long polls
// last about a minute each, and Temporal remembers pollers for minutes after they are gone.
const pollerFreshness = 90 * time.Second

// readiness is the answer of /readyz.
type readiness struct {
	Ready bool `json:"ready"`
	// Degraded is set when the API is ready but no worker polls the task queue.
	Degraded bool              `json:"degraded"`
	Checks   map[string]string `json:"checks"`
	Workers  workersCheck      `json:"workers"`
}

// workersCheck is what Temporal says of the workers polling the API's task queue.
type workersCheck struct {
	// Status is "polling", "none_polling" (degraded), or "unknown" when Temporal is unreachable.
	Status          string `json:"status"`
	WorkflowPollers int    `json:"workflow_pollers"`
	ActivityPollers int    `json:"activity_pollers"`
}

// checkReadiness checks Postgres, Temporal and the workers polling the task queue. What it sees of Temporal feeds
// the breaker (outage.go) and of the workers the pollers metric.
func (s *Server) checkReadiness(parent context.Context) readiness {
	ctx, cancel := context.WithTimeout(parent, 2*time.Second)
	defer cancel()
	rd := readiness{Ready: true, Checks: map[string]string{"postgres": "ok", "temporal": "ok"}, Workers: workersCheck{Status: "unknown"}}
	if err := s.cfg.Store.Ping(ctx); err != nil {
		rd.Checks["postgres"], rd.Ready = "unreachable", false
	}
	_, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
	if parent.Err() == nil {
		// A probe cut short by its caller (a client that went away, a process stopping) says nothing of Temporal.
		s.breaker.record(err == nil)
	}
	if err != nil {
		rd.Checks["temporal"], rd.Ready = "unreachable", false
		return rd
	}
	wf, werr := s.pollers(ctx, enums.TASK_QUEUE_TYPE_WORKFLOW)
	act, aerr := s.pollers(ctx, enums.TASK_QUEUE_TYPE_ACTIVITY)
	if werr != nil || aerr != nil {
		return rd
	}
	rd.Workers = workersCheck{Status: "polling", WorkflowPollers: wf, ActivityPollers: act}
	if wf == 0 || act == 0 {
		rd.Workers.Status, rd.Degraded = "none_polling", rd.Ready
	}
	s.metrics.pollers(wf, act)
	return rd
}

// pollers counts the pollers of the API's task queue of one type that polled within pollerFreshness.
func (s *Server) pollers(ctx context.Context, typ enums.TaskQueueType) (int, error) {
	resp, err := s.temporal.DescribeTaskQueue(ctx, s.cfg.TaskQueue, typ)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range resp.GetPollers() {
		if t := p.GetLastAccessTime(); t == nil || time.Since(t.AsTime()) <= pollerFreshness {
			n++
		}
	}
	return n, nil
}

// probe checks readiness every ProbeInterval until ctx ends, so that the breaker and the pollers metric follow the
// dependencies whether or not anything calls /readyz.
func (s *Server) probe(ctx context.Context) {
	every := s.cfg.ProbeInterval
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	s.checkReadiness(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkReadiness(ctx)
		}
	}
}
