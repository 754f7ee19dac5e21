package api

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/perkflow/perkflow/domain"
)

// Outages: what a request answers when Postgres or Temporal is down. It answers fast — a refused connection at
// once, a Temporal that does not answer within temporalCallTimeout, and nothing at all while the readiness probe
// sees Temporal red (the breaker) — with a 503 whose type names the dependency, a Retry-After, and a detail that says
// whether the request may have been accepted. Every write of the API is keyed by a client's id (a transaction id, an
// operation id, an Idempotency-Key), so sending the same request again is always safe.

// The error codes of outages, one per dependency.
const (
	errPostgresUnavailable domain.ErrorCode = "postgres_unavailable"
	errTemporalUnavailable domain.ErrorCode = "temporal_unavailable"
)

const (
	// temporalCallTimeout bounds each signal, start, query and describe the API sends to Temporal (the SDK's own is
	// 10 s): a Temporal server that does not answer makes a request answer 503 within it.
	temporalCallTimeout = 1500 * time.Millisecond
	// outageRetryAfter is the Retry-After of a dependency outage's 503.
	outageRetryAfter = 2 * time.Second
)

// Details of outage 503s: whether the request may have been accepted, and that retrying is safe.
const (
	detailNotAccepted = " could not be reached: this request was not accepted. Send the same request again (same id, " +
		"same Idempotency-Key) after Retry-After seconds."
	detailMaybeAccepted = " did not answer in time: this request may have been accepted. Send the same request again " +
		"(same id, same Idempotency-Key) after Retry-After seconds; it applies at most once."
)

// detailSignalsLimited is the detail of the 503 of a signal refused by the run's limit (signalsLimited).
const detailSignalsLimited = "this member's workflow has taken in all it can before it continues as new: this request " +
	"was not accepted. Send the same request again (same id, same Idempotency-Key) after Retry-After seconds."

// errBreakerOpen is the error of a Temporal call not sent because the readiness probe sees Temporal down.
var errBreakerOpen = errors.New("temporal is unavailable (readiness probe): call not sent")

// postgresUnavailable is the 503 of a request that Postgres could not serve; accepted says whether what the request
// sent may have been applied (a connection lost or timed out mid-query) or surely not (no connection).
func postgresUnavailable(maybeAccepted bool, cause error) error {
	detail := "the database" + detailNotAccepted
	if maybeAccepted {
		detail = "the database" + detailMaybeAccepted
	}
	return &retryLater{err: problem(errPostgresUnavailable, detail), after: outageRetryAfter, cause: cause}
}

// temporalUnavailable is the 503 of a request that Temporal could not serve (see postgresUnavailable).
func temporalUnavailable(maybeAccepted bool, cause error) error {
	detail := "the workflow service" + detailNotAccepted
	if maybeAccepted {
		detail = "the workflow service" + detailMaybeAccepted
	}
	return &retryLater{err: problem(errTemporalUnavailable, detail), after: outageRetryAfter, cause: cause}
}

// temporalOutage is the 503 of an error of a call to Temporal that did not go through, or nil when err is not one:
// a call the breaker did not send, or that Temporal refused as unavailable, was not accepted; a call whose deadline
// passed, or that was cancelled, may have been.
func temporalOutage(err error) error {
	var (
		unavail   *serviceerror.Unavailable
		exhausted *serviceerror.ResourceExhausted
		deadline  *serviceerror.DeadlineExceeded
		canceled  *serviceerror.Canceled
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errBreakerOpen), errors.As(err, &unavail), errors.As(err, &exhausted):
		return temporalUnavailable(false, err)
	case signalsLimited(err):
		return &retryLater{err: problem(errTemporalUnavailable, detailSignalsLimited), after: outageRetryAfter, cause: err}
	case errors.As(err, &deadline), errors.As(err, &canceled),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return temporalUnavailable(true, err)
	}
	return nil
}

// signalsLimited says whether Temporal refused a signal because the run has received as many as it may
// (limit.maxSignalsPerExecution): a member's run taking in a burst faster than it gets to continue as new. Nothing
// was accepted, and the next run takes the same request.
func signalsLimited(err error) bool {
	var inv *serviceerror.InvalidArgument
	return errors.As(err, &inv) && strings.Contains(inv.Message, "limit for signal events")
}

// postgresOutage is the 503 of an error of Postgres that is an outage, or nil: no connection could be made (refused,
// the server starting or shutting down) — nothing was sent; or the connection broke or timed out during a query —
// what was sent may have been applied.
func postgresOutage(err error) error {
	var (
		connErr *pgconn.ConnectError
		pgErr   *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &connErr), errors.Is(err, syscall.ECONNREFUSED):
		return postgresUnavailable(false, err)
	case errors.As(err, &pgErr):
		// Class 08: connection exception; 57P01–57P03: admin or crash shutdown, cannot connect now.
		if strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" {
			return postgresUnavailable(!pgconn.SafeToRetry(err), err)
		}
		return nil
	case pgconn.SafeToRetry(err):
		return postgresUnavailable(false, err)
	case pgconn.Timeout(err), errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, net.ErrClosed):
		return postgresUnavailable(true, err)
	}
	return nil
}

// outage is the 503 an unclassified error maps to when it is a dependency outage, or nil.
func outage(err error) error {
	if o := postgresOutage(err); o != nil {
		return o
	}
	var (
		unavail   *serviceerror.Unavailable
		exhausted *serviceerror.ResourceExhausted
		deadline  *serviceerror.DeadlineExceeded
	)
	if errors.Is(err, errBreakerOpen) || errors.As(err, &unavail) || errors.As(err, &exhausted) || errors.As(err, &deadline) ||
		signalsLimited(err) {
		return temporalOutage(err)
	}
	return nil
}

// breaker says whether Temporal is down, as the readiness probe saw it: while it is open the API sends Temporal
// nothing and answers 503 at once, so that requests do not pile up waiting for a server that does not answer. It
// opens after breakerFailures failed probes in a row (one slow answer of a loaded but healthy server must not
// refuse every request for a second) and closes at the first probe that succeeds.
type breaker struct {
	open     atomic.Bool
	failures atomic.Int32
}

const breakerFailures = 2

// record is what the probe saw.
func (b *breaker) record(healthy bool) {
	if healthy {
		b.failures.Store(0)
		b.open.Store(false)
		return
	}
	if b.failures.Add(1) >= breakerFailures {
		b.open.Store(true)
	}
}

// allow is nil while the breaker is closed, errBreakerOpen while it is open.
func (b *breaker) allow() error {
	if b.open.Load() {
		return errBreakerOpen
	}
	return nil
}

// guardedTemporal is the Temporal client the API's handlers use: each call the breaker lets through, bounded by
// temporalCallTimeout (or the caller's earlier deadline). Updates, which wait for the workflow to apply them, are
// bounded by the request's wait budget instead, as their callers set it.
type guardedTemporal struct {
	client.Client
	br      *breaker
	timeout time.Duration
}

func (g *guardedTemporal) bound(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := g.br.allow(); err != nil {
		return ctx, func() {}, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	return ctx, cancel, nil
}

func (g *guardedTemporal) ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any,
	args ...any) (client.WorkflowRun, error) {
	ctx, cancel, err := g.bound(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return g.Client.ExecuteWorkflow(ctx, options, workflow, args...)
}

func (g *guardedTemporal) SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error {
	ctx, cancel, err := g.bound(ctx)
	defer cancel()
	if err != nil {
		return err
	}
	return g.Client.SignalWorkflow(ctx, workflowID, runID, signalName, arg)
}

func (g *guardedTemporal) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
	options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error) {
	ctx, cancel, err := g.bound(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return g.Client.SignalWithStartWorkflow(ctx, workflowID, signalName, signalArg, options, workflow, workflowArgs...)
}

func (g *guardedTemporal) QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error) {
	ctx, cancel, err := g.bound(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return g.Client.QueryWorkflow(ctx, workflowID, runID, queryType, args...)
}

func (g *guardedTemporal) DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	ctx, cancel, err := g.bound(ctx)
	defer cancel()
	if err != nil {
		return nil, err
	}
	return g.Client.DescribeWorkflowExecution(ctx, workflowID, runID)
}

func (g *guardedTemporal) UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := g.br.allow(); err != nil {
		return nil, err
	}
	return g.Client.UpdateWorkflow(ctx, options)
}

func (g *guardedTemporal) UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := g.br.allow(); err != nil {
		return nil, err
	}
	return g.Client.UpdateWithStartWorkflow(ctx, options)
}
