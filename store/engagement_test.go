package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/perkflow/perkflow/domain"
)

func TestChallengeRewardIsCreditedOnceUnderConcurrentRetries(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	now := testNow
	m := newMember(t, st, "ch@example.com")
	c := domain.Challenge{ID: "five", Name: "Five", Goal: domain.ChallengeGoal{Kind: domain.GoalPurchases, Target: 5},
		WindowDays: 30, RewardPoints: 300, Badge: "five", CreatedAt: now}
	if _, err := st.CreateChallenge(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CompleteChallenge(ctx, c, m, 5, now); domain.CodeOf(err) != domain.ErrNotFound {
		t.Fatalf("completing without an enrolment: %v", err)
	}
	if err := st.RecordEnrolment(ctx, c, m, now); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	given := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := st.CompleteChallenge(ctx, c, m, 5, now)
			if err != nil {
				t.Error(err)
				return
			}
			if !r.Replayed {
				mu.Lock()
				given++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if given != 1 {
		t.Fatalf("%d completions gave the reward; want 1", given)
	}
	if n := checkLedger(t, db, m); n != 300 {
		t.Fatalf("balance %d, want the 300-point reward once", n)
	}
	e, ok, err := st.GetEnrolment(ctx, c.ID, m)
	if err != nil || !ok || e.Status != domain.EnrolmentCompleted || e.Progress != 5 {
		t.Fatalf("enrolment %+v (%v, %v)", e, ok, err)
	}
	if badges, _ := st.MemberBadges(ctx, m); len(badges) != 1 || badges[0] != "five" {
		t.Fatalf("badges %v", badges)
	}
	// Expiring a completed enrolment changes nothing.
	if err := st.ExpireEnrolment(ctx, c.ID, m, 0); err != nil {
		t.Fatal(err)
	}
	if e, _, _ := st.GetEnrolment(ctx, c.ID, m); e.Status != domain.EnrolmentCompleted {
		t.Fatalf("a completed enrolment became %s", e.Status)
	}
}

func TestBirthdayBonusOnceAYear(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	m := newMember(t, st, "bday@example.com")
	now := testNow
	for range 3 {
		if _, err := st.GrantBirthdayBonus(ctx, m, 2026, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.GrantBirthdayBonus(ctx, m, 2027, now); err != nil {
		t.Fatal(err)
	}
	if n := checkLedger(t, db, m); n != 2*domain.DefaultProgram().BirthdayBonusPoints {
		t.Fatalf("balance %d; want one bonus per year", n)
	}
}
