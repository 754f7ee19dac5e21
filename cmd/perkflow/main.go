// Command perkflow is the one binary of perkflow: the API, the worker, migrations, admin commands and, in builds
// without the nodev tag, the embedded development stack and the bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `perkflow — a loyalty, campaign and rewards engine on Temporal

Usage:
  perkflow dev                                   run everything in one process (embedded Temporal, UI, worker, API)
  perkflow api                                   run the HTTP API against TEMPORAL_ADDRESS and DATABASE_URL
  perkflow worker                                run the Temporal worker
  perkflow migrate                               apply database migrations and exit
  perkflow apikey create --role ROLE --name NAME print a new API key (roles: pos, marketer, support, admin)
  perkflow apikey revoke --name NAME             revoke an API key
  perkflow token member MEMBER_ID [--ttl 24h]    print a member token (JWT), valid at most PERKFLOW_MEMBER_TOKEN_MAX_TTL
  perkflow expiry run --now [--wait 1h]          run the points expiry now (reminders, then lots past their date) and print what it did
  perkflow import FILE --kind KIND [--format csv|ndjson] [--dry-run]
                                                 upload a file of members, transactions or balances and follow its import
  perkflow bench [flags]                         measure throughput and latency against the Temporal and Postgres floors (-h for flags)
  perkflow healthcheck api|worker [--live]       ask the api or worker beside it whether it is ready (or, --live, up): exit 0 or 1
  perkflow version                               print the version

Configuration comes from the environment; see README.md.
`

// errUsage marks a command-line mistake: the usage is printed and the exit code is 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "perkflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:])
	case "api":
		return runAPI(ctx, args[1:])
	case "worker":
		return runWorker(ctx, args[1:])
	case "migrate":
		return runMigrate(ctx, args[1:])
	case "apikey":
		return runAPIKey(ctx, args[1:])
	case "token":
		return runToken(ctx, args[1:])
	case "expiry":
		return runExpiry(ctx, args[1:])
	case "import":
		return runImport(ctx, args[1:])
	case "bench":
		return runBench(ctx, args[1:])
	case "healthcheck":
		return runHealthcheck(ctx, args[1:])
	case "version":
		return runVersion()
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	return errUsage
}
