package workflows

import (
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
)

// Challenge workflow contract: one workflow per enrolment, challenge/{challengeID}/{memberID}.
const (
	// ChallengeWorkflowName is the registered name of ChallengeWorkflow.
	ChallengeWorkflowName = "Challenge"
	// SignalChallengePurchase delivers a domain.ChallengePurchase the member made (the member workflow forwards
	// every accrued purchase; the same transaction twice counts once).
	SignalChallengePurchase = "challenge-purchase"
	// SignalChallengeReturn delivers a domain.Return of a purchase, which undoes what that purchase contributed.
	SignalChallengeReturn = "challenge-return"
	// QueryChallengeState returns the ChallengeState (the same name as every entity workflow's state query).
	QueryChallengeState = QueryState
)

// Activities of a challenge enrolment (see activity.go).
var (
	// RecordEnrolment records the enrolment for the member's reads.
	RecordEnrolment = newAction[domain.EnrolmentUpdate]("RecordEnrolment")
	// RecordChallengeProgress records the enrolment's progress.
	RecordChallengeProgress = newAction[domain.EnrolmentUpdate]("RecordChallengeProgress")
	// CompleteChallenge grants the reward and badge, once.
	CompleteChallenge = newActivity[domain.EnrolmentUpdate, domain.ChallengeReward]("CompleteChallenge")
	// ExpireEnrolment records an enrolment that reached its deadline unfinished.
	ExpireEnrolment = newAction[domain.EnrolmentUpdate]("ExpireEnrolment")
)

// ChallengeWorkflowID is the workflow id of a member's enrolment in a challenge.
func ChallengeWorkflowID(challengeID, memberID string) string {
	return "challenge/" + challengeID + "/" + memberID
}

// ChallengeStartOptions are the options every starter of an enrolment uses. An enrolment happens once: a member who
// joins again while it runs joins the running one, and one that has ended is not started again.
func ChallengeStartOptions(challengeID, memberID, taskQueue string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ChallengeWorkflowID(challengeID, memberID),
		TaskQueue:                taskQueue,
		TypedSearchAttributes:    temporal.NewSearchAttributes(SearchAttrMemberID.ValueSet(memberID)),
		StaticSummary:            "Challenge " + challengeID + " for member " + memberID,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}
}

// ChallengeInput starts (or continues) an enrolment.
type ChallengeInput struct {
	Challenge  domain.Challenge `json:"challenge"`
	MemberID   string           `json:"member_id"`
	EnrolledAt time.Time        `json:"enrolled_at"`
	// Progress is carried across Continue-As-New (empty on the first run).
	Progress domain.ChallengeProgress `json:"progress"`
	// Purchases and Returns are signals the previous run received and had not counted when it continued as new;
	// this run counts them first.
	Purchases []domain.ChallengePurchase `json:"purchases,omitempty"`
	Returns   []domain.Return            `json:"returns,omitempty"`
	// Continued is set on runs after the first (the enrolment is recorded already).
	Continued bool `json:"continued,omitempty"`
	// MaxHistoryEvents overrides DefaultMaxHistoryEvents (tests).
	MaxHistoryEvents int `json:"max_history_events,omitempty"`
}

// ChallengeState is the answer to the state query, and the workflow's result.
type ChallengeState struct {
	ChallengeID  string     `json:"challenge_id"`
	MemberID     string     `json:"member_id"`
	Status       string     `json:"status"`
	Kind         string     `json:"kind"`
	Progress     int64      `json:"progress"`
	Target       int64      `json:"target"`
	EnrolledAt   time.Time  `json:"enrolled_at"`
	Deadline     time.Time  `json:"deadline"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
	PointsEarned int64      `json:"points_earned"`
	Purchases    int        `json:"purchases_counted"`
}
