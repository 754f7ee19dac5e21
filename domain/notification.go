package domain

import "time"

// Notification is one message to a member. Key is deterministic (derived from the business event, such as
// "welcome:<member id>"), so that a message is sent at most once whatever the retries.
type Notification struct {
	Key      string            `json:"key"`
	MemberID string            `json:"member_id"`
	Template string            `json:"template"`
	Data     map[string]string `json:"data,omitempty"`
}

// TierChangeKey is the key of the message telling a member of a new tier: one per tier change.
func TierChangeKey(memberID, tier string, reviewAt time.Time) string {
	return TemplateTierChange + ":" + memberID + ":" + tier + ":" + reviewAt.UTC().Format("20060102")
}

// WelcomeKey is the key of a member's welcome message: one per member, ever.
func WelcomeKey(memberID string) string { return TemplateWelcome + ":" + memberID }

// Templates of redemption messages.
const (
	TemplateRedemptionCompleted = "redemption_completed"
	TemplateRedemptionFailed    = "redemption_failed"
	TemplateRedemptionCancelled = "redemption_cancelled"
)

// RedemptionNotificationKey is the key of a message about a redemption's outcome: one per redemption and outcome.
func RedemptionNotificationKey(template, redemptionID string) string {
	return template + ":" + redemptionID
}

// Templates of engagement messages (the expiry reminder is TemplateExpiryReminder).
const (
	TemplateWinback            = "winback"
	TemplateBirthday           = "birthday"
	TemplateChallengeCompleted = "challenge_completed"
)
