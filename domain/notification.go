package domain

// Templates of the messages perkflow sends.
const (
	TemplateWelcome = "welcome"
)

// Notification is one message to a member. Key is deterministic (derived from the business event, such as
// "welcome:<member id>"), so that a message is sent at most once whatever the retries.
type Notification struct {
	Key      string            `json:"key"`
	MemberID string            `json:"member_id"`
	Template string            `json:"template"`
	Data     map[string]string `json:"data,omitempty"`
}

// WelcomeKey is the key of a member's welcome message: one per member, ever.
func WelcomeKey(memberID string) string { return TemplateWelcome + ":" + memberID }
