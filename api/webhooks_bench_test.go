package api_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// TestWebhookThroughput measures (it asserts nothing about speed) webhook delivery to a local receiver and what an
// endpoint subscribed to points costs the ledger's writers. It runs only when PERKFLOW_WEBHOOK_BENCH gives the number
// of events:
//
//	PERKFLOW_WEBHOOK_BENCH=5000 go test ./api -run TestWebhookThroughput -v -timeout 30m
//
// 16 writers append points entries (adjustments: the same ledger path as a purchase's accrual, one entry each) for
// 200 members; it reports the writers' rate without any endpoint and with one subscribed, the deliveries per second
// from the first commit to the last delivery, and the latency from each event's write to its arrival (p50, p99).
func TestWebhookThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PERKFLOW_WEBHOOK_BENCH"))
	if n <= 0 {
		t.Skip("set PERKFLOW_WEBHOOK_BENCH to the number of events to measure")
	}
	s := itest.NewStack(t, temporal, itest.Options{Webhooks: fastRetries})
	members := make([]string, 200)
	for i := range members {
		members[i] = newMember(t, s)
	}
	write := func(tag string) float64 {
		const writers = 16
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					adjust(t, s, members[int(i)%len(members)], fmt.Sprintf("%s-%d", tag, i), 1)
				}
			}()
		}
		wg.Wait()
		return float64(n) / time.Since(start).Seconds()
	}
	without := write("plain")

	var mu sync.Mutex
	var latencies []time.Duration
	var last time.Time
	rc := newWebhookReceiver(t)
	rc.answer = func(r received, _ int) (int, map[string]string) {
		mu.Lock()
		latencies = append(latencies, r.At.Sub(r.Timestamp))
		last = r.At
		mu.Unlock()
		return http.StatusNoContent, nil
	}
	ep := createEndpoint(t, s, rc.srv.URL, domain.EventPointsAdjusted)
	rc.setSecrets(ep.Secret)
	// What the outbox costs the writers, apart from the delivery's own work on this machine: the worker stopped,
	// the events only written. They are delivered once it starts again.
	s.StopWorker()
	outboxOnly := write("outbox")
	s.StartWorker()
	waitFor(t, 30*time.Minute, "the outbox drained", func() bool { return len(rc.delivered()) >= n })
	mu.Lock()
	latencies = latencies[:0]
	mu.Unlock()
	rc.mu.Lock()
	rc.ok = nil
	rc.mu.Unlock()
	start := time.Now()
	with := write("hooked")
	waitFor(t, 30*time.Minute, "every delivery", func() bool { return len(rc.delivered()) >= n })
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		return latencies[int(p*float64(len(latencies)-1))].Round(time.Millisecond)
	}
	t.Logf("ledger writes, 16 writers: %.0f/s without endpoints; %.0f/s with one subscribed, not delivering (%+.1f %%); %.0f/s while it delivers on the same machine (%+.1f %%)",
		without, outboxOnly, 100*(outboxOnly-without)/without, with, 100*(with-without)/without)
	t.Logf("deliveries: %d in %s = %.0f/s; latency from write p50 %s, p99 %s, max %s", n, last.Sub(start).Round(time.Millisecond),
		float64(n)/last.Sub(start).Seconds(), pct(0.5), pct(0.99), pct(1))
}
