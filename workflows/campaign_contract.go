package workflows

import (
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Campaign contract: a campaign is one workflow, campaign/<campaign id>, that sleeps until its start, puts its rule
// in force (or gives its bonus), announces it to its segment, watches its budget, obeys pause, resume, extend and
// cancel, and ends on time. The API and the worker import these names; nobody types them twice.
const (
	CampaignWorkflowName = "Campaign"

	// CampaignSignalPause stops the campaign's rule applying until resumed (no payload).
	CampaignSignalPause = "pause"
	// CampaignSignalResume puts a paused campaign's rule back in force (no payload).
	CampaignSignalResume = "resume"
	// CampaignSignalCancel ends the campaign now, for good (no payload).
	CampaignSignalCancel = "cancel"
	// CampaignSignalExtend moves the campaign's end later (payload CampaignExtension).
	CampaignSignalExtend = "extend"

	// DefaultBudgetCheckEvery is how often an active campaign with a budget checks whether it is spent.
	DefaultBudgetCheckEvery = time.Minute
	// campaignHistoryLimit is where a campaign continues as new (a long campaign checking its budget every minute).
	campaignHistoryLimit = 4000
	// seriesEndsVersion marks the series that complete at until + run_length; series started before it follow
	// their marketer's signals only.
	seriesEndsVersion = "campaign-series-ends-at-until"
)

// Activities of a campaign (see activity.go).
var (
	// SaveCampaign records the campaign and answers its segment's size.
	SaveCampaign = newActivity[domain.Campaign, int64]("SaveCampaign")
	// SetCampaignStatus records the campaign's status.
	SetCampaignStatus = newAction[domain.CampaignStatusChange]("SetCampaignStatus")
	// ChangeCampaignRule puts the campaign's earning rule in force, or ends it.
	ChangeCampaignRule = newAction[domain.CampaignRuleChange]("ChangeCampaignRule")
	// CampaignBudget reads what the campaign has issued against its budget (campaign id).
	CampaignBudget = newActivity[string, domain.CampaignBudget]("CampaignBudget")
	// GrantCampaignBonus gives the bonus to each member of the segment, in pages.
	GrantCampaignBonus = newActivity[domain.SegmentWalk, domain.SegmentProgress]("GrantCampaignBonus")
	// AnnounceCampaign announces the campaign to each member of the segment, in pages.
	AnnounceCampaign = newActivity[domain.SegmentWalk, domain.SegmentProgress]("AnnounceCampaign")
)

// CampaignWorkflowID names a campaign's workflow.
func CampaignWorkflowID(campaignID string) string { return "campaign/" + campaignID }

// CampaignInput starts (or continues) a campaign.
type CampaignInput struct {
	Campaign domain.Campaign `json:"campaign"`
	// BudgetCheckEvery is how often an active campaign with a budget checks it (DefaultBudgetCheckEvery when 0).
	BudgetCheckEvery time.Duration `json:"budget_check_every,omitempty"`
	// State carries the campaign over Continue-As-New.
	State *CampaignState `json:"state,omitempty"`
	// Occurrence marks one run of a recurring campaign, started by its Temporal Schedule: its window opens when it
	// starts and lasts the campaign's run_length (starts_at to ends_at for a campaign recorded without one); the
	// campaign was recorded by its series.
	Occurrence bool `json:"occurrence,omitempty"`
}

// CampaignScheduleID names the Temporal Schedule of a recurring campaign.
func CampaignScheduleID(campaignID string) string { return "campaign-schedule/" + campaignID }

// CampaignOccurrenceWorkflowID is the workflow id prefix of a recurring campaign's runs (the Schedule appends the
// time of each run).
func CampaignOccurrenceWorkflowID(campaignID string) string { return "campaign/" + campaignID + "/run" }

// CampaignExtension is the payload of CampaignSignalExtend.
type CampaignExtension struct {
	EndsAt time.Time `json:"ends_at"`
}

// CampaignState is the answer to the campaign's QueryState.
type CampaignState struct {
	CampaignID string `json:"campaign_id"`
	Status     string `json:"status"`
	Started    bool   `json:"started"`
	// Ended is true once the campaign (or this run of a recurring one) is over.
	Ended           bool      `json:"ended"`
	EndsAt          time.Time `json:"ends_at"`
	RuleInForce     bool      `json:"rule_in_force"`
	SegmentSize     int64     `json:"segment_size"`
	BudgetExhausted bool      `json:"budget_exhausted"`
	BonusDone       bool      `json:"bonus_done"`
	AnnounceDone    bool      `json:"announce_done"`
	Announced       int64     `json:"announced"`
	BonusPoints     int64     `json:"bonus_points_given"`
	// Events lists what happened, in words, for support and the marketer.
	Events []string `json:"events"`
}
