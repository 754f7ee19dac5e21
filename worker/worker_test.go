package worker

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/perkflow/perkflow/activities"
	"github.com/perkflow/perkflow/workflows"
)

// specOf is the stub a method of activities.Activities needs: its arguments after the context and its result. ok is
// false when the method is not shaped as an activity the stubs can call (context first, error last).
func specOf(m reflect.Method) (spec workflows.ActivitySpec, ok bool) {
	ctxType, errType := reflect.TypeFor[context.Context](), reflect.TypeFor[error]()
	ft := m.Type // the receiver is In(0)
	if ft.NumIn() < 2 || ft.In(1) != ctxType || ft.NumOut() < 1 || ft.NumOut() > 2 || ft.Out(ft.NumOut()-1) != errType {
		return spec, false
	}
	spec.Name = m.Name
	for i := 2; i < ft.NumIn(); i++ {
		spec.Params = append(spec.Params, ft.In(i))
	}
	if ft.NumOut() == 2 {
		spec.Result = ft.Out(0)
	}
	return spec, true
}

// Every stub the workflows call an activity through stands for a method of the struct the worker registers, with
// the same arguments and result; and every method registered has a stub. A stub whose name or types drift from its
// method would fail only at run time, in a workflow: here it fails the build's tests.
func TestActivityStubsMatchTheRegisteredMethods(t *testing.T) {
	typ := reflect.TypeFor[*activities.Activities]()
	methods := map[string]reflect.Method{}
	for i := range typ.NumMethod() { // exported methods only: the ones RegisterActivity registers
		methods[typ.Method(i).Name] = typ.Method(i)
	}
	specs := workflows.ActivitySpecs()
	if len(specs) == 0 {
		t.Fatal("the workflows declare no activity stubs")
	}
	stubbed := map[string]bool{}
	for _, want := range specs {
		stubbed[want.Name] = true
		m, ok := methods[want.Name]
		if !ok {
			t.Errorf("stub %s: activities.Activities has no method %s", want, want.Name)
			continue
		}
		got, ok := specOf(m)
		if !ok {
			t.Errorf("stub %s: method %s is not an activity (context first, error last): %s", want, m.Name, m.Type)
			continue
		}
		if !slices.Equal(got.Params, want.Params) || got.Result != want.Result {
			t.Errorf("stub %s, but the registered method is %s", want, got)
		}
	}
	for name, m := range methods {
		if !stubbed[name] {
			t.Errorf("activities.Activities.%s is registered as an activity (%s) but no workflow stub declares it", name, m.Type)
		}
	}
}

// registrations records what Register registers.
type registrations struct {
	workflows  []string
	activities []any
}

func (r *registrations) RegisterWorkflowWithOptions(_ any, o workflow.RegisterOptions) {
	r.workflows = append(r.workflows, o.Name)
}

func (r *registrations) RegisterActivityWithOptions(a any, o activity.RegisterOptions) {
	if o.Name != "" {
		panic("activity registered under a name prefix " + o.Name)
	}
	r.activities = append(r.activities, a)
}

// The workflows keep the names running workflows and recorded histories carry; the activities are the struct's
// methods, under their own names.
func TestRegisterKeepsTheNamesOfRunningWorkflows(t *testing.T) {
	acts := &activities.Activities{}
	var r registrations
	Register(&r, acts)
	slices.Sort(r.workflows)
	if want := []string{"Campaign", "Challenge", "EraseMember", "Import", "Member", "PointsExpiry", "Redemption", "SettingsChange", "WakeImportedMembers", "WebhookEndpoint"}; !slices.Equal(r.workflows, want) {
		t.Fatalf("workflows registered as %v, want %v", r.workflows, want)
	}
	if len(r.activities) != 1 || r.activities[0] != acts {
		t.Fatalf("activities registered as %v, want the Activities struct once", r.activities)
	}

	// The SDK names a struct's activities after its methods: each stub's name resolves in a registry.
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	Register(env, acts)
	for _, spec := range workflows.ActivitySpecs() {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("activity %s not registered: %v", spec.Name, p)
				}
			}()
			env.OnActivity(spec.Name)
		}()
	}
}

func TestSearchAttributesAreTheWorkflowsKeys(t *testing.T) {
	want := map[string]enums.IndexedValueType{
		"MemberId":         enums.INDEXED_VALUE_TYPE_KEYWORD,
		"Tier":             enums.INDEXED_VALUE_TYPE_KEYWORD,
		"CampaignId":       enums.INDEXED_VALUE_TYPE_KEYWORD,
		"RedemptionStatus": enums.INDEXED_VALUE_TYPE_KEYWORD,
	}
	if !reflect.DeepEqual(SearchAttributes, want) {
		t.Fatalf("search attributes %v, want %v", SearchAttributes, want)
	}
}
