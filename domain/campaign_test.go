package domain

import (
	"strings"
	"testing"
	"time"
)

func TestCampaignValidate(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ok := Campaign{ID: "c", Name: "Double books", Kind: CampaignMultiplier, StartsAt: now, EndsAt: now.Add(48 * time.Hour),
		Rule: &CampaignRule{Conditions: Conditions{Categories: []string{"books"}}, Action: Action{Type: ActionMultiplier, Percent: 200}}}
	if err := ok.Validate(now); err != nil {
		t.Fatal(err)
	}
	neg := int64(-1)
	for name, tc := range map[string]struct {
		edit  func(*Campaign)
		field string
	}{
		"no kind":        {func(c *Campaign) { c.Kind = "" }, "kind"},
		"ends first":     {func(c *Campaign) { c.EndsAt = c.StartsAt }, "ends_at"},
		"too long":       {func(c *Campaign) { c.EndsAt = c.StartsAt.AddDate(2, 0, 0) }, "ends_at"},
		"bad rule":       {func(c *Campaign) { c.Rule.Action.Percent = -5 }, "rule.action.percent"},
		"no rule":        {func(c *Campaign) { c.Rule = nil }, "rule"},
		"budget":         {func(c *Campaign) { c.BudgetPoints = &neg }, "budget_points"},
		"cron":           {func(c *Campaign) { c.Schedule = "every friday" }, "schedule"},
		"bonus on multi": {func(c *Campaign) { c.BonusPoints = 5 }, "bonus_points"},
		"consent":        {func(c *Campaign) { c.Segment.Consent = "fax" }, "segment.consent"},
		"announce":       {func(c *Campaign) { c.Announcement = &Announcement{Channel: "pigeon"} }, "announcement.channel"},
	} {
		c := ok
		r := *ok.Rule
		c.Rule = &r
		tc.edit(&c)
		err := c.Validate(now)
		if err == nil || !strings.Contains(err.(*Error).Fields[0].Field, tc.field) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (Campaign{Name: "Fri", Kind: CampaignBonus, BonusPoints: 10, StartsAt: now, EndsAt: now.Add(time.Hour), Schedule: "0 0 * * FRI"}).Validate(now); err != nil {
		t.Fatal(err)
	}
	if r := ok.EarningRule(); r.ID != "campaign:c" || r.Action.Percent != 200 || r.Mode != RuleStackable {
		t.Fatalf("%+v", r)
	}
}
