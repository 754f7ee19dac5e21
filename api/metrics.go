package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/perkflow/perkflow/internal/metrics"
)

// Prometheus metrics of the API, registered on the process's registry (Config.Metrics), which the process serves
// on its own listener (PERKFLOW_METRICS_ADDR), never on the API's public port.

// requestMetrics are the API's Prometheus metrics, labelled by route pattern (never by raw path, which carries ids).
type requestMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// pollerCount is the number of workers' pollers of the task queue, by type, as the readiness probe last saw it.
	pollerCount *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metrics.HTTPRequests, Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: metrics.HTTPRequestDuration, Help: "HTTP request latency by route pattern and method.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		pollerCount: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: metrics.TaskQueuePollers, Help: "Pollers of the task queue that polled recently, by type (workflow, activity); 0 means no worker is processing.",
		}, []string{"type"}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry() // counted, served by no one
	}
	m.pollers(0, 0) // exported from the start; the readiness probe sets them at once
	reg.MustRegister(m.requests, m.latency, m.pollerCount)
	return m
}

func (m *requestMetrics) observe(route, method string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

func (m *requestMetrics) pollers(workflow, activity int) {
	m.pollerCount.WithLabelValues("workflow").Set(float64(workflow))
	m.pollerCount.WithLabelValues("activity").Set(float64(activity))
}
