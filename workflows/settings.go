package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// Settings change contract: every change to the program settings or the earning rules is a short workflow, so that
// the API never writes business state itself and support finds each change, who made it and when, in the Temporal
// UI (settings/<kind>/<id>).
const (
	SettingsWorkflowName          = "SettingsChange"
	ActivityApplySettingsChange   = "ApplySettingsChange"
	settingsChangeAttemptsTimeout = 2 * time.Minute
)

// SettingsWorkflowID names one change.
func SettingsWorkflowID(kind, id string) string { return "settings/" + kind + "/" + id }

// SettingsWorkflow applies one settings change. Business refusals (a rule that exists, or does not) end it with a
// non-retryable application error whose type is the domain error code.
func SettingsWorkflow(ctx workflow.Context, c domain.SettingsChange) (domain.SettingsResult, error) {
	var res domain.SettingsResult
	switch c.Kind {
	case domain.SettingsProgram, domain.SettingsRuleCreate, domain.SettingsRuleUpdate, domain.SettingsRuleDelete:
	default:
		return res, temporal.NewNonRetryableApplicationError("unknown settings change "+c.Kind, ErrTypeInvalid, nil)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: settingsChangeAttemptsTimeout,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, MaximumInterval: 10 * time.Second},
		Summary:                fmt.Sprintf("Apply %s by %s", c.Kind, c.Actor),
	})
	err := workflow.ExecuteActivity(actx, ActivityApplySettingsChange, c).Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return res, temporal.NewNonRetryableApplicationError(appErr.Message(), appErr.Type(), nil)
	}
	return res, err
}
