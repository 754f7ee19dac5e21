//go:build !nodev

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perkflow/perkflow/bench"
)

const benchLong = `Measures accrual through the API against the Temporal and Postgres floors, balance reads, memory and the member
workflow's history bound, on a stack of its own (embedded Temporal, a fresh database on --pg-admin, perkflow api and
perkflow worker as child processes) unless pointed at one. Prints a Markdown table; see BENCHMARKS.md.`

// Like perkflow dev, the bench is in the default build only: it embeds a Temporal server and links vegeta, and the
// production build (-tags nodev, bench_disabled.go) links neither.
func init() { addCommand(benchCommand) }

func benchCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure throughput and latency against the Temporal and Postgres floors",
		Long:  benchLong,
		Args:  noArgs,
	}
	fs := c.Flags()
	var o bench.Options
	fs.DurationVar(&o.Duration, "duration", 15*time.Second, "length of each fixed-rate measurement")
	fs.Float64Var(&o.Rate, "rate", 0, "accrual rate (per second) for every write scenario; 0 searches each pipeline's highest sustained rate and measures latency at half of perkflow's")
	fs.IntVar(&o.Members, "members", 200, "members registered through the API; purchases go round-robin across them")
	scenarios := fs.String("scenario", "all", "comma-separated scenarios: "+strings.Join(bench.Scenarios, ", ")+", or all")
	jsonFile := fs.String("json", "", "also write the full report as JSON to this file")
	fs.DurationVar(&o.Step, "step", 4*time.Second, "length of one step of a rate search")
	fs.DurationVar(&o.Bound, "p99", time.Second, "search bound: p99 of points visible / floor processed / commit that a sustained rate keeps")
	fs.DurationVar(&o.ReadBound, "read-p99", 20*time.Millisecond, "search bound: p99 of balance reads that a sustained read rate keeps")
	fs.Float64Var(&o.ReadRate, "read-rate", 3000, "fixed rate of balance reads measured")
	fs.BoolVar(&o.NoVacuumBeforeReads, "no-vacuum", false, "read balances in the bench's database as the write runs left it, not after the VACUUM (ANALYZE) autovacuum would have run by then")
	fs.Float64Var(&o.SearchStart, "search-start", 50, "first accrual rate a search tries")
	fs.Float64Var(&o.MaxRate, "max-rate", 20000, "highest rate a search tries")
	fs.IntVar(&o.Bisections, "bisections", 3, "bisection steps refining each search")
	fs.Float64Var(&o.RedeemRate, "redeem-rate", 5, "rate of offer claims measured (points-only, then cash through stripe-mock)")
	fs.Float64Var(&o.RegisterRate, "register-rate", 220, "rate of new members registered through the API measured (the registration scenario; 10 % over the 200/s target, since the completed rate counts the wait for the last answers)")
	fs.StringVar(&o.StripeMock, "stripe-mock", "", "stripe-mock binary for cash claims (default: bin/stripe-mock, else PATH)")
	fs.IntVar(&o.HistoryPurchases, "history-purchases", 10000, "purchases sent to one member to measure the history bound")
	fs.IntVar(&o.ExpiryLots, "expiry-lots", 1000000, "lots seeded past their date for the expiry scenario (in the bench's own database only; the target is stated for 1,000,000)")
	fs.Float64Var(&o.MaxOtherLoad, "max-other-load", 0.5, "cores others (not perkflow, the bench or Postgres) may use during a measurement before it is repeated")
	fs.IntVar(&o.Retries, "retries", 2, "how many times a measurement disturbed by others is repeated")
	fs.StringVar(&o.APIURL, "api", "", "URL of a running perkflow API to measure (with DATABASE_URL or --database, and --temporal)")
	fs.StringVar(&o.DatabaseURL, "database", "", "the running API's database (only with --api; default DATABASE_URL)")
	fs.StringVar(&o.TemporalAddr, "temporal", "", "host:port of a running Temporal frontend (default: start an embedded one)")
	fs.IntVar(&o.Workers, "workers", 1, "perkflow worker processes to start on the task queue (with --temporal: Temporal and the workers each in processes of their own)")
	fs.StringVar(&o.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&o.PGAdminURL, "pg-admin", "", "Postgres server (and a user allowed to CREATE DATABASE) for the bench's fresh database (default PERKFLOW_TEST_DATABASE_URL, else "+pgAdminLocal+")")
	fs.StringVar(&o.PprofDir, "pprof", "", "write CPU profiles of the api, the worker and the bench process (with the embedded Temporal server) to this directory")
	fs.StringVar(&o.ChildLogLevel, "child-log-level", "info", "PERKFLOW_LOG_LEVEL of the api and worker children")
	fs.BoolVar(&o.KeepTemp, "keep", false, "keep the temporary directory (Temporal's database, the children's logs)")
	fs.BoolVar(&o.Tracing, "tracing", false, "trace everything in the api and the worker, exported over OTLP to a sink in the bench (to measure what tracing costs)")
	c.RunE = func(c *cobra.Command, args []string) error {
		return runBench(c.Context(), o, *scenarios, *jsonFile, os.Args[1:])
	}
	c.AddCommand(benchChildCommand())
	return readsEnv(c, "DATABASE_URL")
}

// runBench is perkflow bench, with the flags parsed into o; cmdline is the command line, recorded in the report.
func runBench(ctx context.Context, o bench.Options, scenarios, jsonFile string, cmdline []string) error {
	// Defaults from the environment are resolved here, not in the flags, so that --help never prints a password.
	if o.DatabaseURL == "" {
		o.DatabaseURL = os.Getenv("DATABASE_URL")
	}
	if o.PGAdminURL == "" {
		o.PGAdminURL = pgAdminDefault()
	}
	if scenarios != "all" && scenarios != "" {
		for _, s := range strings.Split(scenarios, ",") {
			o.Scenarios = append(o.Scenarios, strings.TrimSpace(s))
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err.Error()}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.Exe = exe
	o.ChildArgs = func(role, pprofAddr string) []string {
		if pprofAddr == "" {
			return []string{role}
		}
		return []string{"bench", "child", role, "--pprof-addr", pprofAddr}
	}
	o.Progress = os.Stderr
	o.Command = "perkflow " + strings.Join(cmdline, " ")
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	fmt.Println()
	rep.WriteMarkdown(os.Stdout)
	if jsonFile != "" {
		if err := rep.WriteJSON(jsonFile); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: report written to %s\n", jsonFile)
	}
	return nil
}

func pgAdminDefault() string {
	if u := os.Getenv("PERKFLOW_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return pgAdminLocal
}

const pgAdminLocal = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// benchChildCommand is "perkflow bench child api|worker": how the bench runs perkflow api or perkflow worker exactly as
// those commands do, plus, with --pprof-addr, an HTTP endpoint on that (loopback) address serving CPU and heap
// profiles to the bench: /debug/pprof/profile?seconds=N and /debug/pprof/heap. It is not meant to be typed.
func benchChildCommand() *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:       "child api|worker",
		Short:     "Run perkflow api or worker for the bench, with a profiling endpoint (not meant to be typed)",
		Hidden:    true,
		ValidArgs: []string{"api", "worker"},
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "api" && args[0] != "worker") {
				return usagef("%s needs api or worker (got %q)", c.CommandPath(), args)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			if addr != "" {
				ln, err := listenLoopback(addr)
				if err != nil {
					return err
				}
				srv := &http.Server{Handler: profileHandler(), ReadHeaderTimeout: 5 * time.Second}
				go func() { _ = srv.Serve(ln) }()
				defer srv.Close()
			}
			if args[0] == "api" {
				return runAPI(ctx, nil)
			}
			return runWorker(ctx, nil)
		},
	}
	c.Flags().StringVar(&addr, "pprof-addr", "", "loopback host:port for the profiling endpoint")
	return readsEnv(c, allEnv)
}

// listenLoopback refuses to serve profiles anywhere but on loopback.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--pprof-addr %s: must be a loopback address", addr)
	}
	return net.Listen("tcp", addr)
}

// profileHandler serves profiles with runtime/pprof (not net/http/pprof, which would register itself on
// http.DefaultServeMux in every build of the binary).
func profileHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/profile", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || secs <= 0 || secs > 600 {
			secs = 30
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-r.Context().Done():
		}
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("GET /debug/pprof/heap", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	return mux
}
