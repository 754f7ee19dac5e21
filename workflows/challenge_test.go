package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// fakeEngagement stands in for the engagement activities: it credits a challenge's reward once per member and
// challenge, as the store does, and records what the workflow asked.
type fakeEngagement struct {
	mu          sync.Mutex
	credited    map[string]int
	completions int
	expired     []int64
	progress    []int64
	notified    []string
	// now, when set, is the test clock; completedAt is when the first completion ran.
	now         func() time.Time
	completedAt time.Time
	// failFirstCompletion makes the first completion record the reward and then fail (the worker died before
	// answering), so that the retry finds it recorded.
	failFirstCompletion bool
}

func (f *fakeEngagement) register(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterWorkflowWithOptions(ChallengeWorkflow, workflow.RegisterOptions{Name: ChallengeWorkflowName})
	RecordEnrolment.fake(env, func(context.Context, domain.EnrolmentUpdate) error { return nil })
	RecordChallengeProgress.fake(env, func(_ context.Context, e domain.EnrolmentUpdate) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.progress = append(f.progress, e.Progress)
		return nil
	})
	ExpireEnrolment.fake(env, func(_ context.Context, e domain.EnrolmentUpdate) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.expired = append(f.expired, e.Progress)
		return nil
	})
	CompleteChallenge.fake(env, func(_ context.Context, e domain.EnrolmentUpdate) (domain.ChallengeReward, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.completions++
		if f.now != nil && f.completedAt.IsZero() {
			f.completedAt = f.now()
		}
		key := domain.ChallengeRewardKey(e.Challenge.ID, e.MemberID)
		if f.credited[key] > 0 {
			return domain.ChallengeReward{Badge: e.Challenge.Badge, Replayed: true}, nil
		}
		f.credited[key]++
		if f.failFirstCompletion && f.completions == 1 {
			return domain.ChallengeReward{}, errors.New("connection reset after commit")
		}
		return domain.ChallengeReward{Points: e.Challenge.RewardPoints, Badge: e.Challenge.Badge}, nil
	})
	SendNotification.fake(env, func(_ context.Context, n domain.Notification) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.notified = append(f.notified, n.Key)
		return nil
	})
}

var challengeStart = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // a Monday

func challengeEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeEngagement) {
	env := newEnv(t)
	env.SetStartTime(challengeStart)
	f := &fakeEngagement{credited: map[string]int{}}
	f.register(env)
	return env, f
}

func testChallenge(kind string, target int64) domain.Challenge {
	return domain.Challenge{ID: "ch-" + kind, Name: "Test " + kind, Goal: domain.ChallengeGoal{Kind: kind, Target: target},
		WindowDays: 21, RewardPoints: 500, Badge: "badge-" + kind}
}

// step is something that happens to an enrolment, hours after it starts.
type step struct {
	after    time.Duration
	purchase *domain.ChallengePurchase
	ret      *domain.Return
}

func buy(id, store string, day int, amount int64) step {
	p := domain.ChallengePurchase{TransactionID: id, StoreID: store, OccurredAt: challengeStart.AddDate(0, 0, day).Add(time.Hour), Amount: amount}
	return step{after: time.Duration(day)*24*time.Hour + 2*time.Hour, purchase: &p}
}

func giveBack(id string, day int, amount int64) step {
	return step{after: time.Duration(day)*24*time.Hour + 3*time.Hour, ret: &domain.Return{ReturnID: "R-" + id, TransactionID: id, Amount: &amount}}
}

func runChallenge(t *testing.T, env *testsuite.TestWorkflowEnvironment, c domain.Challenge, steps []step) ChallengeState {
	t.Helper()
	for _, s := range steps {
		env.RegisterDelayedCallback(func() {
			if s.purchase != nil {
				env.SignalWorkflow(SignalChallengePurchase, *s.purchase)
			}
			if s.ret != nil {
				env.SignalWorkflow(SignalChallengeReturn, *s.ret)
			}
		}, s.after)
	}
	env.ExecuteWorkflow(ChallengeWorkflow, ChallengeInput{Challenge: c, MemberID: memberID, EnrolledAt: challengeStart})
	if !env.IsWorkflowCompleted() {
		t.Fatal("the enrolment did not end")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st ChallengeState
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Per kind: purchases that reach the goal, purchases that fall short, and purchases that would reach it but for a
// return.
var challengeCases = []struct {
	kind              string
	target            int64
	complete, short   []step
	returned          []step
	shortAt, returnAt int64 // progress at the deadline
}{
	{kind: domain.GoalPurchases, target: 3,
		complete: []step{buy("T1", "a", 1, 100), buy("T2", "a", 2, 100), buy("T3", "a", 3, 100)},
		short:    []step{buy("T1", "a", 1, 100), buy("T2", "a", 2, 100)}, shortAt: 2,
		returned: []step{buy("T1", "a", 1, 100), buy("T2", "a", 2, 100), giveBack("T1", 3, 100), buy("T3", "a", 4, 100)}, returnAt: 2},
	{kind: domain.GoalSpend, target: 5000,
		complete: []step{buy("T1", "a", 1, 2000), buy("T2", "a", 2, 3000)},
		short:    []step{buy("T1", "a", 1, 2000), buy("T2", "a", 2, 2999)}, shortAt: 4999,
		returned: []step{buy("T1", "a", 1, 2000), giveBack("T1", 2, 500), buy("T2", "a", 3, 3000)}, returnAt: 4500},
	{kind: domain.GoalDistinctStores, target: 2,
		complete: []step{buy("T1", "a", 1, 100), buy("T2", "a", 2, 100), buy("T3", "b", 3, 100)},
		short:    []step{buy("T1", "a", 1, 100), buy("T2", "a", 2, 100)}, shortAt: 1,
		returned: []step{buy("T1", "a", 1, 100), giveBack("T1", 2, 100), buy("T2", "b", 3, 100)}, returnAt: 1},
	{kind: domain.GoalWeeklyStreak, target: 2,
		complete: []step{buy("T1", "a", 1, 100), buy("T2", "a", 8, 100)},
		short:    []step{buy("T1", "a", 1, 100), buy("T2", "a", 15, 100)}, shortAt: 1,
		returned: []step{buy("T1", "a", 1, 100), giveBack("T1", 2, 100), buy("T2", "a", 8, 100)}, returnAt: 1},
}

func TestEachChallengeKindCompletes(t *testing.T) {
	for _, c := range challengeCases {
		t.Run(c.kind, func(t *testing.T) {
			env, f := challengeEnv(t)
			st := runChallenge(t, env, testChallenge(c.kind, c.target), c.complete)
			if st.Status != domain.EnrolmentCompleted || st.Progress < c.target || st.PointsEarned != 500 {
				t.Fatalf("state %+v; want completed with 500 points", st)
			}
			if len(f.credited) != 1 || len(f.expired) != 0 {
				t.Fatalf("credited %v, expired %v", f.credited, f.expired)
			}
			if len(f.notified) != 1 || f.notified[0] != domain.ChallengeCompletedKey("ch-"+c.kind, memberID) {
				t.Fatalf("notifications %v", f.notified)
			}
		})
	}
}

func TestEachChallengeKindExpiresAtItsDeadline(t *testing.T) {
	for _, c := range challengeCases {
		t.Run(c.kind, func(t *testing.T) {
			env, f := challengeEnv(t)
			st := runChallenge(t, env, testChallenge(c.kind, c.target), c.short)
			if st.Status != domain.EnrolmentExpired || st.Progress != c.shortAt {
				t.Fatalf("state %+v; want expired at progress %d", st, c.shortAt)
			}
			if got := env.Now(); got.Before(challengeStart.AddDate(0, 0, 21)) {
				t.Fatalf("expired at %v, before the deadline", got)
			}
			if f.completions != 0 || len(f.expired) != 1 || f.expired[0] != c.shortAt {
				t.Fatalf("completions %d, expired %v", f.completions, f.expired)
			}
		})
	}
}

func TestAReturnUndoesChallengeProgress(t *testing.T) {
	for _, c := range challengeCases {
		t.Run(c.kind, func(t *testing.T) {
			env, f := challengeEnv(t)
			st := runChallenge(t, env, testChallenge(c.kind, c.target), c.returned)
			if st.Status != domain.EnrolmentExpired || st.Progress != c.returnAt {
				t.Fatalf("state %+v; want expired at progress %d (the return undid its purchase)", st, c.returnAt)
			}
			if f.completions != 0 {
				t.Fatalf("completed despite the return")
			}
		})
	}
}

func TestChallengeRewardOnceWhenTheCompletingPurchaseIsRetried(t *testing.T) {
	env, f := challengeEnv(t)
	f.failFirstCompletion = true
	c := testChallenge(domain.GoalPurchases, 2)
	steps := []step{buy("T1", "a", 1, 100), buy("T1", "a", 1, 100), buy("T2", "a", 2, 100), buy("T2", "a", 2, 100)}
	st := runChallenge(t, env, c, steps)
	if st.Status != domain.EnrolmentCompleted || st.Purchases != 2 {
		t.Fatalf("state %+v; want completed on two distinct purchases", st)
	}
	if n := f.credited[domain.ChallengeRewardKey(c.ID, memberID)]; n != 1 || f.completions != 2 {
		t.Fatalf("reward credited %d times over %d attempts; want once", n, f.completions)
	}
	if len(f.notified) != 1 {
		t.Fatalf("notifications %v", f.notified)
	}
}

func TestChallengeIgnoresPurchasesOutsideItsEnrolment(t *testing.T) {
	env, _ := challengeEnv(t)
	early := domain.ChallengePurchase{TransactionID: "T0", StoreID: "a", OccurredAt: challengeStart.Add(-time.Hour), Amount: 100}
	late := domain.ChallengePurchase{TransactionID: "T9", StoreID: "a", OccurredAt: challengeStart.AddDate(0, 0, 30), Amount: 100}
	st := runChallenge(t, env, testChallenge(domain.GoalPurchases, 1), []step{{after: time.Hour, purchase: &early}, {after: 2 * time.Hour, purchase: &late}})
	if st.Status != domain.EnrolmentExpired || st.Progress != 0 {
		t.Fatalf("state %+v: purchases before enrolling or after the deadline must not count", st)
	}
}

// A purchase delivered while the progress activity runs sits in the signal channel beside that activity's result;
// when the run then continues as new it must be carried, not dropped with the channel.
func TestChallengeCarriesASignalDeliveredBesideTheProgressBeforeContinuingAsNew(t *testing.T) {
	env, f := challengeEnv(t)
	c := testChallenge(domain.GoalPurchases, 2)
	env.OnActivity(RecordChallengeProgress.name, mock.Anything, mock.Anything).Return(func(_ context.Context, e domain.EnrolmentUpdate) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.progress = append(f.progress, e.Progress)
		return nil
	}).After(time.Hour)
	first, second := buy("T1", "a", 1, 100), buy("T2", "a", 1, 100)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalChallengePurchase, *first.purchase) }, first.after)
	// Half-way through recording T1's progress: the history reaches its bound and T2 arrives.
	env.RegisterDelayedCallback(func() {
		env.SetCurrentHistoryLength(100)
		env.SignalWorkflow(SignalChallengePurchase, *second.purchase)
	}, first.after+30*time.Minute)
	env.ExecuteWorkflow(ChallengeWorkflow, ChallengeInput{Challenge: c, MemberID: memberID, EnrolledAt: challengeStart, MaxHistoryEvents: 100})

	next := continuedAs[ChallengeInput](t, env)
	if !next.Continued || len(next.Progress.Purchases) != 1 {
		t.Fatalf("next run input %+v; want T1 counted", next)
	}
	// The next run counts T2 before it waits for anything: the goal of two purchases is reached.
	env2, f2 := challengeEnv(t)
	next.MaxHistoryEvents = 0
	env2.ExecuteWorkflow(ChallengeWorkflow, next)
	if err := env2.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var st ChallengeState
	if err := env2.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Status != domain.EnrolmentCompleted || st.Purchases != 2 || f2.completions != 1 {
		t.Fatalf("next run ended %+v after %d completions; want completed on T1 and T2 (T2 was lost at the run boundary)", st, f2.completions)
	}
	if !env2.Now().Equal(challengeStart) {
		t.Fatalf("next run completed at %v; want at once", env2.Now())
	}
}
