package domain

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ProfilePatch is a change a member (or an admin) makes to the member's own profile and consent: only the fields
// set change. Phone and birthdate may be set to "" to remove them; email and name may not.
type ProfilePatch struct {
	Email     *string       `json:"email,omitempty"`
	Phone     *string       `json:"phone,omitempty"`
	Name      *string       `json:"name,omitempty"`
	Birthdate *string       `json:"birthdate,omitempty"`
	Consent   *ConsentPatch `json:"consent,omitempty"`
}

// ConsentPatch changes the consent of the channels set.
type ConsentPatch struct {
	Email *bool `json:"email,omitempty"`
	SMS   *bool `json:"sms,omitempty"`
}

// Normalize brings the patch's values to the form they are stored in (as Registration.Normalize does).
func (p *ProfilePatch) Normalize() {
	trim := func(s **string, lower bool) {
		if *s == nil {
			return
		}
		v := strings.TrimSpace(**s)
		if lower {
			v = strings.ToLower(v)
		}
		*s = &v
	}
	trim(&p.Email, true)
	trim(&p.Phone, false)
	trim(&p.Name, false)
	trim(&p.Birthdate, false)
}

// Empty reports whether the patch changes nothing.
func (p ProfilePatch) Empty() bool {
	return p.Email == nil && p.Phone == nil && p.Name == nil && p.Birthdate == nil &&
		(p.Consent == nil || p.Consent.Email == nil && p.Consent.SMS == nil)
}

// Validate checks a normalized patch. now bounds the birthdate.
func (p ProfilePatch) Validate(now time.Time) error {
	var v Validation
	if p.Empty() {
		v.Add("", "name at least one of email, phone, name, birthdate, consent")
	}
	if p.Email != nil {
		checkEmail(&v, *p.Email)
	}
	if p.Phone != nil {
		v.Check(*p.Phone == "" || e164.MatchString(*p.Phone), "phone", "must be in E.164 form such as +33612345678 (or \"\" to remove it)")
	}
	if p.Name != nil {
		checkName(&v, *p.Name)
	}
	if p.Birthdate != nil && *p.Birthdate != "" {
		checkBirthdate(&v, *p.Birthdate, now)
	}
	return v.Err()
}

// Apply returns m with the patch applied, and the names of the fields whose value it changes ("consent.email",
// "consent.sms" for consent), sorted.
func (p ProfilePatch) Apply(m Member) (Member, []string) {
	var changed []string
	set := func(field string, dst *string, v *string) {
		if v != nil && *dst != *v {
			*dst = *v
			changed = append(changed, field)
		}
	}
	set("email", &m.Email, p.Email)
	set("phone", &m.Phone, p.Phone)
	set("name", &m.Name, p.Name)
	set("birthdate", &m.Birthdate, p.Birthdate)
	if c := p.Consent; c != nil {
		if c.Email != nil && m.Consent.Email != *c.Email {
			m.Consent.Email = *c.Email
			changed = append(changed, "consent.email")
		}
		if c.SMS != nil && m.Consent.SMS != *c.SMS {
			m.Consent.SMS = *c.SMS
			changed = append(changed, "consent.sms")
		}
	}
	slices.Sort(changed)
	return m, changed
}

// ProfileChange is the record of a profile change in the member's workflow (the argument of its profile update):
// who changed which fields, and the consent the member gives after it. It names fields, never their values, since
// those are personal data.
type ProfileChange struct {
	Actor   string   `json:"actor"`
	Fields  []string `json:"fields"`
	Consent Consent  `json:"consent"`
}

// Changed reports whether the change names field.
func (c ProfileChange) Changed(field string) bool { return slices.Contains(c.Fields, field) }

func checkEmail(v *Validation, email string) {
	if email == "" {
		v.Add("email", "is required")
	} else if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		v.Add("email", "must be a plain email address such as ada@example.com")
	}
}

func checkName(v *Validation, name string) {
	switch {
	case name == "":
		v.Add("name", "is required")
	case !utf8.ValidString(name):
		v.Add("name", "must be valid UTF-8")
	case utf8.RuneCountInString(name) > 200:
		v.Add("name", "must be at most 200 characters")
	case strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		v.Add("name", "must not contain control characters")
	}
}

func checkBirthdate(v *Validation, birthdate string, now time.Time) {
	d, err := time.Parse(time.DateOnly, birthdate)
	switch {
	case err != nil:
		v.Add("birthdate", "must be a date in YYYY-MM-DD form")
	case d.Year() < 1900 || d.After(now):
		v.Add("birthdate", "must be between 1900-01-01 and today")
	}
}

// Erasure asks for a member's personal data to be erased (GDPR Art. 17); Actor is who asked.
type Erasure struct {
	MemberID string `json:"member_id"`
	Actor    string `json:"actor"`
}

// ErasureReport says what an erasure changed: rows overwritten or removed, by table (never a value). AlreadyErased
// is set when the member had been erased before: nothing was left to change.
type ErasureReport struct {
	MemberID      string           `json:"member_id"`
	AlreadyErased bool             `json:"already_erased,omitempty"`
	Rows          map[string]int64 `json:"rows,omitempty"`
}
