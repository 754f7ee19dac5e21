//go:build !nodev

package main_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/perkflow/perkflow/internal/testkit/pgtest"
)

// perkflowCommand runs the binary with args against the database at dbURL and returns its output and exit code.
func perkflowCommand(t *testing.T, dbURL string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cmd.Environ(), "DATABASE_URL="+dbURL, "PERKFLOW_LOG_FORMAT=text")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// TestAPIKeyNameOfAnActiveKeyIsRefused: `perkflow apikey create` refuses the name of an active key (whatever the
// role), and gives it again once that key is revoked — to a new key with an id of its own.
func TestAPIKeyNameOfAnActiveKeyIsRefused(t *testing.T) {
	db := pgtest.New(t)
	out, errOut, code := perkflowCommand(t, db.URL, "apikey", "create", "--role", "pos", "--name", "till-1")
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "pk_") {
		t.Fatalf("create: exit %d, %q %q", code, out, errOut)
	}
	first := strings.TrimSpace(out)
	out, errOut, code = perkflowCommand(t, db.URL, "apikey", "create", "--role", "admin", "--name", "till-1")
	if code != 1 || strings.Contains(out, "pk_") || !strings.Contains(errOut, `an active key named "till-1" exists`) {
		t.Fatalf("create under an active key's name: exit %d, %q %q", code, out, errOut)
	}
	if _, errOut, code := perkflowCommand(t, db.URL, "apikey", "revoke", "--name", "till-1"); code != 0 {
		t.Fatalf("revoke: exit %d %q", code, errOut)
	}
	out, errOut, code = perkflowCommand(t, db.URL, "apikey", "create", "--role", "admin", "--name", "till-1")
	if code != 0 || strings.TrimSpace(out) == first {
		t.Fatalf("create after the revoke: exit %d, %q %q", code, out, errOut)
	}
}
