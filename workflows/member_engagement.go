package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// The member's engagement: a coroutine beside the main loop keeps the birthday and win-back timers and forwards
// purchases and returns to challenges (member_challenges.go); the main loop reviews the tier on its anniversary.

// engagementItem is work for the engagement coroutine: purchases accrued, or a return applied.
type engagementItem struct {
	Purchases []domain.Purchase
	Return    *domain.Return
	// Lifecycle: the member's birthdate changed (by Actor); the birthday timer is armed again from the new one.
	Lifecycle bool
	Actor     string
}

// localLifecycleChange is the GetVersion change id of reading the member's lifecycle in a local activity. Before it,
// the read was an activity task of its own: every run's start (a registration's first task, each Continue-As-New)
// and every birthdate change cost an activity task through matching and a second workflow task, six history events.
const localLifecycleChange = "local-lifecycle"

// lifecycleWindow is how long the local activity reading the lifecycle is retried (the regular activity's retry
// policy, about two and a half minutes, fits in it) before the run goes without birthday and win-back timers, as a
// regular activity that failed for good left it.
const lifecycleWindow = 3 * time.Minute

// maxEngagementQueue bounds the items waiting for the engagement coroutine (the main loop adds at most two per turn).
const maxEngagementQueue = 1 << 16

// startEngagement runs the member's engagement beside the main loop, so that neither a slow challenge nor a birthday
// ever delays a purchase: it forwards purchases and returns to challenges in order, and keeps the birthday and
// win-back timers.
func (m *member) startEngagement(ctx workflow.Context) {
	m.engageCh = workflow.NewBufferedChannel(ctx, maxEngagementQueue)
	workflow.Go(ctx, func(ctx workflow.Context) {
		lt := &lifecycleTimers{}
		m.localLife = workflow.GetVersion(ctx, localLifecycleChange, workflow.DefaultVersion, 1) >= 1
		m.loadLifecycle(ctx)
		m.armLifecycle(ctx, lt)
		for {
			var item engagementItem
			got := false
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(m.engageCh, func(c workflow.ReceiveChannel, _ bool) {
				c.Receive(ctx, &item)
				got = true
			})
			lt.addTo(ctx, sel)
			sel.Select(ctx)
			if ctx.Err() != nil {
				return
			}
			switch {
			case got && item.Lifecycle:
				m.reloadLifecycle(ctx, "Read the birthdate changed by "+item.Actor)
				m.armBirthday(ctx, lt)
			case got && item.Return != nil:
				m.forwardReturn(ctx, *item.Return)
			case got:
				m.forwardPurchases(ctx, item.Purchases)
				// A pending win-back timer is left to fire: winback re-arms it from the latest purchase then. Re-arming
				// on every purchase cost two history events each (runs before "local-accrual" still do).
				if m.purchased(item.Purchases) && (!m.local || lt.winback == nil) {
					m.armWinback(ctx, lt)
				}
			}
			if got {
				m.engageQueued--
			}
			// A Continue-As-New waits for these too, so that a bonus being credited is never dropped.
			if lt.birthdayDue {
				m.engageQueued++
				m.birthday(ctx, lt)
				m.engageQueued--
			}
			if lt.winbackDue {
				m.engageQueued++
				m.winback(ctx, lt)
				m.engageQueued--
			}
		}
	})
}

// enqueueEngagement hands an item to the engagement coroutine.
func (m *member) enqueueEngagement(ctx workflow.Context, item engagementItem) {
	m.engageQueued++
	m.engageCh.Send(ctx, item)
}

// lifecycleTimers are the member's birthday and win-back timers.
type lifecycleTimers struct {
	birthday, winback             workflow.Future
	cancelBirthday, cancelWinback workflow.CancelFunc
	birthdayAt, winbackFor        time.Time
	birthdayDue, winbackDue       bool
}

func (lt *lifecycleTimers) addTo(ctx workflow.Context, sel workflow.Selector) {
	if lt.birthday != nil {
		sel.AddFuture(lt.birthday, func(f workflow.Future) {
			lt.birthday = nil
			lt.birthdayDue = f.Get(ctx, nil) == nil
		})
	}
	if lt.winback != nil {
		sel.AddFuture(lt.winback, func(f workflow.Future) {
			lt.winback = nil
			lt.winbackDue = f.Get(ctx, nil) == nil
		})
	}
}

// loadLifecycle reads the member's birthdate, the program's birthday and win-back settings and the last purchase.
func (m *member) loadLifecycle(ctx workflow.Context) {
	m.reloadLifecycle(ctx, "Read birthday and win-back settings")
}

// reloadLifecycle is loadLifecycle with the activity's summary: a local activity, or in runs recorded before
// "local-lifecycle" a regular one.
func (m *member) reloadLifecycle(ctx workflow.Context, summary string) {
	var life domain.MemberLifecycle
	var err error
	if m.localLife {
		life, err = MemberLifecycle.ExecuteLocal(withLocalOptions(ctx, activityOptions.engagement, summary, lifecycleWindow), m.in.MemberID).Get(ctx)
	} else {
		life, err = MemberLifecycle.Execute(withOptions(ctx, activityOptions.engagement, summary), m.in.MemberID).Get(ctx)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("member lifecycle not read; no birthday or win-back timers this run", "Error", err)
		m.life = nil
		return
	}
	m.life = &life
	if m.lastPurchaseAt == nil && life.LastPurchaseAt != nil {
		t := life.LastPurchaseAt.UTC()
		m.lastPurchaseAt = &t
	}
}

func (m *member) armLifecycle(ctx workflow.Context, lt *lifecycleTimers) {
	m.armBirthday(ctx, lt)
	m.armWinback(ctx, lt)
}

// armBirthday sets a timer for the member's next birthday (midnight in the program's time zone).
func (m *member) armBirthday(ctx workflow.Context, lt *lifecycleTimers) {
	if lt.cancelBirthday != nil {
		lt.cancelBirthday()
	}
	lt.birthday, lt.cancelBirthday = nil, nil
	if m.life == nil || !m.life.Active || m.life.BirthdayBonusPoints <= 0 || m.life.Birthdate == "" {
		return
	}
	now := workflow.Now(ctx)
	next, ok := domain.NextBirthday(m.life.Birthdate, now, domain.Program{TimeZone: m.life.TimeZone}.Location())
	if !ok {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	lt.birthday = workflow.NewTimerWithOptions(tctx, next.Sub(now), workflow.TimerOptions{Summary: "Birthday bonus on " + next.Format(time.DateOnly)})
	lt.cancelBirthday, lt.birthdayAt = cancel, next
}

// birthday credits the birthday bonus (once a year: keyed by the year) and wishes the member a happy birthday.
func (m *member) birthday(ctx workflow.Context, lt *lifecycleTimers) {
	lt.birthdayDue = false
	year := lt.birthdayAt.Year()
	actx := withOptions(ctx, activityOptions.engagement, fmt.Sprintf("Credit the %d birthday bonus", year))
	if points, err := GrantBirthdayBonus.Execute(actx, m.in.MemberID, year).Get(ctx); err != nil {
		workflow.GetLogger(ctx).Warn("birthday bonus not credited", "Year", year, "Error", err)
	} else if points > 0 {
		notify(ctx, activityOptions.notification, domain.Notification{Key: domain.BirthdayBonusKey(m.in.MemberID, year), MemberID: m.in.MemberID,
			Template: domain.TemplateBirthday, Data: map[string]string{"points": fmt.Sprint(points)}}, "Wish the member a happy birthday")
	}
	m.loadLifecycle(ctx) // settings may have changed over the year
	m.armBirthday(ctx, lt)
}

// armWinback sets a timer for the end of the program's win-back days after the last purchase, unless the member
// was told about this stretch of inactivity already.
func (m *member) armWinback(ctx workflow.Context, lt *lifecycleTimers) {
	if lt.cancelWinback != nil {
		lt.cancelWinback()
	}
	lt.winback, lt.cancelWinback = nil, nil
	if m.life == nil || !m.life.Active || m.life.WinbackDays <= 0 || m.lastPurchaseAt == nil {
		return
	}
	if m.winbackFor != nil && m.winbackFor.Equal(*m.lastPurchaseAt) {
		return
	}
	due := m.lastPurchaseAt.AddDate(0, 0, m.life.WinbackDays)
	tctx, cancel := workflow.WithCancel(ctx)
	lt.winback = workflow.NewTimerWithOptions(tctx, max(due.Sub(workflow.Now(ctx)), time.Second),
		workflow.TimerOptions{Summary: fmt.Sprintf("Win-back after %d days without a purchase", m.life.WinbackDays)})
	lt.cancelWinback, lt.winbackFor = cancel, *m.lastPurchaseAt
}

// winback tells a member who has not bought for the program's win-back days that they are missed.
func (m *member) winback(ctx workflow.Context, lt *lifecycleTimers) {
	lt.winbackDue = false
	last := lt.winbackFor
	m.loadLifecycle(ctx)
	if m.life == nil || m.life.WinbackDays <= 0 || m.lastPurchaseAt == nil || !m.lastPurchaseAt.Equal(last) {
		m.armWinback(ctx, lt)
		return
	}
	if workflow.Now(ctx).Before(last.AddDate(0, 0, m.life.WinbackDays)) {
		m.armWinback(ctx, lt) // the program's win-back days grew
		return
	}
	notify(ctx, activityOptions.notification, domain.Notification{Key: domain.WinbackKey(m.in.MemberID, last), MemberID: m.in.MemberID,
		Template: domain.TemplateWinback, Data: map[string]string{"days": fmt.Sprint(m.life.WinbackDays)}},
		fmt.Sprintf("Win back the member after %d days without a purchase", m.life.WinbackDays))
	m.winbackFor = &last
}

// purchased moves the last purchase forward to the latest accrued and reports whether it moved.
func (m *member) purchased(ps []domain.Purchase) bool {
	moved := false
	for _, p := range ps {
		t := p.OccurredAt.UTC()
		if m.lastPurchaseAt == nil || t.After(*m.lastPurchaseAt) {
			m.lastPurchaseAt, moved = &t, true
		}
	}
	return moved
}

// armReview sets a timer for the tier review on its anniversary, cancelling the one that ran.
func (m *member) armReview(ctx workflow.Context) {
	if m.cancelReview != nil {
		m.cancelReview()
	}
	m.review, m.cancelReview, m.reviewDue = nil, nil, false
	if !m.tiers || m.state.TierReviewAt == nil {
		return
	}
	tctx, cancel := workflow.WithCancel(ctx)
	d := max(m.state.TierReviewAt.Sub(workflow.Now(ctx)), time.Second)
	m.review = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "Tier review on its anniversary"})
	m.cancelReview = cancel
}

// reviewTier reviews the member's tier on its anniversary.
func (m *member) reviewTier(ctx workflow.Context) error {
	at := *m.state.TierReviewAt
	actx := withOptions(ctx, activityOptions.accrual, "Review tier "+m.state.Tier+" on its anniversary")
	rev, err := ReviewTier.Execute(actx, m.in.MemberID, at).Get(ctx)
	if err != nil {
		return fmt.Errorf("review tier: %w", err)
	}
	m.state.TierReviewAt = rev.Tier.ReviewAt
	if rev.Change != nil {
		m.tierChanged(ctx, *rev.Change)
	} else if rev.Tier.Code != "" {
		m.state.Tier = rev.Tier.Code
	}
	return nil
}

// tierChanged records a new tier, makes it searchable and tells the member.
func (m *member) tierChanged(ctx workflow.Context, ch domain.TierChange) {
	m.state.Tier = ch.To
	at := ch.ReviewAt
	m.state.TierReviewAt = &at
	if err := workflow.UpsertTypedSearchAttributes(ctx, SearchAttrTier.ValueSet(ch.To)); err != nil {
		workflow.GetLogger(ctx).Warn("tier search attribute not updated", "Error", err)
	}
	notify(ctx, activityOptions.notification, domain.Notification{
		Key: domain.TierChangeKey(m.in.MemberID, ch.To, ch.ReviewAt), MemberID: m.in.MemberID, Template: domain.TemplateTierChange,
		Data: map[string]string{"from": ch.From, "to": ch.To},
	}, "Tell the member about tier "+ch.To)
}
