// Command perkflow is the one binary of perkflow: the API, the worker, migrations, admin commands and, in builds
// without the nodev tag, the embedded development stack and the bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/internal/version"
)

// Exit codes: 0 success, 1 the command ran and failed, 2 it was called wrongly (unknown command or flag, missing
// flag or argument, bad value) and did nothing.
const (
	exitFailure = 1
	exitUsage   = 2
)

// errUsage marks a command-line mistake: the exit code is 2. Commands return usagef(...) to say what was wrong;
// a bare errUsage prints the command's usage.
var errUsage = errors.New("usage")

// usageError is a command-line mistake with its explanation.
type usageError struct{ msg string }

func (e usageError) Error() string        { return e.msg }
func (e usageError) Is(target error) bool { return target == errUsage }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// commandMakers build the top-level commands; each command's file adds its own in an init function, so a new
// command is one new file.
var commandMakers []func() *cobra.Command

func addCommand(build func() *cobra.Command) { commandMakers = append(commandMakers, build) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line args and returns the process's exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	// Whatever fails before a command's own code runs (cobra's parsing of commands, flags, arguments and required
	// flags) is a usage error.
	started := false
	walk(root, func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error { started = true; return run(c, args) }
		}
	})
	cmd, err := root.ExecuteContextC(ctx)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage) || !started:
		if err == errUsage { // the bare sentinel has no explanation: the usage says it
			fmt.Fprint(stderr, cmd.UsageString())
		} else {
			fmt.Fprintf(stderr, "perkflow: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		}
		return exitUsage
	}
	fmt.Fprintln(stderr, "perkflow:", err)
	return exitFailure
}

// newRoot builds the command tree writing to stdout and stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "perkflow",
		Short: "A loyalty, campaign and rewards engine on Temporal",
		Long: "perkflow — a loyalty, campaign and rewards engine on Temporal.\n\n" +
			"Configuration comes from the environment (each command's --help lists what it reads; README.md has them all).",
		Version:           version.Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              cobra.ArbitraryArgs, // checked below, so that the message is ours and the exit code 2
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], c.CommandPath())
			}
			return errUsage // no command: the usage lists them
		},
	}
	root.SetOut(stdout) // before the completion command, which keeps the writer it finds
	root.SetErr(stderr)
	root.SetVersionTemplate("perkflow {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.SetUsageTemplate(root.UsageTemplate() + envTemplate)
	for _, build := range commandMakers {
		root.AddCommand(build())
	}
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" { // cobra's own group: perkflow completion tcsh is a usage error too
			c.Args, c.RunE = cobra.ArbitraryArgs, groupRun
		}
	}
	return root
}

// walk calls f on c and every command under it.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// group is a command that only holds subcommands (apikey, token, expiry): called alone or with an unknown
// subcommand, it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use: use, Short: short, Args: cobra.ArbitraryArgs, ValidArgsFunction: cobra.NoFileCompletions, RunE: groupRun,
	}
	c.AddCommand(subs...)
	return c
}

func groupRun(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], c.CommandPath())
	}
	return usagef("%s needs a command", c.CommandPath())
}

// noArgs refuses positional arguments as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)", c.CommandPath(), args[0])
	}
	return nil
}
