package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
	"github.com/perkflow/perkflow/workflows"
)

type member struct {
	MemberID string `json:"member_id"`
	Status   string `json:"status"`
	Balance  *struct {
		Available  int64 `json:"available"`
		Pending    int64 `json:"pending"`
		Lifetime   int64 `json:"lifetime"`
		Qualifying int64 `json:"qualifying"`
	} `json:"balance"`
	Tier *struct {
		Code         string `json:"code"`
		PointsToNext int64  `json:"points_to_next"`
	} `json:"tier"`
}

type accrual struct {
	TransactionID string `json:"transaction_id"`
	Status        string `json:"status"`
	PointsEarned  int64  `json:"points_earned"`
	Balance       *struct {
		Available int64 `json:"available"`
	} `json:"balance"`
}

func register(t *testing.T, s *itest.Stack, email string) string {
	t.Helper()
	res := s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{
		"email": email, "name": "Ada Lovelace", "consent": map[string]bool{"email": true},
	}, "Prefer", "wait=20")
	if res.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	var m member
	res.Decode(t, &m)
	return m.MemberID
}

func purchase(txID, memberID string, cents int64) map[string]any {
	return map[string]any{
		"transaction_id": txID, "member_id": memberID, "store_id": "store-1", "channel": "store",
		"occurred_at": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"total":       map[string]any{"amount": cents, "currency": "EUR"},
		"items":       []map[string]any{{"sku": "SKU-1", "category": "books", "quantity": 1, "unit_price": map[string]any{"amount": cents, "currency": "EUR"}}},
	}
}

func getMember(t *testing.T, s *itest.Stack, id, token string) member {
	t.Helper()
	res := s.Do("GET", "/v1/members/"+id, token, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("get member: %d %s", res.Status, res.Body)
	}
	var m member
	res.Decode(t, &m)
	return m
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRegisterAccrueAndReadBalance(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "ada@example.com")

	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-1001", id, 12_345))
	if res.Status != http.StatusCreated {
		t.Fatalf("accrue: %d %s", res.Status, res.Body)
	}
	var a accrual
	res.Decode(t, &a)
	if a.PointsEarned != 123 || a.Status != "accrued" || a.Balance == nil || a.Balance.Available != 123 {
		t.Fatalf("accrual = %s, want 123 points (1 per EUR, rounded down) and balance 123", res.Body)
	}

	// The member sees their own balance with a member token; POS sees it with its key.
	m := getMember(t, s, id, s.MemberToken(id))
	if m.Balance.Available != 123 || m.Balance.Lifetime != 123 || m.Balance.Qualifying != 123 || m.Tier.Code != "member" || m.Tier.PointsToNext != 1000-123 {
		t.Fatalf("member = %+v %+v", *m.Balance, *m.Tier)
	}
	getMember(t, s, id, s.Keys["pos"])

	// History shows the entry with its running balance.
	res = s.Do("GET", "/v1/members/"+id+"/history", s.Keys["support"], nil)
	var page struct {
		Items []struct {
			Kind         string `json:"kind"`
			Points       int64  `json:"points"`
			SourceID     string `json:"source_id"`
			BalanceAfter int64  `json:"balance_after"`
		} `json:"items"`
	}
	res.Decode(t, &page)
	if res.Status != 200 || len(page.Items) != 1 || page.Items[0].Kind != "accrual" || page.Items[0].Points != 123 ||
		page.Items[0].SourceID != "T-1001" || page.Items[0].BalanceAfter != 123 {
		t.Fatalf("history: %d %s", res.Status, res.Body)
	}

	// The transaction reads back with what it earned.
	res = s.Do("GET", "/v1/transactions/T-1001", s.Keys["support"], nil)
	if res.Status != 200 {
		t.Fatalf("get transaction: %d %s", res.Status, res.Body)
	}
	res.Decode(t, &a)
	if a.PointsEarned != 123 || a.Status != "accrued" {
		t.Fatalf("transaction = %s", res.Body)
	}

	s.RecordHistory(workflows.MemberWorkflowID(id), "", "member_register_accrue")

	// Another member's token cannot see this member: 404, not 403, so existence is not revealed.
	other := register(t, s, "grace@example.com")
	if res := s.Do("GET", "/v1/members/"+id, s.MemberToken(other), nil); res.Status != http.StatusNotFound {
		t.Fatalf("other member's token: %d %s", res.Status, res.Body)
	}
	// A duplicate email (any case) is refused.
	res = s.Do("POST", "/v1/members/register", s.Keys["pos"], map[string]any{"email": "ADA@example.com", "name": "Ada", "consent": map[string]bool{}})
	if res.Status != http.StatusConflict {
		t.Fatalf("duplicate email: %d %s", res.Status, res.Body)
	}
	s.LedgerInvariants()
}

func TestSameTransactionSentTwentyTimesEarnsOnce(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "twenty@example.com")
	body := purchase("T-DUP", id, 5_000)

	var wg sync.WaitGroup
	statuses := make([]int, 20)
	points := make([]int64, 20)
	replayed := make([]bool, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], body)
			statuses[i] = res.Status
			replayed[i] = res.Header.Get("Idempotent-Replayed") == "true"
			var a accrual
			if json.Unmarshal(res.Body, &a) == nil {
				points[i] = a.PointsEarned
			}
		}()
	}
	wg.Wait()
	for i, st := range statuses {
		if st != http.StatusCreated {
			t.Fatalf("request %d: status %d", i, st)
		}
		if points[i] != 50 {
			t.Fatalf("request %d: points_earned %d, want the first result (50)", i, points[i])
		}
	}
	// Only the first of the duplicates answers as the first report; the others are replays.
	if n := len(slices.DeleteFunc(slices.Clone(replayed), func(r bool) bool { return r })); n != 1 {
		t.Fatalf("%d of 20 concurrent duplicates answered without Idempotent-Replayed, want 1", n)
	}
	var entries, total int64
	if err := s.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*), COALESCE(sum(points), 0) FROM ledger_entries WHERE member_id = $1`, id).Scan(&entries, &total); err != nil {
		t.Fatal(err)
	}
	if entries != 1 || total != 50 {
		t.Fatalf("ledger has %d entries totalling %d; want exactly one of 50", entries, total)
	}
	if m := getMember(t, s, id, s.Keys["pos"]); m.Balance.Available != 50 {
		t.Fatalf("balance %d, want 50", m.Balance.Available)
	}
	// A replay answers the first result, balance included, whatever was earned since.
	mustStatus(t, s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-DUP-NEXT", id, 1_000)), 201, "the next purchase")
	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], body)
	var a accrual
	res.Decode(t, &a)
	if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "true" || a.Balance == nil || a.Balance.Available != 50 {
		t.Fatalf("replay answered %d %s, want the first result (balance 50) marked as replayed", res.Status, res.Body)
	}
	// The same id with another content is refused, and earns nothing.
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-DUP", id, 9_900)); res.Status != http.StatusConflict {
		t.Fatalf("reused id with other content: %d %s", res.Status, res.Body)
	}
	s.LedgerInvariants()
}

func TestPurchasesSentWithoutWorkerAreAccruedWhenOneStarts(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{WaitBudget: 300 * time.Millisecond})
	id := register(t, s, "offline@example.com")
	s.StopWorker()

	const n = 10
	for i := range n {
		res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(fmt.Sprintf("T-OFF-%d", i), id, 1_000))
		if res.Status != http.StatusAccepted {
			t.Fatalf("purchase %d without a worker: %d %s", i, res.Status, res.Body)
		}
		if res.Header.Get("Location") == "" {
			t.Fatalf("202 without Location")
		}
		if i == 0 {
			// The status resource shows it pending.
			got := s.Do("GET", res.Header.Get("Location"), s.Keys["pos"], nil)
			if got.Status != 200 || !json.Valid(got.Body) {
				t.Fatalf("status of accepted purchase: %d %s", got.Status, got.Body)
			}
		}
	}
	var written int
	_ = s.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM transactions`).Scan(&written)
	if written != 0 {
		t.Fatalf("%d transactions written with no worker running", written)
	}

	s.StartWorker()
	eventually(t, 30*time.Second, "all purchases accrued", func() bool {
		return getMember(t, s, id, s.Keys["pos"]).Balance.Available == n*10
	})
	s.LedgerInvariants()
}

// sendPurchases reports n purchases of 1 point for a member, prefix-0000 on, `at` a time, and fails the test on any
// answer but 201 or 202.
func sendPurchases(t *testing.T, s *itest.Stack, member, prefix string, n, at int, headers ...string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, at)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(fmt.Sprintf("%s-%04d", prefix, i), member, 100), headers...)
			if res.Status != http.StatusCreated && res.Status != http.StatusAccepted {
				t.Errorf("purchase %d: %d %s", i, res.Status, res.Body)
			}
		}()
	}
	wg.Wait()
}

// Purchases for one member that arrive together go to their workflow together: while one signal is in flight, what
// arrives waits and goes in the next (a group commit), so the run's history holds far fewer signals than purchases,
// and every purchase still accrues exactly once. Sent while no worker runs, as a POS's burst reaches a busy worker.
func TestPurchasesArrivingTogetherAreSignalledTogether(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{WaitBudget: 200 * time.Millisecond, Limits: &api.Limits{}})
	id := register(t, s, "together@example.com")
	const n = 300
	s.StopWorker()
	sendPurchases(t, s, id, "T-GRP", n, 32, "Prefer", "wait=0")
	s.StartWorker()
	eventually(t, time.Minute, "every purchase accrued", func() bool {
		return getMember(t, s, id, s.Keys["pos"]).Balance.Available == n
	})

	ctx := context.Background()
	wid := workflows.MemberWorkflowID(id)
	var signals, carried int64
	it := s.Temporal.GetWorkflowHistory(ctx, wid, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			signals++
			var ps []json.RawMessage
			if a.GetSignalName() != workflows.SignalPurchases {
				t.Fatalf("signal %q, want %q", a.GetSignalName(), workflows.SignalPurchases)
			}
			if err := s.DecodePayload(a.GetInput().GetPayloads()[0], &ps); err != nil {
				t.Fatal(err)
			}
			carried += int64(len(ps))
		}
	}
	// Each purchase in exactly one signal (a 503 "may have been accepted" sent again may add one), and 32 requests at
	// a time shared signals: a signal per purchase would be n.
	if carried < n || carried > n+s.Resends() || signals >= n {
		t.Fatalf("%d signals carried %d purchases (%d sent again); want %d purchases in fewer signals", signals, carried, s.Resends(), n)
	}
	t.Logf("%d purchases in %d signals", carried, signals)
	s.RecordHistory(wid, "", "member_purchases_signalled_together")
	s.LedgerInvariants()
}

func TestContinueAsNewKeepsEveryPurchase(t *testing.T) {
	const limit = 40
	s := itest.NewStack(t, temporal, itest.Options{MemberHistoryLimit: limit, WaitBudget: 200 * time.Millisecond})
	id := register(t, s, "busy@example.com")

	// Far more purchases than one run's history can hold, sent concurrently so that some arrive while the workflow
	// is continuing as new.
	const n = 120
	sendPurchases(t, s, id, "T-CAN", n, 8)
	eventually(t, 60*time.Second, "every purchase accrued", func() bool {
		return getMember(t, s, id, s.Keys["pos"]).Balance.Available == n
	})

	ctx := context.Background()
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.MemberWorkflowID(id), "", workflows.QueryState)
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.MemberState
	if err := v.Get(&st); err != nil {
		t.Fatal(err)
	}
	if st.Stats.Runs < 2 {
		t.Fatalf("workflow never continued as new (runs=%d) with a bound of %d events", st.Stats.Runs, limit)
	}
	// Points are counted once per purchase; purchases_processed counts what reached the workflow, so a purchase
	// answered 503 "may have been accepted" and sent again (s.Do, on a loaded machine) may count twice.
	if st.Stats.PointsEarned != n || st.Stats.PurchasesProcessed < n || st.Stats.PurchasesProcessed > n+s.Resends() {
		t.Fatalf("stats carried across runs = %+v, want %d points and %d to %d purchases processed (%d sent again)",
			st.Stats, n, n, n+s.Resends(), s.Resends())
	}
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	s.RecordHistory(workflows.MemberWorkflowID(id), d.GetWorkflowExecutionInfo().GetFirstRunId(), "member_continue_as_new_first_run")
	if st.HistoryLength > limit+2*workflows.MaxPurchasesPerBatch {
		t.Fatalf("current run history %d, far above the bound %d", st.HistoryLength, limit)
	}
	s.LedgerInvariants()
}

// A backlog larger than a run's input may carry is parked in Postgres and the run continues as new, instead of
// accruing the backlog down first: every purchase accrues once, and the parked purchases are read back (and deleted)
// by the runs after. The purchases are sent while no worker runs, so that the first run finds them all queued
// whatever the machine's speed. The runs are recorded for the replay tests.
func TestABacklogIsParkedAndEveryPurchaseAccrues(t *testing.T) {
	const limit = 200
	// No per-caller limits: one POS sends as fast as the API takes them, as the bench's does.
	s := itest.NewStack(t, temporal, itest.Options{MemberHistoryLimit: limit, WaitBudget: 200 * time.Millisecond, Limits: &api.Limits{}})
	id := register(t, s, "backlog@example.com")
	// More than a run's input carries (2,000) once the first batch is accrued.
	const n = 2300
	s.StopWorker()
	sendPurchases(t, s, id, "T-PARK", n, 32, "Prefer", "wait=0")
	s.StartWorker()
	eventually(t, 3*time.Minute, "every purchase accrued", func() bool {
		return getMember(t, s, id, s.Keys["pos"]).Balance.Available == n
	})

	ctx := context.Background()
	wid := workflows.MemberWorkflowID(id)
	var st workflows.MemberState
	if v, err := s.Temporal.QueryWorkflow(ctx, wid, "", workflows.QueryState); err != nil || v.Get(&st) != nil {
		t.Fatalf("state query: %v", err)
	}
	// The ledger is exact (the balance above, the invariants below); the workflow's own counter may count a purchase
	// sent again after a 503 twice if the copies are more than carriedCounted apart.
	if st.Stats.PointsEarned < n || st.Stats.PointsEarned > n+s.Resends() || st.ParkedPurchases != 0 || len(st.PendingTransactionIDs) != 0 {
		t.Fatalf("state after the backlog (%d sent again): %+v", s.Resends(), st)
	}
	res, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: fmt.Sprintf("WorkflowId = '%s'", wid)})
	if err != nil {
		t.Fatal(err)
	}
	runs := res.GetExecutions()
	slices.SortFunc(runs, func(a, b *workflowpb.WorkflowExecutionInfo) int {
		return a.GetStartTime().AsTime().Compare(b.GetStartTime().AsTime())
	})
	parks := 0
	var parkRun, readRun string
	for i, r := range runs {
		// Every run after the first, which took in the purchases while no worker ran, stays near its bound.
		if i > 0 && r.GetHistoryLength() > 2*limit {
			t.Errorf("run %d holds %d events; the bound is %d", i+1, r.GetHistoryLength(), limit)
		}
		it := s.Temporal.GetWorkflowHistory(ctx, wid, r.GetExecution().GetRunId(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == workflows.ParkPurchases.Name() {
				parks++
				if parkRun == "" && i+1 < len(runs) {
					parkRun, readRun = r.GetExecution().GetRunId(), runs[i+1].GetExecution().GetRunId()
				}
			}
		}
	}
	if parks == 0 || parkRun == "" {
		t.Fatalf("%d runs, none parked a backlog", len(runs))
	}
	var left int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM member_backlog WHERE member_id = $1`, id).Scan(&left); err != nil {
		t.Fatal(err)
	}
	s.RecordHistory(wid, parkRun, "member_park_backlog")
	s.RecordHistory(wid, readRun, "member_read_parked")
	t.Logf("%d runs, %d parks, %d parked rows not deleted yet", len(runs), parks, left)
	s.LedgerInvariants()
}

// Purchases reaching a member one at a time cost its workflow a handful of history events each: the accrual and the
// challenge lookup run as local activities in the workflow task the purchase arrives in, and the win-back timer is
// not re-armed per purchase. (With regular activities and re-arming it was 18 per purchase; a regression there
// shortens every run and doubles the server's work per purchase.)
func TestMemberHistoryEventsPerPurchase(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "steady@example.com")
	ctx := context.Background()
	state := func() workflows.MemberState {
		t.Helper()
		var st workflows.MemberState
		eventually(t, 30*time.Second, "the member workflow's state", func() bool {
			v, err := s.Temporal.QueryWorkflow(ctx, workflows.MemberWorkflowID(id), "", workflows.QueryState)
			return err == nil && v.Get(&st) == nil
		})
		return st
	}
	first := "T-EV-000"
	if res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(first, id, 1_000)); res.Status != http.StatusCreated {
		t.Fatalf("accrue: %d %s", res.Status, res.Body)
	}
	before := state().HistoryLength
	const n = 20
	for i := 1; i <= n; i++ {
		res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase(fmt.Sprintf("T-EV-%03d", i), id, 1_000))
		if res.Status != http.StatusCreated {
			t.Fatalf("accrue %d: %d %s", i, res.Status, res.Body)
		}
	}
	var after workflows.MemberState
	eventually(t, 30*time.Second, "the workflow to finish the last purchase's task", func() bool {
		after = state()
		return after.Stats.PurchasesProcessed >= n+1
	})
	per := float64(after.HistoryLength-before) / n
	t.Logf("%.1f history events per purchase (%d → %d over %d purchases)", per, before, after.HistoryLength, n)
	if per > 8 {
		t.Fatalf("%.1f history events per purchase; want at most 8 (signal, workflow task, accrual and challenge markers)", per)
	}
}

func TestTierUpgradeIsVisibleAndSearchable(t *testing.T) {
	s := itest.NewStack(t, temporal, itest.Options{})
	id := register(t, s, "gold@example.com")
	res := s.Do("POST", "/v1/transactions/accrue", s.Keys["pos"], purchase("T-GOLD", id, 600_000))
	if res.Status != http.StatusCreated {
		t.Fatalf("accrue: %d %s", res.Status, res.Body)
	}
	m := getMember(t, s, id, s.MemberToken(id))
	if m.Tier.Code != "gold" {
		t.Fatalf("tier after 6000 qualifying points: %+v", *m.Tier)
	}
	// The member workflow knows the new tier and its review date, and support can search members by tier.
	ctx := context.Background()
	eventually(t, 20*time.Second, "the member workflow to see the new tier", func() bool {
		v, err := s.Temporal.QueryWorkflow(ctx, workflows.MemberWorkflowID(id), "", workflows.QueryState)
		if err != nil {
			return false
		}
		var st workflows.MemberState
		return v.Get(&st) == nil && st.Tier == "gold" && st.TierReviewAt != nil
	})
	s.RecordHistory(workflows.MemberWorkflowID(id), "", "member_tier_upgrade")
}
