package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Settings changes (the program, earning rules) run as a workflow of their own, so that each is audited and applied
// once.

// changeSettings runs a settings change as a workflow and waits for it (a change is quick; without a worker it
// answers 202). It answers the request itself unless it returns ok.
func (s *Server) changeSettings(w http.ResponseWriter, r *http.Request, c domain.SettingsChange) (domain.SettingsResult, bool) {
	p, _ := principalFrom(r.Context())
	c.Actor = p.Actor()
	id := workflows.SettingsWorkflowID(c.Kind, uuid.NewString())
	run, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), client.StartWorkflowOptions{
		ID: id, TaskQueue: s.cfg.TaskQueue, StaticSummary: c.Kind + " by " + c.Actor,
	}, workflows.SettingsWorkflowName, c)
	if err != nil {
		fail(w, r, temporalRefused(err))
		return domain.SettingsResult{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.waitBudget(r))
	defer cancel()
	var res domain.SettingsResult
	err = run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		return res, true
	case errors.As(err, &appErr): // the change was refused
		fail(w, r, err)
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"change_id": id, "status": "accepted"})
	}
	return res, false
}
