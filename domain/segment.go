package domain

import "time"

// Notification channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Segment selects the members a campaign targets; every criterion set must hold, and an empty segment is everyone
// active. Erased members are never in a segment.
type Segment struct {
	// Tiers the member holds now.
	Tiers []string `json:"tiers,omitempty"`
	// JoinedAfter and JoinedBefore bound when the member enrolled.
	JoinedAfter  *time.Time `json:"joined_after,omitempty"`
	JoinedBefore *time.Time `json:"joined_before,omitempty"`
	// InactiveDays selects members with no purchase in the last N days (win-back).
	InactiveDays int `json:"inactive_days,omitempty"`
	// MinLifetimePoints selects members who earned at least this many points, ever, net of returns (Balance.Lifetime).
	MinLifetimePoints int64 `json:"min_lifetime_points,omitempty"`
	// Consent selects members who agreed to messages on this channel ("email" or "sms").
	Consent string `json:"consent,omitempty"`
}

func (s Segment) validate(v *Validation, now time.Time) {
	validList(v, "segment.tiers", s.Tiers, 20)
	if s.JoinedAfter != nil && s.JoinedBefore != nil {
		v.Check(s.JoinedBefore.After(*s.JoinedAfter), "segment.joined_before", "must be after joined_after")
	}
	v.Check(s.InactiveDays >= 0 && s.InactiveDays <= 3650, "segment.inactive_days", "must be between 0 and 3650")
	v.Check(s.MinLifetimePoints >= 0, "segment.min_lifetime_points", "must not be negative")
	v.Check(s.Consent == "" || s.Consent == ChannelEmail || s.Consent == ChannelSMS, "segment.consent", "must be email or sms")
}

// FitsProgram refuses (ErrInvalid, naming the fields) a segment selecting on tiers the program does not have,
// which would silently select nobody.
func (s Segment) FitsProgram(p Program) error {
	if fields := unknownTiers(p, "segment.tiers", s.Tiers); len(fields) > 0 {
		return &Error{Code: ErrInvalid, Message: "the segment does not fit the program", Fields: fields}
	}
	return nil
}
