package domain

import (
	"math/big"
	"slices"
	"strings"
	"time"
)

// EarnInput is everything the earning engine needs to price a purchase: the program and the rule versions in force
// at the purchase's occurred_at, the tier the member held before it, and what has been returned of it so far.
type EarnInput struct {
	Program  Program
	Rules    []Rule
	Tier     Tier
	Purchase Purchase
	// ReturnedQty is the quantity returned so far per SKU; ReturnedAmount the amount returned without lines.
	ReturnedQty    map[string]int64
	ReturnedAmount int64
}

// Contribution sources.
const (
	SourceRule     = "rule"
	SourceTier     = "tier"
	SourceRounding = "rounding"
)

// Contribution is what one rule (or the tier multiplier) gave to a purchase, so that anyone can see why it earned
// what it did. Contributions are computed exactly and rounded down once for the transaction; the "rounding" line
// makes the list add up to the total.
type Contribution struct {
	Source      string `json:"source"`
	RuleID      string `json:"rule_id,omitempty"`
	RuleVersion int64  `json:"rule_version,omitempty"`
	Name        string `json:"name"`
	Points      int64  `json:"points"`
}

// Earning is the result of pricing a purchase.
type Earning struct {
	Points        int64          `json:"points"`
	Contributions []Contribution `json:"contributions"`
}

type line struct {
	sku, category string
	amount        *big.Rat // what was paid for the line, after discounts and returns
	base          *big.Rat // base points (from earn_rate rules)
}

// Earn prices a purchase: rules in priority order (ties by id), exclusive rules claiming their lines, base points
// from earn_rate rules, multipliers and the tier multiplier on base points, bonuses once per transaction. Points are
// computed on what was paid for each line (a basket discount is spread over the lines in proportion) and rounded
// down once. It is pure and deterministic, usable inside workflows.
func Earn(in EarnInput) (Earning, error) {
	p := in.Purchase
	if err := in.Program.EarnsOn(p.Total); err != nil {
		return Earning{}, err
	}
	lines, paid := basket(p, in.ReturnedQty, in.ReturnedAmount)
	loc := in.Program.Location()
	local := p.OccurredAt.In(loc)

	rules := slices.Clone(in.Rules)
	slices.SortStableFunc(rules, func(a, b Rule) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		return strings.Compare(a.ID, b.ID)
	})
	claimed := make([]bool, len(lines))
	type applied struct {
		rule  Rule
		lines []int
	}
	var hits []applied
	for _, r := range rules {
		if !r.activeAt(p.OccurredAt) || !r.transactionMatches(p, paid, in.Tier.Code, local) {
			continue
		}
		var idx []int
		for i, l := range lines {
			if !claimed[i] && l.amount.Sign() > 0 && r.lineMatches(l) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		if r.Mode == RuleExclusive {
			for _, i := range idx {
				claimed[i] = true
			}
		}
		hits = append(hits, applied{r, idx})
	}

	exact := map[int]*big.Rat{} // contribution per hit index
	// Base points first: multipliers scale them whatever their priority.
	for h, a := range hits {
		if a.rule.Action.Type != ActionEarnRate {
			continue
		}
		sum := new(big.Rat)
		for _, i := range a.lines {
			pts := new(big.Rat).Mul(lines[i].amount, big.NewRat(a.rule.Action.Points, a.rule.Action.PerAmount))
			lines[i].base.Add(lines[i].base, pts)
			sum.Add(sum, pts)
		}
		exact[h] = sum
	}
	for h, a := range hits {
		switch a.rule.Action.Type {
		case ActionMultiplier:
			sum := new(big.Rat)
			for _, i := range a.lines {
				sum.Add(sum, lines[i].base)
			}
			exact[h] = sum.Mul(sum, big.NewRat(a.rule.Action.Percent-100, 100))
		case ActionBonus:
			exact[h] = new(big.Rat).SetInt64(a.rule.Action.Points)
		}
	}
	total := new(big.Rat)
	var out Earning
	var floors int64
	for h, a := range hits {
		c := exact[h]
		total.Add(total, c)
		f := floorRat(c)
		floors += f
		out.Contributions = append(out.Contributions, Contribution{Source: SourceRule, RuleID: a.rule.ID, RuleVersion: a.rule.Version, Name: a.rule.Name, Points: f})
	}
	if m := in.Tier.MultiplierPercent; in.Tier.Code != "" && m != 100 {
		base := new(big.Rat)
		for _, l := range lines {
			base.Add(base, l.base)
		}
		c := base.Mul(base, big.NewRat(m-100, 100))
		if c.Sign() != 0 {
			total.Add(total, c)
			f := floorRat(c)
			floors += f
			out.Contributions = append(out.Contributions, Contribution{Source: SourceTier, Name: "Tier " + in.Tier.Name + " multiplier", Points: f})
		}
	}
	out.Points = max(floorRat(total), 0)
	if r := out.Points - floors; r != 0 {
		out.Contributions = append(out.Contributions, Contribution{Source: SourceRounding, Name: "Rounding (once per transaction)", Points: r})
	}
	if out.Contributions == nil {
		out.Contributions = []Contribution{}
	}
	return out, nil
}

// basket builds the lines still paid for, with each line's share of what was paid. Without items, the whole total
// is one line.
func basket(p Purchase, returnedQty map[string]int64, returnedAmount int64) ([]line, *big.Rat) {
	if len(p.Items) == 0 {
		paid := big.NewRat(max(p.Total.Amount-returnedAmount, 0), 1)
		return []line{{amount: paid, base: new(big.Rat)}}, paid
	}
	left := map[string]int64{}
	for sku, q := range returnedQty {
		left[sku] = q
	}
	var listed, remaining int64
	lines := make([]line, len(p.Items))
	qty := make([]int64, len(p.Items))
	for i, it := range p.Items {
		q := it.Quantity
		take := min(q, left[it.SKU])
		left[it.SKU] -= take
		q -= take
		qty[i] = q
		listed += it.Quantity * it.UnitPrice.Amount
		remaining += q * it.UnitPrice.Amount
	}
	// What is still paid: the original total scaled to the lines kept, less amounts returned without lines.
	paid := new(big.Rat)
	if listed > 0 {
		paid.SetFrac64(p.Total.Amount, 1)
		paid.Mul(paid, big.NewRat(remaining, listed))
	}
	paid.Sub(paid, big.NewRat(returnedAmount, 1))
	if paid.Sign() < 0 {
		paid.SetInt64(0)
	}
	for i, it := range p.Items {
		l := line{sku: it.SKU, category: it.Category, amount: new(big.Rat), base: new(big.Rat)}
		if remaining > 0 {
			l.amount.Mul(paid, big.NewRat(qty[i]*it.UnitPrice.Amount, remaining))
		}
		lines[i] = l
	}
	return lines, paid
}

func floorRat(r *big.Rat) int64 {
	q := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean: rounds towards -inf for a positive denominator
	return q.Int64()
}

func (r Rule) transactionMatches(p Purchase, paid *big.Rat, tier string, local time.Time) bool {
	c := r.Conditions
	if c.MinTotal != nil && (c.MinTotal.Currency != p.Total.Currency || paid.Cmp(big.NewRat(c.MinTotal.Amount, 1)) < 0) {
		return false
	}
	if len(c.Stores) > 0 && !slices.Contains(c.Stores, p.StoreID) {
		return false
	}
	if len(c.Channels) > 0 && !slices.Contains(c.Channels, p.Channel) {
		return false
	}
	if len(c.Tiers) > 0 && !slices.Contains(c.Tiers, tier) {
		return false
	}
	if len(c.DaysOfWeek) > 0 {
		wd := int(local.Weekday())
		if wd == 0 {
			wd = 7
		}
		if !slices.Contains(c.DaysOfWeek, wd) {
			return false
		}
	}
	if c.LocalTimeFrom != "" {
		from, _ := parseClock(c.LocalTimeFrom)
		to, _ := parseClock(c.LocalTimeTo)
		m := local.Hour()*60 + local.Minute()
		in := from <= m && m < to
		if from > to { // the window wraps around midnight
			in = m >= from || m < to
		}
		if !in {
			return false
		}
	}
	return true
}

func (r Rule) lineMatches(l line) bool {
	c := r.Conditions
	if len(c.SKUs) > 0 && !slices.Contains(c.SKUs, l.sku) {
		return false
	}
	if len(c.Categories) > 0 && !slices.Contains(c.Categories, l.category) {
		return false
	}
	return true
}

// PaidAfterReturns is what is still paid for a purchase after the returns so far, rounded down to the minor unit:
// an amount return can take back at most this.
func PaidAfterReturns(p Purchase, returnedQty map[string]int64, returnedAmount int64) int64 {
	_, paid := basket(p, returnedQty, returnedAmount)
	return floorRat(paid)
}
