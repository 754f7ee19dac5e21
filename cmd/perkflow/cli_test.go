package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/perkflow/perkflow/internal/version"
)

// run runs the command line in-process, as main does, and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestEveryCommandHelpNamesItsFlagsAndEnvironment walks the whole command tree (so that a new command is covered
// without touching this test): `perkflow PATH --help` exits 0 and names every flag of the command and every
// environment variable it reads.
func TestEveryCommandHelpNamesItsFlagsAndEnvironment(t *testing.T) {
	var paths [][]string
	walk(newRoot(io.Discard, io.Discard), func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		paths = append(paths, path)
	})
	seen := map[string]bool{}
	for _, p := range paths {
		seen[strings.Join(p, " ")] = true
	}
	for _, want := range []string{"", "api", "worker", "dev", "migrate", "apikey create", "apikey revoke", "apikey list",
		"token member", "bench", "expiry run", "healthcheck", "version", "completion bash", "completion zsh", "completion fish"} {
		if !seen[want] {
			t.Errorf("no command %q in the tree", "perkflow "+want)
		}
	}
	for _, path := range paths {
		name := strings.TrimSpace("perkflow " + strings.Join(path, " "))
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(path, "--help")...)
			if code != 0 || errOut != "" {
				t.Fatalf("%s --help: exit %d, stderr %q", name, code, errOut)
			}
			if !strings.Contains(out, "Usage:") {
				t.Errorf("%s --help has no usage:\n%s", name, out)
			}
			c, _, err := newRoot(io.Discard, io.Discard).Find(path)
			if err != nil {
				t.Fatal(err)
			}
			check := func(f *pflag.Flag) {
				if !strings.Contains(out, "--"+f.Name) {
					t.Errorf("%s --help does not name its flag --%s:\n%s", name, f.Name, out)
				}
			}
			c.LocalFlags().VisitAll(check)
			c.InheritedFlags().VisitAll(check)
			for _, v := range envVars(c) {
				if !strings.Contains(out, "\n  "+v.Name) {
					t.Errorf("%s --help does not list %s under Environment:\n%s", name, v.Name, out)
				}
			}
		})
	}
}

// TestCommandsThatReadTheEnvironmentSayWhich: every command that runs against a deployment lists variables in its
// help, and the service commands list all of them.
func TestCommandsThatReadTheEnvironmentSayWhich(t *testing.T) {
	for _, path := range [][]string{{"api"}, {"worker"}, {"dev"}, {"migrate"}, {"apikey", "create"}, {"apikey", "revoke"},
		{"apikey", "list"}, {"token", "member"}, {"expiry", "run"}, {"healthcheck"}, {"bench"}} {
		c, _, err := newRoot(io.Discard, io.Discard).Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(envVars(c)) == 0 && !strings.HasPrefix(c.Short, "Not in this build") {
			t.Errorf("perkflow %s lists no environment variable", strings.Join(path, " "))
		}
	}
	_, out, _ := runCLI(t, "api", "--help")
	for _, name := range []string{"DATABASE_URL", "PERKFLOW_ID_SECRET", "PERKFLOW_METRICS_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(out, name) {
			t.Errorf("perkflow api --help lacks %s", name)
		}
	}
}

// usageCases are command lines that are wrong, with what the error must say; the default build adds bench's.
var usageCases = []struct {
	args []string
	says string
}{
	{nil, "Available Commands:"},
	{[]string{"no-such-command"}, `unknown command "no-such-command"`},
	{[]string{"api", "extra"}, `takes no arguments`},
	{[]string{"worker", "--no-such-flag"}, "--no-such-flag"},
	{[]string{"migrate", "now"}, "takes no arguments"},
	{[]string{"apikey"}, "perkflow apikey needs a command"},
	{[]string{"apikey", "rotate"}, `unknown command "rotate"`},
	{[]string{"apikey", "create", "--name", "till-1"}, `required flag(s) "role" not set`},
	{[]string{"apikey", "create", "--role", "pos"}, `required flag(s) "name" not set`},
	{[]string{"apikey", "revoke"}, `required flag(s) "name" not set`},
	{[]string{"apikey", "list", "--limit", "3"}, "unknown flag: --limit"},
	{[]string{"token"}, "perkflow token needs a command"},
	{[]string{"token", "member"}, "needs one MEMBER_ID"},
	{[]string{"token", "member", "not-a-uuid"}, `"not-a-uuid" is not a member id`},
	{[]string{"token", "member", "0b6f6f4e-8f0c-4c1e-9a57-2f7f1e0e3c11", "--ttl", "soon"}, `"--ttl"`},
	{[]string{"token", "member", "0b6f6f4e-8f0c-4c1e-9a57-2f7f1e0e3c11", "--ttl", "-1h"}, "--ttl -1h0m0s: must not be negative"},
	{[]string{"expiry"}, "perkflow expiry needs a command"},
	{[]string{"expiry", "run"}, `required flag(s) "now" not set`},
	{[]string{"expiry", "run", "--now=false"}, "--now=false"},
	{[]string{"expiry", "run", "--now", "--wait", "0s"}, "--wait and --every must be positive"},
	{[]string{"healthcheck"}, "needs api or worker"},
	{[]string{"healthcheck", "db"}, "needs api or worker"},
	{[]string{"healthcheck", "api", "--no-such-flag"}, "unknown flag: --no-such-flag"},
	{[]string{"healthcheck", "api", "--timeout", "0s"}, "--timeout 0s: must be positive"},
	{[]string{"version", "x"}, "takes no arguments"},
	{[]string{"completion", "tcsh"}, `"tcsh"`},
}

// TestUsageErrorsExitTwo: every command-line mistake exits 2 before doing anything, saying what was wrong (the
// missing flag by name); none of these cases reaches a database or Temporal.
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	for _, tc := range usageCases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.args...)
			if code != 2 {
				t.Fatalf("perkflow %v: exit %d, want 2 (stdout %q, stderr %q)", tc.args, code, out, errOut)
			}
			if !strings.Contains(errOut, tc.says) {
				t.Errorf("perkflow %v: stderr %q does not say %q", tc.args, errOut, tc.says)
			}
		})
	}
}

// TestRuntimeFailuresExitOne: a command called rightly that fails (here: no database) exits 1, not 2.
func TestRuntimeFailuresExitOne(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	code, _, errOut := runCLI(t, "apikey", "list")
	if code != 1 || !strings.Contains(errOut, "DATABASE_URL") {
		t.Fatalf("apikey list without a database: exit %d, %q; want 1 and the failure", code, errOut)
	}
	t.Setenv("PERKFLOW_LOG_LEVEL", "loud")
	if code, _, errOut := runCLI(t, "migrate"); code != 1 || !strings.Contains(errOut, "PERKFLOW_LOG_LEVEL") {
		t.Fatalf("migrate with a bad PERKFLOW_LOG_LEVEL: exit %d, %q; want 1 and the variable named", code, errOut)
	}
}

// TestVersion: perkflow --version and perkflow version print the version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, out, errOut := runCLI(t, args...)
		if code != 0 || out != "perkflow "+version.Version+"\n" {
			t.Errorf("perkflow %v: exit %d, %q %q; want perkflow %s", args, code, out, errOut, version.Version)
		}
	}
}

// TestShellCompletion: the completion scripts are generated for bash, zsh and fish, and the shells' completion
// requests complete perkflow's commands and a flag's values.
func TestShellCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, out, errOut := runCLI(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "perkflow") || len(out) < 500 {
			t.Errorf("completion %s: exit %d, %d bytes, %q", shell, code, len(out), errOut)
		}
	}
	_, out, _ := runCLI(t, "__complete", "api")
	if !strings.Contains(out, "apikey") || !strings.Contains(out, "api\t") {
		t.Errorf("completing `perkflow api`: %q", out)
	}
	_, out, _ = runCLI(t, "__complete", "apikey", "create", "--role", "")
	for _, role := range []string{"pos", "marketer", "support", "admin"} {
		if !strings.Contains(out, role+"\n") {
			t.Errorf("completing --role: %q lacks %s", out, role)
		}
	}
	_, out, _ = runCLI(t, "__complete", "healthcheck", "")
	if !strings.Contains(out, "api\n") || !strings.Contains(out, "worker\n") {
		t.Errorf("completing healthcheck: %q", out)
	}
}

// TestREADMEListsEveryCommand keeps the README's command reference true to the command tree: each command that
// runs something (not a group, not hidden) has a row.
func TestREADMEListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	walk(newRoot(io.Discard, io.Discard), func(c *cobra.Command) {
		if c.Hidden || !c.HasParent() || c.Name() == "help" || (c.Parent().Name() == "completion") {
			return
		}
		if c.HasSubCommands() && c.Name() != "bench" && c.Name() != "completion" {
			return // a group: its commands have the rows
		}
		if !strings.Contains(readme, "| `"+c.CommandPath()) {
			t.Errorf("README.md's commands table has no row for %s", c.CommandPath())
		}
	})
}
