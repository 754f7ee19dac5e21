package workflows

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// continuedAs is the input the workflow under test continued as new with; the test fails when it ended any other
// way or the input does not decode.
func continuedAs[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment) T {
	t.Helper()
	var can *workflow.ContinueAsNewError
	var next T
	if err := env.GetWorkflowError(); !errorsAs(err, &can) {
		t.Fatalf("the workflow ended with %v, want a continue-as-new", err)
	}
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	return next
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
