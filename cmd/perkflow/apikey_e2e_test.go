//go:build !nodev

package main_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

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

// TestAPIKeyListShowsEveryKey: `perkflow apikey list` shows every key, newest first, with its role, prefix, creation,
// last use and revocation, and never a key itself; --json gives the same records, one per line.
func TestAPIKeyListShowsEveryKey(t *testing.T) {
	db := pgtest.New(t)
	keys := map[string]string{}
	for _, k := range []struct{ name, role string }{{"till-1", "pos"}, {"ops", "admin"}, {"old", "support"}} {
		out, errOut, code := perkflowCommand(t, db.URL, "apikey", "create", "--role", k.role, "--name", k.name)
		if code != 0 {
			t.Fatalf("create %s: exit %d %q", k.name, code, errOut)
		}
		keys[k.name] = strings.TrimSpace(out)
	}
	if _, errOut, code := perkflowCommand(t, db.URL, "apikey", "revoke", "--name", "old"); code != 0 {
		t.Fatalf("revoke: exit %d %q", code, errOut)
	}
	out, errOut, code := perkflowCommand(t, db.URL, "apikey", "list")
	if code != 0 {
		t.Fatalf("list: exit %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "LAST USED") || !strings.Contains(lines[0], "REVOKED") {
		t.Fatalf("list:\n%s", out)
	}
	for i, want := range []struct{ name, role string }{{"old", "support"}, {"ops", "admin"}, {"till-1", "pos"}} {
		f := strings.Fields(lines[i+1])
		// ID NAME ROLE PREFIX CREATED LAST-USED REVOKED
		if len(f) != 7 || f[1] != want.name || f[2] != want.role || f[3] != keys[want.name][:9] || f[5] != "-" {
			t.Errorf("row %d %q; want %s %s with prefix %s, never used", i, lines[i+1], want.name, want.role, keys[want.name][:9])
			continue
		}
		if revoked := f[6] != "-"; revoked != (want.name == "old") {
			t.Errorf("row %q: revoked column %q", lines[i+1], f[6])
		}
	}
	for _, k := range keys {
		if strings.Contains(out, k) {
			t.Errorf("list shows a key in clear")
		}
	}
	out, errOut, code = perkflowCommand(t, db.URL, "apikey", "list", "--json")
	if code != 0 {
		t.Fatalf("list --json: exit %d %q", code, errOut)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var k struct {
			Name      string     `json:"name"`
			Role      string     `json:"role"`
			Prefix    string     `json:"prefix"`
			RevokedAt *time.Time `json:"revoked_at"`
		}
		if err := json.Unmarshal([]byte(l), &k); err != nil {
			t.Fatalf("list --json line %q: %v", l, err)
		}
		if k.Prefix != keys[k.Name][:9] || (k.RevokedAt != nil) != (k.Name == "old") {
			t.Errorf("list --json: %q", l)
		}
		names = append(names, k.Name)
	}
	if strings.Join(names, ",") != "old,ops,till-1" {
		t.Errorf("list --json names %v, want newest first", names)
	}
}
