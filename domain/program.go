package domain

import (
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

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
	Currency string `json:"currency"`
	// TimeZone (IANA) is where days of the week and local times in rules are read.
	TimeZone              string `json:"time_zone"`
	PendingDays           int    `json:"pending_days"`
	Expiry                Expiry `json:"expiry"`
	TierWindowDays        int    `json:"tier_window_days"`
	AllowNegativeOnReturn bool   `json:"allow_negative_on_return"`
	Tiers                 []Tier `json:"tiers"`
	// BirthdayBonusPoints are credited on the member's birthday, once a year (0: no bonus).
	BirthdayBonusPoints int64 `json:"birthday_bonus_points"`
	// WinbackDays without a purchase send the member a win-back message (0: never).
	WinbackDays int `json:"winback_days"`
	// ExpiryReminderDays before points expire, the member is reminded once per lot (0: no reminders).
	ExpiryReminderDays int `json:"expiry_reminder_days"`
	// PointValue is what a point is worth to the program, for its liability in money (nil: not valued).
	PointValue *PointValue `json:"point_value,omitempty"`
	// RetroClaimDays bounds how late a purchase may be claimed: it may have occurred at most this many days before
	// the member joined, and before now. Nil means DefaultRetroClaimDays.
	RetroClaimDays *int `json:"retro_claim_days,omitempty"`
	// QualifyingKinds lists the kinds of credit that count towards tiers (qualifying points); nil means
	// DefaultQualifyingKinds. A kind's returns, and its debits for adjustments, count against it.
	QualifyingKinds []string `json:"qualifying_kinds,omitempty"`
}

// The kinds of credit a program may count towards tiers (Program.QualifyingKinds).
const (
	// QualifyPurchase: points earned by purchases, less what their returns reversed.
	QualifyPurchase = "purchase"
	// QualifyCampaign: bonuses of campaigns.
	QualifyCampaign = "campaign"
	// QualifyChallenge: rewards of challenges completed.
	QualifyChallenge = "challenge"
	// QualifyBirthday: birthday bonuses.
	QualifyBirthday = "birthday"
	// QualifyAdjustment: support's adjustments, credits and debits alike.
	QualifyAdjustment = "adjustment"
	// QualifyImport: opening balances brought by an import.
	QualifyImport = "import"
)

// QualifyingKindNames are the kinds a program may list in qualifying_kinds, in the order documented.
var QualifyingKindNames = []string{QualifyPurchase, QualifyCampaign, QualifyChallenge, QualifyBirthday, QualifyAdjustment, QualifyImport}

// DefaultQualifyingKinds is QualifyingKinds when the program does not set it: purchases and campaign bonuses qualify,
// challenge rewards, birthday bonuses, adjustments and imported balances do not.
var DefaultQualifyingKinds = []string{QualifyPurchase, QualifyCampaign}

// Qualifying is the list of credit kinds that count towards tiers under the program.
func (p Program) Qualifying() []string {
	if p.QualifyingKinds == nil {
		return slices.Clone(DefaultQualifyingKinds)
	}
	return slices.Clone(p.QualifyingKinds)
}

// DefaultRetroClaimDays is RetroClaimDays when the program does not set it.
const DefaultRetroClaimDays = 30

// RetroClaimWindow is how many days before joining, and before now, a purchase may have occurred.
func (p Program) RetroClaimWindow() int {
	if p.RetroClaimDays == nil {
		return DefaultRetroClaimDays
	}
	return *p.RetroClaimDays
}

// ClaimableAt refuses (ErrUnprocessable, naming occurred_at) a purchase that occurred further back than the retro
// claim window before the member joined or before now.
func (p Program) ClaimableAt(occurredAt, joinedAt, now time.Time) error {
	days := p.RetroClaimWindow()
	switch {
	case !joinedAt.IsZero() && occurredAt.Before(joinedAt.AddDate(0, 0, -days)):
		return occurredAtRefused("the purchase occurred more than " + strconv.Itoa(days) + " days before the member joined (retro_claim_days)")
	case occurredAt.Before(now.AddDate(0, 0, -days)):
		return occurredAtRefused("the purchase occurred more than " + strconv.Itoa(days) + " days ago (retro_claim_days)")
	}
	return nil
}

// ExpiredAlready refuses (ErrUnprocessable) a purchase whose points, expiring by this program counted from
// occurredAt, would have expired by now: no lot is created expired.
func (p Program) ExpiredAlready(occurredAt, now time.Time) error {
	if e := p.ExpiresAt(occurredAt); e != nil && !e.After(now) {
		return occurredAtRefused("the points of a purchase that old have expired already")
	}
	return nil
}

func occurredAtRefused(msg string) error {
	return &Error{Code: ErrUnprocessable, Message: msg, Fields: []FieldError{{Field: "occurred_at", Message: msg}}}
}

// DefaultProgram is what a fresh installation starts with: points available at once, expiring after two years, three
// tiers. What purchases earn is set by earning rules (see DefaultRules).
func DefaultProgram() Program {
	return Program{
		Currency:       "EUR",
		TimeZone:       "UTC",
		PendingDays:    0,
		Expiry:         Expiry{Months: 24},
		TierWindowDays: 365,
		Tiers: []Tier{
			{Code: "member", Name: "Member", ThresholdPoints: 0, MultiplierPercent: 100},
			{Code: "silver", Name: "Silver", ThresholdPoints: 1000, MultiplierPercent: 125},
			{Code: "gold", Name: "Gold", ThresholdPoints: 5000, MultiplierPercent: 150},
		},
		BirthdayBonusPoints: 100,
		WinbackDays:         60,
		ExpiryReminderDays:  30,
		// A point is worth a cent: what a point per euro spent gives back, 1 %.
		PointValue: &PointValue{Amount: 1, Currency: "EUR"},
	}
}

// Validate checks the settings.
func (p Program) Validate() error {
	var v Validation
	v.Check(ValidCurrency(p.Currency), "currency", "must be an ISO 4217 code such as EUR")
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "" || p.TimeZone == "Local" {
		v.Add("time_zone", "must be an IANA time zone such as Europe/Paris")
	}
	v.Check(p.PendingDays >= 0 && p.PendingDays <= 365, "pending_days", "must be between 0 and 365")
	v.Check(p.Expiry.Months >= 0 && p.Expiry.Months <= 120, "expiry.months", "must be between 0 (never) and 120")
	v.Check(p.TierWindowDays >= 1 && p.TierWindowDays <= 3660, "tier_window_days", "must be between 1 and 3660")
	v.Check(p.BirthdayBonusPoints >= 0 && p.BirthdayBonusPoints <= MaxPointsPerOperation, "birthday_bonus_points", "must be between 0 (none) and %d", MaxPointsPerOperation)
	v.Check(p.WinbackDays >= 0 && p.WinbackDays <= 3660, "winback_days", "must be between 0 (never) and 3660")
	v.Check(p.ExpiryReminderDays >= 0 && p.ExpiryReminderDays <= 365, "expiry_reminder_days", "must be between 0 (none) and 365")
	if p.RetroClaimDays != nil {
		v.Check(*p.RetroClaimDays >= 0 && *p.RetroClaimDays <= 3660, "retro_claim_days", "must be between 0 and 3660")
	}
	if p.QualifyingKinds != nil {
		v.Check(len(p.QualifyingKinds) >= 1, "qualifying_kinds", "must list at least one kind (leave it out for the default: purchase, campaign)")
		for i, k := range p.QualifyingKinds {
			f := "qualifying_kinds[" + strconv.Itoa(i) + "]"
			v.Check(slices.Contains(QualifyingKindNames, k), f, "must be one of purchase, campaign, challenge, birthday, adjustment, import")
			v.Check(!slices.Contains(p.QualifyingKinds[:i], k), f, "is listed twice")
		}
	}
	v.Check(len(p.Tiers) >= 1 && len(p.Tiers) <= 20, "tiers", "must list between 1 and 20 tiers")
	if p.PointValue != nil {
		p.PointValue.validate(&v, "point_value", p.Currency)
	}
	seen := map[string]bool{}
	for i, t := range p.Tiers {
		f := "tiers[" + strconv.Itoa(i) + "]"
		v.Check(ValidIdentifier(t.Code) && len(t.Code) <= 32, f+".code", "must be 1-32 letters, digits or . _ : -")
		v.Check(!seen[t.Code], f+".code", "is used twice")
		seen[t.Code] = true
		v.Check(t.Name != "" && utf8.RuneCountInString(t.Name) <= 64, f+".name", "must be 1-64 characters")
		v.Check(t.MultiplierPercent >= 1 && t.MultiplierPercent <= 1000, f+".multiplier_percent", "must be between 1 and 1000 (100 = base points)")
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
	Code         string     `json:"code"`
	Name         string     `json:"name"`
	NextCode     string     `json:"next_code,omitempty"`
	PointsToNext int64      `json:"points_to_next"`
	ReviewAt     *time.Time `json:"review_at,omitempty"`
}

// TierStatusFor describes a member's tier: the one they hold (spending never demotes; only the review on its
// anniversary does) and the qualifying points still missing for the next one.
func (p Program) TierStatusFor(held MemberTier, qualifying int64) TierStatus {
	if len(p.Tiers) == 0 {
		return TierStatus{}
	}
	t, i := p.TierByCode(held.Code)
	s := TierStatus{Code: t.Code, Name: t.Name, ReviewAt: held.ReviewAt}
	if i+1 < len(p.Tiers) {
		s.NextCode = p.Tiers[i+1].Code
		s.PointsToNext = max(p.Tiers[i+1].ThresholdPoints-qualifying, 0)
	}
	return s
}

// TiersUpTo lists the codes of the program's tiers from the entry tier up to the one with this code, included (the
// entry tier alone for a code the program does not have).
func (p Program) TiersUpTo(code string) []string {
	_, idx := p.TierByCode(code)
	var out []string
	for i := 0; i <= idx && i < len(p.Tiers); i++ {
		out = append(out, p.Tiers[i].Code)
	}
	return out
}

// ProgramVersion is one version of the program settings and when it took effect.
type ProgramVersion struct {
	Version       int64     `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	Program       Program   `json:"program"`
}

// Clone returns a copy of p that shares no memory with it.
func (p Program) Clone() Program {
	p.Tiers = slices.Clone(p.Tiers)
	p.QualifyingKinds = slices.Clone(p.QualifyingKinds)
	p.PointValue, p.RetroClaimDays = clonePtr(p.PointValue), clonePtr(p.RetroClaimDays)
	return p
}

// Location is the program's time zone (UTC when unset or unknown).
func (p Program) Location() *time.Location {
	if p.TimeZone == "" || p.TimeZone == "Local" {
		return time.UTC
	}
	if loc, ok := zones.Load(p.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return time.UTC
	}
	zones.Store(p.TimeZone, loc)
	return loc
}

// zones holds the time zones loaded so far by name: time.LoadLocation reads and parses the zone's file on every
// call, and every accrual asks for the program's zone. A *time.Location is immutable, so one is shared by all.
var zones sync.Map

// EarnsOn says whether a purchase of total can earn under the program: only purchases in the program's currency do.
// Earn applies it, and so does the API before it accepts a purchase, so that a refused one writes nothing.
func (p Program) EarnsOn(total Money) error {
	if total.Currency == p.Currency {
		return nil
	}
	return RequireCurrency(total, p.Currency, "total",
		"the program earns on "+p.Currency+" purchases, this one is in "+total.Currency)
}

// AvailableAt is when points earned by a purchase at t become spendable.
func (p Program) AvailableAt(t time.Time) time.Time { return t.UTC().AddDate(0, 0, p.PendingDays) }

// ExpiresAt is when points credited at t expire, or nil when they never do.
func (p Program) ExpiresAt(t time.Time) *time.Time {
	if p.Expiry.Months <= 0 {
		return nil
	}
	e := t.UTC().AddDate(0, p.Expiry.Months, 0)
	return &e
}

// TierByCode returns the tier with this code and its index, or the first tier and 0 when no tier has it.
func (p Program) TierByCode(code string) (Tier, int) {
	for i, t := range p.Tiers {
		if t.Code == code {
			return t, i
		}
	}
	if len(p.Tiers) == 0 {
		return Tier{}, 0
	}
	return p.Tiers[0], 0
}

// DefaultRules are the demo program's earning rules: one point per euro on everything.
func DefaultRules() []Rule {
	return []Rule{{
		ID: "base-rate", Name: "1 point per EUR", Priority: 0, Mode: RuleStackable,
		Action: Action{Type: ActionEarnRate, Points: 1, PerAmount: 100},
	}}
}

// Kinds of settings change.
const (
	SettingsProgram    = "program"
	SettingsRuleCreate = "rule_create"
	SettingsRuleUpdate = "rule_update"
	SettingsRuleDelete = "rule_delete"
)

// SettingsChange is a change to the program or its rules, made by Actor. It takes effect when applied: purchases
// that occur from then on are judged by it.
type SettingsChange struct {
	Kind    string   `json:"kind"`
	Program *Program `json:"program,omitempty"`
	Rule    *Rule    `json:"rule,omitempty"`
	RuleID  string   `json:"rule_id,omitempty"`
	Actor   string   `json:"actor"`
}

// SettingsResult is what a change recorded.
type SettingsResult struct {
	Program *ProgramVersion `json:"program,omitempty"`
	Rule    *Rule           `json:"rule,omitempty"`
}
