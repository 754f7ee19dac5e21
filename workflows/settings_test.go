package workflows

import (
	"context"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/domain"
)

// runSettingsChange runs one change against apply and answers the result, how many times the change was applied
// and the workflow's error.
func runSettingsChange(t *testing.T, c domain.SettingsChange, apply func(domain.SettingsChange) (domain.SettingsResult, error)) (domain.SettingsResult, int, error) {
	t.Helper()
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(SettingsWorkflow, workflow.RegisterOptions{Name: SettingsWorkflowName})
	calls := 0
	ApplySettingsChange.fake(env, func(_ context.Context, c domain.SettingsChange) (domain.SettingsResult, error) {
		calls++
		return apply(c)
	})
	env.ExecuteWorkflow(SettingsWorkflowName, c)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the settings change did not complete")
	}
	var res domain.SettingsResult
	err := env.GetWorkflowError()
	if err == nil {
		if gerr := env.GetWorkflowResult(&res); gerr != nil {
			t.Fatal(gerr)
		}
	}
	return res, calls, err
}

func TestSettingsChangeAnswersWhatWasRecorded(t *testing.T) {
	rule := domain.Rule{ID: "r1", Version: 2, Name: "Double points"}
	res, calls, err := runSettingsChange(t, domain.SettingsChange{Kind: domain.SettingsRuleUpdate, Rule: &rule, Actor: "apikey:marketer"},
		func(c domain.SettingsChange) (domain.SettingsResult, error) {
			return domain.SettingsResult{Rule: c.Rule}, nil
		})
	if err != nil || calls != 1 {
		t.Fatalf("error %v after %d calls; want the change applied once", err, calls)
	}
	if res.Rule == nil || res.Rule.ID != "r1" || res.Rule.Version != 2 {
		t.Fatalf("result %+v; want the rule recorded", res)
	}
}

// A business refusal from the store ends the change with the domain's error code, not retried, for the API to map.
func TestSettingsChangeRefusedEndsWithItsErrorCode(t *testing.T) {
	rule := domain.Rule{ID: "r1", Name: "Double points"}
	_, calls, err := runSettingsChange(t, domain.SettingsChange{Kind: domain.SettingsRuleCreate, Rule: &rule, Actor: "apikey:marketer"},
		func(domain.SettingsChange) (domain.SettingsResult, error) {
			return domain.SettingsResult{}, temporal.NewNonRetryableApplicationError("rule r1 exists", ErrTypeConflict, nil)
		})
	var appErr *temporal.ApplicationError
	if !errorsAs(err, &appErr) || appErr.Type() != ErrTypeConflict || !appErr.NonRetryable() || appErr.Message() != "rule r1 exists" {
		t.Fatalf("workflow error %v; want a non-retryable %s error with the store's message", err, ErrTypeConflict)
	}
	if calls != 1 {
		t.Fatalf("applied %d times; a refusal is not retried", calls)
	}
}

func TestSettingsChangeOfAnUnknownKindIsRefusedUnapplied(t *testing.T) {
	_, calls, err := runSettingsChange(t, domain.SettingsChange{Kind: "tiers", Actor: "apikey:marketer"},
		func(domain.SettingsChange) (domain.SettingsResult, error) { return domain.SettingsResult{}, nil })
	var appErr *temporal.ApplicationError
	if !errorsAs(err, &appErr) || appErr.Type() != ErrTypeInvalid {
		t.Fatalf("workflow error %v; want an %s error", err, ErrTypeInvalid)
	}
	if calls != 0 {
		t.Fatalf("an unknown change was applied %d times", calls)
	}
}
