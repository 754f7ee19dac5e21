// Package stripemock prepares github.com/stripe/stripe-mock for the tests (internal/stripefake) and perkflow bench:
// the version they run, and fixtures under which a PaymentIntent succeeds. It does not import testing, so the bench
// in the perkflow binary can use it.
package stripemock

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Version is the stripe-mock perkflow runs (make test installs it under bin/).
const Version = "v0.203.0"

// SucceededFixtures writes stripe-mock's bundled fixtures with the PaymentIntent's status set to succeeded (its own
// answer is requires_payment_method, and a redemption needs a confirmed payment) under dir, and returns the file.
// They are read from the stripe-mock module in the module cache, where installing it put them.
func SucceededFixtures(dir string) (string, error) {
	src := filepath.Join(moduleCache(), "github.com", "stripe", "stripe-mock@"+Version, "embedded", "openapi", "fixtures3.json")
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("stripe-mock's fixtures (go install github.com/stripe/stripe-mock@%s): %w", Version, err)
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
