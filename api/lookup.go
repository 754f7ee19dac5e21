package api

import (
	"net/http"

	"github.com/perkflow/perkflow/domain"
)

// GET /v1/members?email=|phone=|external_id=: support finds a member by what the member tells them (docs/api.md,
// "Members"). Exact matches only, never a listing, and every lookup is recorded with its actor.

type memberList struct {
	Items []memberView `json:"items"`
}

// lookUpMembers finds the members whose email, phone or external id is exactly the one given (exactly one of the
// three), normalised as registration stores them: the email lower-cased, the phone in E.164.
func (s *Server) lookUpMembers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var field, value string
	n := 0
	for _, f := range []string{domain.LookupEmail, domain.LookupPhone, domain.LookupExternalID} {
		if vs, ok := q[f]; ok {
			n += len(vs)
			field, value = f, vs[0]
		}
	}
	if n != 1 || value == "" || len(value) > 254 {
		fail(w, r, problem(domain.ErrInvalid, "give exactly one of email, phone or external_id, not empty",
			domain.FieldError{Field: "query", Message: "give exactly one of email, phone or external_id"}))
		return
	}
	switch field {
	case domain.LookupEmail:
		value = domain.NormalizeEmail(value)
	case domain.LookupPhone:
		p, ok := domain.NormalizePhone(value)
		if !ok {
			fail(w, r, problem(domain.ErrInvalid, "phone must be a number with its country code, such as +33 6 12 34 56 78",
				domain.FieldError{Field: "phone", Message: "must be a number with its country code (E.164)"}))
			return
		}
		value = p
	case domain.LookupExternalID:
		if !domain.ValidIdentifier(value) {
			fail(w, r, problem(domain.ErrInvalid, "external_id must be 1-128 letters, digits or . _ : -",
				domain.FieldError{Field: "external_id", Message: "must be 1-128 letters, digits or . _ : -"}))
			return
		}
	}
	p, _ := principalFrom(r.Context())
	members, err := s.cfg.Store.LookUpMembers(r.Context(), field, value, p.Actor())
	if err != nil {
		fail(w, r, err)
		return
	}
	out := memberList{Items: make([]memberView, 0, len(members))}
	for _, m := range members {
		out.Items = append(out.Items, viewOf(m))
	}
	writeJSON(w, http.StatusOK, out)
}
