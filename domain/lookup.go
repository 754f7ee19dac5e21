package domain

import "strings"

// Looking a member up: support finds a member by what the member tells them, matched exactly once normalised the
// way registration stores it.

// Fields a member can be looked up by.
const (
	LookupEmail      = "email"
	LookupPhone      = "phone"
	LookupExternalID = "external_id"
)

// NormalizeEmail is how emails are compared: trimmed and lower-cased.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone brings a phone number as people write it (+33 6 12-34.56 (78), 0033…) to E.164 (+33612345678).
// It reports false when the result is not E.164: without a country code a number cannot be normalised.
func NormalizePhone(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9', r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", false
		}
	}
	p := b.String()
	if rest, ok := strings.CutPrefix(p, "00"); ok {
		p = "+" + rest
	}
	return p, e164.MatchString(p)
}
