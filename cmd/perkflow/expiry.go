package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

func init() {
	addCommand(func() *cobra.Command { return group("expiry", "Run the points expiry", expiryRunCommand()) })
}

func expiryRunCommand() *cobra.Command {
	var now bool
	var wait, every time.Duration
	c := &cobra.Command{
		Use:   "run --now",
		Short: "Run the points expiry now (reminders, then lots past their date) and print what it did",
		Long: "Start the points expiry workflow now, as the daily schedule does: it reminds members of points expiring soon,\n" +
			"then expires every lot past its date. While it runs, the lots done out of those due are printed to stderr\n" +
			"(from the workflow's state query, every --every); at the end, what it did as JSON on stdout.",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !now {
				return usagef("--now=false: the expiry runs daily on its own; --now runs it now")
			}
			if wait <= 0 || every <= 0 {
				return usagef("--wait and --every must be positive")
			}
			p, err := startProcess(c.Context(), "expiry")
			if err != nil {
				return err
			}
			defer p.close()
			at := time.Now().UTC()
			return runExpiry(c.Context(), expiryRun{
				store: p.st, temporal: p.tc, taskQueue: p.cfg.TaskQueue, input: workflows.ExpiryInput{Now: at},
				wait: wait, every: every, out: c.OutOrStdout(), progress: c.ErrOrStderr(),
			})
		},
	}
	c.Flags().BoolVar(&now, "now", false, "run the expiry now (required: the expiry also runs daily on its own)")
	c.Flags().DurationVar(&wait, "wait", time.Hour, "how long to wait for the run to finish (it keeps running after)")
	c.Flags().DurationVar(&every, "every", 2*time.Second, "how often to print the progress")
	_ = c.MarkFlagRequired("now")
	return readsEnv(c, "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "PERKFLOW_TASK_QUEUE", "TEMPORAL_TLS",
		"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_API_KEY", "TEMPORAL_GRPC_COMPRESSION",
		"PERKFLOW_LOG_FORMAT", "PERKFLOW_LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT")
}

// expiryRun is one expiry started by hand: where it runs, and where its progress and result are printed.
type expiryRun struct {
	store     *store.Store
	temporal  client.Client
	taskQueue string
	input     workflows.ExpiryInput
	wait      time.Duration
	every     time.Duration
	out       io.Writer // the final state, as JSON
	progress  io.Writer // a line per change of the state
}

// runExpiry counts the lots due at the run's time, starts the expiry workflow, prints its progress (lots done of
// those due, from its state query) while it runs, and its final state.
func runExpiry(ctx context.Context, r expiryRun) error {
	due, err := r.store.CountExpiringLots(ctx, r.input.Now)
	if err != nil {
		return err
	}
	id := workflows.ExpiryManualWorkflowID(r.input.Now)
	run, err := r.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: r.taskQueue, StaticSummary: "Points expiry started by hand",
	}, workflows.ExpiryWorkflowName, r.input)
	if err != nil {
		return fmt.Errorf("start expiry: %w", err)
	}
	fmt.Fprintf(r.progress, "expiry started: %s (%d lots due)\n", id, due)
	wctx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	type result struct {
		st  workflows.ExpiryState
		err error
	}
	done := make(chan result, 1)
	go func() {
		var st workflows.ExpiryState
		err := run.Get(wctx, &st) // follows the run across Continue-As-New
		done <- result{st, err}
	}()
	tick := time.NewTicker(r.every)
	defer tick.Stop()
	last := ""
	report := func(st workflows.ExpiryState) {
		if line := expiryProgress(st, due); line != last {
			fmt.Fprintln(r.progress, line)
			last = line
		}
	}
	for {
		select {
		case res := <-done:
			if res.err != nil {
				return fmt.Errorf("expiry %s: %w (it keeps running; see the Temporal UI)", id, res.err)
			}
			report(res.st)
			b, err := json.MarshalIndent(res.st, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(r.out, string(b))
			return nil
		case <-tick.C:
			// The latest run of the id (the query follows Continue-As-New); a query that fails or is slow (no worker
			// yet) is skipped: the next tick asks again.
			// Its deadline is not the tick's: a loaded server answering in more than `every` must still be heard.
			qctx, qcancel := context.WithTimeout(wctx, max(r.every, 5*time.Second))
			v, err := r.temporal.QueryWorkflow(qctx, id, "", workflows.QueryState)
			qcancel()
			var st workflows.ExpiryState
			if err == nil && v.Get(&st) == nil {
				report(st)
			}
		}
	}
}

// expiryProgress is the progress line of an expiry state, with due the lots due when it started.
func expiryProgress(st workflows.ExpiryState, due int64) string {
	switch st.Phase {
	case workflows.ExpiryPhaseReminding:
		return "expiry: reminding members of points expiring soon"
	case workflows.ExpiryPhaseDone:
		return fmt.Sprintf("expiry: done: %d/%d lots (%d expired, %d skipped), %d points expired, %d lots reminded",
			st.Stats.LotsExpired+st.Stats.LotsSkipped, due, st.Stats.LotsExpired, st.Stats.LotsSkipped, st.Stats.PointsExpired, st.Stats.LotsReminded)
	}
	n := st.Stats.LotsExpired + st.Stats.LotsSkipped
	pct := 100.0
	if due > 0 {
		pct = min(100, 100*float64(n)/float64(due))
	}
	return fmt.Sprintf("expiry: %d/%d lots (%.0f%%), %d points expired", n, due, pct, st.Stats.PointsExpired)
}
