package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Members: registration (POST /v1/members/register) and the profile with balance and tier (GET
// /v1/members/{memberId}) (docs/api.md, "Members").

// registerRequest is the body of POST /v1/members/register.
type registerRequest struct {
	ExternalID string         `json:"external_id"`
	Email      string         `json:"email"`
	Phone      string         `json:"phone"`
	Name       string         `json:"name"`
	Birthdate  string         `json:"birthdate"`
	Consent    domain.Consent `json:"consent"`
}

// memberView is a member as the API shows it.
type memberView struct {
	MemberID   string             `json:"member_id"`
	ExternalID string             `json:"external_id,omitempty"`
	Email      string             `json:"email,omitempty"`
	Phone      string             `json:"phone,omitempty"`
	Name       string             `json:"name,omitempty"`
	Birthdate  string             `json:"birthdate,omitempty"`
	Consent    domain.Consent     `json:"consent"`
	Status     string             `json:"status"`
	JoinedAt   *time.Time         `json:"joined_at,omitempty"`
	Balance    *domain.Balance    `json:"balance,omitempty"`
	Tier       *domain.TierStatus `json:"tier,omitempty"`
}

func viewOf(m domain.Member) memberView {
	j := m.JoinedAt
	return memberView{
		MemberID: m.MemberID, ExternalID: m.ExternalID, Email: m.Email, Phone: m.Phone, Name: m.Name,
		Birthdate: m.Birthdate, Consent: m.Consent, Status: string(m.Status), JoinedAt: &j,
	}
}

// errIdentityTaken answers a registration whose email or external id another member holds.
var errIdentityTaken = problem(domain.ErrConflict, "a member with this email or external_id already exists")

// registerMember registers the member in Postgres — the 201 means the member exists, durably — and then starts
// their workflow with a plain start, whose first task only welcomes them: 201 with the member, 409 when the email or
// external id is taken (the database's unique keys decide, so racing registrations cannot both win). The request
// waits for no workflow task: registering used to start the workflow with the registration and wait for it in an
// Update (a start, an activity task and several workflow tasks per member; BENCHMARKS.md). When Temporal does not
// take the start, the member is registered all the same and their workflow starts on its first need, as an imported
// member's (docs/imports.md): marked workflow_pending for the daily wake-up.
func (s *Server) registerMember(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	reg := domain.Registration{
		MemberID: uuid.NewString(), ExternalID: req.ExternalID, Email: req.Email, Phone: req.Phone, Name: req.Name,
		Birthdate: req.Birthdate, Consent: req.Consent,
	}
	reg.Normalize()
	if err := reg.Validate(s.now()); err != nil {
		fail(w, r, err)
		return
	}
	// A cheap early answer for the common duplicate, before a key is made for them; the members table's unique keys
	// are the real guard against races.
	if taken, err := s.cfg.Store.MemberIdentityTaken(r.Context(), reg.Email, reg.ExternalID); err != nil {
		fail(w, r, err)
		return
	} else if taken {
		fail(w, r, errIdentityTaken)
		return
	}
	// The personal fields enter the workflow sealed under the member's own key, made here (docs/privacy.md).
	if s.cfg.Members == nil {
		fail(w, r, errors.New("no member keys configured (PERKFLOW_PAYLOAD_KEYS)"))
		return
	}
	sealed, err := s.cfg.Members.SealRegistration(r.Context(), reg)
	if err != nil {
		fail(w, r, err)
		return
	}
	m, err := s.cfg.Store.CreateMember(r.Context(), reg)
	switch code := codeOf(err); {
	case err == nil:
	case code == domain.ErrConflict:
		fail(w, r, errIdentityTaken) // the store's message says which of the two is taken
		return
	default:
		fail(w, r, err)
		return
	}
	opts, in := s.memberStart(reg.MemberID, &sealed, nil)
	in.Registered = true
	if _, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), opts, workflows.MemberWorkflowName, in); err != nil {
		s.log.WarnContext(r.Context(), "member registered; their workflow did not start and will on its first need",
			"member_id", reg.MemberID, "error", err)
		if err := s.cfg.Store.MarkMemberWorkflowPending(context.WithoutCancel(r.Context()), reg.MemberID); err != nil {
			s.log.ErrorContext(r.Context(), "cannot mark the member's workflow pending", "member_id", reg.MemberID, "error", err)
		}
	}
	w.Header().Set("Location", "/v1/members/"+m.MemberID)
	p, _ := principalFrom(r.Context())
	writeJSON(w, http.StatusCreated, viewOf(m).forRole(p.Role))
}

// getMember shows a member's profile, balance and tier.
func (s *Server) getMember(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	mv, err := s.cfg.Store.MemberView(r.Context(), id, s.now())
	if domain.CodeOf(err) == domain.ErrNotFound && mv.Member.MemberID == "" { // the member row itself is missing
		if s.memberWorkflowRunning(r.Context(), id) {
			writeJSON(w, http.StatusOK, memberView{MemberID: id, Status: workflows.MemberStatusRegistering})
			return
		}
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if mv.Member.Status == domain.MemberErased {
		writeJSON(w, http.StatusOK, erasedView(id))
		return
	}
	p, _ := principalFrom(r.Context())
	v := viewOf(mv.Member).forRole(p.Role)
	bal := mv.Balance
	v.Balance = &bal
	if mv.ProgramErr == nil {
		t := mv.Program.Program.TierStatusFor(mv.Tier, bal.Qualifying)
		v.Tier = &t
	}
	writeJSON(w, http.StatusOK, v)
}
