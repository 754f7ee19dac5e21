package domain

import (
	"math/rand/v2"
	"testing"
	"time"
)

func eur(a int64) Money { return Money{Amount: a, Currency: "EUR"} }

func item(sku, cat string, qty, unit int64) LineItem {
	return LineItem{SKU: sku, Category: cat, Quantity: qty, UnitPrice: eur(unit)}
}

func rate(id string, prio int, mode string, pts, per int64, c Conditions) Rule {
	return Rule{ID: id, Name: id, Priority: prio, Mode: mode, Conditions: c, Action: Action{Type: ActionEarnRate, Points: pts, PerAmount: per}}
}

func mult(id string, prio int, mode string, pct int64, c Conditions) Rule {
	return Rule{ID: id, Name: id, Priority: prio, Mode: mode, Conditions: c, Action: Action{Type: ActionMultiplier, Percent: pct}}
}

func bonus(id string, prio int, pts int64, c Conditions) Rule {
	return Rule{ID: id, Name: id, Priority: prio, Mode: RuleStackable, Conditions: c, Action: Action{Type: ActionBonus, Points: pts}}
}

var base = rate("base", 0, RuleStackable, 1, 100, Conditions{})

// Wednesday 2026-11-18 14:30 UTC.
var wednesday = time.Date(2026, 11, 18, 14, 30, 0, 0, time.UTC)

func basketPurchase(total int64, items ...LineItem) Purchase {
	return Purchase{TransactionID: "T", MemberID: "0b9b6c3e-8f7a-4d2b-9c1e-2f3a4b5c6d7e", StoreID: "paris", Channel: "store",
		OccurredAt: wednesday, Total: eur(total), Items: items}
}

func TestEarnRules(t *testing.T) {
	books := Conditions{Categories: []string{"books"}}
	cases := []struct {
		name     string
		rules    []Rule
		tier     Tier
		purchase Purchase
		want     int64
	}{
		{"base rate rounds down once", []Rule{base}, Tier{}, basketPurchase(1999), 19},
		{"one rounding per transaction, not per line", []Rule{base},
			Tier{}, basketPurchase(198, item("A", "x", 1, 99), item("B", "x", 1, 99)), 1},
		{"stackable rules add", []Rule{base, rate("books2", 10, RuleStackable, 2, 100, books)},
			Tier{}, basketPurchase(3000, item("B1", "books", 1, 1000), item("F1", "food", 1, 2000)), 30 + 20},
		{"exclusive claims its lines from lower rules", []Rule{base, rate("tobacco0", 100, RuleExclusive, 0, 100, Conditions{Categories: []string{"tobacco"}})},
			Tier{}, basketPurchase(3000, item("C", "tobacco", 1, 1000), item("F", "food", 1, 2000)), 20},
		{"highest-priority exclusive wins", []Rule{
			rate("ex5", 50, RuleExclusive, 5, 100, books), rate("ex3", 40, RuleExclusive, 3, 100, books), base},
			Tier{}, basketPurchase(1000, item("B", "books", 1, 1000)), 50},
		{"stackable of higher priority still applies on claimed lines", []Rule{
			bonus("hi-bonus", 90, 7, books), rate("ex", 50, RuleExclusive, 2, 100, books)},
			Tier{}, basketPurchase(1000, item("B", "books", 1, 1000)), 7 + 20},
		{"multiplier doubles base points of matching lines", []Rule{base, mult("x2books", 5, RuleStackable, 200, books)},
			Tier{}, basketPurchase(3000, item("B", "books", 1, 1000), item("F", "food", 1, 2000)), 30 + 10},
		{"multiplier of higher priority than its base still applies", []Rule{mult("x3", 100, RuleStackable, 300, Conditions{}), base},
			Tier{}, basketPurchase(1000), 30},
		{"bonus once per transaction", []Rule{base, bonus("b", 1, 50, Conditions{SKUs: []string{"A", "B"}})},
			Tier{}, basketPurchase(200, item("A", "x", 1, 100), item("B", "x", 1, 100)), 2 + 50},
		{"min_total not met", []Rule{base, bonus("big", 1, 100, Conditions{MinTotal: &Money{Amount: 5000, Currency: "EUR"}})},
			Tier{}, basketPurchase(4999), 49},
		{"min_total met on what was paid", []Rule{base, bonus("big", 1, 100, Conditions{MinTotal: &Money{Amount: 5000, Currency: "EUR"}})},
			Tier{}, basketPurchase(5000, item("A", "x", 1, 6000)), 150},
		{"earning on what was paid after a basket discount", []Rule{base, rate("books", 1, RuleStackable, 10, 100, books)},
			Tier{}, basketPurchase(1500, item("B", "books", 1, 1000), item("F", "food", 1, 1000)), 15 + 75},
		{"day of week", []Rule{base, bonus("wed", 1, 10, Conditions{DaysOfWeek: []int{3}}), bonus("fri", 1, 20, Conditions{DaysOfWeek: []int{5}})},
			Tier{}, basketPurchase(100), 1 + 10},
		{"local time window", []Rule{bonus("lunch", 1, 10, Conditions{LocalTimeFrom: "12:00", LocalTimeTo: "15:00"}), bonus("night", 1, 20, Conditions{LocalTimeFrom: "22:00", LocalTimeTo: "06:00"})},
			Tier{}, basketPurchase(100), 10},
		{"store, channel and tier conditions", []Rule{
			bonus("paris", 1, 1, Conditions{Stores: []string{"paris"}}), bonus("lyon", 1, 10, Conditions{Stores: []string{"lyon"}}),
			bonus("online", 1, 100, Conditions{Channels: []string{"online"}}), bonus("gold", 1, 1000, Conditions{Tiers: []string{"gold"}})},
			Tier{Code: "gold", Name: "Gold", MultiplierPercent: 100}, basketPurchase(100), 1 + 1000},
		{"tier multiplier on base points", []Rule{base, bonus("b", 1, 10, Conditions{})},
			Tier{Code: "silver", Name: "Silver", MultiplierPercent: 125}, basketPurchase(1000), 10 + 10 + 2},
		{"rule outside its dates", []Rule{base, func() Rule {
			r := bonus("later", 1, 99, Conditions{})
			s := wednesday.Add(time.Hour)
			r.StartsAt = &s
			return r
		}()}, Tier{}, basketPurchase(100), 1},
		{"no rules, no points", nil, Tier{}, basketPurchase(100_000), 0},
		{"a multiplier below 100 lowers base points", []Rule{base, mult("half", 1, RuleStackable, 50, Conditions{})},
			Tier{}, basketPurchase(1000), 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prog := DefaultProgram()
			e, err := Earn(EarnInput{Program: prog, Rules: c.rules, Tier: c.tier, Purchase: c.purchase})
			if err != nil {
				t.Fatal(err)
			}
			if e.Points != c.want {
				t.Fatalf("earned %d, want %d (%+v)", e.Points, c.want, e.Contributions)
			}
			var sum int64
			for _, k := range e.Contributions {
				sum += k.Points
			}
			if sum != e.Points && e.Points > 0 {
				t.Fatalf("contributions sum to %d, total is %d: %+v", sum, e.Points, e.Contributions)
			}
		})
	}
}

func TestEarnTimeZone(t *testing.T) {
	prog := DefaultProgram()
	prog.TimeZone = "Asia/Tokyo" // 14:30 UTC on Wednesday is 23:30 in Tokyo, still Wednesday
	rules := []Rule{bonus("late", 1, 5, Conditions{LocalTimeFrom: "23:00", LocalTimeTo: "23:59", DaysOfWeek: []int{3}})}
	e, _ := Earn(EarnInput{Program: prog, Rules: rules, Purchase: basketPurchase(100)})
	if e.Points != 5 {
		t.Fatalf("earned %d in Tokyo time, want 5", e.Points)
	}
}

func TestEarnReturnsNeverExceedOriginalAndEndAtZero(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	prog := DefaultProgram()
	rules := []Rule{base, rate("books", 5, RuleStackable, 3, 100, Conditions{Categories: []string{"books"}}),
		bonus("big", 4, 25, Conditions{MinTotal: &Money{Amount: 3000, Currency: "EUR"}}),
		mult("x2", 3, RuleStackable, 200, Conditions{SKUs: []string{"S0"}}),
		rate("ex", 9, RuleExclusive, 0, 100, Conditions{Categories: []string{"tobacco"}})}
	cats := []string{"books", "food", "tobacco"}
	for range 2000 {
		n := 1 + r.IntN(5)
		var items []LineItem
		var listed int64
		for i := range n {
			it := item("S"+string(rune('0'+i)), cats[r.IntN(3)], 1+r.Int64N(4), 1+r.Int64N(5000))
			items = append(items, it)
			listed += it.Quantity * it.UnitPrice.Amount
		}
		p := basketPurchase(listed-r.Int64N(listed/2+1), items...)
		full, err := Earn(EarnInput{Program: prog, Rules: rules, Purchase: p})
		if err != nil {
			t.Fatal(err)
		}
		returned := map[string]int64{}
		for _, it := range items {
			for range it.Quantity {
				returned[it.SKU]++
				after, _ := Earn(EarnInput{Program: prog, Rules: rules, Purchase: p, ReturnedQty: returned})
				if after.Points < 0 || after.Points > full.Points {
					t.Fatalf("after a partial return %d points, the purchase earned %d", after.Points, full.Points)
				}
			}
		}
		if after, _ := Earn(EarnInput{Program: prog, Rules: rules, Purchase: p, ReturnedQty: returned}); after.Points != 0 {
			t.Fatalf("everything returned still earns %d", after.Points)
		}
		if after, _ := Earn(EarnInput{Program: prog, Rules: rules, Purchase: p, ReturnedAmount: p.Total.Amount}); after.Points != 0 {
			t.Fatalf("the whole amount returned still earns %d", after.Points)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	good := rate("r", 1, RuleStackable, 1, 100, Conditions{DaysOfWeek: []int{1, 7}, LocalTimeFrom: "08:00", LocalTimeTo: "10:00"})
	if err := good.Validate(""); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Rule){
		"mode":         func(r *Rule) { r.Mode = "sometimes" },
		"day 0":        func(r *Rule) { r.Conditions.DaysOfWeek = []int{0} },
		"bad clock":    func(r *Rule) { r.Conditions.LocalTimeFrom = "25:00" },
		"signed clock": func(r *Rule) { r.Conditions.LocalTimeFrom = "+9:30" },
		"half window":  func(r *Rule) { r.Conditions.LocalTimeTo = "" },
		"per zero":     func(r *Rule) { r.Action.PerAmount = 0 },
		"type":         func(r *Rule) { r.Action.Type = "cashback" },
		"no name":      func(r *Rule) { r.Name = "" },
		"dates":        func(r *Rule) { s := wednesday; e := wednesday; r.StartsAt, r.EndsAt = &s, &e },
		"channel":      func(r *Rule) { r.Conditions.Channels = []string{"fax"} },
	} {
		r := good
		mut(&r)
		if CodeOf(r.Validate("")) != ErrInvalid {
			t.Errorf("%s: accepted %+v", name, r)
		}
	}
}
