package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
)

// The Temporal SDK metrics the dashboards and alert rules use, as they appear on /metrics: the SDK names them
// (temporal_*), the exporter adds the unit (_seconds) and the counter suffix (_total).
const (
	TemporalWorkflowTaskScheduleToStart = "temporal_workflow_task_schedule_to_start_latency_seconds"
	TemporalWorkflowTaskExecution       = "temporal_workflow_task_execution_latency_seconds"
	TemporalActivityScheduleToStart     = "temporal_activity_schedule_to_start_latency_seconds"
	TemporalActivityExecution           = "temporal_activity_execution_latency_seconds"
	TemporalLocalActivityExecution      = "temporal_local_activity_execution_latency_seconds"
	TemporalActivityFailed              = "temporal_activity_execution_failed_total"
	TemporalWorkflowFailed              = "temporal_workflow_failed_total"
	TemporalWorkflowCompleted           = "temporal_workflow_completed_total"
	TemporalWorkflowTaskFailed          = "temporal_workflow_task_execution_failed_total"
	TemporalRequestFailure              = "temporal_request_failure_total"
)

// TemporalHandler is the Temporal SDK's metrics handler (client and worker: task latencies, schedule-to-start,
// failures, polls) exported on reg through OpenTelemetry's Prometheus exporter. Counters are monotonic (so that
// they are Prometheus counters, with _total), and every duration is a histogram over LatencyBuckets.
func TemporalHandler(reg prometheus.Registerer) (client.MetricsHandler, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("temporal metrics exporter: %w", err)
	}
	seconds := sdkmetric.NewView(sdkmetric.Instrument{Unit: "s"}, sdkmetric.Stream{
		Aggregation: sdkmetric.AggregationExplicitBucketHistogram{Boundaries: LatencyBuckets},
	})
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithView(seconds))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                provider.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		// An instrument the SDK cannot create is a bug of ours or theirs, never a reason to stop a worker.
		OnError: func(error) {},
	}), nil
}
