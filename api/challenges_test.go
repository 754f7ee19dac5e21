package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/worker"
	"github.com/perkflow/perkflow/workflows"
)

type enrolment struct {
	ChallengeID string `json:"challenge_id"`
	Status      string `json:"status"`
	Progress    int64  `json:"progress"`
	Target      int64  `json:"target"`
}

func TestChallengeJoinProgressCompletionAndLeaderboard(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	mkt := s.Keys["marketer"]
	res := s.Do("POST", "/v1/challenges", mkt, map[string]any{
		"name": "Two visits", "goal": map[string]any{"kind": "purchases", "target": 2}, "window_days": 30,
		"reward_points": 250, "badge": "regular",
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("create challenge: %d %s", res.Status, res.Body)
	}
	var c struct {
		ChallengeID string `json:"challenge_id"`
	}
	res.Decode(t, &c)
	for _, bad := range []map[string]any{
		{"name": "x", "goal": map[string]any{"kind": "jump", "target": 2}, "window_days": 3, "reward_points": 1},
		{"name": "x", "goal": map[string]any{"kind": "spend", "target": 2}, "reward_points": 1},
		{"name": "x", "goal": map[string]any{"kind": "spend", "target": 2}, "window_days": 3, "reward_points": 1, "points": 9},
	} {
		if r := s.Do("POST", "/v1/challenges", mkt, bad); r.Status != http.StatusBadRequest {
			t.Errorf("bad challenge %v: %d %s", bad, r.Status, r.Body)
		}
	}
	if r := s.Do("POST", "/v1/challenges", s.Keys["pos"], map[string]any{}); r.Status != http.StatusForbidden {
		t.Errorf("pos created a challenge: %d", r.Status)
	}

	ada := register(t, s, "ada@example.com")
	tok := s.MemberToken(ada)
	if r := s.Do("GET", "/v1/challenges", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("list challenges: %d %s", r.Status, r.Body)
	}
	res = s.Do("POST", "/v1/challenges/"+c.ChallengeID+"/join", tok, nil, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("join: %d %s", res.Status, res.Body)
	}
	if r := s.Do("POST", "/v1/challenges/"+c.ChallengeID+"/join", tok, nil); r.Status != http.StatusOK {
		t.Fatalf("join again while enrolled: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/v1/challenges/nope/join", tok, nil); r.Status != http.StatusNotFound {
		t.Fatalf("join an unknown challenge: %d %s", r.Status, r.Body)
	}
	for i, tx := range []string{"E-1", "E-2"} {
		p := purchase(tx, ada, 10000)
		p["occurred_at"] = time.Now().UTC().Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		if r := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], p, "Prefer", "wait=20"); r.Status != http.StatusCreated {
			t.Fatalf("accrue %s: %d %s", tx, r.Status, r.Body)
		}
	}
	var page struct {
		Items  []enrolment `json:"items"`
		Badges []string    `json:"badges"`
	}
	eventually(t, 30*time.Second, "the challenge completes", func() bool {
		r := s.Do("GET", "/v1/members/"+ada+"/challenges", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("member challenges: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &page)
		return len(page.Items) == 1 && page.Items[0].Status == "completed"
	})
	if page.Items[0].Progress != 2 || len(page.Badges) != 1 || page.Badges[0] != "regular" {
		t.Fatalf("enrolment %+v, badges %v", page.Items[0], page.Badges)
	}
	if m := getMember(t, s, ada, s.Keys["support"]); m.Balance.Lifetime != 200+250 {
		t.Fatalf("balance %+v; want 200 earned and the 250-point reward once", m.Balance)
	}
	if r := s.Do("POST", "/v1/challenges/"+c.ChallengeID+"/join", tok, nil); r.Status != http.StatusConflict {
		t.Fatalf("join a completed challenge: %d %s", r.Status, r.Body)
	}
	// Another member cannot read Ada's challenges.
	bob := register(t, s, "bob@example.com")
	if r := s.Do("GET", "/v1/members/"+ada+"/challenges", s.MemberToken(bob), nil); r.Status != http.StatusNotFound {
		t.Fatalf("another member read the challenges: %d", r.Status)
	}

	var board struct {
		Items []struct {
			Rank        int    `json:"rank"`
			DisplayName string `json:"display_name"`
			Points      int64  `json:"points"`
		} `json:"items"`
	}
	res = s.Do("GET", "/v1/gamification/leaderboard?period=all", tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("leaderboard: %d %s", res.Status, res.Body)
	}
	res.Decode(t, &board)
	if len(board.Items) != 1 || board.Items[0].DisplayName != "Ada L." || board.Items[0].Points != 450 {
		t.Fatalf("leaderboard %+v; want Ada L. with 450 points (earned and bonus), by display name only", board.Items)
	}
	if r := s.Do("GET", "/v1/gamification/leaderboard?period=year", tok, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("unknown period: %d", r.Status)
	}
	if r := s.Do("GET", "/v1/gamification/leaderboard", s.Keys["pos"], nil); r.Status != http.StatusForbidden {
		t.Fatalf("pos read the leaderboard: %d", r.Status)
	}
	s.LedgerInvariants()
	s.RecordHistory(workflows.ChallengeWorkflowID(c.ChallengeID, ada), "", "challenge_join_complete")
	s.RecordHistory(workflows.MemberWorkflowID(ada), "", "member_engagement_challenge")
}

func TestExpiryScheduleIsCreatedOnceAndUpdated(t *testing.T) {
	ctx := context.Background()
	c := temporal.Client
	for range 2 { // every worker start calls it
		if err := worker.EnsureExpirySchedule(ctx, c, "queue-a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := worker.EnsureExpirySchedule(ctx, c, "queue-b"); err != nil {
		t.Fatal(err)
	}
	d, err := c.ScheduleClient().GetHandle(ctx, workflows.ExpiryScheduleID).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.TaskQueue != "queue-b" || a.Workflow != workflows.ExpiryWorkflowName {
		t.Fatalf("schedule action %+v; want the expiry workflow on the latest task queue", d.Schedule.Action)
	}
	if len(d.Schedule.Spec.CronExpressions) != 1 && len(d.Schedule.Spec.Calendars) == 0 {
		t.Fatalf("schedule spec %+v; want a daily time", d.Schedule.Spec)
	}
}

// A purchase signalled to an enrolment while it records its progress, right before it continues as new, is counted
// by the next run: the run drains its signal channel and carries what it took (GetVersion
// "challenge-carry-signals"). The enrolment's run is bounded to continue as new after each progress record, and
// the progress write is held by a row lock while the second purchase arrives.
func TestChallengeCountsAPurchaseSignalledWhileItRecordsProgressBeforeContinuingAsNew(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	ctx := context.Background()
	res := s.Do("POST", "/v1/challenges", s.Keys["marketer"], map[string]any{
		"name": "Two visits", "goal": map[string]any{"kind": "purchases", "target": 2}, "window_days": 30, "reward_points": 250,
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("create challenge: %d %s", res.Status, res.Body)
	}
	var created struct {
		ChallengeID string `json:"challenge_id"`
	}
	res.Decode(t, &created)
	c, err := s.Store.GetChallenge(ctx, created.ChallengeID)
	if err != nil {
		t.Fatal(err)
	}
	ada := register(t, s, "ada@example.com")
	enrolled := time.Now().UTC().Add(-time.Minute)
	id := workflows.ChallengeWorkflowID(c.ID, ada)
	run, err := s.Temporal.ExecuteWorkflow(ctx, workflows.ChallengeStartOptions(c.ID, ada, s.TaskQueue), workflows.ChallengeWorkflowName,
		workflows.ChallengeInput{Challenge: c, MemberID: ada, EnrolledAt: enrolled, MaxHistoryEvents: 1})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the enrolment is recorded", func() bool {
		var n int
		_ = s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM challenge_enrolments WHERE challenge_id = $1 AND member_id = $2`, c.ID, ada).Scan(&n)
		return n == 1
	})
	tx, err := s.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM challenge_enrolments WHERE challenge_id = $1 AND member_id = $2 FOR UPDATE`, c.ID, ada); err != nil {
		t.Fatal(err)
	}
	purchase := func(tx string) domain.ChallengePurchase {
		return domain.ChallengePurchase{TransactionID: tx, StoreID: "s1", OccurredAt: enrolled.Add(time.Second), Amount: 1000}
	}
	if err := s.Temporal.SignalWorkflow(ctx, id, "", workflows.SignalChallengePurchase, purchase("CH-1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the progress record is under way (held by the lock)", func() bool {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, run.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == workflows.RecordChallengeProgress.Name() && a.GetState() == enums.PENDING_ACTIVITY_STATE_STARTED {
				return true
			}
		}
		return false
	})
	if err := s.Temporal.SignalWorkflow(ctx, id, "", workflows.SignalChallengePurchase, purchase("CH-2")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []enrolment `json:"items"`
	}
	eventually(t, 30*time.Second, "the enrolment completes on both purchases", func() bool {
		r := s.Do("GET", "/v1/members/"+ada+"/challenges", s.MemberToken(ada), nil)
		r.Decode(t, &page)
		return len(page.Items) == 1 && page.Items[0].Status == "completed"
	})
	if m := getMember(t, s, ada, s.Keys["support"]); m.Balance.Lifetime != 250 {
		t.Fatalf("balance %+v; want the 250-point reward once", m.Balance)
	}
	s.LedgerInvariants()
	s.RecordHistory(id, run.GetRunID(), "challenge_carry_signals_continue_as_new")
}
