package stripefake

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// StripeMockVersion is the stripe-mock the tests run (make test installs it under bin/).
const StripeMockVersion = "v0.203.0"

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
	if fx, err := succeededFixtures(t.TempDir()); err == nil {
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

// succeededFixtures writes stripe-mock's bundled fixtures, with a succeeded PaymentIntent, under dir.
func succeededFixtures(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", err
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "github.com", "stripe", "stripe-mock@"+StripeMockVersion, "embedded", "openapi", "fixtures3.json")
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	var fx map[string]map[string]map[string]any
	if err := json.Unmarshal(b, &fx); err != nil {
		return "", err
	}
	pi, ok := fx["resources"]["payment_intent"]
	if !ok {
		return "", fmt.Errorf("no payment_intent fixture in %s", src)
	}
	pi["status"] = "succeeded"
	b, err = json.Marshal(fx)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "fixtures.json")
	return dst, os.WriteFile(dst, b, 0o644)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
