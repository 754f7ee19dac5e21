package stripefake

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

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
	args := []string{}
	if fx, err := stripemock.SucceededFixtures(t.TempDir()); err == nil {
		args = append(args, "-fixtures", fx)
	} else {
		t.Skipf("stripe-mock fixtures not found (%v): run `go install github.com/stripe/stripe-mock@%s`", err, StripeMockVersion)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "-http-port", fmt.Sprint(port), "-https-port", "0")
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr
		}
	}
	t.Fatal("stripe-mock did not start listening within 20s")
	return ""
}

func stripeMockBinary() string {
	_, file, _, _ := runtime.Caller(0)
	local := filepath.Join(filepath.Dir(file), "..", "..", "bin", "stripe-mock")
	if fi, err := os.Stat(local); err == nil && !fi.IsDir() {
		return local
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	return ""
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
