package api_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// temporal is the in-process Temporal server this package's integration tests share; each test has its own
// database and task queue.
var temporal *itest.Temporal

func TestMain(m *testing.M) {
	code := itest.RunWithTemporal(m, &temporal)
	if code == 0 && wholePackageRan() {
		code = everyRouteServed()
	}
	os.Exit(code)
}

// wholePackageRan reports whether this run was the package's full test suite (not a -run selection, -short, or a
// fuzz or benchmark run), the only run after which every route must have been exercised.
func wholePackageRan() bool {
	for _, name := range []string{"test.run", "test.fuzz", "test.bench"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

// everyRouteServed fails the run when a route the API serves was never answered with success by any test of this
// package: each route must be driven through its happy path, not only refused.
func everyRouteServed() int {
	routes, err := api.RoutesOf(handlerWithoutBackends())
	if err != nil {
		fmt.Fprintln(os.Stderr, "routes:", err)
		return 1
	}
	var names []string
	for _, rt := range routes {
		names = append(names, rt.Method+" "+rt.Pattern)
	}
	missing := itest.Unserved(names)
	if len(missing) == 0 {
		return 0
	}
	fmt.Fprintf(os.Stderr, "FAIL: %d routes were never answered with a 2xx or 3xx by this package's tests:\n", len(missing))
	for _, m := range missing {
		fmt.Fprintln(os.Stderr, "  "+m)
	}
	return 1
}
