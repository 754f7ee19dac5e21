package api

import "strings"

// What a till sees of a member (OWASP API3, excessive data exposure): a point of sale greets the member and finds
// them again, it does not need their birthdate or phone number, nor their whole email address.

// forRole is the member as the caller's role may see it: for pos, without birthdate and phone and with the email
// masked (a***@example.com); for every other role as it is.
func (v memberView) forRole(role string) memberView {
	if role != RolePOS {
		return v
	}
	v.Birthdate, v.Phone, v.Email = "", "", maskEmail(v.Email)
	return v
}

// maskEmail keeps the first character and the domain of an address.
func maskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 {
		return ""
	}
	return email[:1] + "***" + email[at:]
}
