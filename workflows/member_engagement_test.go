package workflows

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

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

func TestMemberReviewsTierOnItsAnniversary(t *testing.T) {
	env := newEnv(t)
	f := newFakeLedger()
	f.register(env)
	var calls []string
	var reviews []time.Time
	f.registerOps(env, &calls, &reviews)
	start := env.Now()
	reviewAt := start.AddDate(1, 0, 0)
	// The member reached gold in a previous run: the review date is carried in the input.
	env.RegisterDelayedCallback(env.CancelWorkflow, 400*24*time.Hour)
	env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID, TierReviewAt: &reviewAt})

	if len(reviews) != 1 || reviews[0].Before(reviewAt) {
		t.Fatalf("reviews at %v, want one on %v", reviews, reviewAt)
	}
	if f.welcomes != 1 { // the fake counts every notification: here the tier-change message
		t.Fatalf("%d notifications, want the tier change message", f.welcomes)
	}
}

// A run reads the member's lifecycle in a local activity, in its first workflow task; a run recorded before
// "local-lifecycle" reads it in a regular activity, as it was recorded.
func TestMemberLifecycleIsReadLocallyInNewRuns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version workflow.Version
		want    string
	}{{"new run", 1, "local"}, {"run recorded before", workflow.DefaultVersion, "regular"}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.SetStartTime(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
			newFakeLedger().register(env)
			if tc.version == workflow.DefaultVersion {
				env.OnGetVersion(localLifecycleChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			var mu sync.Mutex
			var kinds []string
			MemberLifecycle.fake(env, func(ctx context.Context, _ string) (domain.MemberLifecycle, error) {
				mu.Lock()
				defer mu.Unlock()
				kind := "regular"
				if activity.GetInfo(ctx).IsLocalActivity {
					kind = "local"
				}
				kinds = append(kinds, kind)
				return domain.MemberLifecycle{Active: true, WinbackDays: 30, TimeZone: "UTC"}, nil
			})
			env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, time.Hour)
			env.ExecuteWorkflow(MemberWorkflow, MemberInput{MemberID: memberID})
			if !slices.Equal(kinds, []string{tc.want}) {
				t.Fatalf("lifecycle read as %v; want [%s]", kinds, tc.want)
			}
		})
	}
}
