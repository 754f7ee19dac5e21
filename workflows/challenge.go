package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// ChallengeWorkflow is one member's enrolment in one challenge: it counts the purchases the member workflow
// forwards (a return undoes what its purchase gave), records the progress for the member's reads, and either
// completes — the reward and badge granted exactly once, the member told — or expires at the deadline.
func ChallengeWorkflow(ctx workflow.Context, in ChallengeInput) (ChallengeState, error) {
	if !domain.ValidMemberID(in.MemberID) {
		return ChallengeState{}, temporal.NewNonRetryableApplicationError("member id "+in.MemberID+" is not a UUID", ErrTypeInvalid, nil)
	}
	if err := in.Challenge.Validate(); err != nil {
		return ChallengeState{}, temporal.NewNonRetryableApplicationError("challenge: "+err.Error(), ErrTypeInvalid, nil)
	}
	c := &challenge{in: in, progress: in.Progress, state: ChallengeState{
		ChallengeID: in.Challenge.ID, MemberID: in.MemberID, Status: domain.EnrolmentActive, Kind: in.Challenge.Goal.Kind,
		Target: in.Challenge.Goal.Target, EnrolledAt: in.EnrolledAt, Deadline: in.Challenge.Deadline(in.EnrolledAt),
	}}
	c.state.Progress = c.progress.Value(in.Challenge.Goal)
	c.state.Purchases = len(c.progress.Purchases)
	if err := workflow.SetQueryHandler(ctx, QueryChallengeState, func() (ChallengeState, error) { return c.state, nil }); err != nil {
		return c.state, err
	}
	return c.run(ctx)
}

type challenge struct {
	in       ChallengeInput
	progress domain.ChallengeProgress
	state    ChallengeState
}

func (c *challenge) activityCtx(ctx workflow.Context, summary string) workflow.Context {
	return withOptions(ctx, activityOptions.challenge, summary)
}

func (c *challenge) update() domain.EnrolmentUpdate {
	return domain.EnrolmentUpdate{Challenge: c.in.Challenge, MemberID: c.in.MemberID, EnrolledAt: c.in.EnrolledAt, Progress: c.state.Progress}
}

func (c *challenge) run(ctx workflow.Context) (ChallengeState, error) {
	name := c.in.Challenge.Name
	if !c.in.Continued {
		if err := RecordEnrolment.Execute(c.activityCtx(ctx, "Enrol the member in "+name), c.update()).Get(ctx); err != nil {
			return c.state, fmt.Errorf("record enrolment: %w", err)
		}
	}
	purchases := workflow.GetSignalChannel(ctx, SignalChallengePurchase)
	returns := workflow.GetSignalChannel(ctx, SignalChallengeReturn)
	deadline := workflow.NewTimerWithOptions(ctx, max(c.state.Deadline.Sub(workflow.Now(ctx)), 0),
		workflow.TimerOptions{Summary: "Deadline of challenge " + name})
	expired := false
	// Signals the previous run received and did not count are counted first (before any wait).
	carried := len(c.in.Purchases) > 0 || len(c.in.Returns) > 0
	for {
		changed := false
		if carried {
			carried = false
			for _, p := range c.in.Purchases {
				changed = c.addPurchase(p) || changed
			}
			for _, r := range c.in.Returns {
				changed = c.progress.ApplyReturn(r) || changed
			}
			c.in.Purchases, c.in.Returns = nil, nil
		} else {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(purchases, func(ch workflow.ReceiveChannel, _ bool) {
				var p domain.ChallengePurchase
				ch.Receive(ctx, &p)
				changed = c.addPurchase(p) || changed
			})
			sel.AddReceive(returns, func(ch workflow.ReceiveChannel, _ bool) {
				var r domain.Return
				ch.Receive(ctx, &r)
				changed = c.progress.ApplyReturn(r) || changed
			})
			sel.AddFuture(deadline, func(f workflow.Future) { expired = f.Get(ctx, nil) == nil })
			sel.Select(ctx)
		}
		// Take every signal already delivered before acting, so that a purchase and its return cancel out.
		ps, rs := drainChallengeSignals(purchases, returns)
		for _, p := range ps {
			changed = c.addPurchase(p) || changed
		}
		for _, r := range rs {
			changed = c.progress.ApplyReturn(r) || changed
		}
		c.state.Progress = c.progress.Value(c.in.Challenge.Goal)
		c.state.Purchases = len(c.progress.Purchases)
		if c.state.Progress >= c.state.Target {
			return c.complete(ctx)
		}
		if expired {
			c.state.Status = domain.EnrolmentExpired
			err := ExpireEnrolment.Execute(c.activityCtx(ctx, fmt.Sprintf("Expire: %d of %d reached by the deadline", c.state.Progress, c.state.Target)),
				c.update()).Get(ctx)
			return c.state, err
		}
		if changed {
			if err := RecordChallengeProgress.Execute(c.activityCtx(ctx, fmt.Sprintf("Record progress %d of %d", c.state.Progress, c.state.Target)),
				c.update()).Get(ctx); err != nil {
				return c.state, fmt.Errorf("record progress: %w", err)
			}
		}
		if historyFull(ctx, c.in.MaxHistoryEvents) {
			next := c.in
			next.Progress, next.Continued = c.progress, true
			// A signal delivered beside the progress activity's result sits in its channel, and a channel does not
			// outlive its run: it is carried in the next run's input (runs before the change lost it).
			if workflow.GetVersion(ctx, challengeCarrySignalsChange, workflow.DefaultVersion, 1) >= 1 {
				next.Purchases, next.Returns = drainChallengeSignals(purchases, returns)
			}
			return c.state, workflow.NewContinueAsNewError(ctx, ChallengeWorkflowName, next)
		}
	}
}

// challengeCarrySignalsChange is the GetVersion change id of carrying the signals drained before a Continue-As-New.
const challengeCarrySignalsChange = "challenge-carry-signals"

// drainChallengeSignals takes every purchase and return already delivered, without blocking.
func drainChallengeSignals(purchases, returns workflow.ReceiveChannel) ([]domain.ChallengePurchase, []domain.Return) {
	var ps []domain.ChallengePurchase
	for {
		var p domain.ChallengePurchase
		if !purchases.ReceiveAsync(&p) {
			break
		}
		ps = append(ps, p)
	}
	var rs []domain.Return
	for {
		var r domain.Return
		if !returns.ReceiveAsync(&r) {
			break
		}
		rs = append(rs, r)
	}
	return ps, rs
}

// addPurchase counts a purchase made within the enrolment (from enrolling to the deadline, while the challenge runs).
func (c *challenge) addPurchase(p domain.ChallengePurchase) bool {
	if p.OccurredAt.Before(c.in.EnrolledAt) || !p.OccurredAt.Before(c.state.Deadline) || !c.in.Challenge.OpenAt(p.OccurredAt) {
		return false
	}
	return c.progress.AddPurchase(p)
}

// complete grants the reward (once: the activity is keyed by challenge and member) and tells the member.
func (c *challenge) complete(ctx workflow.Context) (ChallengeState, error) {
	summary := fmt.Sprintf("Reward %d points", c.in.Challenge.RewardPoints)
	if c.in.Challenge.Badge != "" {
		summary += " and badge " + c.in.Challenge.Badge
	}
	r, err := CompleteChallenge.Execute(c.activityCtx(ctx, summary+" for completing "+c.in.Challenge.Name), c.update()).Get(ctx)
	if err != nil {
		return c.state, fmt.Errorf("complete challenge: %w", err)
	}
	now := workflow.Now(ctx)
	c.state.Status, c.state.CompletedAt, c.state.PointsEarned = domain.EnrolmentCompleted, &now, r.Points
	// Sent even when the reward was recorded by an earlier attempt: the key makes the message go once.
	notify(ctx, activityOptions.notification, domain.Notification{Key: domain.ChallengeCompletedKey(c.in.Challenge.ID, c.in.MemberID), MemberID: c.in.MemberID,
		Template: domain.TemplateChallengeCompleted, Data: map[string]string{
			"challenge": c.in.Challenge.Name, "points": fmt.Sprint(r.Points), "badge": c.in.Challenge.Badge}},
		"Tell the member they completed "+c.in.Challenge.Name)
	return c.state, nil
}
