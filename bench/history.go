package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/perkflow/perkflow/workflows"
)

// History is the history bound: how long the member workflow's current run is after many purchases for one member.
type History struct {
	Purchases int           `json:"purchases"`
	Took      time.Duration `json:"took_ns"`       // from the first send until the last purchase committed
	Rate      float64       `json:"commits_per_s"` // purchases committed per second, for one member
	// CurrentRunEvents is the history length of the member workflow's current run; Runs how many runs it has had
	// (Continue-As-New); MaxHistoryEvents the bound it continues as new at.
	CurrentRunEvents int64 `json:"current_run_events"`
	Runs             int64 `json:"runs"`
	Processed        int64 `json:"purchases_processed"`
	MaxHistoryEvents int   `json:"max_history_events"`
	// LongestRunEvents is the longest run's history (from visibility): a run outgrows the bound while it accrues down
	// a backlog too large to carry into the next.
	LongestRunEvents int64 `json:"longest_run_events,omitempty"`
	// Reads is GET /v1/members/{id} of this member, with its many ledger entries, at a low rate.
	Reads *Step `json:"reads,omitempty"`
	// Stalled says the purchases stopped committing before all were: Committed of them were, and Why says what the
	// member workflow was doing.
	Stalled   bool   `json:"stalled,omitempty"`
	Committed int    `json:"committed,omitempty"`
	Why       string `json:"why,omitempty"`
}

// stalled describes a member workflow that stopped committing purchases: its pending workflow task and the worker's
// last warning.
func (s *stack) stalled(ctx context.Context, member string, n, committed int, after time.Duration) *History {
	h := &History{Purchases: n, Stalled: true, Committed: committed, MaxHistoryEvents: workflows.DefaultMaxHistoryEvents}
	var why []string
	why = append(why, fmt.Sprintf("no purchase committed for %s after %d of %d", after, committed, n))
	if d, err := s.tc.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(member), ""); err == nil {
		h.CurrentRunEvents = d.GetWorkflowExecutionInfo().GetHistoryLength()
		if wt := d.GetPendingWorkflowTask(); wt != nil && wt.GetAttempt() > 1 {
			why = append(why, fmt.Sprintf("its workflow task has failed %d times", wt.GetAttempt()-1))
		}
	}
	for _, w := range s.workers {
		if line := lastWarning(w.log); line != "" {
			why = append(why, "the last warning of "+w.name+": "+line)
		}
	}
	h.Why = strings.Join(why, "; ")
	return h
}

// lastWarning is the message (and payload sizes) of the last WARN or ERROR line of a child's JSON log.
func lastWarning(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var e map[string]any
		if json.Unmarshal([]byte(lines[i]), &e) != nil || (e["level"] != "WARN" && e["level"] != "ERROR") {
			continue
		}
		msg := fmt.Sprint(e["msg"])
		for _, k := range []string{"WorkflowType", "PayloadSize", "PayloadSizeLimit", "Error"} {
			if v, ok := e[k]; ok {
				msg += fmt.Sprintf(" %s=%v", k, v)
			}
		}
		return msg
	}
	return ""
}

// historyBound registers a member, sends it n purchases through the API (32 at a time, without waiting for their
// commits), waits until all are committed and reads the member workflow's current run.
func (s *stack) historyBound(ctx context.Context, n int, progress func(string, ...any)) (*History, error) {
	ids, err := s.registerMembers(ctx, 1, "history")
	if err != nil {
		return nil, err
	}
	member := ids[0]
	hc := &http.Client{Timeout: 60 * time.Second}
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil || firstErr.Load() != nil {
					return
				}
				id := fmt.Sprintf("h%s-%d", s.runID, i)
				if err := s.postAccrual(ctx, hc, purchase(id, member, time.Now())); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	progress("  %d purchases accepted in %s; waiting for their commits", n, time.Since(start).Round(time.Millisecond))
	// Wait for every commit, as long as they keep coming.
	const stallAfter = time.Minute
	var committed, seen int
	progressAt := time.Now()
	for {
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE member_id = $1`, member).Scan(&committed); err != nil {
			return nil, err
		}
		if committed >= n {
			break
		}
		if committed > seen {
			seen, progressAt = committed, time.Now()
		}
		if time.Since(progressAt) > stallAfter {
			return s.stalled(ctx, member, n, committed, stallAfter), nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	var last time.Time
	if err := s.pool.QueryRow(ctx, `SELECT max(accrued_at) FROM transactions WHERE member_id = $1`, member).Scan(&last); err != nil {
		return nil, err
	}
	h := &History{Purchases: n, Took: last.Sub(start), MaxHistoryEvents: workflows.DefaultMaxHistoryEvents}
	h.Rate = float64(n) / h.Took.Seconds()
	// Let the workflow record the last activity's completion before reading its history.
	time.Sleep(time.Second)
	d, err := s.tc.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(member), "")
	if err != nil {
		return nil, err
	}
	h.CurrentRunEvents = d.GetWorkflowExecutionInfo().GetHistoryLength()
	if v, err := s.tc.QueryWorkflow(ctx, workflows.MemberWorkflowID(member), "", workflows.QueryState); err == nil {
		var st workflows.MemberState
		if v.Get(&st) == nil {
			h.Runs, h.Processed = st.Stats.Runs, st.Stats.PurchasesProcessed
		}
	}
	h.LongestRunEvents = max(h.CurrentRunEvents, s.longestRun(ctx, workflows.MemberWorkflowID(member)))
	// What a member this active costs a balance read.
	rd := s.readStep(ctx, []string{member}, 20, 5*time.Second)
	h.Reads = &rd
	return h, nil
}

// longestRun is the longest history among a workflow's runs, as visibility lists them (0 if it cannot say).
func (s *stack) longestRun(ctx context.Context, workflowID string) int64 {
	var longest int64
	var token []byte
	for {
		res, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.namespace, Query: fmt.Sprintf("WorkflowId = '%s'", workflowID), NextPageToken: token})
		if err != nil {
			return longest
		}
		for _, e := range res.GetExecutions() {
			longest = max(longest, e.GetHistoryLength())
		}
		if token = res.GetNextPageToken(); len(token) == 0 {
			return longest
		}
	}
}

// measureHistory sends Options.HistoryPurchases purchases to one member and records the history bound.
func (r *runner) measureHistory(ctx context.Context) {
	r.progress("history: %d purchases for one member", r.opts.HistoryPurchases)
	h, err := r.s.historyBound(ctx, r.opts.HistoryPurchases, r.progress)
	if err != nil {
		r.progress("  history bound failed: %v", err)
		r.rep.Notes = append(r.rep.Notes, "history bound not measured: "+err.Error())
		return
	}
	r.progress("  current run: %d events after %d purchases (%d runs)", h.CurrentRunEvents, h.Purchases, h.Runs)
	r.rep.History = h
}
