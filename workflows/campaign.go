package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// CampaignWorkflow runs one campaign from its schedule to its end. Its timers are durable (a campaign scheduled for
// next month survives restarts), its rule is in force only while it is active, and pause, resume, extend and cancel
// arrive as signals, each recorded in its history and its state query.
func CampaignWorkflow(ctx workflow.Context, in CampaignInput) error {
	if in.Campaign.ID == "" {
		return temporal.NewNonRetryableApplicationError("campaign without an id", ErrTypeInvalid, nil)
	}
	c := &campaign{in: in}
	if in.State != nil {
		c.state = *in.State
	} else {
		c.state = CampaignState{CampaignID: in.Campaign.ID, Status: domain.CampaignScheduled, EndsAt: in.Campaign.EndsAt, Events: []string{}}
	}
	if c.in.BudgetCheckEvery <= 0 {
		c.in.BudgetCheckEvery = DefaultBudgetCheckEvery
	}
	if in.Occurrence && in.State == nil {
		// One run of a recurring campaign: its window opens now and lasts run_length (ends_at − starts_at for a
		// campaign recorded without it).
		now := workflow.Now(ctx).UTC()
		d := in.Campaign.RunDuration()
		c.in.Campaign.StartsAt, c.in.Campaign.EndsAt, c.state.EndsAt = now, now.Add(d), now.Add(d)
	}
	if err := c.setup(ctx); err != nil {
		return err
	}
	if in.Campaign.Schedule != "" && !in.Occurrence {
		return c.series(ctx)
	}
	return c.run(ctx)
}

type campaign struct {
	in    CampaignInput
	state CampaignState

	pause, resume, cancel, extend workflow.ReceiveChannel
	pending                       []*pendingWalk
}

func (c *campaign) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (CampaignState, error) { return c.state, nil }); err != nil {
		return err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrCampaignID.ValueSet(c.in.Campaign.ID)); err != nil {
		workflow.GetLogger(ctx).Warn("campaign search attribute not set", "Error", err)
	}
	c.pause = workflow.GetSignalChannel(ctx, CampaignSignalPause)
	c.resume = workflow.GetSignalChannel(ctx, CampaignSignalResume)
	c.cancel = workflow.GetSignalChannel(ctx, CampaignSignalCancel)
	c.extend = workflow.GetSignalChannel(ctx, CampaignSignalExtend)
	return nil
}

func (c *campaign) event(ctx workflow.Context, format string, args ...any) {
	c.state.Events = append(c.state.Events, workflow.Now(ctx).UTC().Format(time.RFC3339)+" "+fmt.Sprintf(format, args...))
	if len(c.state.Events) > 50 {
		c.state.Events = c.state.Events[len(c.state.Events)-50:]
	}
}

func (c *campaign) done() bool {
	return c.state.Ended || c.state.Status == domain.CampaignCompleted || c.state.Status == domain.CampaignCancelled
}

func (c *campaign) run(ctx workflow.Context) error {
	cp := c.in.Campaign
	if c.in.State == nil && !c.in.Occurrence {
		size, err := SaveCampaign.Execute(c.quick(ctx, "Record campaign "+cp.Name+" as scheduled"), cp).Get(ctx)
		if err != nil {
			return err
		}
		c.state.SegmentSize = size
		c.event(ctx, "scheduled from %s to %s for %d members", cp.StartsAt.UTC().Format(time.RFC3339), c.state.EndsAt.UTC().Format(time.RFC3339), size)
	}
	for !c.done() {
		now := workflow.Now(ctx)
		deadline := c.state.EndsAt
		if !c.state.Started {
			deadline = cp.StartsAt
		}
		if !now.Before(deadline) {
			var err error
			if !c.state.Started {
				err = c.start(ctx)
			} else {
				err = c.finish(ctx, c.endStatus(), "ended on time")
			}
			if err != nil {
				return err
			}
			continue
		}
		if len(c.pending) == 0 && historyFull(ctx, campaignHistoryLimit) {
			return c.continueAsNew(ctx)
		}
		if err := c.wait(ctx, deadline.Sub(now)); err != nil {
			return err
		}
	}
	// Let an announcement under way finish: it was promised to the segment.
	for len(c.pending) > 0 {
		if err := c.wait(ctx, 0); err != nil {
			return err
		}
	}
	return nil
}

// wait blocks until the deadline timer (0: none), a signal, a budget check or a segment walk; the timers are
// cancelled afterwards, so none outlives its wait.
func (c *campaign) wait(ctx workflow.Context, d time.Duration) error {
	tctx, cancelTimers := workflow.WithCancel(ctx)
	defer cancelTimers()
	sel := workflow.NewSelector(ctx)
	var err error
	if d > 0 {
		sel.AddFuture(workflow.NewTimer(tctx, d), func(workflow.Future) {})
	}
	if c.state.Status == domain.CampaignActive && c.in.Campaign.BudgetPoints != nil && !c.state.BudgetExhausted && !c.done() {
		sel.AddFuture(workflow.NewTimer(tctx, c.in.BudgetCheckEvery), func(workflow.Future) { err = c.checkBudget(ctx) })
	}
	sel.AddReceive(c.pause, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		err = c.onPause(ctx)
	})
	sel.AddReceive(c.resume, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		err = c.onResume(ctx)
	})
	sel.AddReceive(c.cancel, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		if !c.done() {
			err = c.finish(ctx, domain.CampaignCancelled, "cancelled")
		}
	})
	sel.AddReceive(c.extend, func(ch workflow.ReceiveChannel, _ bool) {
		var x CampaignExtension
		ch.Receive(ctx, &x)
		err = c.onExtend(ctx, x)
	})
	for _, f := range c.pending {
		sel.AddFuture(f.future, f.onDone)
	}
	sel.Select(ctx)
	return err
}

func (c *campaign) onPause(ctx workflow.Context) error {
	switch c.state.Status {
	case domain.CampaignActive:
		if err := c.setRule(ctx, false); err != nil {
			return err
		}
		fallthrough
	case domain.CampaignScheduled:
		c.event(ctx, "paused")
		return c.setStatus(ctx, domain.CampaignPaused, "paused by a marketer")
	}
	return nil
}

func (c *campaign) onResume(ctx workflow.Context) error {
	if c.state.Status != domain.CampaignPaused {
		return nil
	}
	c.event(ctx, "resumed")
	if !c.state.Started {
		return c.setStatus(ctx, domain.CampaignScheduled, "resumed before its start")
	}
	if !c.state.BudgetExhausted {
		if err := c.setRule(ctx, true); err != nil {
			return err
		}
	}
	return c.setStatus(ctx, domain.CampaignActive, "resumed by a marketer")
}

func (c *campaign) onExtend(ctx workflow.Context, x CampaignExtension) error {
	if c.done() || !x.EndsAt.After(c.state.EndsAt) || x.EndsAt.Sub(c.in.Campaign.StartsAt) > domain.MaxCampaignDuration {
		c.event(ctx, "extension to %s refused", x.EndsAt.UTC().Format(time.RFC3339))
		return nil
	}
	c.state.EndsAt = x.EndsAt.UTC()
	c.event(ctx, "extended to %s", c.state.EndsAt.Format(time.RFC3339))
	if c.state.RuleInForce {
		if err := c.setRule(ctx, true); err != nil { // the rule carries the new end
			return err
		}
	}
	return c.setStatus(ctx, c.state.Status, "extended")
}

// start activates the campaign: its rule in force, its bonus and its announcement under way.
func (c *campaign) start(ctx workflow.Context) error {
	cp := c.in.Campaign
	c.state.Started = true
	if c.state.Status == domain.CampaignPaused {
		c.event(ctx, "start reached while paused")
		return nil
	}
	c.event(ctx, "started")
	if cp.Kind == domain.CampaignMultiplier {
		if err := c.setRule(ctx, true); err != nil {
			return err
		}
	}
	if err := c.setStatus(ctx, domain.CampaignActive, "started"); err != nil {
		return err
	}
	if cp.Kind == domain.CampaignBonus && !c.state.BonusDone {
		c.walk(ctx, GrantCampaignBonus, fmt.Sprintf("Give %d bonus points to each member of campaign %s's segment", cp.BonusPoints, cp.Name),
			domain.SegmentWalk{CampaignID: cp.ID, Segment: cp.Segment, At: workflow.Now(ctx), Points: cp.BonusPoints},
			func(p domain.SegmentProgress) {
				c.state.BonusDone, c.state.BonusPoints = true, p.Points
				c.event(ctx, "bonus given: %d points to %d members", p.Points, p.Members)
			})
	}
	if a := cp.Announcement; a != nil && !c.state.AnnounceDone {
		c.walk(ctx, AnnounceCampaign, fmt.Sprintf("Announce campaign %s by %s to %d members", cp.Name, a.Channel, c.state.SegmentSize),
			domain.SegmentWalk{CampaignID: cp.ID, Segment: cp.Segment, At: workflow.Now(ctx), Channel: a.Channel, Template: a.Template,
				Data: map[string]string{"campaign": cp.Name, "starts": cp.StartsAt.UTC().Format("2 Jan 2006"), "ends": c.state.EndsAt.UTC().Format("2 Jan 2006")}},
			func(p domain.SegmentProgress) {
				c.state.AnnounceDone, c.state.Announced = true, p.Sent
				c.event(ctx, "announced to %d members (%d without consent, %d refused by the provider)", p.Sent, p.Skipped, p.Failed)
			})
	}
	return nil
}

// endStatus is where a campaign goes at its end: completed, or back to scheduled for a run of a recurring one.
func (c *campaign) endStatus() string {
	if c.in.Occurrence {
		return domain.CampaignScheduled
	}
	return domain.CampaignCompleted
}

// series records a recurring campaign and follows its marketer's signals; its runs are started by its Temporal
// Schedule (made by the API), and pausing, resuming and cancelling the Schedule is the API's part. A series with an
// until completes once the last run its Schedule may start is over: at until + run_length.
func (c *campaign) series(ctx workflow.Context) error {
	cp := c.in.Campaign
	if c.in.State == nil {
		size, err := SaveCampaign.Execute(c.quick(ctx, "Record recurring campaign "+cp.Name+" ("+cp.Schedule+")"), cp).Get(ctx)
		if err != nil {
			return err
		}
		c.state.SegmentSize = size
		c.event(ctx, "scheduled to recur at %q", cp.Schedule)
	}
	var over workflow.Future // the end of the series' last run; nil while it has none
	var end time.Time
	if cp.Until != nil && workflow.GetVersion(ctx, seriesEndsVersion, workflow.DefaultVersion, 1) == 1 {
		end = cp.Until.Add(cp.RunDuration()).UTC()
		if d := end.Sub(workflow.Now(ctx)); d > 0 {
			over = workflow.NewTimer(ctx, d)
		} else if !c.done() {
			c.state.EndsAt = end
			return c.finish(ctx, domain.CampaignCompleted, "series over: its last run has ended")
		}
	}
	for !c.done() {
		if historyFull(ctx, campaignHistoryLimit) {
			return c.continueAsNew(ctx)
		}
		sel := workflow.NewSelector(ctx)
		var err error
		if over != nil {
			sel.AddFuture(over, func(workflow.Future) {
				c.state.EndsAt = end
				err = c.finish(ctx, domain.CampaignCompleted, "series over: its last run has ended")
			})
		}
		sel.AddReceive(c.pause, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			if c.state.Status != domain.CampaignPaused {
				c.event(ctx, "paused")
				err = c.setStatus(ctx, domain.CampaignPaused, "series paused by a marketer")
			}
		})
		sel.AddReceive(c.resume, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			if c.state.Status == domain.CampaignPaused {
				c.event(ctx, "resumed")
				err = c.setStatus(ctx, domain.CampaignScheduled, "series resumed by a marketer")
			}
		})
		sel.AddReceive(c.cancel, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			c.event(ctx, "cancelled")
			err = c.setStatus(ctx, domain.CampaignCancelled, "series cancelled")
		})
		sel.AddReceive(c.extend, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			c.event(ctx, "extension refused: a recurring campaign's runs keep their length")
		})
		sel.Select(ctx)
		if err != nil {
			return err
		}
	}
	return nil
}

// finish ends the campaign: its rule out of force and its final status recorded.
func (c *campaign) finish(ctx workflow.Context, status, why string) error {
	if c.state.RuleInForce {
		if err := c.setRule(ctx, false); err != nil {
			return err
		}
	}
	c.event(ctx, "%s", why)
	c.state.Ended = true
	return c.setStatus(ctx, status, why)
}

func (c *campaign) checkBudget(ctx workflow.Context) error {
	b, err := CampaignBudget.Execute(c.quick(ctx, "Check the budget of campaign "+c.in.Campaign.Name), c.in.Campaign.ID).Get(ctx)
	if err != nil {
		return err
	}
	if !b.Exhausted {
		return nil
	}
	c.state.BudgetExhausted = true
	// The cap in the database already stopped the points; this ends the rule and tells the marketer.
	return c.finish(ctx, domain.CampaignCompleted, fmt.Sprintf("budget of %d points spent", b.Issued))
}

func (c *campaign) setRule(ctx workflow.Context, inForce bool) error {
	ch := domain.CampaignRuleChange{CampaignID: c.in.Campaign.ID, At: workflow.Now(ctx)}
	summary := "End the earning rule of campaign " + c.in.Campaign.Name
	if inForce {
		r := c.in.Campaign.EarningRule()
		starts, ends := c.in.Campaign.StartsAt.UTC(), c.state.EndsAt.UTC()
		r.StartsAt, r.EndsAt = &starts, &ends
		ch.Rule = &r
		summary = "Put the earning rule of campaign " + c.in.Campaign.Name + " in force until " + ends.Format(time.RFC3339)
	}
	if err := ChangeCampaignRule.Execute(c.quick(ctx, summary), ch).Get(ctx); err != nil {
		return err
	}
	c.state.RuleInForce = inForce
	return nil
}

func (c *campaign) setStatus(ctx workflow.Context, status, why string) error {
	c.state.Status = status
	ch := domain.CampaignStatusChange{CampaignID: c.in.Campaign.ID, Status: status, EndsAt: c.state.EndsAt, Reason: why}
	return SetCampaignStatus.Execute(c.quick(ctx, "Mark campaign "+c.in.Campaign.Name+" "+status+": "+why), ch).Get(ctx)
}

// quick is the options of the campaign's short database activities: retried until they succeed.
func (c *campaign) quick(ctx workflow.Context, summary string) workflow.Context {
	return withOptions(ctx, activityOptions.campaignStep, summary)
}

type pendingWalk struct {
	future workflow.Future
	onDone func(workflow.Future)
}

// walk starts a segment walk (bonus or announcement): long, heartbeating, retried with backoff while it makes
// progress; a walk that fails for good is recorded and does not stop the campaign.
func (c *campaign) walk(ctx workflow.Context, activity Activity[domain.SegmentWalk, domain.SegmentProgress], summary string, w domain.SegmentWalk,
	ok func(domain.SegmentProgress)) {
	f := activity.Execute(withOptions(ctx, activityOptions.segmentWalk, summary), w)
	pw := &pendingWalk{future: f.Ready()}
	pw.onDone = func(workflow.Future) {
		c.removePending(pw)
		p, err := f.Get(ctx)
		if err != nil {
			c.event(ctx, "%s failed: %v", activity.Name(), err)
			return
		}
		ok(p)
	}
	c.pending = append(c.pending, pw)
}

func (c *campaign) removePending(pw *pendingWalk) {
	for i, p := range c.pending {
		if p == pw {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return
		}
	}
}

// continueAsNew carries the state into a fresh run once no walk is under way, taking every signal delivered first.
func (c *campaign) continueAsNew(ctx workflow.Context) error {
	for {
		drained := false
		for _, ch := range []workflow.ReceiveChannel{c.pause, c.resume, c.cancel, c.extend} {
			if ch.Len() > 0 {
				drained = true
			}
		}
		if !drained {
			break
		}
		if err := c.wait(ctx, 0); err != nil {
			return err
		}
		if c.done() {
			return nil
		}
	}
	next := c.in
	st := c.state
	next.State = &st
	return workflow.NewContinueAsNewError(ctx, CampaignWorkflowName, next)
}
