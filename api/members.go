package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

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

// registerMember starts the member's workflow, whose first step creates the member, and waits (within the request's
// budget) for that step: 201 with the member, 409 when the email or external id is taken, 202 when the workflow
// has not finished registering yet — it will.
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
	// A cheap early answer for the common duplicate; the registration activity is the real guard against races.
	if taken, err := s.cfg.Store.MemberIdentityTaken(r.Context(), reg.Email, reg.ExternalID); err != nil {
		fail(w, r, err)
		return
	} else if taken {
		fail(w, r, errIdentityTaken)
		return
	}

	opts := workflows.MemberStartOptions(reg.MemberID, s.cfg.TaskQueue)
	in := workflows.MemberInput{MemberID: reg.MemberID, Registration: &reg, MaxHistoryEvents: s.cfg.MemberHistoryLimit}
	if _, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), opts, workflows.MemberWorkflowName, in); err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	// The start is durable: from here on the member will be created, whatever happens to this request.
	ctx, cancel := context.WithTimeout(r.Context(), s.waitBudget(r))
	defer cancel()
	h, err := s.cfg.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: opts.ID, UpdateName: workflows.UpdateRegistration, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var m domain.Member
	if err == nil {
		err = h.Get(ctx, &m)
	}
	switch code := codeOf(err); {
	case err == nil:
		w.Header().Set("Location", "/v1/members/"+m.MemberID)
		writeJSON(w, http.StatusCreated, viewOf(m))
	case code == domain.ErrConflict:
		fail(w, r, errIdentityTaken) // the workflow's own message may quote what is taken
	case code == domain.ErrInvalid:
		fail(w, r, err)
	default:
		// Most likely no worker answered within the budget.
		s.log.InfoContext(r.Context(), "registration accepted, not finished within the wait budget", "member_id", reg.MemberID, "error", err)
		w.Header().Set("Location", "/v1/members/"+reg.MemberID)
		writeJSON(w, http.StatusAccepted, memberView{MemberID: reg.MemberID, Consent: reg.Consent, Status: workflows.MemberStatusRegistering})
	}
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
	v := viewOf(mv.Member)
	bal := mv.Balance
	v.Balance = &bal
	if mv.ProgramErr == nil {
		t := mv.Program.Program.TierStatusFor(mv.Tier, bal.Qualifying)
		v.Tier = &t
	}
	writeJSON(w, http.StatusOK, v)
}

// memberWorkflowRunning reports whether the member's workflow is running. Where the member row does not exist yet, it
// means a registration accepted with 202 and not processed so far.
func (s *Server) memberWorkflowRunning(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d, err := s.cfg.Temporal.DescribeWorkflowExecution(ctx, workflows.MemberWorkflowID(id), "")
	return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// historyPage is a page of ledger entries.
type historyPage struct {
	Items      []domain.LedgerEntry `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// memberHistory lists a member's ledger entries, newest first.
func (s *Server) memberHistory(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	if _, err := s.cfg.Store.GetMember(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	var before int64
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || n <= 0 {
			fail(w, r, problem(domain.ErrInvalid, "cursor is not valid", domain.FieldError{Field: "cursor", Message: "use the next_cursor of a previous page"}))
			return
		}
		before = n
	}
	items, err := s.cfg.Store.History(r.Context(), id, before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := historyPage{Items: items}
	if len(items) == limit {
		page.NextCursor = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

// Page sizes for lists.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

func pageParams(w http.ResponseWriter, r *http.Request) (limit int, cursor string, ok bool) {
	limit = defaultPageSize
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			fail(w, r, problem(domain.ErrInvalid, "limit must be between 1 and 200", domain.FieldError{Field: "limit", Message: "must be between 1 and 200"}))
			return 0, "", false
		}
		limit = n
	}
	return limit, q.Get("cursor"), true
}

// temporalRefused is the error of a call to Temporal that did not go through: when Temporal refused it or could not
// be reached, a 503 with Retry-After (nothing was accepted, retry); any other error as it is.
func temporalRefused(err error) error {
	var u *serviceerror.Unavailable
	if errors.As(err, &u) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return unavailable(unavailableRetryAfter, "the workflow service is unavailable; nothing was accepted, retry shortly", err)
	}
	return err
}
