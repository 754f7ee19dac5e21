package api

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"go.temporal.io/sdk/client"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// A member's control over their data (docs/member-data.md): changing their profile and consent (PATCH
// /v1/members/{memberId}), erasure (DELETE), and the export of everything perkflow holds on them (GET …/export).

// patchMember changes a member's profile and consent. The values are written to Postgres in one transaction (so that
// a consent withdrawn is in force before the answer), then the change is recorded by an Update of the member's
// workflow naming the caller and the fields changed, never their values; the workflow re-reads what it needs.
func (s *Server) patchMember(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	var req domain.ProfilePatch
	if !decodeJSON(w, r, &req) {
		return
	}
	req.Normalize()
	if err := req.Validate(s.now()); err != nil {
		fail(w, r, err)
		return
	}
	m, changed, err := s.cfg.Store.UpdateMemberProfile(r.Context(), id, req)
	if domain.CodeOf(err) == domain.ErrConflict {
		fail(w, r, problem(domain.ErrConflict, "a member with this email already exists"))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	if len(changed) > 0 {
		s.recordProfileChange(r, id, domain.ProfileChange{Actor: p.Actor(), Fields: changed, Consent: m.Consent})
	}
	writeJSON(w, http.StatusOK, viewOf(m).forRole(p.Role))
}

// recordProfileChange sends the change to the member's workflow (starting it if need be), waiting within the
// request's budget. The change is already in force: when no worker takes the Update in time, it is logged and the
// workflow reads the new values on its next look-up (each run reads the birthdate it arms its timer from).
func (s *Server) recordProfileChange(r *http.Request, memberID string, c domain.ProfileChange) {
	ctx, cancel := context.WithTimeout(r.Context(), s.waitBudget(r))
	defer cancel()
	opts, in := s.memberStart(memberID, nil, s.tierReviewAt(ctx, memberID))
	h, err := s.cfg.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: s.cfg.Temporal.NewWithStartWorkflowOperation(opts, workflows.MemberWorkflowName, in),
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: workflows.UpdateProfile, Args: []any{c}, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "profile change written, not recorded by the member workflow", "member_id", memberID,
			"fields", c.Fields, "error", err)
	}
}

// eraseMember erases a member's personal data through the erase workflow: 204 once done within the wait budget, 202
// with Location while it runs. An erased member answers 204 again; an unknown one 404.
func (s *Server) eraseMember(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	m, err := s.cfg.Store.GetMember(r.Context(), id)
	if domain.CodeOf(err) == domain.ErrNotFound {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	if m.Status == domain.MemberErased {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, _ := principalFrom(r.Context())
	run, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), workflows.EraseStartOptions(id, s.cfg.TaskQueue),
		workflows.EraseWorkflowName, domain.Erasure{MemberID: id, Actor: p.Actor()})
	if err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.waitBudget(r))
	defer cancel()
	var rep domain.ErasureReport
	if err := run.Get(ctx, &rep); err != nil {
		// The erasure is durable from its start: it finishes when a worker takes it.
		w.Header().Set("Location", "/v1/members/"+id)
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// erasedView is how an erased member reads: their id and status, nothing else.
func erasedView(id string) memberView {
	return memberView{MemberID: id, Status: string(domain.MemberErased)}
}

// exportMember answers everything perkflow holds on a member as one JSON document (GDPR Art. 15 and 20).
func (s *Server) exportMember(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(id) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return
	}
	doc, err := s.cfg.Store.ExportMember(r.Context(), id, s.now().UTC().Truncate(time.Second))
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="perkflow-member-`+id+`.json"`)
	writeJSON(w, http.StatusOK, doc)
}
