package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

func doubleBooks(id string, budget *int64) domain.Campaign {
	now := testNow
	return domain.Campaign{ID: id, Name: "Double books", Kind: domain.CampaignMultiplier, StartsAt: now.Add(-time.Hour),
		EndsAt: now.Add(time.Hour), BudgetPoints: budget, CreatedBy: "test",
		Rule: &domain.CampaignRule{Conditions: domain.Conditions{Categories: []string{"books"}}, Action: domain.Action{Type: domain.ActionMultiplier, Percent: 200}}}
}

// activate saves the campaign and puts its rule in force from an hour ago, as the campaign workflow does at start.
func activate(t *testing.T, st *store.Store, c domain.Campaign) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.SaveCampaign(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveRule(ctx, c.EarningRule(), true, c.StartsAt, "campaign"); err != nil {
		t.Fatal(err)
	}
}

func TestCampaignBudgetHoldsUnderConcurrentAccruals(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	const budget = 250
	activate(t, st, doubleBooks("c-budget", amountPtr(budget)))
	// 16 members each buy 40 EUR of books: base 40 + campaign 40 (× 200 % is +100 % of base). 16 × 40 = 640 wanted.
	var wg sync.WaitGroup
	results := make([]store.AccrualResult, 16)
	errs := make([]error, 16)
	for i := range 16 {
		m := newMember(t, st, fmt.Sprintf("budget%d@example.com", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = st.AccruePurchase(ctx, basket(fmt.Sprintf("T-B-%d", i), m, testNow.Add(-time.Minute), lineItem("BOOK", "books", 1, 4000)), testNow)
		}()
	}
	wg.Wait()
	var campaignTotal, earned int64
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var sum int64
		for _, c := range r.Transaction.Contributions {
			sum += c.Points
			if c.RuleID == domain.CampaignRuleID("c-budget") {
				campaignTotal += c.Points
			}
		}
		if sum != r.Transaction.PointsEarned {
			t.Fatalf("contributions %+v add to %d, earned %d", r.Transaction.Contributions, sum, r.Transaction.PointsEarned)
		}
		earned += r.Transaction.PointsEarned
	}
	if campaignTotal != budget {
		t.Fatalf("campaign gave %d over 16 concurrent accruals, budget %d", campaignTotal, budget)
	}
	if earned != 16*40+budget {
		t.Fatalf("earned %d, want base %d + budget %d", earned, 16*40, budget)
	}
	rep, err := st.CampaignReport(ctx, "c-budget")
	if err != nil {
		t.Fatal(err)
	}
	if rep.PointsIssued != budget || !rep.BudgetExhausted || rep.PointsCut != 16*40-budget || rep.Participants != 7 || *rep.BudgetUsedPercent != 100 {
		t.Fatalf("report %+v", rep)
	}
}

func TestCampaignWithoutBudgetGivesEverything(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	activate(t, st, doubleBooks("c-free", nil))
	m := newMember(t, st, "free@example.com")
	r, err := st.AccruePurchase(ctx, basket("T-F", m, testNow.Add(-time.Minute), lineItem("BOOK", "books", 1, 1000), lineItem("FOOD", "food", 1, 1000)), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.Transaction.PointsEarned != 30 {
		t.Fatalf("earned %d with %+v, want 20 base + 10 campaign", r.Transaction.PointsEarned, r.Transaction.Contributions)
	}
	// The rule ends (pause, end or cancel): a later purchase earns the base only.
	if err := st.DeleteRule(ctx, domain.CampaignRuleID("c-free"), testNow, "campaign"); err != nil {
		t.Fatal(err)
	}
	r, err = st.AccruePurchase(ctx, basket("T-F2", m, testNow, lineItem("BOOK", "books", 1, 1000)), testNow)
	if err != nil || r.Transaction.PointsEarned != 10 {
		t.Fatalf("after the campaign: %d, %v", r.Transaction.PointsEarned, err)
	}
}

func TestBonusOncePerMemberWithinBudget(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	c := domain.Campaign{ID: "c-bonus", Name: "Bonus", Kind: domain.CampaignBonus, BonusPoints: 100, BudgetPoints: amountPtr(250),
		StartsAt: testNow.Add(-time.Hour), EndsAt: testNow.Add(time.Hour), CreatedBy: "test"}
	if _, err := st.SaveCampaign(ctx, c, 3); err != nil {
		t.Fatal(err)
	}
	var got []int64
	for i := range 3 {
		m := newMember(t, st, fmt.Sprintf("bonus%d@example.com", i))
		for range 2 { // a retry gives nothing more
			n, err := st.GrantCampaignBonus(ctx, "c-bonus", m, 100, testNow)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
	}
	// A member gets the whole bonus or none: the last 50 of the budget are not handed out in part.
	if fmt.Sprint(got) != "[100 0 100 0 0 0]" {
		t.Fatalf("granted %v", got)
	}
	r, err := st.CampaignReport(ctx, "c-bonus")
	if err != nil {
		t.Fatal(err)
	}
	if r.PointsIssued != 200 || r.SegmentAtStart == nil || *r.SegmentAtStart != 3 || r.MembersCredited == nil || *r.MembersCredited != 2 {
		t.Fatalf("report %+v, want 200 issued, a segment of 3 at start, 2 members credited", r)
	}
}

func TestSegments(t *testing.T) {
	st, db := setup(t)
	ctx := context.Background()
	now := testNow
	ids := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		r := domain.Registration{MemberID: uuid.NewString(), Email: n + "@seg.example.com", Name: n, Phone: "+33612345678",
			Consent: domain.Consent{Email: n != "d", SMS: n == "a"}}
		if _, err := st.CreateMember(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids[n] = r.MemberID
	}
	allowLateClaims(t, st, 120) // d's purchase, 90 days before joining, earns what the segment selects on
	// b joined long ago; c bought recently; d earned a lot.
	if _, err := db.Pool.Exec(ctx, `UPDATE members SET joined_at = $2 WHERE id = $1`, ids["b"], now.AddDate(-2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccruePurchase(ctx, basket("T-SEG-C", ids["c"], now.Add(-time.Hour), lineItem("X", "x", 1, 500)), now); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccruePurchase(ctx, basket("T-SEG-D", ids["d"], now.AddDate(0, 0, -90), lineItem("X", "x", 1, 100000)), now); err != nil {
		t.Fatal(err)
	}
	year := now.AddDate(-1, 0, 0)
	for _, tc := range []struct {
		seg  domain.Segment
		want int64
	}{
		{domain.Segment{}, 4},
		{domain.Segment{Consent: domain.ChannelEmail}, 3},
		{domain.Segment{Consent: domain.ChannelSMS}, 1},
		{domain.Segment{JoinedBefore: &year}, 1},
		{domain.Segment{JoinedAfter: &year}, 3},
		{domain.Segment{InactiveDays: 30}, 3},
		{domain.Segment{MinLifetimePoints: 1000}, 1},
		{domain.Segment{Tiers: []string{"nope"}}, 0},
		{domain.Segment{Consent: domain.ChannelEmail, InactiveDays: 30}, 2},
	} {
		n, err := st.SegmentSize(ctx, tc.seg, now)
		if err != nil {
			t.Fatal(err)
		}
		page, err := st.SegmentPage(ctx, tc.seg, now, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want || int64(len(page)) != n {
			t.Errorf("segment %+v: size %d, page %d, want %d", tc.seg, n, len(page), tc.want)
		}
	}
	// Paging resumes after the cursor.
	first, _ := st.SegmentPage(ctx, domain.Segment{}, now, "", 2)
	rest, _ := st.SegmentPage(ctx, domain.Segment{}, now, first[1], 10)
	if len(first) != 2 || len(rest) != 2 || rest[0] <= first[1] {
		t.Fatalf("pages %v then %v", first, rest)
	}
}

// A campaign completed or cancelled stays so: a run of a recurring campaign that ends after its series did does not
// bring the record back.
func TestCampaignOverStaysOver(t *testing.T) {
	st, _ := setup(t)
	ctx := context.Background()
	c := doubleBooks("c-over", nil)
	c.Schedule = "0 9 * * 5"
	if _, err := st.SaveCampaign(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	for _, status := range []string{domain.CampaignActive, domain.CampaignCompleted, domain.CampaignScheduled} {
		if err := st.SetCampaignStatus(ctx, "c-over", status, c.EndsAt); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.GetCampaign(ctx, "c-over"); err != nil || got.Status != domain.CampaignCompleted {
		t.Fatalf("campaign %+v %v, want it completed still", got, err)
	}
}
