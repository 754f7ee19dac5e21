package domain

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// EarnRate is the program's base earning: Points for every PerAmount minor units paid (1 point per 100 cents is
// "one point per euro").
type EarnRate struct {
	Points    int64 `json:"points"`
	PerAmount int64 `json:"per_amount"`
}

// Tier is a membership level reached by qualifying points over the tier window. MultiplierPercent scales base
// points earned at that tier (100 = no change).
type Tier struct {
	Code              string `json:"code"`
	Name              string `json:"name"`
	ThresholdPoints   int64  `json:"threshold_points"`
	MultiplierPercent int64  `json:"multiplier_percent"`
}

// Expiry says how long earned points stay spendable; Months 0 means they never expire.
type Expiry struct {
	Months int `json:"months"`
}

// Program is the loyalty program's settings. A change applies to purchases that occur after it: every version is
// kept with the time it took effect, and a purchase is judged by the version in force at its occurred_at.
type Program struct {
	Currency              string   `json:"currency"`
	BaseEarn              EarnRate `json:"base_earn"`
	PendingDays           int      `json:"pending_days"`
	Expiry                Expiry   `json:"expiry"`
	TierWindowDays        int      `json:"tier_window_days"`
	AllowNegativeOnReturn bool     `json:"allow_negative_on_return"`
	Tiers                 []Tier   `json:"tiers"`
}

// DefaultProgram is what a fresh installation starts with: one point per euro, points available at once, expiring
// after two years, three tiers.
func DefaultProgram() Program {
	return Program{
		Currency:       "EUR",
		BaseEarn:       EarnRate{Points: 1, PerAmount: 100},
		PendingDays:    0,
		Expiry:         Expiry{Months: 24},
		TierWindowDays: 365,
		Tiers: []Tier{
			{Code: "member", Name: "Member", ThresholdPoints: 0, MultiplierPercent: 100},
			{Code: "silver", Name: "Silver", ThresholdPoints: 1000, MultiplierPercent: 125},
			{Code: "gold", Name: "Gold", ThresholdPoints: 5000, MultiplierPercent: 150},
		},
	}
}

// Validate checks the settings.
func (p Program) Validate() error {
	var v Validation
	v.Check(ValidCurrency(p.Currency), "currency", "must be an ISO 4217 code such as EUR")
	v.Check(p.BaseEarn.Points >= 0 && p.BaseEarn.Points <= 10_000, "base_earn.points", "must be between 0 and 10000")
	v.Check(p.BaseEarn.PerAmount >= 1 && p.BaseEarn.PerAmount <= 1_000_000, "base_earn.per_amount", "must be between 1 and 1000000")
	v.Check(p.PendingDays >= 0 && p.PendingDays <= 365, "pending_days", "must be between 0 and 365")
	v.Check(p.Expiry.Months >= 0 && p.Expiry.Months <= 120, "expiry.months", "must be between 0 (never) and 120")
	v.Check(p.TierWindowDays >= 1 && p.TierWindowDays <= 3660, "tier_window_days", "must be between 1 and 3660")
	v.Check(len(p.Tiers) >= 1 && len(p.Tiers) <= 20, "tiers", "must list between 1 and 20 tiers")
	seen := map[string]bool{}
	for i, t := range p.Tiers {
		f := "tiers[" + strconv.Itoa(i) + "]"
		v.Check(ValidIdentifier(t.Code) && len(t.Code) <= 32, f+".code", "must be 1-32 letters, digits or . _ : -")
		v.Check(!seen[t.Code], f+".code", "is used twice")
		seen[t.Code] = true
		v.Check(t.Name != "" && utf8.RuneCountInString(t.Name) <= 64, f+".name", "must be 1-64 characters")
		v.Check(t.MultiplierPercent >= 0 && t.MultiplierPercent <= 1000, f+".multiplier_percent", "must be between 0 and 1000")
		if i == 0 {
			v.Check(t.ThresholdPoints == 0, f+".threshold_points", "must be 0 for the first tier")
		} else {
			v.Check(t.ThresholdPoints > p.Tiers[i-1].ThresholdPoints, f+".threshold_points", "must be above the previous tier's")
		}
	}
	return v.Err()
}

// TierFor returns the index of the highest tier whose threshold the qualifying points reach.
func (p Program) TierFor(qualifying int64) int {
	idx := 0
	for i, t := range p.Tiers {
		if qualifying >= t.ThresholdPoints {
			idx = i
		}
	}
	return idx
}

// TierStatus is a member's tier as shown to them: where they are and how far the next tier is.
type TierStatus struct {
	Code         string `json:"code"`
	Name         string `json:"name"`
	NextCode     string `json:"next_code,omitempty"`
	PointsToNext int64  `json:"points_to_next"`
}

// TierStatusFor describes the tier reached with the given qualifying points.
func (p Program) TierStatusFor(qualifying int64) TierStatus {
	if len(p.Tiers) == 0 {
		return TierStatus{}
	}
	i := p.TierFor(qualifying)
	s := TierStatus{Code: p.Tiers[i].Code, Name: p.Tiers[i].Name}
	if i+1 < len(p.Tiers) {
		s.NextCode = p.Tiers[i+1].Code
		s.PointsToNext = p.Tiers[i+1].ThresholdPoints - qualifying
	}
	return s
}

// Accrual is what a purchase earns under the program: the points, when they become spendable and when they expire.
type Accrual struct {
	Points      int64      `json:"points"`
	AvailableAt time.Time  `json:"available_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Accrue computes what a purchase earns under these settings: the base rate applied to what was paid, rounded down
// once for the whole transaction.
func (p Program) Accrue(pur Purchase) (Accrual, error) {
	if pur.Total.Currency != p.Currency {
		return Accrual{}, Errorf(ErrUnprocessable, "the program earns on %s purchases, this one is in %s", p.Currency, pur.Total.Currency)
	}
	// Total <= MaxAmount (1e13) and Points <= 1e4, so the product stays far inside int64.
	a := Accrual{
		Points:      pur.Total.Amount * p.BaseEarn.Points / p.BaseEarn.PerAmount,
		AvailableAt: pur.OccurredAt.UTC().AddDate(0, 0, p.PendingDays),
	}
	if p.Expiry.Months > 0 {
		e := pur.OccurredAt.UTC().AddDate(0, p.Expiry.Months, 0)
		a.ExpiresAt = &e
	}
	return a, nil
}
