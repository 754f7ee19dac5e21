// Package metrics defines perkflow's Prometheus metrics — their names, labels and the helpers that move them — and
// the collectors read at scrape time: points outstanding (an exact query), the Postgres pool, the Temporal SDK.
//
// Naming follows Prometheus conventions: the perkflow_ prefix, _total on counters, units as suffixes (_seconds).
// Every label takes one of a few values fixed here (an unknown value is counted as "other"): never a member, a
// transaction or any other id, so that the number of series stays bounded whatever the traffic.
package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names, for dashboards, alert rules and the tests that check them.
const (
	PointsIssued          = "perkflow_points_issued_total"
	PointsWithdrawn       = "perkflow_points_withdrawn_total"
	PointsReturned        = "perkflow_points_returned_total"
	PointsRedeemed        = "perkflow_points_redeemed_total"
	PointsReleased        = "perkflow_points_released_total"
	PointsExpired         = "perkflow_points_expired_total"
	PointsOutstanding     = "perkflow_points_outstanding"
	Redemptions           = "perkflow_redemptions_total"
	Compensations         = "perkflow_redemption_compensations_total"
	NotificationsSent     = "perkflow_notifications_sent_total"
	NotificationsFailed   = "perkflow_notifications_failed_total"
	ImportRows            = "perkflow_import_rows_total"
	WebhookDeliveries     = "perkflow_webhook_deliveries_total"
	WebhookDeliveryTime   = "perkflow_webhook_delivery_duration_seconds"
	OutstandingScrapeTime = "perkflow_points_outstanding_scrape_duration_seconds"
	// The API's requests, by route pattern, method and status (registered by the api package).
	HTTPRequests        = "perkflow_http_requests_total"
	HTTPRequestDuration = "perkflow_http_request_duration_seconds"
	// The workers polling the API's task queue, as the API's readiness probe sees them (registered by the api
	// package).
	TaskQueuePollers = "perkflow_task_queue_pollers"
)

// poolMetrics are the names of RegisterPool's metrics, after the perkflow_pgxpool_ prefix.
var poolMetrics = []string{"acquired_conns", "idle_conns", "total_conns", "max_conns", "acquires_total",
	"empty_acquires_total", "empty_acquire_wait_seconds_total", "canceled_acquires_total", "new_conns_total",
	"acquire_duration_seconds_total"}

// Names lists every perkflow_* metric a perkflow process exports, for the tests that hold dashboards and alert
// rules to metrics that exist.
func Names() []string {
	names := []string{PointsIssued, PointsWithdrawn, PointsReturned, PointsRedeemed, PointsReleased, PointsExpired,
		PointsOutstanding, Redemptions, Compensations, NotificationsSent, NotificationsFailed, ImportRows,
		WebhookDeliveries, WebhookDeliveryTime, OutstandingScrapeTime, HTTPRequests, HTTPRequestDuration, TaskQueuePollers}
	for _, p := range poolMetrics {
		names = append(names, "perkflow_pgxpool_"+p)
	}
	return names
}

// Label values. A helper given any other value counts it as "other".
var (
	// IssueKinds are the credits of the ledger: purchases, bonuses (campaigns, challenges, birthdays), credits by
	// support.
	IssueKinds = []string{"accrual", "bonus", "adjustment"}
	// WithdrawKinds are debits that are neither a return, a redemption nor an expiry: debits by support.
	WithdrawKinds = []string{"adjustment"}
	// RedeemKinds: points spent at a till, or held for an offer claimed.
	RedeemKinds = []string{"till", "offer"}
	// RedemptionOutcomes by channel: an offer's saga ends completed, failed or cancelled; a till redemption is
	// applied or rejected (not enough points).
	RedemptionOutcomes = map[string][]string{
		"offer": {"completed", "failed", "cancelled"},
		"till":  {"applied", "rejected"},
	}
	// CompensationSteps are the saga's compensations that gave something back.
	CompensationSteps = []string{"refund", "release_stock", "release_points"}
	// Providers and Channels of notifications; FailureReasons: refused for good (4xx), or unavailable (rate
	// limited, outage, no answer) and retried.
	Providers      = []string{"sendgrid", "twilio", "log"}
	Channels       = []string{"email", "sms"}
	FailureReasons = []string{"refused", "unavailable"}
	// ImportOutcomes of a bulk import's rows; WebhookOutcomes of one delivery attempt.
	ImportOutcomes  = []string{"loaded", "rejected"}
	WebhookOutcomes = []string{"delivered", "failed"}
)

const other = "other"

// bounded returns v when it is one of allowed, else "other".
func bounded(v string, allowed []string) string {
	if slices.Contains(allowed, v) {
		return v
	}
	return other
}

// Business holds the business metrics. A nil *Business counts nothing, so that code built without metrics (tests,
// tools) needs no check.
type Business struct {
	issued, withdrawn, redeemed *prometheus.CounterVec
	returned, released, expired prometheus.Counter
	redemptions, compensations  *prometheus.CounterVec
	notifSent, notifFailed      *prometheus.CounterVec
	importRows, webhooks        *prometheus.CounterVec
	webhookTime                 prometheus.Histogram
}

// NewBusiness creates the business metrics and registers them on reg, every known label combination at zero so
// that rates and alerts see a series from the start.
func NewBusiness(reg prometheus.Registerer) *Business {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	b := &Business{
		issued:    counter(PointsIssued, "Points credited to members, by kind, counted once each credit has committed.", "kind"),
		withdrawn: counter(PointsWithdrawn, "Points debited by support (adjustments), counted once committed.", "kind"),
		redeemed:  counter(PointsRedeemed, "Points spent: at a till, or held for a claimed offer; counted once committed.", "kind"),
		returned: prometheus.NewCounter(prometheus.CounterOpts{Name: PointsReturned,
			Help: "Points taken back by returned purchases, counted once committed."}),
		released: prometheus.NewCounter(prometheus.CounterOpts{Name: PointsReleased,
			Help: "Points given back by redemptions that failed or were cancelled, counted once committed."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: PointsExpired,
			Help: "Points written off by expiry, counted once committed."}),
		redemptions:   counter(Redemptions, "Redemptions that ended, by channel (offer, till) and outcome.", "channel", "outcome"),
		compensations: counter(Compensations, "Compensating steps of the redemption saga that gave something back.", "step"),
		notifSent:     counter(NotificationsSent, "Notifications a provider accepted, by provider and channel.", "provider", "channel"),
		notifFailed: counter(NotificationsFailed,
			"Notification attempts that failed, by provider, channel and reason (refused: for good; unavailable: retried).",
			"provider", "channel", "reason"),
		importRows: counter(ImportRows, "Rows of bulk imports, by outcome.", "outcome"),
		webhooks:   counter(WebhookDeliveries, "Webhook delivery attempts, by outcome.", "outcome"),
		webhookTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: WebhookDeliveryTime,
			Help: "Time a webhook delivery attempt took, answer or not.", Buckets: LatencyBuckets}),
	}
	reg.MustRegister(b.issued, b.withdrawn, b.redeemed, b.returned, b.released, b.expired,
		b.redemptions, b.compensations, b.notifSent, b.notifFailed, b.importRows, b.webhooks, b.webhookTime)
	for _, k := range IssueKinds {
		b.issued.WithLabelValues(k)
	}
	for _, k := range WithdrawKinds {
		b.withdrawn.WithLabelValues(k)
	}
	for _, k := range RedeemKinds {
		b.redeemed.WithLabelValues(k)
	}
	for ch, outcomes := range RedemptionOutcomes {
		for _, o := range outcomes {
			b.redemptions.WithLabelValues(ch, o)
		}
	}
	for _, s := range CompensationSteps {
		b.compensations.WithLabelValues(s)
	}
	for _, p := range Providers {
		for _, ch := range Channels {
			b.notifSent.WithLabelValues(p, ch)
			for _, r := range FailureReasons {
				b.notifFailed.WithLabelValues(p, ch, r)
			}
		}
	}
	for _, o := range ImportOutcomes {
		b.importRows.WithLabelValues(o)
	}
	for _, o := range WebhookOutcomes {
		b.webhooks.WithLabelValues(o)
	}
	return b
}

// LatencyBuckets are the histogram buckets of perkflow's latencies, in seconds: from a millisecond to a minute.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// PointsIssued counts points credited (kind: accrual, bonus, adjustment).
func (b *Business) PointsIssued(kind string, points int64) {
	if b != nil && points > 0 {
		b.issued.WithLabelValues(bounded(kind, IssueKinds)).Add(float64(points))
	}
}

// PointsWithdrawn counts points debited by support.
func (b *Business) PointsWithdrawn(kind string, points int64) {
	if b != nil && points > 0 {
		b.withdrawn.WithLabelValues(bounded(kind, WithdrawKinds)).Add(float64(points))
	}
}

// PointsReturned counts points taken back by returns.
func (b *Business) PointsReturned(points int64) {
	if b != nil && points > 0 {
		b.returned.Add(float64(points))
	}
}

// PointsRedeemed counts points spent (kind: till, offer).
func (b *Business) PointsRedeemed(kind string, points int64) {
	if b != nil && points > 0 {
		b.redeemed.WithLabelValues(bounded(kind, RedeemKinds)).Add(float64(points))
	}
}

// PointsReleased counts points given back by a compensated redemption.
func (b *Business) PointsReleased(points int64) {
	if b != nil && points > 0 {
		b.released.Add(float64(points))
	}
}

// PointsExpired counts points written off by expiry.
func (b *Business) PointsExpired(points int64) {
	if b != nil && points > 0 {
		b.expired.Add(float64(points))
	}
}

// RedemptionEnded counts a redemption that reached its outcome (see RedemptionOutcomes).
func (b *Business) RedemptionEnded(channel, outcome string) {
	if b == nil {
		return
	}
	outcomes, ok := RedemptionOutcomes[channel]
	if !ok {
		channel = other
	}
	b.redemptions.WithLabelValues(channel, bounded(outcome, outcomes)).Inc()
}

// CompensationApplied counts a compensating step of the saga that gave something back.
func (b *Business) CompensationApplied(step string) {
	if b != nil {
		b.compensations.WithLabelValues(bounded(step, CompensationSteps)).Inc()
	}
}

// NotificationSent counts a notification a provider accepted.
func (b *Business) NotificationSent(provider, channel string) {
	if b != nil {
		b.notifSent.WithLabelValues(bounded(provider, Providers), bounded(channel, Channels)).Inc()
	}
}

// NotificationFailed counts a failed attempt (reason: refused, unavailable).
func (b *Business) NotificationFailed(provider, channel, reason string) {
	if b != nil {
		b.notifFailed.WithLabelValues(bounded(provider, Providers), bounded(channel, Channels), bounded(reason, FailureReasons)).Inc()
	}
}

// ImportRows counts n rows of a bulk import that reached outcome (loaded, rejected).
func (b *Business) ImportRows(outcome string, n int64) {
	if b != nil && n > 0 {
		b.importRows.WithLabelValues(bounded(outcome, ImportOutcomes)).Add(float64(n))
	}
}

// WebhookDelivery counts one delivery attempt (outcome: delivered, failed) and the time it took.
func (b *Business) WebhookDelivery(outcome string, took time.Duration) {
	if b != nil {
		b.webhooks.WithLabelValues(bounded(outcome, WebhookOutcomes)).Inc()
		b.webhookTime.Observe(took.Seconds())
	}
}

// NewRegistry is a process's registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
