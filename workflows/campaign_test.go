package workflows

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// campaignFakes records what a campaign workflow asked of its activities.
type campaignFakes struct {
	mu       sync.Mutex
	rules    []domain.CampaignRuleChange
	statuses []string
	walks    []domain.SegmentWalk
	budget   domain.CampaignBudget
}

func (f *campaignFakes) register(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterWorkflowWithOptions(CampaignWorkflow, workflowOpts(CampaignWorkflowName))
	SaveCampaign.fake(env, func(context.Context, domain.Campaign) (int64, error) { return 10, nil })
	SetCampaignStatus.fake(env, func(_ context.Context, ch domain.CampaignStatusChange) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.statuses = append(f.statuses, ch.Status)
		return nil
	})
	ChangeCampaignRule.fake(env, func(_ context.Context, ch domain.CampaignRuleChange) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.rules = append(f.rules, ch)
		return nil
	})
	CampaignBudget.fake(env, func(context.Context, string) (domain.CampaignBudget, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.budget, nil
	})
	walk := func(_ context.Context, w domain.SegmentWalk) (domain.SegmentProgress, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.walks = append(f.walks, w)
		return domain.SegmentProgress{Members: 10, Sent: 7, Skipped: 3, Points: 10 * w.Points}, nil
	}
	GrantCampaignBonus.fake(env, walk)
	AnnounceCampaign.fake(env, walk)
}

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func doubleBooksCampaign(budget *int64) domain.Campaign {
	return domain.Campaign{ID: "c1", Name: "Double books", Kind: domain.CampaignMultiplier, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour),
		BudgetPoints: budget,
		Rule:         &domain.CampaignRule{Conditions: domain.Conditions{Categories: []string{"books"}}, Action: domain.Action{Type: domain.ActionMultiplier, Percent: 200}}}
}

// earnedAt prices a 10 EUR book bought at t under the rule as the campaign left it in force at t, the way the store
// picks the rule versions recorded at a purchase's occurred_at.
func earnedAt(t *testing.T, changes []domain.CampaignRuleChange, at time.Time) int64 {
	t.Helper()
	rules := domain.DefaultRules()
	var inForce *domain.Rule
	for _, ch := range changes {
		if !ch.At.After(at) {
			inForce = ch.Rule
		}
	}
	if inForce != nil {
		rules = append(rules, *inForce)
	}
	p := domain.Purchase{TransactionID: "T", MemberID: "m", StoreID: "s", Channel: "store", OccurredAt: at, Total: domain.Money{Amount: 1000, Currency: "EUR"},
		Items: []domain.LineItem{{SKU: "B", Category: "books", Quantity: 1, UnitPrice: domain.Money{Amount: 1000, Currency: "EUR"}}}}
	e, err := domain.Earn(domain.EarnInput{Program: domain.DefaultProgram(), Rules: rules, Purchase: p})
	if err != nil {
		t.Fatal(err)
	}
	return e.Points
}

func TestMultiplierCampaignAppliesOnlyWhileActive(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalPause, nil) }, 90*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalResume, nil) }, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(CampaignSignalExtend, CampaignExtension{EndsAt: t0.Add(4 * time.Hour)})
	}, 150*time.Minute)
	var mid CampaignState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryState)
		if err != nil {
			t.Error(err)
			return
		}
		_ = v.Get(&mid)
	}, 100*time.Minute)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: doubleBooksCampaign(nil)})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	if mid.Status != domain.CampaignPaused || mid.RuleInForce {
		t.Fatalf("state while paused: %+v", mid)
	}
	if got := fmt.Sprint(f.statuses); got != "[active paused active active completed]" {
		t.Fatalf("statuses %s", got)
	}
	var when []string
	for _, ch := range f.rules {
		when = append(when, fmt.Sprintf("%s:%v", ch.At.Sub(t0), ch.Rule != nil))
	}
	if got := fmt.Sprint(when); got != "[1h0m0s:true 1h30m0s:false 2h0m0s:true 2h30m0s:true 4h0m0s:false]" {
		t.Fatalf("rule changes %s", got)
	}
	if r := f.rules[3].Rule; r.ID != "campaign:c1" || !r.EndsAt.Equal(t0.Add(4*time.Hour)) {
		t.Fatalf("extended rule %+v", r)
	}
	// Purchases priced by what was in force when they occurred: 10 base points, 20 under the campaign.
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{{30 * time.Minute, 10}, {75 * time.Minute, 20}, {100 * time.Minute, 10}, {130 * time.Minute, 20}, {210 * time.Minute, 20}, {270 * time.Minute, 10}} {
		if got := earnedAt(t, f.rules, t0.Add(tc.at)); got != tc.want {
			t.Errorf("a purchase at +%s earned %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestCampaignCancelledBeforeStartNeverApplies(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalCancel, nil) }, 30*time.Minute)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: doubleBooksCampaign(nil)})
	if env.GetWorkflowError() != nil || len(f.rules) != 0 || fmt.Sprint(f.statuses) != "[cancelled]" {
		t.Fatalf("error %v, rules %+v, statuses %v", env.GetWorkflowError(), f.rules, f.statuses)
	}
}

func TestCampaignStopsWhenItsBudgetIsSpent(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	budget := int64(500)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.budget = domain.CampaignBudget{Issued: 500, Budget: &budget, Exhausted: true}
		f.mu.Unlock()
	}, 95*time.Minute)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: doubleBooksCampaign(&budget), BudgetCheckEvery: 10 * time.Minute})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	v, _ := env.QueryWorkflow(QueryState)
	var st CampaignState
	_ = v.Get(&st)
	last := f.rules[len(f.rules)-1]
	if last.Rule != nil || last.At.Sub(t0) != 100*time.Minute || !st.BudgetExhausted || st.Status != domain.CampaignCompleted {
		t.Fatalf("rule ended at %s (%v), state %+v", last.At.Sub(t0), last.Rule, st)
	}
}

func TestBonusCampaignGivesAndAnnounces(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	c := domain.Campaign{ID: "c2", Name: "Welcome back", Kind: domain.CampaignBonus, BonusPoints: 100, StartsAt: t0, EndsAt: t0.Add(24 * time.Hour),
		Segment: domain.Segment{InactiveDays: 90}, Announcement: &domain.Announcement{Channel: domain.ChannelEmail}}
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: c})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	v, _ := env.QueryWorkflow(QueryState)
	var st CampaignState
	_ = v.Get(&st)
	if len(f.walks) != 2 || len(f.rules) != 0 || st.BonusPoints != 1000 || st.Announced != 7 || !st.BonusDone || !st.AnnounceDone {
		t.Fatalf("walks %+v, rules %+v, state %+v", f.walks, f.rules, st)
	}
}

func workflowOpts(name string) workflow.RegisterOptions { return workflow.RegisterOptions{Name: name} }

func TestRecurringCampaignRunOpensItsWindowWhenItStarts(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	runAt := t0.Add(72 * time.Hour) // the Schedule fires days after the campaign's first window
	env.SetStartTime(runAt)
	f := &campaignFakes{}
	f.register(env)
	c := doubleBooksCampaign(nil)
	c.Schedule = "0 9 * * 5"
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: c, Occurrence: true})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	if len(f.rules) != 2 || !f.rules[0].At.Equal(runAt) || f.rules[1].At.Sub(runAt) != 2*time.Hour || !f.rules[0].Rule.EndsAt.Equal(runAt.Add(2*time.Hour)) {
		t.Fatalf("rule changes %+v", f.rules)
	}
	if fmt.Sprint(f.statuses) != "[active scheduled]" {
		t.Fatalf("statuses %v", f.statuses)
	}
}

func TestRecurringCampaignSeriesFollowsSignals(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	c := doubleBooksCampaign(nil)
	c.Schedule = "0 9 * * 5"
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalPause, nil) }, time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalResume, nil) }, 2*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalCancel, nil) }, 30*24*time.Hour)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: c})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	if len(f.rules) != 0 || fmt.Sprint(f.statuses) != "[paused scheduled cancelled]" {
		t.Fatalf("rules %+v, statuses %v", f.rules, f.statuses)
	}
}

// A run of a recurring campaign defined by run_length lasts run_length, whatever the window its record shows.
func TestRecurringCampaignRunLastsItsRunLength(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	runAt := t0.Add(72 * time.Hour)
	env.SetStartTime(runAt)
	f := &campaignFakes{}
	f.register(env)
	c := doubleBooksCampaign(nil)
	until := t0.Add(60 * 24 * time.Hour)
	c.Schedule, c.RunLength, c.Until = "0 9 * * 5", "P1DT12H", &until
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: c, Occurrence: true})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	if len(f.rules) != 2 || !f.rules[0].At.Equal(runAt) || f.rules[1].At.Sub(runAt) != 36*time.Hour || !f.rules[0].Rule.EndsAt.Equal(runAt.Add(36*time.Hour)) {
		t.Fatalf("rule changes %+v, want a run of 36 hours from %s", f.rules, runAt)
	}
}

// A recurring campaign's series ends on its own once the last run its Schedule may start (at until) is over.
func TestRecurringCampaignSeriesCompletesAfterUntil(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	f := &campaignFakes{}
	f.register(env)
	c := doubleBooksCampaign(nil)
	until := t0.Add(14 * 24 * time.Hour)
	c.Schedule, c.RunLength, c.Until = "0 9 * * 5", "P1D", &until
	var before, after CampaignState
	query := func(st *CampaignState) {
		v, err := env.QueryWorkflow(QueryState)
		if err == nil {
			err = v.Get(st)
		}
		if err != nil {
			t.Error(err)
		}
	}
	env.RegisterDelayedCallback(func() { query(&before) }, 15*24*time.Hour-time.Minute)
	// Without an end of its own the series would still be waiting here.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CampaignSignalCancel, nil) }, 30*24*time.Hour)
	env.ExecuteWorkflow(CampaignWorkflowName, CampaignInput{Campaign: c})
	if env.GetWorkflowError() != nil {
		t.Fatal(env.GetWorkflowError())
	}
	query(&after)
	if before.Ended || before.Status != domain.CampaignScheduled {
		t.Fatalf("a minute before until + run_length: %+v", before)
	}
	if !after.Ended || after.Status != domain.CampaignCompleted || !after.EndsAt.Equal(until.Add(24*time.Hour)) ||
		!env.Now().Equal(until.Add(24*time.Hour)) {
		t.Fatalf("series over at %s: %+v, want completed at until + run_length", env.Now(), after)
	}
	if fmt.Sprint(f.statuses) != "[completed]" {
		t.Fatalf("statuses %v, want the series completed, not cancelled", f.statuses)
	}
}
