package activities

import (
	"context"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// RecordEnrolment records the member's enrolment in the challenge (idempotent).
func (a *Activities) RecordEnrolment(ctx context.Context, e domain.EnrolmentUpdate) error {
	return classify(a.Store.RecordEnrolment(ctx, e.Challenge, e.MemberID, e.EnrolledAt))
}

// RecordChallengeProgress stores an enrolment's progress for the member's reads.
func (a *Activities) RecordChallengeProgress(ctx context.Context, e domain.EnrolmentUpdate) error {
	return classify(a.Store.RecordChallengeProgress(ctx, e.Challenge.ID, e.MemberID, e.Progress))
}

// CompleteChallenge credits the reward and awards the badge, once per member and challenge.
func (a *Activities) CompleteChallenge(ctx context.Context, e domain.EnrolmentUpdate) (domain.ChallengeReward, error) {
	r, err := a.Store.CompleteChallenge(ctx, e.Challenge, e.MemberID, e.Progress, a.Store.Now())
	return r, classify(err)
}

// ExpireEnrolment marks an enrolment that missed its deadline expired.
func (a *Activities) ExpireEnrolment(ctx context.Context, e domain.EnrolmentUpdate) error {
	return classify(a.Store.ExpireEnrolment(ctx, e.Challenge.ID, e.MemberID, e.Progress))
}

// ChallengesForPurchase lists the challenges a member's purchase at t counts for.
func (a *Activities) ChallengesForPurchase(ctx context.Context, memberID string, t time.Time) ([]domain.ChallengeMatch, error) {
	cs, enrolled, err := a.Store.ChallengesForPurchase(ctx, memberID, t)
	if err != nil {
		return nil, classify(err)
	}
	out := make([]domain.ChallengeMatch, len(cs))
	for i := range cs {
		out[i] = domain.ChallengeMatch{Challenge: cs[i], Enrolled: enrolled[i]}
	}
	return out, nil
}

// MemberLifecycle reads what the member workflow needs for its birthday and win-back timers.
func (a *Activities) MemberLifecycle(ctx context.Context, memberID string) (domain.MemberLifecycle, error) {
	l, err := a.Store.MemberLifecycle(ctx, memberID, a.Store.Now())
	l.Birthdate = birthdayOnly(l.Birthdate)
	return l, classify(err)
}

// GrantBirthdayBonus credits the birthday bonus of the given year, once.
func (a *Activities) GrantBirthdayBonus(ctx context.Context, memberID string, year int) (int64, error) {
	n, err := a.Store.GrantBirthdayBonus(ctx, memberID, year, a.Store.Now())
	return n, classify(err)
}

// birthdayOnly is the day of a birthdate in a year of no meaning (2000, a leap year, so that 29 February stays):
// the member workflow arms the birthday timer from the day and month alone (domain.NextBirthday), and the birthdate
// itself never enters a workflow's history.
func birthdayOnly(birthdate string) string {
	d, err := time.Parse(time.DateOnly, birthdate)
	if err != nil {
		return ""
	}
	return time.Date(2000, d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}
