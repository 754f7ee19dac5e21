package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// SettingsWorkflow applies one settings change. Business refusals (a rule that exists, or does not) end it with a
// non-retryable application error whose type is the domain error code.
func SettingsWorkflow(ctx workflow.Context, c domain.SettingsChange) (domain.SettingsResult, error) {
	switch c.Kind {
	case domain.SettingsProgram, domain.SettingsRuleCreate, domain.SettingsRuleUpdate, domain.SettingsRuleDelete:
	default:
		return domain.SettingsResult{}, temporal.NewNonRetryableApplicationError("unknown settings change "+c.Kind, ErrTypeInvalid, nil)
	}
	actx := withOptions(ctx, activityOptions.settings, fmt.Sprintf("Apply %s by %s", c.Kind, c.Actor))
	res, err := ApplySettingsChange.Execute(actx, c).Get(ctx)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return res, temporal.NewNonRetryableApplicationError(appErr.Message(), appErr.Type(), nil)
	}
	return res, err
}
