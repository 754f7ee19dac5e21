package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of challenge goal.
const (
	// GoalPurchases counts purchases.
	GoalPurchases = "purchases"
	// GoalSpend sums what was paid, in minor units.
	GoalSpend = "spend"
	// GoalDistinctStores counts the different stores bought in.
	GoalDistinctStores = "distinct_stores"
	// GoalWeeklyStreak is the longest run of consecutive weeks (Monday to Sunday, UTC) with a purchase.
	GoalWeeklyStreak = "weekly_streak"
)

// Statuses of a challenge enrolment.
const (
	EnrolmentActive    = "active"
	EnrolmentCompleted = "completed"
	EnrolmentExpired   = "expired"
)

// ChallengeGoal is what a member must reach.
type ChallengeGoal struct {
	Kind   string `json:"kind"`
	Target int64  `json:"target"`
}

// Challenge is a goal marketers set members — N purchases, a spend, purchases in N stores, a streak of K weeks —
// rewarded with points and a badge when reached before the enrolment's deadline. Members join it, or are enrolled
// by their first purchase while it runs when AutoEnroll is set. The deadline of an enrolment is the earlier of
// EndsAt and WindowDays after enrolling.
type Challenge struct {
	ID           string        `json:"challenge_id"`
	Name         string        `json:"name"`
	Goal         ChallengeGoal `json:"goal"`
	StartsAt     *time.Time    `json:"starts_at,omitempty"`
	EndsAt       *time.Time    `json:"ends_at,omitempty"`
	WindowDays   int           `json:"window_days,omitempty"`
	RewardPoints int64         `json:"reward_points"`
	Badge        string        `json:"badge,omitempty"`
	AutoEnroll   bool          `json:"auto_enroll"`
	CreatedAt    time.Time     `json:"created_at"`
}

// MaxChallengeWindowDays bounds an enrolment's window.
const MaxChallengeWindowDays = 3660

// Validate checks a challenge definition.
func (c Challenge) Validate() error {
	var v Validation
	n := utf8.RuneCountInString(c.Name)
	v.Check(n >= 1 && n <= 100 && utf8.ValidString(c.Name) && strings.TrimSpace(c.Name) != "", "name", "must be 1-100 characters")
	switch c.Goal.Kind {
	case GoalPurchases, GoalDistinctStores:
		v.Check(c.Goal.Target >= 1 && c.Goal.Target <= 1_000_000, "goal.target", "must be between 1 and 1000000")
	case GoalSpend:
		v.Check(c.Goal.Target >= 1 && c.Goal.Target <= MaxAmount, "goal.target", "must be between 1 and %d (minor units)", MaxAmount)
	case GoalWeeklyStreak:
		v.Check(c.Goal.Target >= 1 && c.Goal.Target <= 520, "goal.target", "must be between 1 and 520 weeks")
	default:
		v.Add("goal.kind", "must be purchases, spend, distinct_stores or weekly_streak")
	}
	v.Check(c.EndsAt != nil || c.WindowDays > 0, "ends_at", "give ends_at or window_days: a challenge needs a deadline")
	v.Check(c.WindowDays >= 0 && c.WindowDays <= MaxChallengeWindowDays, "window_days", "must be between 0 and %d", MaxChallengeWindowDays)
	if c.StartsAt != nil && c.EndsAt != nil {
		v.Check(c.EndsAt.After(*c.StartsAt), "ends_at", "must be after starts_at")
	}
	v.Check(c.RewardPoints >= 0 && c.RewardPoints <= MaxPointsPerOperation, "reward_points", "must be between 0 and %d", MaxPointsPerOperation)
	v.Check(c.Badge == "" || (ValidIdentifier(c.Badge) && len(c.Badge) <= 64), "badge", "must be 1-64 letters, digits or . _ : -")
	v.Check(c.RewardPoints > 0 || c.Badge != "", "reward_points", "a challenge rewards points, a badge or both")
	return v.Err()
}

// OpenAt says whether members can enrol at t: after StartsAt and before EndsAt.
func (c Challenge) OpenAt(t time.Time) bool {
	return (c.StartsAt == nil || !t.Before(*c.StartsAt)) && (c.EndsAt == nil || t.Before(*c.EndsAt))
}

// Deadline is when an enrolment made at enrolledAt fails if its goal is not reached.
func (c Challenge) Deadline(enrolledAt time.Time) time.Time {
	var d time.Time
	if c.WindowDays > 0 {
		d = enrolledAt.UTC().AddDate(0, 0, c.WindowDays)
	}
	if c.EndsAt != nil && (d.IsZero() || c.EndsAt.Before(d)) {
		d = c.EndsAt.UTC()
	}
	return d
}

// ChallengeRewardKey is the idempotency key of the points a completed challenge awards: once per member and challenge.
func ChallengeRewardKey(challengeID, memberID string) string {
	return "challenge:" + challengeID + ":" + memberID
}

// ChallengeCompletedKey is the key of the message telling a member they completed a challenge.
func ChallengeCompletedKey(challengeID, memberID string) string {
	return TemplateChallengeCompleted + ":" + challengeID + ":" + memberID
}

// ChallengeLine is a purchased line as a challenge remembers it, to price what a return of it takes back.
type ChallengeLine struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// ChallengePurchase is a purchase counted by a challenge, with what has been returned of it.
type ChallengePurchase struct {
	TransactionID string          `json:"transaction_id"`
	StoreID       string          `json:"store_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Amount        int64           `json:"amount"`
	Lines         []ChallengeLine `json:"lines,omitempty"`
	Returned      int64           `json:"returned,omitempty"`
	// ReturnedQty is the quantity returned per SKU.
	ReturnedQty map[string]int64 `json:"returned_qty,omitempty"`
	// FullyReturned purchases no longer count at all.
	FullyReturned bool `json:"fully_returned,omitempty"`
	// ReturnIDs already applied, so that a repeated return changes nothing.
	ReturnIDs []string `json:"return_ids,omitempty"`
}

// ChallengePurchaseOf is what a challenge keeps of a purchase.
func ChallengePurchaseOf(p Purchase) ChallengePurchase {
	cp := ChallengePurchase{TransactionID: p.TransactionID, StoreID: p.StoreID, OccurredAt: p.OccurredAt.UTC(), Amount: p.Total.Amount}
	for _, it := range p.Items {
		cp.Lines = append(cp.Lines, ChallengeLine{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: it.UnitPrice.Amount})
	}
	return cp
}

// ChallengeProgress is the purchases an enrolment has counted; the goal's progress is computed from them, so that a
// return undoes exactly what its purchase contributed.
type ChallengeProgress struct {
	Purchases []ChallengePurchase `json:"purchases"`
}

// AddPurchase counts a purchase once; it reports false when the purchase was counted already (a retry).
func (p *ChallengeProgress) AddPurchase(cp ChallengePurchase) bool {
	for _, have := range p.Purchases {
		if have.TransactionID == cp.TransactionID {
			return false
		}
	}
	p.Purchases = append(p.Purchases, cp)
	return true
}

// ApplyReturn takes back what a return of a counted purchase contributed: its amount (or its lines' prices) from
// spend, and the whole purchase from counts, stores and streaks once nothing paid is left. It reports whether the
// return changed anything.
func (p *ChallengeProgress) ApplyReturn(r Return) bool {
	for i := range p.Purchases {
		cp := &p.Purchases[i]
		if cp.TransactionID != r.TransactionID {
			continue
		}
		for _, id := range cp.ReturnIDs {
			if id == r.ReturnID {
				return false
			}
		}
		cp.ReturnIDs = append(cp.ReturnIDs, r.ReturnID)
		var amount int64
		if r.Amount != nil {
			amount = *r.Amount
		}
		for _, it := range r.Items {
			if cp.ReturnedQty == nil {
				cp.ReturnedQty = map[string]int64{}
			}
			for _, l := range cp.Lines {
				if l.SKU != it.SKU {
					continue
				}
				q := min(it.Quantity, l.Quantity-cp.ReturnedQty[l.SKU])
				if q > 0 {
					cp.ReturnedQty[l.SKU] += q
					amount += q * l.UnitPrice
				}
				break
			}
		}
		cp.Returned = min(cp.Returned+amount, cp.Amount)
		if cp.Returned >= cp.Amount {
			cp.FullyReturned = true
		}
		return true
	}
	return false
}

// Value is the goal's progress over the counted purchases.
func (p ChallengeProgress) Value(g ChallengeGoal) int64 {
	var n int64
	stores := map[string]bool{}
	weeks := map[int64]bool{}
	for _, cp := range p.Purchases {
		if cp.FullyReturned {
			continue
		}
		n++
		switch g.Kind {
		case GoalSpend:
			// counted below
		case GoalDistinctStores:
			stores[cp.StoreID] = true
		case GoalWeeklyStreak:
			weeks[WeekIndex(cp.OccurredAt)] = true
		}
	}
	switch g.Kind {
	case GoalPurchases:
		return n
	case GoalSpend:
		var s int64
		for _, cp := range p.Purchases {
			if !cp.FullyReturned {
				s += cp.Amount - cp.Returned
			}
		}
		return s
	case GoalDistinctStores:
		return int64(len(stores))
	case GoalWeeklyStreak:
		// Walk the purchases (not the map: workflows must not depend on map order) for the starts of runs.
		var best int64
		for _, cp := range p.Purchases {
			w := WeekIndex(cp.OccurredAt)
			if cp.FullyReturned || weeks[w-1] {
				continue // not the start of a run
			}
			var run int64
			for weeks[w+run] {
				run++
			}
			best = max(best, run)
		}
		return best
	}
	return 0
}

// WeekIndex numbers the week (Monday to Sunday, UTC) that t falls in.
func WeekIndex(t time.Time) int64 {
	days := t.UTC().Unix() / 86400 // 1970-01-01 was a Thursday
	return (days + 3) / 7
}

// ChallengeEnrolment is a member's enrolment in a challenge and how far they are.
type ChallengeEnrolment struct {
	ChallengeID  string     `json:"challenge_id"`
	Name         string     `json:"name"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	Progress     int64      `json:"progress"`
	Target       int64      `json:"target"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	Deadline     *time.Time `json:"deadline,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	RewardPoints int64      `json:"reward_points"`
	Badge        string     `json:"badge,omitempty"`
}

// ChallengeReward is what completing a challenge gave: the points credited (0 when it had been given before) and
// whether this call was the one that completed it.
type ChallengeReward struct {
	Points   int64  `json:"points"`
	Badge    string `json:"badge,omitempty"`
	Replayed bool   `json:"replayed,omitempty"`
}

// EnrolmentUpdate is what the challenge workflow asks its activities to record of an enrolment.
type EnrolmentUpdate struct {
	Challenge  Challenge `json:"challenge"`
	MemberID   string    `json:"member_id"`
	EnrolledAt time.Time `json:"enrolled_at"`
	Progress   int64     `json:"progress"`
}

// EnrolmentEventKey is what the store announces (pg_notify) when a member's enrolment in a challenge is recorded.
func EnrolmentEventKey(challengeID, memberID string) string {
	return "enrolment:" + challengeID + "/" + memberID
}
