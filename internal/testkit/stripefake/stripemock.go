package stripefake

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/perkflow/perkflow/internal/stripemock"
)

// StripeMockVersion is the stripe-mock the tests run (make test installs it under bin/).
const StripeMockVersion = stripemock.Version

// StartStripeMock runs stripe-mock (bin/stripe-mock, else the one on PATH) on a free port for the test and returns
// its base URL. stripe-mock answers every PaymentIntent with its bundled fixture, whose status is
// requires_payment_method; the happy path needs a confirmed payment, so the fixtures are loaded from the installed
// module with the PaymentIntent fixture's status set to succeeded. Skips the test, saying why, when stripe-mock is
// not installed.
func StartStripeMock(t testing.TB) string {
	t.Helper()
	bin := stripeMockBinary()
	if bin == "" {
		t.Skip("stripe-mock is not installed: run `make test` (or GOBIN=$PWD/bin go install github.com/stripe/stripe-mock@" + StripeMockVersion + ")")
	}
	p, err := stripemock.Start(bin, t.TempDir(), nil, nil)
	if errors.Is(err, stripemock.ErrNoFixtures) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p.URL
}

func stripeMockBinary() string {
	_, file, _, _ := runtime.Caller(0)
	local := filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", "stripe-mock")
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return local
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	return ""
}
