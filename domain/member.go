package domain

import (
	"regexp"
	"strings"
	"time"
)

// MemberStatus is where a member is in their life with the program.
type MemberStatus string

const (
	// MemberActive members earn and spend points.
	MemberActive MemberStatus = "active"
	// MemberErased members have had their personal data removed (GDPR); their ledger rows stay, anonymous.
	MemberErased MemberStatus = "erased"
)

// Consent records, per channel, whether the member agreed to receive messages.
type Consent struct {
	Email bool `json:"email"`
	SMS   bool `json:"sms"`
}

// Registration is what a POS or the member app sends to enrol a member. Email is the member's identity in the
// program: two members never share one (compared case-insensitively).
type Registration struct {
	MemberID   string  `json:"member_id"`
	ExternalID string  `json:"external_id,omitempty"`
	Email      string  `json:"email"`
	Phone      string  `json:"phone,omitempty"`
	Name       string  `json:"name"`
	Birthdate  string  `json:"birthdate,omitempty"` // YYYY-MM-DD
	Consent    Consent `json:"consent"`
}

// Member is an enrolled member as stored.
type Member struct {
	Registration
	Status   MemberStatus `json:"status"`
	JoinedAt time.Time    `json:"joined_at"`
}

var (
	e164       = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	identifier = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$`)
	uuidShape  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// ValidIdentifier reports whether s is an acceptable external identifier (transaction, store, external member id):
// 1 to 128 characters of letters, digits and . _ : - , starting with a letter or digit.
func ValidIdentifier(s string) bool { return identifier.MatchString(s) }

// ValidMemberID reports whether s is a member id as perkflow issues them (a lower-case UUID).
func ValidMemberID(s string) bool { return uuidShape.MatchString(s) }

// Normalize trims surrounding space and lower-cases the email so that uniqueness is case-insensitive.
func (r *Registration) Normalize() {
	r.Email = strings.ToLower(strings.TrimSpace(r.Email))
	r.Name = strings.TrimSpace(r.Name)
	r.Phone = strings.TrimSpace(r.Phone)
	r.ExternalID = strings.TrimSpace(r.ExternalID)
}

// Validate checks a normalized registration. now bounds the birthdate.
func (r Registration) Validate(now time.Time) error {
	var v Validation
	v.Check(r.MemberID == "" || ValidMemberID(r.MemberID), "member_id", "must be a UUID")
	checkEmail(&v, r.Email)
	v.Check(r.Phone == "" || e164.MatchString(r.Phone), "phone", "must be in E.164 form such as +33612345678")
	checkName(&v, r.Name)
	v.Check(r.ExternalID == "" || ValidIdentifier(r.ExternalID), "external_id", "must be 1-128 letters, digits or . _ : -")
	if r.Birthdate != "" {
		checkBirthdate(&v, r.Birthdate, now)
	}
	return v.Err()
}
