package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// The Temporal floor: what the same Temporal server costs for the bare minimum a member workflow could do with a
// purchase — SignalWithStart it, and acknowledge it in one no-op local activity. Bench-only code, on a task queue
// of its own, served by a worker in the bench process with the SDK's default options (as perkflow's worker).
const (
	floorWorkflowName = "BenchFloor"
	floorActivityName = "BenchFloorNoop"
	floorSignal       = "purchase"
	// floorMaxHistory bounds a floor run's history as perkflow bounds the member workflow's.
	floorMaxHistory = 4000
)

// floorWorkflow receives purchases and, for every batch already delivered when it wakes, runs one no-op local
// activity — the cheapest shape a member workflow could have. It continues as new like the member workflow.
func floorWorkflow(ctx workflow.Context) error {
	ch := workflow.GetSignalChannel(ctx, floorSignal)
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for {
		var p domain.Purchase
		ch.Receive(ctx, &p)
		ids := []string{p.TransactionID}
		for ch.ReceiveAsync(&p) {
			ids = append(ids, p.TransactionID)
		}
		if err := workflow.ExecuteLocalActivity(ctx, floorActivityName, ids).Get(ctx, nil); err != nil {
			return err
		}
		info := workflow.GetInfo(ctx)
		if info.GetCurrentHistoryLength() >= floorMaxHistory || info.GetContinueAsNewSuggested() {
			ids = ids[:0]
			for ch.ReceiveAsync(&p) {
				ids = append(ids, p.TransactionID)
			}
			if len(ids) > 0 {
				if err := workflow.ExecuteLocalActivity(ctx, floorActivityName, ids).Get(ctx, nil); err != nil {
					return err
				}
			}
			return workflow.NewContinueAsNewError(ctx, floorWorkflowName)
		}
	}
}

// floorActivity is the no-op: it only notes when each purchase reached it.
type floorActivity struct{ cur atomic.Pointer[recorder] }

func (f *floorActivity) Noop(_ context.Context, ids []string) error {
	if r := f.cur.Load(); r != nil {
		now := time.Now()
		for _, id := range ids {
			r.complete(id, now)
		}
	}
	return nil
}

type temporalFloor struct {
	s       *stack
	acts    *floorActivity
	w       sdkworker.Worker
	queue   string
	members []string
	seq     atomic.Int64
	// signals counts the purchases signalled to each member's floor workflow.
	mu      sync.Mutex
	signals map[string]int64
}

func startTemporalFloor(s *stack, members []string) (*temporalFloor, error) {
	f := &temporalFloor{s: s, acts: &floorActivity{}, queue: "perkflow-bench-floor-" + s.runID, members: members, signals: map[string]int64{}}
	f.w = sdkworker.New(s.tc, f.queue, sdkworker.Options{})
	f.w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: floorWorkflowName})
	f.w.RegisterActivityWithOptions(f.acts.Noop, activity.RegisterOptions{Name: floorActivityName})
	if err := f.w.Start(); err != nil {
		return nil, fmt.Errorf("start the floor worker: %w", err)
	}
	return f, nil
}

func (f *temporalFloor) stop() { f.w.Stop() }

// snapshot is the history length of a sample of floor workflows and the purchases signalled to them so far.
func (f *temporalFloor) snapshot(ctx context.Context) (events, signals []int64) {
	sample := f.members[:min(eventSample, len(f.members))]
	ids := make([]string, len(sample))
	signals = make([]int64, len(sample))
	f.mu.Lock()
	for i, m := range sample {
		ids[i] = f.options(m).ID
		signals[i] = f.signals[m]
	}
	f.mu.Unlock()
	return historyLengths(ctx, f.s.tc, ids), signals
}

// floorEventsPerPurchase compares two snapshots, leaving out workflows that continued as new in between.
func floorEventsPerPurchase(e0, s0, e1, s1 []int64) float64 {
	var events, purchases int64
	for i := range e0 {
		if e1[i] < e0[i] || e1[i] == 0 {
			continue
		}
		events += e1[i] - e0[i]
		purchases += s1[i] - s0[i]
	}
	if purchases == 0 {
		return 0
	}
	return float64(events) / float64(purchases)
}

func (f *temporalFloor) options(member string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID: "benchfloor/" + member, TaskQueue: f.queue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

// warm starts every member's floor workflow, as registration has started every member's workflow.
func (f *temporalFloor) warm(ctx context.Context) error {
	st := f.step(ctx, "temporal-floor-warmup", float64(min(200, len(f.members))), time.Duration(len(f.members))*time.Second/time.Duration(min(200, len(f.members))), 30*time.Second)
	if st.Errors > 0 || st.Missing > 0 {
		return fmt.Errorf("warming the Temporal floor up: %s", st)
	}
	return nil
}

func (f *temporalFloor) step(ctx context.Context, name string, rate float64, dur, grace time.Duration) Step {
	rec := newRecorder()
	f.acts.cur.Store(rec)
	defer f.acts.cur.Store(nil)
	prefix := fmt.Sprintf("f%s-%d-", f.s.runID, f.seq.Add(1))
	probe := f.s.cpuProbe()
	openLoop(ctx, rate, dur, func(i uint64, due time.Time) {
		id := prefix + strconv.FormatUint(i, 10)
		member := f.members[int(i%uint64(len(f.members)))]
		rec.track(id, due)
		opts := f.options(member)
		_, err := f.s.tc.SignalWithStartWorkflow(ctx, opts.ID, floorSignal, purchase(id, member, time.Now()), opts, floorWorkflowName)
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			f.mu.Lock()
			f.signals[member]++
			f.mu.Unlock()
		}
		rec.acknowledged(id, time.Since(due), 0, msg)
	})
	missing := rec.waitIdle(ctx, grace)
	st := rec.result(name, rate, dur, true)
	st.CPU = probe.stop(st.Completed)
	if len(missing) > 0 {
		st.Why = fmt.Sprintf("%d signalled purchases not processed %s after the last send", len(missing), grace)
		rec.waitIdle(ctx, 3*time.Minute)
	}
	return st
}
