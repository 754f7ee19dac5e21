package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// outstandingTimeout bounds the query behind points outstanding, so that a slow database fails that one metric
// instead of holding the scrape.
const outstandingTimeout = 5 * time.Second

// outstanding reports the points members hold, read by a query at every scrape: a sum kept in memory would drift
// from the ledger with every restart, replica and write made elsewhere.
type outstanding struct {
	query    func(context.Context) (int64, error)
	desc     *prometheus.Desc
	duration prometheus.Histogram
}

// RegisterOutstanding registers perkflow_points_outstanding, read at scrape time by query (the store's exact sum of
// balances, which equals the sum of the ledger's entries). A failed query fails that metric only.
func RegisterOutstanding(reg prometheus.Registerer, query func(context.Context) (int64, error)) {
	o := &outstanding{
		query: query,
		desc: prometheus.NewDesc(PointsOutstanding,
			"Points members hold now (pending and available, less debt): the ledger's sum, read at scrape time.", nil, nil),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: OutstandingScrapeTime,
			Help: "Time the query behind perkflow_points_outstanding took.", Buckets: LatencyBuckets}),
	}
	reg.MustRegister(o, o.duration)
}

func (o *outstanding) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o *outstanding) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), outstandingTimeout)
	defer cancel()
	start := time.Now()
	n, err := o.query(ctx)
	o.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(o.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, float64(n))
}

// pool reports a pgx pool's statistics at scrape time.
type pool struct {
	p     *pgxpool.Pool
	descs map[string]*prometheus.Desc
}

// RegisterPool registers the statistics of the process's Postgres pool (perkflow_pgxpool_*).
func RegisterPool(reg prometheus.Registerer, p *pgxpool.Pool) {
	help := []string{"Connections in use.", "Idle connections.", "Connections open (in use, idle and being opened).",
		"The pool's connection limit.", "Connections acquired from the pool.",
		"Acquires that had to wait for a connection: the pool was empty.", "Time acquires spent waiting for a connection.",
		"Acquires given up because their context ended.", "Connections opened.",
		"Time spent acquiring connections, waits included."}
	c := &pool{p: p, descs: map[string]*prometheus.Desc{}}
	for i, name := range poolMetrics {
		c.descs[name] = prometheus.NewDesc("perkflow_pgxpool_"+name, help[i], nil, nil)
	}
	reg.MustRegister(c)
}

func (c *pool) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *pool) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stat()
	gauge := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v) }
	counter := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, v) }
	gauge("acquired_conns", float64(s.AcquiredConns()))
	gauge("idle_conns", float64(s.IdleConns()))
	gauge("total_conns", float64(s.TotalConns()))
	gauge("max_conns", float64(s.MaxConns()))
	counter("acquires_total", float64(s.AcquireCount()))
	counter("empty_acquires_total", float64(s.EmptyAcquireCount()))
	counter("empty_acquire_wait_seconds_total", s.EmptyAcquireWaitTime().Seconds())
	counter("canceled_acquires_total", float64(s.CanceledAcquireCount()))
	counter("new_conns_total", float64(s.NewConnsCount()))
	counter("acquire_duration_seconds_total", s.AcquireDuration().Seconds())
}

// Handler serves the registry in the Prometheus text format. A collector that fails (points outstanding when
// Postgres is down) is reported in the answer without hiding the other metrics.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
