package domain

import (
	"testing"
	"time"
)

func cpurchase(id, store string, at time.Time, amount int64, lines ...ChallengeLine) ChallengePurchase {
	return ChallengePurchase{TransactionID: id, StoreID: store, OccurredAt: at, Amount: amount, Lines: lines}
}

func TestChallengeProgressPerKindAndReturnsUndoIt(t *testing.T) {
	mon := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) // a Monday
	var p ChallengeProgress
	p.AddPurchase(cpurchase("T1", "a", mon, 1000, ChallengeLine{SKU: "X", Quantity: 2, UnitPrice: 500}))
	p.AddPurchase(cpurchase("T2", "b", mon.AddDate(0, 0, 7), 3000))
	p.AddPurchase(cpurchase("T3", "a", mon.AddDate(0, 0, 20), 500)) // third week, Sunday
	if p.AddPurchase(cpurchase("T1", "a", mon, 1000)) {
		t.Fatal("the same transaction counted twice")
	}
	want := map[string]int64{GoalPurchases: 3, GoalSpend: 4500, GoalDistinctStores: 2, GoalWeeklyStreak: 3}
	for k, v := range want {
		if got := p.Value(ChallengeGoal{Kind: k}); got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
	// Half of T1's lines come back: spend falls by their price, T1 still counts.
	if !p.ApplyReturn(Return{ReturnID: "R1", TransactionID: "T1", Items: []ReturnItem{{SKU: "X", Quantity: 1}}}) {
		t.Fatal("return not applied")
	}
	if p.ApplyReturn(Return{ReturnID: "R1", TransactionID: "T1", Items: []ReturnItem{{SKU: "X", Quantity: 1}}}) {
		t.Fatal("the same return applied twice")
	}
	if got := p.Value(ChallengeGoal{Kind: GoalSpend}); got != 4000 {
		t.Errorf("spend after a partial return = %d, want 4000", got)
	}
	if got := p.Value(ChallengeGoal{Kind: GoalPurchases}); got != 3 {
		t.Errorf("purchases after a partial return = %d, want 3", got)
	}
	// T2 comes back whole: it no longer counts anywhere, and the streak breaks.
	amount := int64(3000)
	p.ApplyReturn(Return{ReturnID: "R2", TransactionID: "T2", Amount: &amount})
	want = map[string]int64{GoalPurchases: 2, GoalSpend: 1000, GoalDistinctStores: 1, GoalWeeklyStreak: 1}
	for k, v := range want {
		if got := p.Value(ChallengeGoal{Kind: k}); got != v {
			t.Errorf("after returning T2: %s = %d, want %d", k, got, v)
		}
	}
	if p.ApplyReturn(Return{ReturnID: "R3", TransactionID: "unknown", Amount: &amount}) {
		t.Error("a return of a purchase the challenge never counted changed it")
	}
}

func TestWeekIndexStartsOnMonday(t *testing.T) {
	sun := time.Date(2026, 11, 1, 23, 59, 0, 0, time.UTC)
	mon := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	if WeekIndex(mon) != WeekIndex(sun)+1 || WeekIndex(mon) != WeekIndex(mon.AddDate(0, 0, 6)) {
		t.Fatal("weeks must run Monday to Sunday")
	}
}

func TestChallengeValidateAndDeadline(t *testing.T) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ok := Challenge{Name: "Five visits", Goal: ChallengeGoal{Kind: GoalPurchases, Target: 5}, EndsAt: &end, RewardPoints: 100}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Challenge{
		"no deadline": {Name: "x", Goal: ChallengeGoal{Kind: GoalPurchases, Target: 1}, RewardPoints: 1},
		"bad kind":    {Name: "x", Goal: ChallengeGoal{Kind: "jump", Target: 1}, WindowDays: 3, RewardPoints: 1},
		"no reward":   {Name: "x", Goal: ChallengeGoal{Kind: GoalSpend, Target: 1}, WindowDays: 3},
		"zero target": {Name: "x", Goal: ChallengeGoal{Kind: GoalSpend}, WindowDays: 3, RewardPoints: 1},
		"no name":     {Goal: ChallengeGoal{Kind: GoalSpend, Target: 1}, WindowDays: 3, RewardPoints: 1},
	} {
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok.WindowDays = 7
	enrolled := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	if d := ok.Deadline(enrolled); !d.Equal(enrolled.AddDate(0, 0, 7)) {
		t.Errorf("deadline %v, want the window's end", d)
	}
	if d := ok.Deadline(end.AddDate(0, 0, -1)); !d.Equal(end) {
		t.Errorf("deadline %v, want ends_at", d)
	}
}

func TestDisplayNameShowsFirstNameAndInitialOnly(t *testing.T) {
	for in, want := range map[string]string{"Ada Lovelace": "Ada L.", "  grace  brewster murray hopper ": "grace H.", "Cher": "Cher", "": "Member", "Émile zola": "Émile Z."} {
		if got := DisplayName(in); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNextBirthday(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	got, ok := NextBirthday("1990-05-17", now, time.UTC)
	if !ok || !got.Equal(time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("got %v", got)
	}
	got, _ = NextBirthday("1990-01-17", now, time.UTC)
	if !got.Equal(time.Date(2027, 1, 17, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a birthday passed this year is next year's: got %v", got)
	}
	got, _ = NextBirthday("2000-02-29", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC)
	if !got.Equal(time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("29 February in a common year: got %v", got)
	}
	on := time.Date(2026, 5, 17, 0, 0, 0, 0, time.UTC)
	if got, _ := NextBirthday("1990-05-17", on, time.UTC); !got.Equal(on.AddDate(1, 0, 0)) {
		t.Errorf("on the birthday itself the next one is a year on: got %v", got)
	}
	if _, ok := NextBirthday("", now, time.UTC); ok {
		t.Error("no birthdate, no birthday")
	}
}

func TestPeriodStart(t *testing.T) {
	wed := time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC)
	for p, want := range map[string]time.Time{
		PeriodWeek: time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), PeriodMonth: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), PeriodAll: time.Unix(0, 0).UTC(),
	} {
		if got, ok := PeriodStart(p, wed); !ok || !got.Equal(want) {
			t.Errorf("%s: %v, want %v", p, got, want)
		}
	}
	if _, ok := PeriodStart("year", wed); ok {
		t.Error("unknown period accepted")
	}
}
