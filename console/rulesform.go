package console

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The earning-rule editor, shared by the rules pages and the multiplier campaigns of the builder: the form's fields
// are named as the API's body names them (conditions.categories, action.percent…), so that the API's field errors
// land beside them.

// programJSON is the program's settings as GET /v1/program answers them.
type programJSON struct {
	Version     int64  `json:"version"`
	Currency    string `json:"currency"`
	TimeZone    string `json:"time_zone"`
	PendingDays int    `json:"pending_days"`
	Expiry      struct {
		Months int `json:"months"`
	} `json:"expiry"`
	TierWindowDays        int  `json:"tier_window_days"`
	AllowNegativeOnReturn bool `json:"allow_negative_on_return"`
	Tiers                 []struct {
		Code              string `json:"code"`
		Name              string `json:"name"`
		ThresholdPoints   int64  `json:"threshold_points"`
		MultiplierPercent int64  `json:"multiplier_percent"`
	} `json:"tiers"`
	BirthdayBonusPoints int64 `json:"birthday_bonus_points"`
	WinbackDays         int   `json:"winback_days"`
	ExpiryReminderDays  int   `json:"expiry_reminder_days"`
	RetroClaimDays      *int  `json:"retro_claim_days"`
	// QualifyingKinds are the kinds of credit that count towards tiers (the API spells the default out).
	QualifyingKinds []string `json:"qualifying_kinds"`
	PointValue      *struct {
		Amount    int64  `json:"amount"`
		Currency  string `json:"currency"`
		PerPoints int64  `json:"per_points"`
	} `json:"point_value"`
}

func (q *request) program() (programJSON, error) {
	var p programJSON
	_, err := q.call("GET", "/v1/program", nil, &p)
	return p, err
}

// ruleJSON is an earning rule as the API shows it.
type ruleJSON struct {
	RuleID     string         `json:"rule_id,omitempty"`
	Version    int64          `json:"version,omitempty"`
	Name       string         `json:"name"`
	Priority   int            `json:"priority"`
	Mode       string         `json:"mode"`
	StartsAt   *time.Time     `json:"starts_at,omitempty"`
	EndsAt     *time.Time     `json:"ends_at,omitempty"`
	Conditions map[string]any `json:"conditions"`
	Action     map[string]any `json:"action"`
}

// request is the rule as a body of POST /v1/rules or of a simulation (no id, no version).
func (r ruleJSON) request() ruleJSON {
	r.RuleID, r.Version = "", 0
	if r.Conditions == nil {
		r.Conditions = map[string]any{}
	}
	return r
}

// conditionsOf reads the conditions of a rule from the form, under prefix ("conditions." for a rule, "rule.conditions."
// for a campaign's).
func (f *form) conditionsOf(prefix, currency string) map[string]any {
	c := map[string]any{}
	if m := f.minor(prefix + "min_total"); m != nil {
		c["min_total"] = map[string]any{"amount": *m, "currency": currency}
	}
	for _, k := range []string{"skus", "categories", "stores", "channels"} {
		if l := f.list(prefix + k); len(l) > 0 {
			c[k] = l
		}
	}
	var days []int
	for _, d := range f.all(prefix + "days_of_week") {
		if n, err := strconv.Atoi(d); err == nil {
			days = append(days, n)
		}
	}
	if len(days) > 0 {
		c["days_of_week"] = days
	}
	for _, k := range []string{"local_time_from", "local_time_to"} {
		if s := f.str(prefix + k); s != "" {
			c[k] = s
		}
	}
	if t := f.all(prefix + "tiers"); len(t) > 0 {
		c["tiers"] = t
	}
	return c
}

// actionOf reads a rule's action from the form, under prefix.
func (f *form) actionOf(prefix string) map[string]any {
	a := map[string]any{"type": f.str(prefix + "type")}
	switch a["type"] {
	case "earn_rate":
		a["points"], a["per_amount"] = f.intOr(prefix+"points", 0), f.intOr(prefix+"per_amount", 0)
	case "multiplier":
		a["percent"] = f.intOr(prefix+"percent", 0)
	case "bonus":
		a["points"] = f.intOr(prefix+"points", 0)
	}
	return a
}

// ruleOf reads a whole rule from the form.
func (f *form) ruleOf(currency string) ruleJSON {
	return ruleJSON{Name: f.str("name"), Priority: int(f.intOr("priority", 0)), Mode: f.str("mode"), StartsAt: f.time("starts_at"),
		EndsAt: f.time("ends_at"), Conditions: f.conditionsOf("conditions.", currency), Action: f.actionOf("action.")}
}

// ruleFormValues are a rule's values as the form shows them (prefix "" for a rule, "rule." for a campaign's):
// lists picked with checkboxes (days, tiers) as repeated values, typed lists joined with commas.
func ruleFormValues(r ruleJSON, prefix string, loc *time.Location) url.Values {
	v := url.Values{}
	if prefix == "" {
		v.Set("name", r.Name)
		v.Set("priority", strconv.Itoa(r.Priority))
		v.Set("mode", r.Mode)
		v.Set("starts_at", localInput(loc, r.StartsAt))
		v.Set("ends_at", localInput(loc, r.EndsAt))
		if r.Mode == "" {
			v.Set("mode", "stackable")
		}
	}
	for k, x := range r.Action {
		v.Set(prefix+"action."+k, jsonScalar(x))
	}
	for k, x := range r.Conditions {
		name := prefix + "conditions." + k
		switch n := x.(type) {
		case []any:
			var parts []string
			for _, e := range n {
				parts = append(parts, jsonScalar(e))
			}
			if k == "days_of_week" || k == "tiers" {
				v[name] = parts
			} else {
				v.Set(name, strings.Join(parts, ", "))
			}
		case map[string]any:
			if a, ok := n["amount"].(float64); ok {
				v.Set(name, strconv.FormatFloat(a/100, 'f', 2, 64))
			}
		default:
			v.Set(name, jsonScalar(x))
		}
	}
	return v
}

func jsonScalar(x any) string {
	switch n := x.(type) {
	case float64:
		return strconv.FormatInt(int64(n), 10)
	case string:
		return n
	case bool:
		return strconv.FormatBool(n)
	}
	return ""
}
