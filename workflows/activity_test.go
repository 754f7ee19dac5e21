package workflows

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// stubFile is the one file that may schedule activities itself: the typed stubs.
const stubFile = "activity.go"

// scheduling are the SDK functions that schedule an activity given its name or function.
var scheduling = map[string]bool{"ExecuteActivity": true, "ExecuteLocalActivity": true}

// activityCallsOutsideStubs reports where a file of workflow code schedules an activity other than through the
// typed stubs: any use of workflow.ExecuteActivity or ExecuteLocalActivity outside the stub file (called, or taken
// as a value), and in the stub file any activity given as something other than the stub's own name field — a
// string literal or a constant.
func activityCallsOutsideStubs(fset *token.FileSet, f *ast.File, filename string) []string {
	var problems []string
	report := func(n ast.Node, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
	}
	local := ""
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == "go.temporal.io/sdk/workflow" {
			local = "workflow"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	if local == "" {
		return nil
	}
	if local == "." {
		report(f, "imports the workflow package with a dot, which hides how activities are scheduled")
		return problems
	}
	isScheduling := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == local && scheduling[sel.Sel.Name]
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if filepath.Base(filename) != stubFile || !isScheduling(n.Fun) {
				return true
			}
			if len(n.Args) < 2 {
				report(n, "schedules an activity without naming it")
				return true
			}
			if sel, ok := n.Args[1].(*ast.SelectorExpr); !ok || sel.Sel.Name != "name" {
				report(n.Args[1], "a stub schedules an activity by %s instead of its own name", types.ExprString(n.Args[1]))
			}
		case *ast.SelectorExpr:
			if filepath.Base(filename) != stubFile && isScheduling(n) {
				report(n, "schedules an activity with workflow.%s: call the activity's typed stub (activity.go) instead", n.Sel.Name)
			}
		}
		return true
	})
	return problems
}

// Workflows call activities only through the typed stubs, so that the compiler checks every call's arguments and
// result and the worker's tests check every stub against the method registered under its name.
func TestWorkflowsScheduleActivitiesOnlyThroughStubs(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, p := range activityCallsOutsideStubs(fset, f, name) {
			t.Error(p)
		}
	}
	if checked == 0 {
		t.Fatal("no workflow code found")
	}
}

// The check itself finds an activity scheduled by a string, a constant, an aliased import or a function value.
func TestTheStubCheckFindsActivitiesScheduledByName(t *testing.T) {
	src := `package workflows

import (
	wf "go.temporal.io/sdk/workflow"
)

const activityAccrue = "AccruePurchases"

func byString(ctx wf.Context) { wf.ExecuteActivity(ctx, "AccruePurchases", nil) }
func byConstant(ctx wf.Context) { wf.ExecuteLocalActivity(ctx, activityAccrue, nil) }
func byValue(ctx wf.Context) { run := wf.ExecuteActivity; run(ctx, activityAccrue) }
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "member.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := activityCallsOutsideStubs(fset, f, "member.go"); len(got) != 3 {
		t.Fatalf("found %d of the 3 activities scheduled outside the stubs: %v", len(got), got)
	}
	stub := strings.Replace(src, "func byValue(ctx wf.Context) { run := wf.ExecuteActivity; run(ctx, activityAccrue) }\n", "", 1)
	f, err = parser.ParseFile(fset, stubFile, stub, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := activityCallsOutsideStubs(fset, f, stubFile); len(got) != 2 {
		t.Fatalf("found %d of the 2 stubs scheduling by a name of their own: %v", len(got), got)
	}
}
