package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/workflows"
)

// runExpiry is `perkflow expiry run --now`: support starts the points expiry by hand (reminders, then every lot past
// its date) and waits for it, printing what it did.
func runExpiry(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return errUsage
	}
	fs := flag.NewFlagSet("expiry run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	now := fs.Bool("now", false, "run the expiry now (required)")
	wait := fs.Duration("wait", time.Hour, "how long to wait for the run to finish")
	if err := fs.Parse(args[1:]); err != nil || !*now || fs.NArg() != 0 {
		return errUsage
	}
	p, err := startProcess(ctx, "expiry")
	if err != nil {
		return err
	}
	defer p.close()
	cfg, tc := p.cfg, p.tc
	at := time.Now().UTC()
	id := workflows.ExpiryManualWorkflowID(at)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: cfg.TaskQueue, StaticSummary: "Points expiry started by hand",
	}, workflows.ExpiryWorkflowName, workflows.ExpiryInput{Now: at})
	if err != nil {
		return fmt.Errorf("start expiry: %w", err)
	}
	fmt.Fprintln(os.Stderr, "expiry started:", id)
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	var st workflows.ExpiryState
	if err := run.Get(wctx, &st); err != nil {
		return fmt.Errorf("expiry %s: %w (it keeps running; see the Temporal UI)", id, err)
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}
