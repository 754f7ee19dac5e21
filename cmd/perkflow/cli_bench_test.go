//go:build !nodev

package main

// The bench's flags are checked like every other command's: a bad one is a usage error (exit 2).
func init() {
	usageCases = append(usageCases, []struct {
		args []string
		says string
	}{
		{[]string{"bench", "--rate", "fast"}, `invalid argument "fast" for "--rate"`},
		{[]string{"bench", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"bench", "extra"}, "takes no arguments"},
		{[]string{"bench", "--scenario", "accrual,nope"}, `unknown scenario "nope"`},
		{[]string{"bench", "child"}, "needs api or worker"},
	}...)
}
