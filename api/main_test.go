package api_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/itest"
)

// temporal is the in-process Temporal server this package's integration tests share; each test has its own
// database and task queue.
var temporal *itest.Temporal

func TestMain(m *testing.M) {
	var err error
	temporal, err = itest.StartTemporal()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start temporal:", err)
		os.Exit(1)
	}
	code := m.Run()
	temporal.Stop()
	os.Exit(code)
}
