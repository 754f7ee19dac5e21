package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rule modes.
const (
	// RuleStackable rules add to every other rule that applies to the same lines.
	RuleStackable = "stackable"
	// RuleExclusive rules claim their lines: on a line claimed by an exclusive rule, no rule of lower priority
	// (stackable or exclusive) applies. The highest-priority matching exclusive rule wins.
	RuleExclusive = "exclusive"
)

// Action types.
const (
	// ActionEarnRate earns Points per PerAmount minor units paid on the matching lines: the base points of a line.
	ActionEarnRate = "earn_rate"
	// ActionMultiplier scales the base points of the matching lines: 200 percent doubles them.
	ActionMultiplier = "multiplier"
	// ActionBonus gives Points once per transaction when any line matches.
	ActionBonus = "bonus"
)

// MaxRules bounds a rule set, so that an evaluation's cost stays small and predictable.
const MaxRules = 200

// Rule is an earning rule: when its conditions hold, its action adds points to a purchase. Rules are versioned: an
// edit creates a new version, and a purchase is judged by the versions in force at its occurred_at.
type Rule struct {
	ID         string     `json:"rule_id"`
	Version    int64      `json:"version,omitempty"`
	Name       string     `json:"name"`
	Priority   int        `json:"priority"`
	Mode       string     `json:"mode"`
	StartsAt   *time.Time `json:"starts_at,omitempty"`
	EndsAt     *time.Time `json:"ends_at,omitempty"`
	Conditions Conditions `json:"conditions"`
	Action     Action     `json:"action"`
}

// Clone returns a copy of r that shares no memory with it.
func (r Rule) Clone() Rule {
	r.StartsAt, r.EndsAt = clonePtr(r.StartsAt), clonePtr(r.EndsAt)
	c := &r.Conditions
	c.MinTotal = clonePtr(c.MinTotal)
	c.SKUs, c.Categories, c.Stores = slices.Clone(c.SKUs), slices.Clone(c.Categories), slices.Clone(c.Stores)
	c.Channels, c.DaysOfWeek, c.Tiers = slices.Clone(c.Channels), slices.Clone(c.DaysOfWeek), slices.Clone(c.Tiers)
	return r
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Conditions all must hold for a rule to apply; an empty condition always holds. SKUs and Categories select lines;
// the others concern the whole transaction.
type Conditions struct {
	MinTotal      *Money   `json:"min_total,omitempty"`
	SKUs          []string `json:"skus,omitempty"`
	Categories    []string `json:"categories,omitempty"`
	Stores        []string `json:"stores,omitempty"`
	Channels      []string `json:"channels,omitempty"`
	DaysOfWeek    []int    `json:"days_of_week,omitempty"` // 1 = Monday … 7 = Sunday, in the program's time zone
	LocalTimeFrom string   `json:"local_time_from,omitempty"`
	LocalTimeTo   string   `json:"local_time_to,omitempty"`
	Tiers         []string `json:"tiers,omitempty"`
}

// Action is what a rule gives.
type Action struct {
	Type      string `json:"type"`
	Points    int64  `json:"points,omitempty"`
	PerAmount int64  `json:"per_amount,omitempty"`
	Percent   int64  `json:"percent,omitempty"`
}

// RuleRef names one version of a rule.
type RuleRef struct {
	ID      string `json:"rule_id"`
	Version int64  `json:"version"`
}

func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func validList(v *Validation, field string, list []string, max int) {
	if len(list) > max {
		v.Add(field, "must list at most %d values", max)
		return
	}
	for i, s := range list {
		if s == "" || len(s) > 64 || !utf8.ValidString(s) {
			v.Add(field+"["+strconv.Itoa(i)+"]", "must be 1-64 characters")
		}
	}
}

// Validate checks a rule's shape (field names as in the API, under prefix).
func (r Rule) Validate(prefix string) error {
	var v Validation
	p := func(f string) string { return prefix + f }
	v.Check(r.Name != "" && utf8.RuneCountInString(r.Name) <= 100 && utf8.ValidString(r.Name), p("name"), "must be 1-100 characters")
	v.Check(r.Priority >= -1000 && r.Priority <= 1000, p("priority"), "must be between -1000 and 1000")
	v.Check(r.Mode == RuleStackable || r.Mode == RuleExclusive, p("mode"), "must be stackable or exclusive")
	if r.StartsAt != nil && r.EndsAt != nil {
		v.Check(r.EndsAt.After(*r.StartsAt), p("ends_at"), "must be after starts_at")
	}
	c := r.Conditions
	if c.MinTotal != nil {
		c.MinTotal.validate(&v, p("conditions.min_total"))
	}
	validList(&v, p("conditions.skus"), c.SKUs, 1000)
	validList(&v, p("conditions.categories"), c.Categories, 100)
	validList(&v, p("conditions.stores"), c.Stores, 1000)
	validList(&v, p("conditions.tiers"), c.Tiers, 20)
	for i, ch := range c.Channels {
		v.Check(slices.Contains(Channels, ch), p("conditions.channels["+strconv.Itoa(i)+"]"), "must be one of %s", strings.Join(Channels, ", "))
	}
	v.Check(len(c.Channels) <= len(Channels), p("conditions.channels"), "must list each channel at most once")
	v.Check(len(c.DaysOfWeek) <= 7, p("conditions.days_of_week"), "must list at most 7 days")
	for i, d := range c.DaysOfWeek {
		v.Check(d >= 1 && d <= 7, p("conditions.days_of_week["+strconv.Itoa(i)+"]"), "must be 1 (Monday) to 7 (Sunday)")
	}
	from, okFrom := parseClock(c.LocalTimeFrom)
	to, okTo := parseClock(c.LocalTimeTo)
	v.Check(c.LocalTimeFrom == "" || okFrom, p("conditions.local_time_from"), "must be HH:MM")
	v.Check(c.LocalTimeTo == "" || okTo, p("conditions.local_time_to"), "must be HH:MM")
	v.Check((c.LocalTimeFrom == "") == (c.LocalTimeTo == ""), p("conditions.local_time_to"), "local_time_from and local_time_to go together")
	if okFrom && okTo {
		v.Check(from != to, p("conditions.local_time_to"), "must differ from local_time_from")
	}
	a := r.Action
	switch a.Type {
	case ActionEarnRate:
		v.Check(a.Points >= 0 && a.Points <= 10_000, p("action.points"), "must be between 0 and 10000")
		v.Check(a.PerAmount >= 1 && a.PerAmount <= 1_000_000, p("action.per_amount"), "must be between 1 and 1000000")
		v.Check(a.Percent == 0, p("action.percent"), "is not used by earn_rate")
	case ActionMultiplier:
		v.Check(a.Percent >= 1 && a.Percent <= 10_000, p("action.percent"), "must be between 1 and 10000 (200 doubles base points)")
		v.Check(a.Points == 0 && a.PerAmount == 0, p("action"), "multiplier takes only percent")
	case ActionBonus:
		v.Check(a.Points >= 1 && a.Points <= 1_000_000, p("action.points"), "must be between 1 and 1000000")
		v.Check(a.PerAmount == 0 && a.Percent == 0, p("action"), "bonus takes only points")
	default:
		v.Add(p("action.type"), "must be earn_rate, multiplier or bonus")
	}
	return v.Err()
}

// ValidateRuleSet checks every rule of a set and its size.
func ValidateRuleSet(rules []Rule, field string) error {
	if len(rules) > MaxRules {
		return &Error{Code: ErrInvalid, Message: "the request is invalid", Fields: []FieldError{{Field: field, Message: fmt.Sprintf("must hold at most %d rules", MaxRules)}}}
	}
	var all []FieldError
	for i, r := range rules {
		if err := r.Validate(field + "[" + strconv.Itoa(i) + "]."); err != nil {
			all = append(all, err.(*Error).Fields...)
		}
	}
	if len(all) > 0 {
		return &Error{Code: ErrInvalid, Message: "the request is invalid", Fields: all}
	}
	return nil
}

// activeAt reports whether the rule's own dates include t.
func (r Rule) activeAt(t time.Time) bool {
	return (r.StartsAt == nil || !t.Before(*r.StartsAt)) && (r.EndsAt == nil || t.Before(*r.EndsAt))
}
