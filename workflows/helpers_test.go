package workflows

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func decodeInput(can *workflow.ContinueAsNewError, v any) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, v)
}

// The fakes of a test register under the stub's name, and the compiler checks them against the stub's types.

func (a Activity[In, Out]) fake(env *testsuite.TestWorkflowEnvironment, fn func(context.Context, In) (Out, error)) {
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.name})
}

func (a Activity2[In1, In2, Out]) fake(env *testsuite.TestWorkflowEnvironment, fn func(context.Context, In1, In2) (Out, error)) {
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.name})
}

func (a Action[In]) fake(env *testsuite.TestWorkflowEnvironment, fn func(context.Context, In) error) {
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.name})
}

func (a Action3[In1, In2, In3]) fake(env *testsuite.TestWorkflowEnvironment, fn func(context.Context, In1, In2, In3) error) {
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: a.name})
}
