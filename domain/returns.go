package domain

import (
	"math/big"
	"sort"
)

// Kept is what a purchase still earns after returns, with the cuts its campaigns' budgets made at accrual.
type Kept struct {
	// Points is what the lines (or amount) still paid for earn in all.
	Points int64
	// Campaigns holds, per campaign that gave the purchase points, what the campaign gave at accrual (Given) and how
	// much of it the lines still paid for keep (Kept), in campaign id order.
	Campaigns []CampaignShare
}

// CampaignShare is one campaign's part of a purchase's points, at accrual and after returns.
type CampaignShare struct {
	CampaignID string
	Given      int64
	Kept       int64
}

// Returned is how much of the campaign's part the returns took back.
func (c CampaignShare) Returned() int64 { return max(c.Given-c.Kept, 0) }

// KeptAfterReturns says what a purchase still earns once some of it is returned. accrued is the contributions the
// purchase was credited with (after its campaigns' budgets cut them), full is its pricing again without returns and
// after its pricing without what was returned: both by the rules, program and tier of the purchase, so that full
// prices exactly what the accrual priced before the cuts.
//
// A campaign whose budget cut its part at accrual keeps, of what it gave, the share the lines still paid for would
// have earned of it uncut, rounded up: the returned lines take back their share of what the campaign actually gave,
// rounded down, never the points the budget refused them. Every other contribution is kept as after prices it.
func KeptAfterReturns(accrued []Contribution, full, after Earning) Kept {
	priced := map[string]int64{}
	for _, c := range full.Contributions {
		if _, ok := CampaignIDOfRule(c.RuleID); ok {
			priced[c.RuleID] += c.Points
		}
	}
	left := map[string]int64{}
	for _, c := range after.Contributions {
		if _, ok := CampaignIDOfRule(c.RuleID); ok {
			left[c.RuleID] += c.Points
		}
	}
	given := map[string]int64{}
	for _, c := range accrued {
		if _, ok := CampaignIDOfRule(c.RuleID); ok {
			given[c.RuleID] += c.Points
		}
	}
	k := Kept{Points: after.Points}
	for rule, g := range given {
		id, _ := CampaignIDOfRule(rule)
		keep := left[rule]
		if p := priced[rule]; g < p { // cut by the budget
			share := new(big.Int).Mul(big.NewInt(max(keep, 0)), big.NewInt(max(g, 0)))
			share.Add(share, big.NewInt(p-1)).Quo(share, big.NewInt(p)) // ⌈keep × g / p⌉
			cut := min(share.Int64(), g)
			k.Points -= keep - cut
			keep = cut
		}
		k.Campaigns = append(k.Campaigns, CampaignShare{CampaignID: id, Given: g, Kept: max(min(keep, g), 0)})
	}
	sort.Slice(k.Campaigns, func(a, b int) bool { return k.Campaigns[a].CampaignID < k.Campaigns[b].CampaignID })
	k.Points = max(k.Points, 0)
	return k
}
