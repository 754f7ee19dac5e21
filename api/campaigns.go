package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// Campaigns: creation (recurring ones through a Temporal Schedule), reads, and the pause, resume, cancel and extend
// signals (docs/api.md, "Rules, campaigns, gamification").

// campaignRequest is the body of POST /v1/campaigns.
type campaignRequest struct {
	Name         string               `json:"name"`
	Kind         string               `json:"kind"`
	Segment      domain.Segment       `json:"segment"`
	StartsAt     time.Time            `json:"starts_at"`
	EndsAt       time.Time            `json:"ends_at"`
	Schedule     string               `json:"schedule"`
	Until        *time.Time           `json:"until"`
	RunLength    string               `json:"run_length"`
	BudgetPoints *int64               `json:"budget_points"`
	Rule         *domain.CampaignRule `json:"rule"`
	BonusPoints  int64                `json:"bonus_points"`
	Announcement *domain.Announcement `json:"announcement"`
}

// campaignView is a campaign as the API shows it.
type campaignView struct {
	store.CampaignRecord
}

type campaignPage struct {
	Items      []store.CampaignRecord `json:"items"`
	NextCursor string                 `json:"next_cursor,omitempty"`
}

// campaignNamespace names campaign ids derived from an Idempotency-Key.
var campaignNamespace = uuid.MustParse("3f4c2a8e-6f0b-4d7e-9a51-0c8e2d9b7a14")

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	limit, cursor, ok := pageParams(w, r)
	if !ok {
		return
	}
	items, err := s.cfg.Store.ListCampaigns(r.Context(), cursor, limit+1)
	if err != nil {
		fail(w, r, err)
		return
	}
	var page campaignPage
	page.Items, page.NextCursor = pageOf(items, limit, func(c store.CampaignRecord) string { return c.ID })
	writeJSON(w, http.StatusOK, page)
}

// createCampaign starts the campaign's workflow, which records it and sleeps until its start: 201 with the campaign
// (and the size of its segment) once recorded, else 202 with its Location. The same Idempotency-Key from the same
// caller names the same campaign, so a retried create never schedules two.
func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	var req campaignRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p, _ := principalFrom(r.Context())
	id := uuid.NewString()
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		id = uuid.NewSHA1(campaignNamespace, []byte(p.Subject()+"|"+key)).String()
	}
	c := domain.Campaign{ID: id, Name: req.Name, Kind: req.Kind, Segment: req.Segment, StartsAt: req.StartsAt.UTC(), EndsAt: req.EndsAt.UTC(),
		Schedule: req.Schedule, BudgetPoints: req.BudgetPoints, Rule: req.Rule, BonusPoints: req.BonusPoints, Announcement: req.Announcement,
		CreatedBy: p.Actor(), RunLength: req.RunLength}
	if req.Until != nil {
		until := req.Until.UTC()
		c.Until = &until
	}
	if err := c.Validate(s.now()); err != nil {
		fail(w, r, err)
		return
	}
	if c.RunLength != "" {
		c.EndsAt = c.StartsAt.Add(c.RunDuration()) // recorded as the end of the first run's window, as runs record theirs
	}
	if err := s.segmentFitsProgram(r.Context(), c.Segment); err != nil {
		fail(w, r, err)
		return
	}
	if c.Schedule != "" && !s.scheduleCampaign(w, r, c) {
		return
	}
	sub := s.commits.subscribe(domain.CampaignEventKey(id))
	defer sub.close()
	_, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{
		ID: workflows.CampaignWorkflowID(id), TaskQueue: s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.SearchAttrCampaignID.ValueSet(id)),
		StaticSummary:            "Campaign " + c.Name + " (" + c.Kind + ") by " + c.CreatedBy,
	}, workflows.CampaignWorkflowName, workflows.CampaignInput{Campaign: c})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		sub.wake() // a retried create: the campaign may be recorded already
	} else if err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	s.answerCampaign(w, r, sub, id, http.StatusCreated, nil)
}

// scheduleCampaign makes the Temporal Schedule of a recurring campaign: each time its cron expression fires from
// starts_at until until (the Schedule's end; none for a campaign defined by ends_at alone), it starts one run of the
// campaign (campaign/<id>/run-<time>) lasting run_length (or ends_at − starts_at); a run still going when the next is
// due makes that one skip. A retried create finds the Schedule made. It answers the request itself unless it
// returns true.
func (s *Server) scheduleCampaign(w http.ResponseWriter, r *http.Request, c domain.Campaign) bool {
	spec := client.ScheduleSpec{CronExpressions: []string{c.Schedule}, StartAt: c.StartsAt}
	if c.Until != nil {
		spec.EndAt = *c.Until
	}
	_, err := s.cfg.Temporal.ScheduleClient().Create(r.Context(), client.ScheduleOptions{
		ID:      workflows.CampaignScheduleID(c.ID),
		Spec:    spec,
		Overlap: enums.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID: workflows.CampaignOccurrenceWorkflowID(c.ID), Workflow: workflows.CampaignWorkflowName, TaskQueue: s.cfg.TaskQueue,
			Args:                  []any{workflows.CampaignInput{Campaign: c, Occurrence: true}},
			TypedSearchAttributes: temporal.NewSearchAttributes(workflows.SearchAttrCampaignID.ValueSet(c.ID)),
			StaticSummary:         "Run of recurring campaign " + c.Name,
		},
		Note: "Recurring campaign " + c.Name + " by " + c.CreatedBy,
	})
	var invalid *serviceerror.InvalidArgument
	switch {
	case err == nil || errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return true
	case errors.As(err, &invalid):
		var v domain.Validation
		v.Add("schedule", "is not a cron expression Temporal accepts: %s", invalid.Message)
		fail(w, r, v.Err())
	default:
		fail(w, r, temporalRefused(err))
	}
	return false
}

// controlSchedule pauses, resumes or deletes a recurring campaign's Schedule and passes the signal to its runs under
// way. It answers the request itself unless it returns true.
func (s *Server) controlSchedule(w http.ResponseWriter, r *http.Request, id, signal string) bool {
	h := s.cfg.Temporal.ScheduleClient().GetHandle(r.Context(), workflows.CampaignScheduleID(id))
	desc, err := h.Describe(r.Context())
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		fail(w, r, temporalRefused(err))
		return false
	}
	switch {
	case err != nil: // gone already
	case signal == workflows.CampaignSignalPause:
		err = h.Pause(r.Context(), client.SchedulePauseOptions{Note: "paused through the API"})
	case signal == workflows.CampaignSignalResume:
		err = h.Unpause(r.Context(), client.ScheduleUnpauseOptions{Note: "resumed through the API"})
	case signal == workflows.CampaignSignalCancel:
		err = h.Delete(r.Context())
	}
	if err != nil && !errors.As(err, &nf) {
		fail(w, r, temporalRefused(err))
		return false
	}
	if desc != nil {
		for _, run := range desc.Info.RunningWorkflows {
			if err := s.cfg.Temporal.SignalWorkflow(r.Context(), run.WorkflowID, "", signal, nil); err != nil && !errors.As(err, &nf) {
				s.log.WarnContext(r.Context(), "signal to a campaign run failed", "workflow_id", run.WorkflowID, "error", err)
			}
		}
	}
	return true
}

// answerCampaign waits, within the budget, for the campaign's record to show what done accepts (nil: recorded at
// all), and answers status with it, else 202 with its Location.
func (s *Server) answerCampaign(w http.ResponseWriter, r *http.Request, sub *subscription, id string, status int,
	done func(store.CampaignRecord) bool) {
	location := "/v1/campaigns/" + id
	rec, ok := await(r.Context(), sub, s.waitBudget(r), func(ctx context.Context) (store.CampaignRecord, error) {
		return s.cfg.Store.GetCampaign(ctx, id)
	}, done)
	if !ok {
		accepted(w, location, map[string]string{"campaign_id": id, "status": "accepted"})
		return
	}
	w.Header().Set("Location", location)
	writeJSON(w, status, campaignView{rec})
}

// previewRequest is the body of POST /v1/campaigns/preview.
type previewRequest struct {
	Segment domain.Segment `json:"segment"`
}

// segmentFitsProgram refuses a segment selecting on tiers the program in force does not have.
func (s *Server) segmentFitsProgram(ctx context.Context, seg domain.Segment) error {
	pv, err := s.cfg.Store.ProgramAt(ctx, s.now())
	if err != nil {
		return err
	}
	return seg.FitsProgram(pv.Program)
}

// previewCampaign counts the members of a segment now, before a campaign is launched.
func (s *Server) previewCampaign(w http.ResponseWriter, r *http.Request) {
	var req previewRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	probe := domain.Campaign{Name: "preview", Kind: domain.CampaignAnnouncement, Announcement: &domain.Announcement{Channel: domain.ChannelEmail},
		StartsAt: s.now(), EndsAt: s.now().Add(time.Hour), Segment: req.Segment}
	if err := probe.Validate(s.now()); err != nil {
		fail(w, r, err)
		return
	}
	if err := s.segmentFitsProgram(r.Context(), req.Segment); err != nil {
		fail(w, r, err)
		return
	}
	n, err := s.cfg.Store.SegmentSize(r.Context(), req.Segment, s.now())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"segment_size": n})
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Store.GetCampaign(r.Context(), chi.URLParam(r, "campaignId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, campaignView{rec})
}

func (s *Server) campaignReport(w http.ResponseWriter, r *http.Request) {
	rep, err := s.cfg.Store.CampaignReport(r.Context(), chi.URLParam(r, "campaignId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// extendRequest is the body of POST /v1/campaigns/{campaignId}/extend.
type extendRequest struct {
	EndsAt time.Time `json:"ends_at"`
}

// campaignSignal signals the campaign's workflow: 200 with the campaign once its record shows the change, else 202
// (the signal is durable: it will happen). A change the campaign's status does not allow → 409.
func (s *Server) campaignSignal(signal string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "campaignId")
		var payload any
		var ext extendRequest
		if signal == workflows.CampaignSignalExtend {
			if !decodeJSON(w, r, &ext) {
				return
			}
			if ext.EndsAt.IsZero() {
				var v domain.Validation
				v.Add("ends_at", "is required")
				fail(w, r, v.Err())
				return
			}
		} else if r.ContentLength > 0 {
			var empty struct{}
			if !decodeJSON(w, r, &empty) {
				return
			}
		}
		rec, err := s.cfg.Store.GetCampaign(r.Context(), id)
		if err != nil {
			fail(w, r, err)
			return
		}
		want, msg := campaignTransition(signal, rec, ext.EndsAt)
		if msg != "" {
			fail(w, r, domain.Errorf(domain.ErrConflict, "%s", msg))
			return
		}
		if signal == workflows.CampaignSignalExtend {
			if rec.Schedule != "" {
				fail(w, r, domain.Errorf(domain.ErrConflict, "the runs of a recurring campaign keep their length"))
				return
			}
			payload = workflows.CampaignExtension{EndsAt: ext.EndsAt.UTC()}
		}
		if rec.Schedule != "" && !s.controlSchedule(w, r, id, signal) {
			return
		}
		sub := s.commits.subscribe(domain.CampaignEventKey(id))
		defer sub.close()
		if err := s.cfg.Temporal.SignalWorkflow(r.Context(), workflows.CampaignWorkflowID(id), "", signal, payload); err != nil {
			var nf *serviceerror.NotFound
			if errors.As(err, &nf) {
				fail(w, r, domain.Errorf(domain.ErrConflict, "campaign %s is over", id))
				return
			}
			fail(w, r, temporalRefused(err))
			return
		}
		s.answerCampaign(w, r, sub, id, http.StatusOK, want)
	}
}

// campaignTransition says what the record will show once the signal is applied, or why the signal is refused.
func campaignTransition(signal string, rec store.CampaignRecord, endsAt time.Time) (func(store.CampaignRecord) bool, string) {
	over := rec.Status == domain.CampaignCompleted || rec.Status == domain.CampaignCancelled
	if over {
		return nil, "campaign " + rec.ID + " is " + rec.Status
	}
	switch signal {
	case workflows.CampaignSignalPause:
		if rec.Status == domain.CampaignPaused {
			return nil, "campaign " + rec.ID + " is paused already"
		}
		return func(c store.CampaignRecord) bool { return c.Status == domain.CampaignPaused }, ""
	case workflows.CampaignSignalResume:
		if rec.Status != domain.CampaignPaused {
			return nil, "campaign " + rec.ID + " is not paused"
		}
		return func(c store.CampaignRecord) bool { return c.Status != domain.CampaignPaused }, ""
	case workflows.CampaignSignalCancel:
		return func(c store.CampaignRecord) bool { return c.Status == domain.CampaignCancelled }, ""
	default: // extend
		if !endsAt.After(rec.EndsAt) {
			return nil, "ends_at must be after the campaign's current end, " + rec.EndsAt.Format(time.RFC3339)
		}
		if endsAt.Sub(rec.StartsAt) > domain.MaxCampaignDuration {
			return nil, "a campaign lasts at most 366 days"
		}
		return func(c store.CampaignRecord) bool { return !c.EndsAt.Before(endsAt) }, ""
	}
}
