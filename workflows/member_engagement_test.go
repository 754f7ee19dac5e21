package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

func TestMemberBirthdayBonusOnceAYearAndWinbackAfterInactivity(t *testing.T) {
	env := newEnv(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	f := newFakeLedger()
	f.register(env)
	var mu sync.Mutex
	var years []int
	var notes []string
	MemberLifecycle.fake(env, func(context.Context, string) (domain.MemberLifecycle, error) {
		return domain.MemberLifecycle{Birthdate: "1990-11-10", Active: true, BirthdayBonusPoints: 100, WinbackDays: 30, TimeZone: "UTC"}, nil
	})
	GrantBirthdayBonus.fake(env, func(_ context.Context, _ string, year int) (int64, error) {
		mu.Lock()
		defer mu.Unlock()
		years = append(years, year)
		return 100, nil
	})
	ChallengesForPurchase.fake(env, func(context.Context, string, time.Time) ([]domain.ChallengeMatch, error) { return nil, nil })
	// Replace the welcome counter with one that keeps the keys.
	SendNotification.fake(env, func(_ context.Context, n domain.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, n.Key)
		return nil
	})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, testPurchase(1)) }, time.Hour)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 45*24*time.Hour)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	if len(years) != 1 || years[0] != 2026 {
		t.Fatalf("birthday bonus for years %v; want 2026 once", years)
	}
	wantWinback := domain.WinbackKey(memberID, testPurchase(1).OccurredAt)
	var birthday, winback int
	for _, k := range notes {
		switch k {
		case domain.BirthdayBonusKey(memberID, 2026):
			birthday++
		case wantWinback:
			winback++
		}
	}
	if birthday != 1 || winback != 1 || len(notes) != 2 {
		t.Fatalf("notifications %v; want one birthday and one win-back (%s)", notes, wantWinback)
	}
}

func TestMemberForwardsPurchasesToAnAutoEnrollingChallenge(t *testing.T) {
	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeLedger()
	f.register(env)
	eng := &fakeEngagement{credited: map[string]int{}, now: env.Now}
	eng.register(env)
	c := domain.Challenge{ID: "auto", Name: "Two visits", Goal: domain.ChallengeGoal{Kind: domain.GoalPurchases, Target: 2},
		WindowDays: 30, RewardPoints: 50, AutoEnroll: true}
	var mu sync.Mutex
	enrolled := false
	MemberLifecycle.fake(env, func(context.Context, string) (domain.MemberLifecycle, error) {
		return domain.MemberLifecycle{Active: true, TimeZone: "UTC"}, nil
	})
	ChallengesForPurchase.fake(env, func(context.Context, string, time.Time) ([]domain.ChallengeMatch, error) {
		mu.Lock()
		defer mu.Unlock()
		m := []domain.ChallengeMatch{{Challenge: c, Enrolled: enrolled}}
		enrolled = true
		return m, nil
	})
	p0, p1 := testPurchase(0), testPurchase(1)
	p0.OccurredAt, p1.OccurredAt = time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, p0) }, 2*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, p0) }, 3*time.Hour) // the POS retries
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, p1) }, 26*time.Hour)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 48*time.Hour)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	eng.mu.Lock()
	defer eng.mu.Unlock()
	if n := eng.credited[domain.ChallengeRewardKey("auto", memberID)]; n != 1 {
		t.Fatalf("challenge reward credited %d times; want once, after the two distinct purchases", n)
	}
	// The retried p0 must not count: the goal of two purchases is reached only by p1, delivered at 26 h.
	if start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC); eng.completedAt.Before(start.Add(26 * time.Hour)) {
		t.Fatalf("challenge completed at %s, before the second distinct purchase arrived (a retried purchase counted twice)", eng.completedAt)
	}
}

// A purchase during a pending win-back timer moves the win-back to 30 days after it without re-arming the timer on
// every purchase: the member who keeps buying is never told they are missed, and is told once 30 days after their
// last purchase.
func TestMemberWinbackCountsFromTheLatestPurchase(t *testing.T) {
	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	f := newFakeLedger()
	f.register(env)
	var mu sync.Mutex
	var notes []string
	var notedAt []time.Time
	MemberLifecycle.fake(env, func(context.Context, string) (domain.MemberLifecycle, error) {
		return domain.MemberLifecycle{Active: true, WinbackDays: 30, TimeZone: "UTC"}, nil
	})
	ChallengesForPurchase.fake(env, func(context.Context, string, time.Time) ([]domain.ChallengeMatch, error) { return nil, nil })
	SendNotification.fake(env, func(_ context.Context, n domain.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, n.Key)
		notedAt = append(notedAt, env.Now())
		return nil
	})
	var last domain.Purchase
	for day := 0; day <= 50; day += 10 { // a purchase every 10 days until day 50
		p := testPurchase(day)
		p.OccurredAt = time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC).AddDate(0, 0, day)
		last = p
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPurchase, p) }, time.Hour+time.Duration(day)*24*time.Hour)
	}
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 100*24*time.Hour)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})

	mu.Lock()
	defer mu.Unlock()
	want := domain.WinbackKey(memberID, last.OccurredAt)
	if len(notes) != 1 || notes[0] != want {
		t.Fatalf("notifications %v; want one win-back for the last purchase (%s)", notes, want)
	}
	if due := last.OccurredAt.AddDate(0, 0, 30); notedAt[0].Before(due) || notedAt[0].After(due.Add(time.Hour)) {
		t.Fatalf("win-back sent at %s; want 30 days after the last purchase, %s", notedAt[0], due)
	}
}
