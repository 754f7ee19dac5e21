package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

type campaignView struct {
	CampaignID      string    `json:"campaign_id"`
	Status          string    `json:"status"`
	SegmentSize     int64     `json:"segment_size"`
	IssuedPoints    int64     `json:"issued_points"`
	BudgetExhausted bool      `json:"budget_exhausted"`
	EndsAt          time.Time `json:"ends_at"`
}

type campaignReport struct {
	PointsIssued      int64  `json:"points_issued"`
	PointsCut         int64  `json:"points_cut"`
	PointsReturned    int64  `json:"points_returned"`
	Participants      int64  `json:"participants"`
	Purchases         int64  `json:"purchases"`
	BudgetUsedPercent *int64 `json:"budget_used_percent"`
	BudgetExhausted   bool   `json:"budget_exhausted"`
}

// bookBought is a 10 EUR book bought at `at` (nanosecond precision: the campaign's rule comes into force at an
// instant, and a purchase is priced by the rules in force at its occurred_at).
func bookBought(txID, memberID string, at time.Time) map[string]any {
	return map[string]any{
		"transaction_id": txID, "member_id": memberID, "store_id": "store-1", "channel": "store",
		"occurred_at": at.UTC().Format(time.RFC3339Nano),
		"total":       map[string]any{"amount": 1000, "currency": "EUR"},
		"items":       []map[string]any{line("BOOK-1", "books", 1, 1000)},
	}
}

func earnOnBook(t *testing.T, s *itest.Stack, txID, memberID string) int64 {
	t.Helper()
	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], bookBought(txID, memberID, time.Now()), "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "accrue "+txID)
	var a accrual
	res.Decode(t, &a)
	return a.PointsEarned
}

func getCampaign(t *testing.T, s *itest.Stack, id string) campaignView {
	t.Helper()
	res := s.Do("GET", "/v1/campaigns/"+id, s.Keys["support"], nil)
	mustStatus(t, res, http.StatusOK, "get campaign")
	var c campaignView
	res.Decode(t, &c)
	return c
}

func doubleBooks(starts, ends time.Time, budget int64) map[string]any {
	body := map[string]any{
		"name": "Double points on books", "kind": "multiplier",
		"starts_at": starts.UTC().Format(time.RFC3339Nano), "ends_at": ends.UTC().Format(time.RFC3339Nano),
		"rule": map[string]any{"conditions": map[string]any{"categories": []string{"books"}}, "action": map[string]any{"type": "multiplier", "percent": 200}},
	}
	if budget > 0 {
		body["budget_points"] = budget
	}
	return body
}

func TestMultiplierCampaignWindowPauseResumeAgainstRealServer(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	m := register(t, s, "campaign@example.com")
	mk := s.Keys["marketer"]

	res := s.Do("POST", "/v1/campaigns/preview", mk, map[string]any{"segment": map[string]any{"consent": "email"}})
	mustStatus(t, res, http.StatusOK, "preview")
	if string(res.Body) != `{"segment_size":1}`+"\n" && string(res.Body) != `{"segment_size":1}` {
		t.Fatalf("preview %s", res.Body)
	}

	start := time.Now().Add(1500 * time.Millisecond)
	// The window must hold the steps below even on a loaded machine under the race detector.
	res = s.Do("POST", "/v1/campaigns", mk, doubleBooks(start, start.Add(25*time.Second), 0), "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create campaign")
	var c campaignView
	res.Decode(t, &c)
	if c.Status != "scheduled" || c.SegmentSize != 1 || res.Header.Get("Location") != "/v1/campaigns/"+c.CampaignID {
		t.Fatalf("created %+v, Location %q", c, res.Header.Get("Location"))
	}
	if got := earnOnBook(t, s, "T-before", m); got != 10 {
		t.Fatalf("before the start: %d points, want 10", got)
	}
	eventually(t, 15*time.Second, "the campaign to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	if got := earnOnBook(t, s, "T-during", m); got != 20 {
		t.Fatalf("during the campaign: %d points, want 20", got)
	}
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/pause", mk, nil, "Prefer", "wait=20"), http.StatusOK, "pause")
	if got := earnOnBook(t, s, "T-paused", m); got != 10 {
		t.Fatalf("while paused: %d points, want 10", got)
	}
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/pause", mk, nil), http.StatusConflict, "pause twice")
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/resume", mk, nil, "Prefer", "wait=20"), http.StatusOK, "resume")
	if got := earnOnBook(t, s, "T-resumed", m); got != 20 {
		t.Fatalf("resumed: %d points, want 20", got)
	}
	eventually(t, 60*time.Second, "the campaign to end", func() bool { return getCampaign(t, s, c.CampaignID).Status == "completed" })
	if got := earnOnBook(t, s, "T-after", m); got != 10 {
		t.Fatalf("after the end: %d points, want 10", got)
	}
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/cancel", mk, nil), http.StatusConflict, "cancel a completed campaign")
	res = s.Do("GET", "/v1/campaigns/"+c.CampaignID+"/report", mk, nil)
	mustStatus(t, res, http.StatusOK, "report")
	var rep campaignReport
	res.Decode(t, &rep)
	if rep.PointsIssued != 20 || rep.Participants != 1 || rep.Purchases != 2 || rep.BudgetUsedPercent != nil {
		t.Fatalf("report %s", res.Body)
	}
	s.LedgerInvariants()
	waitWorkflow(t, s, workflows.CampaignWorkflowID(c.CampaignID))
	s.RecordHistory(workflows.CampaignWorkflowID(c.CampaignID), "", "campaign_multiplier_pause_resume")
}

func TestCancelledCampaignStopsApplying(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	m := register(t, s, "cancel@example.com")
	mk := s.Keys["marketer"]
	res := s.Do("POST", "/v1/campaigns", mk, doubleBooks(time.Now(), time.Now().Add(time.Hour), 0), "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create campaign")
	var c campaignView
	res.Decode(t, &c)
	eventually(t, 15*time.Second, "the campaign to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	if got := earnOnBook(t, s, "T-c1", m); got != 20 {
		t.Fatalf("active: %d", got)
	}
	res = s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/extend", mk, map[string]any{"ends_at": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)}, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusOK, "extend")
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/cancel", mk, nil, "Prefer", "wait=20"), http.StatusOK, "cancel")
	if got := earnOnBook(t, s, "T-c2", m); got != 10 {
		t.Fatalf("cancelled: %d", got)
	}
	waitWorkflow(t, s, workflows.CampaignWorkflowID(c.CampaignID))
	s.RecordHistory(workflows.CampaignWorkflowID(c.CampaignID), "", "campaign_extend_cancel")
}

func TestCampaignBudgetUnderSixteenConcurrentAccruals(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	const budget = 75
	res := s.Do("POST", "/v1/campaigns", s.Keys["admin"], doubleBooks(time.Now(), time.Now().Add(time.Hour), budget), "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create campaign")
	var c campaignView
	res.Decode(t, &c)
	eventually(t, 15*time.Second, "the campaign to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	members := make([]string, 16)
	for i := range members {
		members[i] = register(t, s, fmt.Sprintf("budget%d@example.com", i))
	}
	var wg sync.WaitGroup
	earned := make([]int64, 16)
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], bookBought(fmt.Sprintf("T-bud-%d", i), m, time.Now()), "Prefer", "wait=30")
			if res.Status == http.StatusCreated {
				var a accrual
				res.Decode(t, &a)
				earned[i] = a.PointsEarned
			} else {
				t.Errorf("accrue: %d %s", res.Status, res.Body)
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, e := range earned {
		total += e
	}
	if total != 16*10+budget {
		t.Fatalf("16 members earned %d in all (%v), want %d base + %d campaign", total, earned, 16*10, budget)
	}
	res = s.Do("GET", "/v1/campaigns/"+c.CampaignID+"/report", s.Keys["marketer"], nil)
	var rep campaignReport
	res.Decode(t, &rep)
	if rep.PointsIssued != budget || !rep.BudgetExhausted || *rep.BudgetUsedPercent != 100 || rep.PointsCut != 16*10-budget {
		t.Fatalf("report %s", res.Body)
	}
	s.LedgerInvariants()
}

func TestCampaignBadRequests(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{NoWorker: true})
	mk := s.Keys["marketer"]
	now := time.Now()
	ok := doubleBooks(now.Add(time.Hour), now.Add(2*time.Hour), 0)
	with := func(k string, v any) map[string]any {
		b := map[string]any{}
		for kk, vv := range ok {
			b[kk] = vv
		}
		b[k] = v
		return b
	}
	for _, tc := range []struct {
		name, method, path, key string
		body                    any
		want                    int
	}{
		{"pos may not", "POST", "/v1/campaigns", "pos", ok, 403},
		{"support may not list", "GET", "/v1/campaigns", "support", nil, 403},
		{"unknown field", "POST", "/v1/campaigns", "marketer", with("points", 5), 400},
		{"bad kind", "POST", "/v1/campaigns", "marketer", with("kind", "lottery"), 400},
		{"ends before start", "POST", "/v1/campaigns", "marketer", with("ends_at", now.Format(time.RFC3339)), 400},
		{"bad budget", "POST", "/v1/campaigns", "marketer", with("budget_points", 0), 400},
		{"bad consent", "POST", "/v1/campaigns", "marketer", with("segment", map[string]any{"consent": "fax"}), 400},
		{"bad cron", "POST", "/v1/campaigns", "marketer", with("schedule", "every friday"), 400},
		{"a tier the program does not have", "POST", "/v1/campaigns", "marketer", with("segment", map[string]any{"tiers": []string{"platinum"}}), 400},
		{"preview of a tier the program does not have", "POST", "/v1/campaigns/preview", "marketer", map[string]any{"segment": map[string]any{"tiers": []string{"gold", "platinum"}}}, 400},
		{"not json", "POST", "/v1/campaigns", "marketer", "{", 400},
		{"unknown campaign", "GET", "/v1/campaigns/nope", "support", nil, 404},
		{"unknown report", "GET", "/v1/campaigns/nope/report", "marketer", nil, 404},
		{"pause unknown", "POST", "/v1/campaigns/nope/pause", "marketer", nil, 404},
		{"extend without end", "POST", "/v1/campaigns/nope/extend", "marketer", map[string]any{}, 400},
		{"bad limit", "GET", "/v1/campaigns?limit=0", "marketer", nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := s.Do(tc.method, tc.path, s.Keys[tc.key], tc.body)
			mustStatus(t, res, tc.want, tc.name)
		})
	}
	res := s.Do("GET", "/v1/campaigns", mk, nil)
	mustStatus(t, res, http.StatusOK, "list")
	if string(res.Body) != `{"items":[]}`+"\n" && string(res.Body) != `{"items":[]}` {
		t.Fatalf("nothing was written: %s", res.Body)
	}
}

func TestRecurringCampaignRunsFromItsSchedule(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	m := register(t, s, "recurring@example.com")
	mk := s.Keys["marketer"]
	ctx := context.Background()
	// Every 1 January: it never fires during the test; each run is triggered by hand, as the Temporal UI can.
	body := doubleBooks(time.Now(), time.Now().Add(3*time.Second), 0)
	body["schedule"] = "0 0 1 1 *"
	res := s.Do("POST", "/v1/campaigns", mk, body, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create recurring campaign")
	var c campaignView
	res.Decode(t, &c)
	if c.Status != "scheduled" {
		t.Fatalf("created %s", res.Body)
	}
	h := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.CampaignScheduleID(c.CampaignID))
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "a run to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	if got := earnOnBook(t, s, "T-run1", m); got != 20 {
		t.Fatalf("during a run: %d", got)
	}
	eventually(t, 15*time.Second, "the run to end", func() bool { return getCampaign(t, s, c.CampaignID).Status == "scheduled" })
	if got := earnOnBook(t, s, "T-between", m); got != 10 {
		t.Fatalf("between runs: %d", got)
	}
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/pause", mk, nil, "Prefer", "wait=20"), http.StatusOK, "pause the series")
	desc, err := h.Describe(ctx)
	if err != nil || !desc.Schedule.State.Paused {
		t.Fatalf("schedule after pause: %+v, %v", desc, err)
	}
	mustStatus(t, s.Do("POST", "/v1/campaigns/"+c.CampaignID+"/cancel", mk, nil, "Prefer", "wait=20"), http.StatusOK, "cancel the series")
	var nf *serviceerror.NotFound
	if _, err := h.Describe(ctx); !errors.As(err, &nf) {
		t.Fatalf("schedule after cancel: %v", err)
	}
}

// waitWorkflow waits for a workflow to close, so that its recorded history is complete.
func waitWorkflow(t *testing.T, s *itest.Stack, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
		t.Fatalf("workflow %s: %v", id, err)
	}
}

// A recurring campaign given until and run_length: its Temporal Schedule ends at until, and each run lasts
// run_length (ends_at is not taken beside it). Bad values answer 400 naming the field, and write nothing.
func TestRecurringCampaignScheduleEndsAtUntilAndRunsLastRunLength(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	m := register(t, s, "until@example.com")
	mk := s.Keys["marketer"]
	ctx := context.Background()
	// The series ends at until: 8 seconds on, so that the test sees it complete once its last run may be over.
	until := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second)
	body := doubleBooks(time.Now(), time.Now(), 0)
	delete(body, "ends_at")
	body["schedule"], body["until"], body["run_length"] = "0 0 1 1 *", until.Format(time.RFC3339), "PT3S"
	for field, bad := range map[string]map[string]any{
		"run_length": {"run_length": "3s"},
		"until":      {"until": nil},
		"ends_at":    {"ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
	} {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		for k, v := range bad {
			b[k] = v
		}
		res := s.Do("POST", "/v1/campaigns", mk, b)
		mustStatus(t, res, http.StatusBadRequest, "bad "+field)
		var p struct {
			Errors []struct {
				Field string `json:"field"`
			} `json:"errors"`
		}
		res.Decode(t, &p)
		if len(p.Errors) == 0 || p.Errors[0].Field != field {
			t.Fatalf("bad %s: %s", field, res.Body)
		}
	}
	if res := s.Do("GET", "/v1/campaigns", mk, nil); string(res.Body) != `{"items":[]}`+"\n" && string(res.Body) != `{"items":[]}` {
		t.Fatalf("refused creates wrote: %s", res.Body)
	}

	res := s.Do("POST", "/v1/campaigns", mk, body, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create recurring campaign")
	var c struct {
		campaignView
		Until     time.Time `json:"until"`
		RunLength string    `json:"run_length"`
	}
	res.Decode(t, &c)
	if !c.Until.Equal(until) || c.RunLength != "PT3S" {
		t.Fatalf("created %s", res.Body)
	}
	h := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.CampaignScheduleID(c.CampaignID))
	desc, err := h.Describe(ctx)
	if err != nil || !desc.Schedule.Spec.EndAt.Equal(until) {
		t.Fatalf("the Schedule's end: %+v, %v; want %s", desc.Schedule.Spec, err, until)
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "a run to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	run := getCampaign(t, s, c.CampaignID)
	if got := earnOnBook(t, s, "T-until-run", m); got != 20 {
		t.Fatalf("during a run: %d", got)
	}
	eventually(t, 15*time.Second, "the run to end", func() bool { return getCampaign(t, s, c.CampaignID).Status == "scheduled" })
	// The run's window as it recorded it: run_length long, from when its workflow started.
	if desc, err = h.Describe(ctx); err != nil || len(desc.Info.RecentActions) != 1 {
		t.Fatalf("the Schedule's runs: %+v, %v", desc, err)
	}
	started := desc.Info.RecentActions[0].StartWorkflowResult
	wf, err := s.Temporal.DescribeWorkflowExecution(ctx, started.WorkflowID, started.FirstExecutionRunID)
	if err != nil {
		t.Fatal(err)
	}
	startedAt := wf.WorkflowExecutionInfo.StartTime.AsTime()
	if d := run.EndsAt.Sub(startedAt); d < 3*time.Second || d > 4*time.Second {
		t.Fatalf("run %s started %s and ends %s: %s long, want run_length 3s", started.WorkflowID, startedAt, run.EndsAt, d)
	}
	// The series completes by itself at until + run_length, when no run can be under way any more.
	eventually(t, 20*time.Second, "the series to complete", func() bool { return getCampaign(t, s, c.CampaignID).Status == "completed" })
	if got := getCampaign(t, s, c.CampaignID); got.EndsAt.Before(until.Add(3 * time.Second)) {
		t.Fatalf("the series completed, ending %s, before until + run_length %s", got.EndsAt, until.Add(3*time.Second))
	}
	waitWorkflow(t, s, workflows.CampaignWorkflowID(c.CampaignID))
	s.RecordHistory(workflows.CampaignWorkflowID(c.CampaignID), "", "campaign_series_until_completed")
	s.RecordHistory(started.WorkflowID, started.FirstExecutionRunID, "campaign_run_of_run_length")
}

// A return of a purchase that earned a budget-capped campaign's points gives the campaign's share back to its budget:
// the report's budget used goes down.
func TestReturnGivesTheCampaignBudgetBack(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	const budget = 16
	res := s.Do("POST", "/v1/campaigns", s.Keys["admin"], doubleBooks(time.Now(), time.Now().Add(time.Hour), budget), "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "create campaign")
	var c campaignView
	res.Decode(t, &c)
	eventually(t, 15*time.Second, "the campaign to start", func() bool { return getCampaign(t, s, c.CampaignID).Status == "active" })
	report := func() (campaignReport, string) {
		res := s.Do("GET", "/v1/campaigns/"+c.CampaignID+"/report", s.Keys["marketer"], nil)
		mustStatus(t, res, http.StatusOK, "report")
		var rep campaignReport
		res.Decode(t, &rep)
		return rep, string(res.Body)
	}
	m := register(t, s, "budget-back@example.com")
	p := bookBought("T-budget-back", m, time.Now())
	p["items"], p["total"] = []map[string]any{line("BOOK-1", "books", 2, 1000)}, map[string]any{"amount": 2000, "currency": "EUR"}
	res = s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], p, "Prefer", "wait=20")
	mustStatus(t, res, http.StatusCreated, "accrue")
	var a accrual
	res.Decode(t, &a)
	if a.PointsEarned != 20+budget { // base 20, campaign +20 cut to the budget
		t.Fatalf("earned %s", res.Body)
	}
	if rep, body := report(); rep.PointsIssued != budget || *rep.BudgetUsedPercent != 100 || !rep.BudgetExhausted {
		t.Fatalf("report before the return %s", body)
	}
	// One of the two books: its 10 base points and half of the campaign's 16.
	res = s.Do("POST", "/v1/transactions/T-budget-back/return", s.Keys["pos"], map[string]any{"return_id": "R-budget-back", "items": []map[string]any{{"sku": "BOOK-1", "quantity": 1}}})
	mustStatus(t, res, http.StatusCreated, "return")
	var o operation
	res.Decode(t, &o)
	if o.Points != 10+budget/2 {
		t.Fatalf("return answered %s, want %d reversed", res.Body, 10+budget/2)
	}
	if rep, body := report(); rep.PointsIssued != budget/2 || *rep.BudgetUsedPercent != 50 || rep.BudgetExhausted || rep.PointsReturned != budget/2 {
		t.Fatalf("report after the return %s, want half the budget used", body)
	}
	s.LedgerInvariants()
}
