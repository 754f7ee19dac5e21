package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Campaign kinds.
const (
	// CampaignMultiplier adds an earning rule (usually a multiplier on a category) that applies only while the
	// campaign is active: purchases that occur while it runs earn more.
	CampaignMultiplier = "multiplier"
	// CampaignBonus gives BonusPoints once to each member of the segment when the campaign starts.
	CampaignBonus = "bonus"
	// CampaignAnnouncement only tells the segment about something.
	CampaignAnnouncement = "announcement"
)

// Campaign statuses.
const (
	CampaignScheduled = "scheduled"
	CampaignActive    = "active"
	CampaignPaused    = "paused"
	CampaignCompleted = "completed"
	CampaignCancelled = "cancelled"
)

// CampaignRulePrefix starts the id of the earning rule a multiplier campaign adds while it is active; budgets cap
// the contributions of rules with this prefix.
const CampaignRulePrefix = "campaign:"

// MaxCampaignDuration bounds a campaign's window, so that a typo in a year does not run one for a century.
const MaxCampaignDuration = 366 * 24 * time.Hour

// Campaign is what a marketer schedules: a window (StartsAt to EndsAt), a segment of members, and what the campaign
// does for them. A campaign never issues more than BudgetPoints (when set), whatever the concurrency.
type Campaign struct {
	ID           string        `json:"campaign_id"`
	Name         string        `json:"name"`
	Kind         string        `json:"kind"`
	Segment      Segment       `json:"segment"`
	StartsAt     time.Time     `json:"starts_at"`
	EndsAt       time.Time     `json:"ends_at"`
	Schedule     string        `json:"schedule,omitempty"`
	BudgetPoints *int64        `json:"budget_points,omitempty"`
	Rule         *CampaignRule `json:"rule,omitempty"`
	BonusPoints  int64         `json:"bonus_points,omitempty"`
	Announcement *Announcement `json:"announcement,omitempty"`
	CreatedBy    string        `json:"created_by,omitempty"`
	// Until ends a recurring campaign's series: no run starts after it (its Temporal Schedule's end). Required with
	// RunLength.
	Until *time.Time `json:"until,omitempty"`
	// RunLength is how long each run of a recurring campaign lasts, an ISO 8601 duration of weeks, days, hours,
	// minutes and seconds (P7D, PT36H, P1DT12H). Campaigns recorded without it (and requests that give ends_at
	// instead) take ends_at − starts_at as each run's length.
	RunLength string `json:"run_length,omitempty"`
}

// RunDuration is how long each run of a recurring campaign lasts: RunLength, or (for a campaign defined by its
// first run's window, as before run_length existed) EndsAt − StartsAt.
func (c Campaign) RunDuration() time.Duration {
	if c.RunLength != "" {
		if d, err := ParseISODuration(c.RunLength); err == nil {
			return d
		}
	}
	return c.EndsAt.Sub(c.StartsAt)
}

// CampaignRule is the earning rule of a multiplier campaign: conditions and action as for any rule; the campaign
// supplies its id, name, mode and dates.
type CampaignRule struct {
	Priority   int        `json:"priority,omitempty"`
	Conditions Conditions `json:"conditions"`
	Action     Action     `json:"action"`
}

// Announcement is the message sent to the segment when the campaign starts.
type Announcement struct {
	Channel  string `json:"channel"` // "email" or "sms"
	Template string `json:"template"`
}

// CampaignRuleID is the id of the earning rule a campaign adds while it is active.
func CampaignRuleID(campaignID string) string { return CampaignRulePrefix + campaignID }

// CampaignIDOfRule returns the campaign of a rule id, if it is a campaign's.
func CampaignIDOfRule(ruleID string) (string, bool) {
	return strings.CutPrefix(ruleID, CampaignRulePrefix)
}

// EarningRule is the rule in force while the campaign is active. Its tiers condition is the segment's, so that the
// rule favours only the members the campaign targets where the engine can tell (other segment criteria are about
// the member's history and apply to bonuses and announcements).
func (c Campaign) EarningRule() Rule {
	r := Rule{ID: CampaignRuleID(c.ID), Name: "Campaign: " + c.Name, Mode: RuleStackable}
	if c.Rule != nil {
		r.Priority, r.Conditions, r.Action = c.Rule.Priority, c.Rule.Conditions, c.Rule.Action
	}
	if len(r.Conditions.Tiers) == 0 && len(c.Segment.Tiers) > 0 {
		r.Conditions.Tiers = c.Segment.Tiers
	}
	return r
}

// AnnouncementKey is the key of the announcement of a campaign to one member: one per member and campaign run.
func AnnouncementKey(campaignID, memberID string) string {
	return TemplateCampaignAnnouncement + ":" + campaignID + ":" + memberID
}

// BonusKey is the ledger idempotency key of a campaign's bonus to one member.
func BonusKey(campaignID, memberID string) string {
	return "campaign-bonus:" + campaignID + ":" + memberID
}

// Validate checks a campaign as a marketer defines it; now bounds the dates.
func (c Campaign) Validate(now time.Time) error {
	var v Validation
	v.Check(c.Name != "" && utf8.RuneCountInString(c.Name) <= 100 && utf8.ValidString(c.Name), "name", "must be 1-100 characters")
	switch {
	case c.StartsAt.IsZero():
		v.Add("starts_at", "is required")
	case c.StartsAt.Year() < 2000 || c.StartsAt.Year() > 9999:
		v.Add("starts_at", "must be a date between 2000 and 9999")
	}
	runLength, recurring := time.Duration(0), c.Schedule != ""
	switch {
	case c.RunLength == "":
	case !recurring:
		v.Add("run_length", "is only for recurring campaigns (with a schedule)")
	default:
		d, err := ParseISODuration(c.RunLength)
		switch {
		case err != nil:
			v.Add("run_length", "must be an ISO 8601 duration such as P7D, PT36H or P1DT12H: %s", err.Error())
		case d < time.Second || d > MaxCampaignDuration:
			v.Add("run_length", "must be between one second and 366 days")
		default:
			runLength = d
		}
	}
	switch {
	case c.Until == nil:
		v.Check(c.RunLength == "" || !recurring, "until", "is required with run_length: it ends the recurring campaign's series")
	case !recurring:
		v.Add("until", "is only for recurring campaigns (with a schedule)")
	case c.Until.Year() < 2000 || c.Until.Year() > 9999:
		v.Add("until", "must be a date between 2000 and 9999")
	case !c.Until.After(c.StartsAt):
		v.Add("until", "must be after starts_at")
	case c.Until.Sub(c.StartsAt) > MaxCampaignDuration:
		v.Add("until", "must be at most 366 days after starts_at")
	case !c.Until.After(now):
		v.Add("until", "must be in the future")
	}
	switch {
	case recurring && c.RunLength != "":
		// Each run lasts run_length and the series ends at until: ends_at is the end of the run under way, which the
		// campaign records itself.
		v.Check(c.EndsAt.IsZero() || runLength == 0 || c.EndsAt.Equal(c.StartsAt.Add(runLength)), "ends_at",
			"is not taken with run_length: each run lasts run_length and until ends the series")
	case c.EndsAt.IsZero():
		v.Add("ends_at", "is required")
	case !c.EndsAt.After(c.StartsAt):
		v.Add("ends_at", "must be after starts_at")
	case c.EndsAt.Sub(c.StartsAt) > MaxCampaignDuration:
		v.Add("ends_at", "must be at most 366 days after starts_at")
	case !c.EndsAt.After(now) && c.Schedule == "":
		v.Add("ends_at", "must be in the future")
	}
	if c.BudgetPoints != nil {
		v.Check(*c.BudgetPoints >= 1 && *c.BudgetPoints <= 1_000_000_000, "budget_points", "must be between 1 and 1000000000")
	}
	if c.Schedule != "" {
		v.Check(validCron(c.Schedule), "schedule", "must be a cron expression of five fields such as \"0 0 * * 5\"")
	}
	switch c.Kind {
	case CampaignMultiplier:
		if c.Rule == nil {
			v.Add("rule", "is required for a multiplier campaign")
		} else if err := (Rule{ID: "x", Name: "x", Mode: RuleStackable, Priority: c.Rule.Priority, Conditions: c.Rule.Conditions, Action: c.Rule.Action}).Validate("rule."); err != nil {
			for _, f := range campaignRuleFields(err) {
				v.Add(f.Field, "%s", f.Message)
			}
		}
		v.Check(c.BonusPoints == 0, "bonus_points", "is only for bonus campaigns")
	case CampaignBonus:
		v.Check(c.BonusPoints >= 1 && c.BonusPoints <= 1_000_000, "bonus_points", "must be between 1 and 1000000")
		v.Check(c.Rule == nil, "rule", "is only for multiplier campaigns")
	case CampaignAnnouncement:
		v.Check(c.Announcement != nil, "announcement", "is required for an announcement campaign")
		v.Check(c.Rule == nil, "rule", "is only for multiplier campaigns")
		v.Check(c.BonusPoints == 0, "bonus_points", "is only for bonus campaigns")
	default:
		v.Add("kind", "must be multiplier, bonus or announcement")
	}
	if a := c.Announcement; a != nil {
		v.Check(a.Channel == ChannelEmail || a.Channel == ChannelSMS, "announcement.channel", "must be email or sms")
		v.Check(a.Template == "" || ValidIdentifier(a.Template), "announcement.template", "must be 1-128 letters, digits or . _ : -")
	}
	c.Segment.validate(&v, now)
	return v.Err()
}

func campaignRuleFields(err error) []FieldError {
	if e, ok := err.(*Error); ok {
		return e.Fields
	}
	return []FieldError{{Field: "rule", Message: err.Error()}}
}

// validCron checks the shape of a five-field cron expression (Temporal parses it for good when the schedule is made).
func validCron(s string) bool {
	f := strings.Fields(s)
	if len(f) != 5 || len(s) > 100 {
		return false
	}
	for _, x := range f {
		if strings.Trim(x, "0123456789*/,-") != "" && !isNames(x) {
			return false
		}
	}
	return true
}

func isNames(x string) bool {
	for _, p := range strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == '-' }) {
		if len(p) != 3 {
			return false
		}
	}
	return true
}

// CampaignStatusChange records where a campaign's workflow has taken it.
type CampaignStatusChange struct {
	CampaignID string    `json:"campaign_id"`
	Status     string    `json:"status"`
	EndsAt     time.Time `json:"ends_at"`
	Reason     string    `json:"reason,omitempty"`
}

// CampaignRuleChange puts a campaign's rule in force (Rule set) or ends it (Rule nil) for purchases that occur from
// At on. At comes from the workflow, so that a retried change records the same thing.
type CampaignRuleChange struct {
	CampaignID string    `json:"campaign_id"`
	Rule       *Rule     `json:"rule,omitempty"`
	At         time.Time `json:"at"`
}

// CampaignBudget is what a campaign has issued of its budget.
type CampaignBudget struct {
	Issued    int64  `json:"issued"`
	Budget    *int64 `json:"budget,omitempty"`
	Exhausted bool   `json:"exhausted"`
}

// SegmentWalk asks an activity to go through a campaign's segment page by page: announce to each member (Template
// set) or give each the bonus (Points set). The segment is judged at At.
type SegmentWalk struct {
	CampaignID string            `json:"campaign_id"`
	Segment    Segment           `json:"segment"`
	At         time.Time         `json:"at"`
	Points     int64             `json:"points,omitempty"`
	Channel    string            `json:"channel,omitempty"`
	Template   string            `json:"template,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	PageSize   int               `json:"page_size,omitempty"`
}

// SegmentProgress is where a segment walk is: the heartbeat details that let a retried activity resume after the
// last member done, and its result.
type SegmentProgress struct {
	Cursor  string `json:"cursor"`
	Members int64  `json:"members"`
	Sent    int64  `json:"sent"`
	Skipped int64  `json:"skipped"`
	Failed  int64  `json:"failed"`
	Points  int64  `json:"points"`
}

// CampaignEventKey is what the store announces (pg_notify) when a campaign is recorded or its status or end changes.
func CampaignEventKey(campaignID string) string { return "campaign:" + campaignID }
