package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/perkflow/perkflow/domain"
)

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
