package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Challenges: definitions, enrolment (POST /v1/challenges/{id}/join) and a member's enrolments (docs/api.md,
// "Rules, campaigns, gamification").

// challengeRequest is the body of POST /v1/challenges.
type challengeRequest struct {
	Name         string               `json:"name"`
	Goal         domain.ChallengeGoal `json:"goal"`
	StartsAt     *time.Time           `json:"starts_at"`
	EndsAt       *time.Time           `json:"ends_at"`
	WindowDays   int                  `json:"window_days"`
	RewardPoints int64                `json:"reward_points"`
	Badge        string               `json:"badge"`
	AutoEnroll   bool                 `json:"auto_enroll"`
}

type challengePage struct {
	Items      []domain.Challenge `json:"items"`
	NextCursor string             `json:"next_cursor,omitempty"`
}

func (s *Server) listChallenges(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	cs, err := s.cfg.Store.ListChallenges(r.Context(), cursor, limit+1)
	if err != nil {
		fail(w, r, err)
		return
	}
	var page challengePage
	page.Items, page.NextCursor = pageOf(cs, limit, func(c domain.Challenge) string { return c.ID })
	writeJSON(w, http.StatusOK, page)
}

// createChallenge records a challenge definition; enrolments are workflows of their own.
func (s *Server) createChallenge(w http.ResponseWriter, r *http.Request) {
	var req challengeRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	c := domain.Challenge{ID: uuid.NewString(), Name: strings.TrimSpace(req.Name), Goal: req.Goal, StartsAt: req.StartsAt,
		EndsAt: req.EndsAt, WindowDays: req.WindowDays, RewardPoints: req.RewardPoints, Badge: req.Badge,
		AutoEnroll: req.AutoEnroll, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := c.Validate(); err != nil {
		fail(w, r, err)
		return
	}
	if c.EndsAt != nil && !c.EndsAt.After(s.now()) {
		var v domain.Validation
		v.Add("ends_at", "must be in the future")
		fail(w, r, v.Err())
		return
	}
	p, _ := principalFrom(r.Context())
	saved, err := s.cfg.Store.CreateChallenge(r.Context(), c, p.Actor())
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/challenges/"+saved.ID)
	writeJSON(w, http.StatusCreated, saved)
}

// joinChallenge enrols the member: it starts the enrolment's workflow (challenge/{challenge}/{member}) and waits,
// within the budget, for the enrolment to be recorded: 201, or 202 when the worker has not recorded it yet (it
// will). Joining again while enrolled answers the enrolment (200); after it ended, 409.
func (s *Server) joinChallenge(w http.ResponseWriter, r *http.Request) {
	if !noBody(w, r) {
		return
	}
	p, _ := principalFrom(r.Context())
	id := chi.URLParam(r, "challengeId")
	c, err := s.cfg.Store.GetChallenge(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if e, err := s.enrolment(r.Context(), p.MemberID, id); err != nil && codeOf(err) != domain.ErrNotFound {
		fail(w, r, err)
		return
	} else if err == nil {
		if e.Status == domain.EnrolmentActive {
			writeJSON(w, http.StatusOK, e)
		} else {
			fail(w, r, problem(domain.ErrConflict, "you took part in this challenge already ("+e.Status+")"))
		}
		return
	}
	if m, err := s.cfg.Store.GetMember(r.Context(), p.MemberID); err != nil {
		fail(w, r, err)
		return
	} else if m.Status != domain.MemberActive {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	now := s.now().UTC()
	if !c.OpenAt(now) {
		fail(w, r, problem(domain.ErrUnprocessable, "this challenge is not open for enrolment now"))
		return
	}
	sub := s.commits.subscribe(domain.EnrolmentEventKey(c.ID, p.MemberID))
	defer sub.close()
	opts := workflows.ChallengeStartOptions(c.ID, p.MemberID, s.cfg.TaskQueue)
	in := workflows.ChallengeInput{Challenge: c, MemberID: p.MemberID, EnrolledAt: now}
	if _, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), opts, workflows.ChallengeWorkflowName, in); err != nil {
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			fail(w, r, problem(domain.ErrConflict, "you took part in this challenge already"))
			return
		}
		fail(w, r, temporalRefused(err))
		return
	}
	location := "/v1/members/" + p.MemberID + "/challenges"
	e, ok := await(r.Context(), sub, s.waitBudget(r), func(ctx context.Context) (domain.ChallengeEnrolment, error) {
		return s.enrolment(ctx, p.MemberID, id)
	}, nil)
	if !ok {
		d := c.Deadline(now)
		accepted(w, location, domain.ChallengeEnrolment{ChallengeID: c.ID, Name: c.Name, Kind: c.Goal.Kind,
			Status: domain.EnrolmentActive, Target: c.Goal.Target, EnrolledAt: now, Deadline: &d,
			RewardPoints: c.RewardPoints, Badge: c.Badge})
		return
	}
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, e)
}

// enrolment reads one of the member's enrolments; none → domain.ErrNotFound.
func (s *Server) enrolment(ctx context.Context, memberID, challengeID string) (domain.ChallengeEnrolment, error) {
	e, ok, err := s.cfg.Store.GetEnrolment(ctx, challengeID, memberID)
	if err == nil && !ok {
		err = domain.Errorf(domain.ErrNotFound, "no enrolment of this member in challenge %s", challengeID)
	}
	return e, err
}

type memberChallengesPage struct {
	Items      []domain.ChallengeEnrolment `json:"items"`
	Badges     []string                    `json:"badges"`
	NextCursor string                      `json:"next_cursor,omitempty"`
}

// memberChallenges lists the member's enrolments with their progress, and the badges they hold.
func (s *Server) memberChallenges(w http.ResponseWriter, r *http.Request) {
	id, limit, cursor, ok := s.memberPage(w, r)
	if !ok {
		return
	}
	es, err := s.cfg.Store.MemberChallenges(r.Context(), id, cursor, limit+1)
	if err != nil {
		fail(w, r, err)
		return
	}
	var page memberChallengesPage
	page.Items, page.NextCursor = pageOf(es, limit, func(e domain.ChallengeEnrolment) string { return e.ChallengeID })
	if page.Badges, err = s.cfg.Store.MemberBadges(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	if page.Badges == nil {
		page.Badges = []string{}
	}
	writeJSON(w, http.StatusOK, page)
}
