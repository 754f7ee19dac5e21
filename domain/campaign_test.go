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

func TestRecurringCampaignTakesUntilAndRunLength(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	until := now.AddDate(0, 3, 0)
	ok := Campaign{Name: "Fri", Kind: CampaignBonus, BonusPoints: 10, StartsAt: now, Schedule: "0 0 * * FRI", RunLength: "P1DT12H", Until: &until}
	if err := ok.Validate(now); err != nil {
		t.Fatal(err)
	}
	if d := ok.RunDuration(); d != 36*time.Hour {
		t.Fatalf("run length %s", d)
	}
	legacy := Campaign{StartsAt: now, EndsAt: now.Add(5 * time.Hour)}
	if d := legacy.RunDuration(); d != 5*time.Hour {
		t.Fatalf("a campaign without run_length: runs of %s, want ends_at − starts_at", d)
	}
	past, far := now.Add(-time.Hour), now.AddDate(2, 0, 0)
	for name, tc := range map[string]struct {
		edit  func(*Campaign)
		field string
	}{
		"no until":              {func(c *Campaign) { c.Until = nil }, "until"},
		"until in the past":     {func(c *Campaign) { c.Until = &past }, "until"},
		"until too far":         {func(c *Campaign) { c.Until = &far }, "until"},
		"months":                {func(c *Campaign) { c.RunLength = "P1M" }, "run_length"},
		"go style":              {func(c *Campaign) { c.RunLength = "36h" }, "run_length"},
		"too short":             {func(c *Campaign) { c.RunLength = "PT0S" }, "run_length"},
		"too long":              {func(c *Campaign) { c.RunLength = "P400D" }, "run_length"},
		"ends_at besides":       {func(c *Campaign) { c.EndsAt = now.Add(time.Hour) }, "ends_at"},
		"until without repeats": {func(c *Campaign) { c.Schedule, c.RunLength, c.EndsAt = "", "", now.Add(time.Hour) }, "until"},
		"run_length alone":      {func(c *Campaign) { c.Schedule, c.Until, c.EndsAt = "", nil, now.Add(time.Hour) }, "run_length"},
	} {
		c := ok
		tc.edit(&c)
		err := c.Validate(now)
		if err == nil || err.(*Error).Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want %s named", name, err, tc.field)
		}
	}
	// The form from before run_length: ends_at − starts_at is each run's length, and until may end the series.
	old := Campaign{Name: "Fri", Kind: CampaignBonus, BonusPoints: 10, StartsAt: now, EndsAt: now.Add(time.Hour), Schedule: "0 0 * * FRI", Until: &until}
	if err := old.Validate(now); err != nil {
		t.Fatal(err)
	}
}

func TestParseISODuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"P7D": 7 * 24 * time.Hour, "PT36H": 36 * time.Hour, "P1DT12H": 36 * time.Hour,
		"P2W": 14 * 24 * time.Hour, "PT1H30M": 90 * time.Minute, "PT90S": 90 * time.Second, "P1W2DT3H4M5S": 9*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second} {
		if d, err := ParseISODuration(s); err != nil || d != want {
			t.Errorf("%s: %s %v, want %s", s, d, err, want)
		}
	}
	for _, s := range []string{"", "P", "PT", "7D", "P1Y", "P1M", "P1.5D", "P-1D", "PT1D", "P1H", "P1D2W", "PT1H1H", "P1DT", "36h", "PD"} {
		if d, err := ParseISODuration(s); err == nil {
			t.Errorf("%q read as %s", s, d)
		}
	}
}
