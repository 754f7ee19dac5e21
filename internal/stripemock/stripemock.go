// Package stripemock prepares github.com/stripe/stripe-mock for the tests (internal/testkit/stripefake) and perkflow bench:
// the version they run, and fixtures under which a PaymentIntent succeeds. It does not import testing, so the bench
// in the perkflow binary can use it.
package stripemock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Version is the stripe-mock perkflow runs (make test installs it under bin/).
const Version = "v0.203.0"

// ErrNoFixtures says stripe-mock's module is not in the module cache (it was not installed with go install).
var ErrNoFixtures = errors.New("stripe-mock's fixtures are not in the module cache")

// SucceededFixtures writes stripe-mock's bundled fixtures with the PaymentIntent's status set to succeeded (its own
// answer is requires_payment_method, and a redemption needs a confirmed payment) under dir, and returns the file.
// They are read from the stripe-mock module in the module cache, where installing it put them.
func SucceededFixtures(dir string) (string, error) {
	src := filepath.Join(moduleCache(), "github.com", "stripe", "stripe-mock@"+Version, "embedded", "openapi", "fixtures3.json")
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("%w (go install github.com/stripe/stripe-mock@%s): %w", ErrNoFixtures, Version, err)
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
	if b, err = json.Marshal(fx); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, "stripe-fixtures.json")
	return dst, os.WriteFile(dst, b, 0o644)
}

// Process is a running stripe-mock whose PaymentIntents succeed.
type Process struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs the stripe-mock binary bin on a free loopback port with SucceededFixtures written under dir, its
// output to out (nil discards it), and waits up to 20 s for it to listen. configure, when not nil, adjusts the
// command before it starts.
func Start(bin, dir string, out io.Writer, configure func(*exec.Cmd)) (*Process, error) {
	fx, err := SucceededFixtures(dir)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	p := &Process{URL: "http://" + addr, done: make(chan struct{})}
	p.cmd = exec.Command(bin, "-fixtures", fx, "-http-port", port, "-https-port", "0")
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if configure != nil {
		configure(p.cmd)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p, nil
		}
	}
	p.Stop()
	return nil, errors.New("stripe-mock did not listen within 20 s")
}

// Stop kills stripe-mock and waits for it to exit.
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func moduleCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil && len(strings.TrimSpace(string(out))) > 0 {
		return strings.TrimSpace(string(out))
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "pkg", "mod")
}
