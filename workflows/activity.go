package workflows

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// Typed activity stubs. Workflows never import the activities package (it carries pgx, Stripe and the notification
// providers), so each activity is declared in its workflow's contract as a stub: its registered name — the name of
// its method on activities.Activities, which the worker registers as a struct — and its argument and result types.
// Workflows call activities only through these stubs, so the compiler checks every call's arguments and result;
// the worker's tests check each stub against the method it stands for, and a test of this package fails if workflow
// code schedules an activity by a string of its own.
//
// The stubs schedule activities by name, as the workflows always have: recorded histories and running workflows
// see the same activity types.

// An Activity takes one argument besides its context and returns an Out (and an error).
type Activity[In, Out any] struct{ name string }

// An Activity2 takes two arguments besides its context and returns an Out (and an error).
type Activity2[In1, In2, Out any] struct{ name string }

// An Action takes one argument besides its context and returns only an error.
type Action[In any] struct{ name string }

// An Action3 takes three arguments besides its context and returns only an error.
type Action3[In1, In2, In3 any] struct{ name string }

// Future is an activity's result to come.
type Future[Out any] struct{ f workflow.Future }

// Get blocks until the activity has finished and returns its result.
func (f Future[Out]) Get(ctx workflow.Context) (Out, error) {
	var out Out
	err := f.f.Get(ctx, &out)
	return out, err
}

// Ready is the untyped future, for a workflow.Selector.
func (f Future[Out]) Ready() workflow.Future { return f.f }

// Done is the end to come of an activity that returns only an error.
type Done struct{ f workflow.Future }

// Get blocks until the activity has finished and returns its error.
func (d Done) Get(ctx workflow.Context) error { return d.f.Get(ctx, nil) }

// Name is the activity's registered name.
func (a Activity[In, Out]) Name() string { return a.name }

// Execute schedules the activity with the activity options in ctx.
func (a Activity[In, Out]) Execute(ctx workflow.Context, in In) Future[Out] {
	return Future[Out]{workflow.ExecuteActivity(ctx, a.name, in)}
}

// ExecuteLocal runs the activity as a local activity with the local activity options in ctx. The SDK resolves the
// name to the function the worker registered under it.
func (a Activity[In, Out]) ExecuteLocal(ctx workflow.Context, in In) Future[Out] {
	return Future[Out]{workflow.ExecuteLocalActivity(ctx, a.name, in)}
}

// Name is the activity's registered name.
func (a Activity2[In1, In2, Out]) Name() string { return a.name }

// Execute schedules the activity with the activity options in ctx.
func (a Activity2[In1, In2, Out]) Execute(ctx workflow.Context, in1 In1, in2 In2) Future[Out] {
	return Future[Out]{workflow.ExecuteActivity(ctx, a.name, in1, in2)}
}

// ExecuteLocal runs the activity as a local activity with the local activity options in ctx.
func (a Activity2[In1, In2, Out]) ExecuteLocal(ctx workflow.Context, in1 In1, in2 In2) Future[Out] {
	return Future[Out]{workflow.ExecuteLocalActivity(ctx, a.name, in1, in2)}
}

// Name is the activity's registered name.
func (a Action[In]) Name() string { return a.name }

// Execute schedules the activity with the activity options in ctx.
func (a Action[In]) Execute(ctx workflow.Context, in In) Done {
	return Done{workflow.ExecuteActivity(ctx, a.name, in)}
}

// ExecuteLocal runs the activity as a local activity with the local activity options in ctx.
func (a Action[In]) ExecuteLocal(ctx workflow.Context, in In) Done {
	return Done{workflow.ExecuteLocalActivity(ctx, a.name, in)}
}

// Name is the activity's registered name.
func (a Action3[In1, In2, In3]) Name() string { return a.name }

// Execute schedules the activity with the activity options in ctx.
func (a Action3[In1, In2, In3]) Execute(ctx workflow.Context, in1 In1, in2 In2, in3 In3) Done {
	return Done{workflow.ExecuteActivity(ctx, a.name, in1, in2, in3)}
}

func newActivity[In, Out any](name string) Activity[In, Out] {
	declare(name, reflect.TypeFor[Out](), reflect.TypeFor[In]())
	return Activity[In, Out]{name: name}
}

func newActivity2[In1, In2, Out any](name string) Activity2[In1, In2, Out] {
	declare(name, reflect.TypeFor[Out](), reflect.TypeFor[In1](), reflect.TypeFor[In2]())
	return Activity2[In1, In2, Out]{name: name}
}

func newAction[In any](name string) Action[In] {
	declare(name, nil, reflect.TypeFor[In]())
	return Action[In]{name: name}
}

func newAction3[In1, In2, In3 any](name string) Action3[In1, In2, In3] {
	declare(name, nil, reflect.TypeFor[In1](), reflect.TypeFor[In2](), reflect.TypeFor[In3]())
	return Action3[In1, In2, In3]{name: name}
}

// ActivitySpec is what a stub expects of the activity registered under its name: the types of its arguments after
// the context, and of its result (nil when it returns only an error).
type ActivitySpec struct {
	Name   string
	Params []reflect.Type
	Result reflect.Type
}

// String is the spec as the method it stands for would read.
func (s ActivitySpec) String() string {
	params := make([]string, len(s.Params))
	for i, p := range s.Params {
		params[i] = p.String()
	}
	if s.Result == nil {
		return fmt.Sprintf("%s(ctx, %s) error", s.Name, strings.Join(params, ", "))
	}
	return fmt.Sprintf("%s(ctx, %s) (%s, error)", s.Name, strings.Join(params, ", "), s.Result)
}

// declared holds a spec for each stub, filled as the package's variables are initialised.
var declared []ActivitySpec

func declare(name string, result reflect.Type, params ...reflect.Type) {
	for _, s := range declared {
		if s.Name == name {
			panic("activity " + name + " declared twice")
		}
	}
	declared = append(declared, ActivitySpec{Name: name, Params: params, Result: result})
}

// ActivitySpecs lists every activity stub of the package, by name.
func ActivitySpecs() []ActivitySpec {
	specs := slices.Clone(declared)
	slices.SortFunc(specs, func(a, b ActivitySpec) int { return strings.Compare(a.Name, b.Name) })
	return specs
}
